"""Checking readings against what InfluxDB stores for their (sensor, ts) (rules/identity.py).

The MQTT thread decides in memory what it remembers; a reading it cannot decide (a
backfill, a redelivery after a restart) travels in its batch as `Unchecked`. The writer,
before writing the batch, asks InfluxDB for the points at those (sensor, ts), in one
request (a statement per sensor and hour), and decides. When the batch must be spooled,
the unchecked readings go to a file of their own (`encode`), which the replayer checks
in its turn, after every older batch is written.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from linli.influx.client import InfluxClient
from linli.ingest.lineprotocol import parse_stored
from linli.rules.constants import (
    F_PERIOD_S,
    F_SEQ,
    M_FUME,
    M_NOISE,
    TAG_SENSOR,
    TS_MAX_AGE_MS,
    TS_MAX_AHEAD_MS,
)
from linli.rules.identity import DUPLICATE, FRESH, RECENT_PER_SENSOR, Stored, conflict, judge
from linli.rules.reading import METRICS, Metric, Reading
from linli.rules.rejection import Rejection

# Unchecked ts closer than this share one statement (its time range): a batch of fresh
# readings (several workers check everything) is one statement per measurement.
_CLUSTER_MS: Final = 600_000


class Unchecked(NamedTuple):
    """A reading to check before it is written, with its line and its message."""

    reading: Reading
    line: str
    topic: str
    payload: bytes
    received_ms: int
    batch_index: int | None


@dataclass(slots=True)
class Decided:
    """What checking a batch's unchecked readings found."""

    fresh: list[Unchecked] = field(default_factory=list)
    conflicts: list[Rejection] = field(default_factory=list)
    duplicates: Counter[str] = field(default_factory=Counter)
    repeated: list[Unchecked] = field(default_factory=list)  # the duplicates themselves


def newest_stored(influx: InfluxClient, now_ms: int) -> dict[str, int]:
    """Each sensor's newest stored reading ts, over the window readings are accepted in."""
    since, until = now_ms - TS_MAX_AGE_MS - 60_000, now_ms + TS_MAX_AHEAD_MS + 60_000
    rows = influx.query(
        f'SELECT last("{F_SEQ}") FROM "{M_NOISE}", "{M_FUME}" '
        f'WHERE time >= {since}ms AND time <= {until}ms GROUP BY "{TAG_SENSOR}"'
    )
    newest: dict[str, int] = {}
    for series in rows:
        sensor = series.tags.get(TAG_SENSOR, "")
        for ts, *_ in series.values:
            newest[sensor] = max(newest.get(sensor, -1), int(ts))
    return newest


@dataclass(frozen=True, slots=True)
class Owned:
    """Sensors an ingest worker gained (CONTRACT §12) and what InfluxDB stores of them: per
    sensor its newest `keep` readings as (ts, stored), oldest first."""

    sensors: frozenset[str]
    newest: dict[str, list[tuple[int, Stored]]]
    keep: int

    def complete(self, sensor: str) -> bool:
        """Whether every stored reading of the sensor in the accepted window is known."""
        return len(self.newest.get(sensor, ())) < self.keep


def owned_stored(
    influx: InfluxClient,
    sensors: Iterable[str],
    now_ms: int,
    keep: int = RECENT_PER_SENSOR,
    per_statement: int = 500,
) -> Owned:
    """The newest `keep` stored readings of each gained sensor, in one request (a statement
    per `per_statement` sensors), over the window readings are accepted in: the identity
    memory and seq baseline of an ingest worker owning them, so their readings need no
    check in InfluxDB afterwards (a redelivery of what the last owner stored is decided
    in memory)."""
    wanted = sorted(set(sensors))
    since, until = now_ms - TS_MAX_AGE_MS - 60_000, now_ms + TS_MAX_AHEAD_MS + 60_000
    statements = []
    for i in range(0, len(wanted), per_statement):
        names = " OR ".join(
            f"\"{TAG_SENSOR}\" = '{_quote(s)}'" for s in wanted[i : i + per_statement]
        )
        statements.append(
            f'SELECT * FROM "{M_NOISE}", "{M_FUME}" WHERE ({names}) '
            f"AND time >= {since}ms AND time <= {until}ms "
            f'GROUP BY "{TAG_SENSOR}" ORDER BY time DESC LIMIT {keep}'
        )
    newest: dict[str, list[tuple[int, Stored]]] = {}
    if statements:
        for series in influx.query(";".join(statements)):
            sensor = series.tags.get(TAG_SENSOR, "") if series.tags else ""
            col = {name: i for i, name in enumerate(series.columns)}
            metrics = [m for m in METRICS if m in col]
            for row in series.values:
                newest.setdefault(sensor, []).append((int(row[0]), _stored(row, col, metrics)))
    for sensor, rows in newest.items():  # oldest first, the newest `keep` of both kinds
        newest[sensor] = sorted(rows, key=lambda r: r[0])[-keep:]
    return Owned(frozenset(wanted), newest, keep)


