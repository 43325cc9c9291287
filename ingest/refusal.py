"""Points InfluxDB refuses: isolated from their batch and kept as rejected records (one bad
point must not hold back, or lose, the rest of its batch).

InfluxDB 1.6 answers a `/write` holding an unparsable line with HTTP 400: it stores the
lines it could parse and says `partial write: unable to parse '<line>': ...`; with only
unparsable lines it stores nothing; a field type conflict drops the point and names only
the field. Either way the same bytes would be refused again, so the batch is bisected:
every half InfluxDB takes is stored, every half it refuses is split again, down to the
single lines it refuses. Writing a line twice stores the same point (the identity of a
reading is checked before it is written, rules/identity.py), so the halves InfluxDB had
already stored in a partial write change nothing. One bad line in n costs about
2·log2(n) extra requests; the parser's bounds (rules/parse.py) leave such lines rare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from linli.influx.client import InfluxRejected
from linli.rules.rejection import ReasonCode, Rejection

# Where a line came from: (topic, payload, received_ms) of its message; one tuple per
# message, shared by its lines. None for linli's own lines and lines read from the spool.
Origin = tuple[str, bytes, int]

_SENSOR_TAG: Final = re.compile(r",sensor=((?:[^,\\ ]|\\.)+)")
_DETAIL_KEEP: Final = 1500


def isolate(write: Callable[[bytes], None], lines: Sequence[str]) -> list[tuple[int, str]]:
    """Write `lines`, isolating the ones InfluxDB refuses: [(index, InfluxDB's message)].

    Raises InfluxUnavailable as `write` does (the caller spools the whole batch again:
    what was stored is stored twice, the same points).
    """
    refused: list[tuple[int, str]] = []
    pending = [(0, len(lines))]
    while pending:
        start, end = pending.pop()
        try:
            write(("\n".join(lines[start:end]) + "\n").encode())
        except InfluxRejected as err:
            if end - start == 1:
                refused.append((start, err.reason))
            else:
                middle = (start + end) // 2
                pending += [(middle, end), (start, middle)]
    refused.sort()
    return refused


def sensor_of(line: str) -> str | None:
    """The `sensor` tag of a line of ours, unescaped; None when it has none."""
    found = _SENSOR_TAG.search(line.split(" ", 1)[0])
    return found.group(1).replace("\\", "") if found else None


def not_storable(
    line: str, message: str, origin: Origin | None, where: str, now_ms: int
) -> Rejection:
    """The rejected record of a point InfluxDB refused (the one place `not_storable` is made).

    With its message's topic and payload when the line has one; otherwise (a line read
    back from the spool, whose message was not kept there) the line itself is the payload
    and `where` (the spool file) the topic.
    """
    detail = f"InfluxDB refused the point {line[:300]!r} ({where}): {message}"[:_DETAIL_KEEP]
    if origin is None:
        return Rejection(
            where, line.encode(), now_ms, ReasonCode.NOT_STORABLE, detail, sensor=sensor_of(line)
        )
    topic, payload, received_ms = origin
    return Rejection(
        topic, payload, received_ms, ReasonCode.NOT_STORABLE, detail, sensor=sensor_of(line)
    )
