"""Retention and hourly downsampling on InfluxDB 1.x, set up by linli at every start.

Raw readings live in the default policy `raw` (LINLI_INFLUX_RETENTION, 400 days by
default: enforcement evidence). Hourly aggregates live in `forever` (infinite), written
by continuous queries. Every aggregate keeps what exact answers need: noise keeps the
sums of `laeq_es` and `period_s`, so `10·log10(Σ laeq_es / Σ period_s)` is the exact
energetic Leq of any group of hours, never an average of dB.

Continuous queries only run on the clock, over the recent past (RESAMPLE ... FOR 1d), so
at start linli also runs each one's SELECT ... INTO itself over the whole hours of the
last 7 days (the oldest ts the contract accepts): hours missed while InfluxDB was down,
or filled later by a device's buffered batch, are aggregated then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Protocol

from linli.influx.errors import InfluxRejected
from linli.rules.constants import (
    F_EXCEED_S,
    F_FAN_ON,
    F_FAN_ON_S,
    F_HOUR_LOCAL,
    F_LAEQ,
    F_LAEQ_ES,
    F_LAMAX,
    F_LAMIN,
    F_LIMIT_DB,
    F_NMHC,
    F_OIL_FUME,
    F_OIL_FUME_MAX,
    F_PERIOD_S,
    F_PM,
    F_PURIFIER_ON,
    F_PURIFIER_ON_S,
    F_READINGS,
    M_FUME,
    M_FUME_1H,
    M_NOISE,
    M_NOISE_1H,
    RP_FOREVER,
    RP_RAW,
    TS_MAX_AGE_MS,
)
from linli.rules.limits import GB18483_OIL_FUME_MG_M3

log = logging.getLogger(__name__)

HOUR_MS: Final = 3_600_000


class InfluxQL(Protocol):
    """What retention needs of a client (influx/client.py's InfluxClient, which calls this
    module from `ensure_database`): its database and InfluxQL statements."""

    db: str

    def query(self, q: str, *, epoch: str = "ms", db: str | None = None) -> object:
        """Run InfluxQL; raises InfluxRejected when InfluxDB refuses it."""
        ...


@dataclass(frozen=True, slots=True)
class Downsample:
    """One continuous query: `select` aggregates `source` hourly into `target`."""

    name: str
    source: str
    target: str
    select: str
    where: str = ""

    def statement(self, db: str, where_time: str = "") -> str:
        """The SELECT ... INTO, optionally limited in time (for the backfill)."""
        conditions = " AND ".join(c for c in (self.where, where_time) if c)
        where = f" WHERE {conditions}" if conditions else ""
        return (
            f'SELECT {self.select} INTO "{db}"."{RP_FOREVER}"."{self.target}" '
            f'FROM "{db}"."{RP_RAW}"."{self.source}"{where} GROUP BY time(1h), *'
        )

    def create(self, db: str) -> str:
        """The CREATE CONTINUOUS QUERY statement."""
        return (
            f'CREATE CONTINUOUS QUERY "{self.name}" ON "{db}" RESAMPLE EVERY 1h FOR 1d '
            f"BEGIN {self.statement(db)} END"
        )


def _sum(field: str, alias: str | None = None) -> str:
    return f'sum("{field}") AS "{alias or field}"'


DOWNSAMPLES: Final = (
    Downsample(
        M_NOISE_1H,
        M_NOISE,
        M_NOISE_1H,
        ", ".join(
            (
                _sum(F_LAEQ_ES),
                _sum(F_PERIOD_S),
                _sum(F_EXCEED_S),
                f'max("{F_LAMAX}") AS "{F_LAMAX}"',
                f'min("{F_LAMIN}") AS "{F_LAMIN}"',
                f'max("{F_LIMIT_DB}") AS "{F_LIMIT_DB}"',
                f'mode("{F_HOUR_LOCAL}") AS "{F_HOUR_LOCAL}"',  # the hour most readings measured
                f'count("{F_LAEQ}") AS "{F_READINGS}"',
            )
        ),
    ),
    Downsample(
        M_FUME_1H,
        M_FUME,
        M_FUME_1H,
        ", ".join(
            (
                f'mean("{F_OIL_FUME}") AS "{F_OIL_FUME}"',
                f'max("{F_OIL_FUME}") AS "{F_OIL_FUME_MAX}"',
                f'mean("{F_PM}") AS "{F_PM}"',
                f'mean("{F_NMHC}") AS "{F_NMHC}"',
                _sum(F_PERIOD_S),
                f'count("{F_OIL_FUME}") AS "{F_READINGS}"',
            )
        ),
    ),
    Downsample(
        f"{M_FUME_1H}_fan", M_FUME, M_FUME_1H, _sum(F_PERIOD_S, F_FAN_ON_S), f'"{F_FAN_ON}" = true'
    ),
    Downsample(
        f"{M_FUME_1H}_purifier",
        M_FUME,
        M_FUME_1H,
        _sum(F_PERIOD_S, F_PURIFIER_ON_S),
        f'"{F_PURIFIER_ON}" = true',
    ),
    Downsample(
        f"{M_FUME_1H}_exceed",
        M_FUME,
        M_FUME_1H,
        _sum(F_PERIOD_S, F_EXCEED_S),
        f'"{F_OIL_FUME}" > {GB18483_OIL_FUME_MG_M3}',
    ),
)


def ensure_policies(influx: InfluxQL, raw_duration: str) -> None:
    """`raw` (default, `raw_duration`) and `forever` (infinite), created or altered."""
    for name, duration, default in ((RP_RAW, raw_duration, True), (RP_FOREVER, "INF", False)):
        suffix = " DEFAULT" if default else ""
        try:
            influx.query(
                f'CREATE RETENTION POLICY "{name}" ON "{influx.db}" DURATION {duration} '
                f"REPLICATION 1{suffix}",
                db="",
            )
        except InfluxRejected as err:
            if "already exists" not in str(err):
                raise
            influx.query(
                f'ALTER RETENTION POLICY "{name}" ON "{influx.db}" DURATION {duration}{suffix}',
                db="",
            )


def ensure_downsampling(influx: InfluxQL, now_ms: int | None = None) -> None:
    """Create or replace the continuous queries; backfill the last 7 days' whole hours."""
    db = influx.db
    for ds in DOWNSAMPLES:
        try:
            influx.query(ds.create(db), db="")
        except InfluxRejected as err:  # same name, other definition: an older linli's
            if "already exists" not in str(err):
                raise
            influx.query(f'DROP CONTINUOUS QUERY "{ds.name}" ON "{db}"', db="")
            influx.query(ds.create(db), db="")
            log.info("replaced continuous query %s", ds.name)
    if now_ms is not None:
        backfill(influx, now_ms - TS_MAX_AGE_MS, now_ms)


def backfill(influx: InfluxQL, from_ms: int, to_ms: int) -> None:
    """Run every aggregation over the whole hours from `from_ms` up to `to_ms`."""
    start = -(-from_ms // HOUR_MS) * HOUR_MS  # a partial first hour would overwrite a full one
    for ds in DOWNSAMPLES:
        influx.query(ds.statement(influx.db, f"time >= {start}ms AND time < {to_ms}ms"))
