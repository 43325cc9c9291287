"""Evidence snapshots: one sensor's readings as rows under one named header, and back.

A dict per reading cost more to build and encode than judging the reading did, so a
snapshot is stored as `{"sensor", "fields", "rows"}`: the sensor once, the header
(`SNAPSHOT_FIELDS`), then one row per reading in the header's order. It is read back by
its own stored header, so a snapshot keeps reading as it was written whatever the
header becomes; older snapshots, a list of dicts, are given out as they are. The API
gives every snapshot as one dict per reading: `{"sensor", "ts", "seq", "period_s",
"metrics"}`, and `"flag"` for a reading that has one (CONTRACT §8).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any, Final

from linli.rules.reading import Reading

# The header, as stored and given out, and the Reading field under each name. The sensor
# is the snapshot's own (one sensor's readings); the kind is left out, as it always was
# (the evidence's rule and the sensor say it; the API never gave it).
COLUMNS: Final = {
    "ts": "ts_ms",
    "seq": "seq",
    "period_s": "period_s",
    "metrics": "metrics",
    "flag": "flag",
}
SNAPSHOT_FIELDS: Final = tuple(COLUMNS)
READING_FIELDS: Final = ("sensor", *COLUMNS.values())  # what a snapshot carries of a Reading
LEFT_OUT: Final = ("kind",)

# A row: the header's fields picked from a Reading by name (a C-speed itemgetter).
_ROW: Final = operator.itemgetter(*(Reading._fields.index(f) for f in COLUMNS.values()))


def snapshot_doc(sensor: str, readings: Iterable[Reading]) -> dict[str, Any]:
    """One sensor's readings as kept in an evidence snapshot."""
    return {"sensor": sensor, "fields": SNAPSHOT_FIELDS, "rows": list(map(_ROW, readings))}


def snapshot_readings(doc: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored snapshot as one dict per reading (sensor, ts, seq, period_s, metrics), with
    its flag when it has one."""
    if isinstance(doc, list):  # stored so before the rows format
        return doc
    sensor, fields = doc["sensor"], doc["fields"]
    out = [{"sensor": sensor, **dict(zip(fields, row, strict=True))} for row in doc["rows"]]
    for reading in out:
        if reading.get("flag", "") is None:
            del reading["flag"]  # monitoring data: as it was always given
    return out