def stored_readings(
    influx: InfluxClient, wanted: Iterable[Reading]
) -> dict[tuple[str, int], Stored]:
    """What InfluxDB stores at the (sensor, ts) of `wanted`, and around them: one request,
    a statement per measurement and cluster of ts (InfluxQL 1.x has no `time IN`, nor OR
    between times), naming the cluster's sensors."""
    per: dict[str, list[tuple[int, str]]] = {}
    for r in wanted:
        per.setdefault(r.kind.value, []).append((r.ts_ms, r.sensor))
    statements = []
    for measurement, wanted_at in per.items():
        wanted_at.sort()
        cluster: list[tuple[int, str]] = []
        for ts, sensor in [*wanted_at, (None, "")]:
            if cluster and (ts is None or ts - cluster[-1][0] > _CLUSTER_MS):
                sensors = " OR ".join(
                    f"\"{TAG_SENSOR}\" = '{_quote(s)}'" for s in sorted({s for _, s in cluster})
                )
                statements.append(
                    f'SELECT * FROM "{measurement}" WHERE ({sensors}) '
                    f"AND time >= {cluster[0][0]}ms AND time <= {cluster[-1][0]}ms"
                )
                cluster = []
            if ts is not None:
                cluster.append((ts, sensor))
    if not statements:
        return {}
    found: dict[tuple[str, int], Stored] = {}
    for series in influx.query(";".join(statements)):
        col = {name: i for i, name in enumerate(series.columns)}
        metrics = [m for m in METRICS if m in col]
        for row in series.values:
            found[(row[col[TAG_SENSOR]], int(row[0]))] = _stored(row, col, metrics)
    return found


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _stored(row: list[Any], col: dict[str, int], metrics: Sequence[str]) -> Stored:
    values: dict[str, Metric] = {}
    for name in metrics:
        value = row[col[name]]
        if value is not None:
            values[name] = value
    seq, period_s = row[col[F_SEQ]], row[col[F_PERIOD_S]]
    return (int(seq) if seq is not None else -1, int(period_s or 0), values)


def decide(influx: InfluxClient, unchecked: Sequence[Unchecked]) -> Decided:
    """Judge each unchecked reading against InfluxDB and against the ones before it."""
    stored = stored_readings(influx, (u.reading for u in unchecked))
    out = Decided()
    for u in unchecked:
        r = u.reading
        key = (r.sensor, r.ts_ms)
        held = stored.get(key)
        verdict = judge(held, r)
        if verdict is FRESH:
            stored[key] = r
            out.fresh.append(u)
        elif verdict is DUPLICATE:
            out.duplicates[r.sensor] += 1
            out.repeated.append(u)
        else:
            assert held is not None
            out.conflicts.append(
                conflict(r, held, u.topic, u.payload, u.received_ms, u.batch_index)
            )
    return out


def encode(unchecked: Sequence[Unchecked]) -> bytes:
    """Unchecked readings as a spool file: one JSON object per line, the message kept."""
    return b"\n".join(
        orjson.dumps(
            {
                "line": u.line,
                "topic": u.topic,
                "payload": base64.b64encode(u.payload).decode(),
                "received_ms": u.received_ms,
                "index": u.batch_index,
            }
        )
        for u in unchecked
    )


def decode(body: bytes) -> list[Unchecked]:
    """The unchecked readings of a spool file written by `encode`."""
    out = []
    for text in body.splitlines():
        doc = orjson.loads(text)
        (reading,) = parse_stored(doc["line"].encode())
        assert isinstance(reading, Reading)
        payload = base64.b64decode(doc["payload"])
        out.append(
            Unchecked(reading, doc["line"], doc["topic"], payload, doc["received_ms"], doc["index"])
        )
    return out
