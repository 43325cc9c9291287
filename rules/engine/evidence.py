"""Evidence snapshots: the readings around an episode, kept with its occurrence.

A snapshot starts with the readings the engine holds in memory when the breach is
judged, so a case proves itself at once. The engine's tick then reads the whole span,
`evidence_margin_s` before the episode's window to as long after, back from InfluxDB:
once the sensor has reported past its end (still open to late data), and a last time
once late data has had its time (final). While the episode grows, each EXTEND and its
CLEAR move the snapshot's end and open it again (`Snapshots.grow`), so the snapshot
covers the whole episode. Reading InfluxDB never holds up judging: a read that fails
stays pending and is tried again at the next tick; the store keeps what is pending
across restarts (`CaseTx.pending_snapshots`).

A snapshot holds at most `MAX_SNAPSHOT_READINGS` readings: a 3-hour KTV night of 1-s
readings with its margins is 14,400. Beyond that it keeps the first and the last half,
the episode's beginning and end with their margins; the occurrence still carries the
whole window and its worst value, and InfluxDB every reading.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from linli.rules.events import Breach
from linli.rules.ports import CaseStore, CaseTx, PendingSnapshot, ReadingHistory
from linli.rules.reading import Reading
from linli.rules.series import Series

log = logging.getLogger(__name__)

_BY_TIME: Final = operator.attrgetter("ts_ms")
MAX_SNAPSHOT_READINGS: Final = 4000  # 66 min of 1-s readings, 66 hours of 1-min ones


def capped(readings: Sequence[Reading], most: int = MAX_SNAPSHOT_READINGS) -> Sequence[Reading]:
    """Readings by time, at most `most`: beyond it the first and the last half of them."""
    if len(readings) <= most:
        return readings
    head = most // 2
    return [*readings[:head], *readings[len(readings) - (most - head) :]]


@dataclass(frozen=True, slots=True)
class Pending:
    """A snapshot still to read back."""

    snapshot: PendingSnapshot
    give_up_ms: int  # wall time after which late data no longer waits: the final read
    filled: bool = False  # read back once the sensor reported past the snapshot's end


def in_memory(series: Series | None, recent: Sequence[Reading], from_ms: int) -> list[Reading]:
    """A sensor's readings in memory from `from_ms` on, by time: its series, and those of
    the last few judged that the series does not hold (a stuck run)."""
    held: list[Reading] = []
    if series is not None and len(series):
        i, j = series.span(from_ms - 1, series.ts[-1])
        held = series.readings[i:j]
    extra = [r for r in recent if r.ts_ms >= from_ms and (series is None or not series.has(r))]
    if not extra:
        return held
    return sorted({(r.ts_ms, r.seq): r for r in (*held, *extra)}.values(), key=_BY_TIME)


class Snapshots:
    """The snapshots still to read back, per sensor; what a round adds is kept once its
    transaction is (`begin`, `add`, `keep`)."""

    def __init__(
        self, margin_s: int, history: ReadingHistory | None, pending: Iterable[PendingSnapshot]
    ) -> None:
        self._margin_ms = margin_s * 1000
        self._history = history
        self._pending: dict[str, list[Pending]] = defaultdict(list)
        for snap in pending:
            self._pending[snap.sensor].append(Pending(snap, self._give_up(snap)))
        self._new: list[Pending] = []

    def take(self, pending: Iterable[PendingSnapshot]) -> None:
        """Snapshots still pending of sensors gained (an engine owning a share)."""
        for snap in pending:
            items = self._pending[snap.sensor]
            if all(p.snapshot.evidence_id != snap.evidence_id for p in items):
                items.append(Pending(snap, self._give_up(snap)))

    def drop(self, sensors: Iterable[str]) -> None:
        """Forget the pending snapshots of sensors lost: their new owner reads them back."""
        for sensor in sensors:
            self._pending.pop(sensor, None)

    def _give_up(self, snap: PendingSnapshot) -> int:
        """When a snapshot stops waiting for readings: late data keeps arriving for a while."""
        return max(snap.until_ms, snap.noticed_ms + self._margin_ms) + self._margin_ms

    def begin(self) -> None:
        """A new round: forget what a failed one added."""
        self._new.clear()

    def add(
        self,
        tx: CaseTx,
        case_id: int,
        breach: Breach,
        now_ms: int,
        series: Series | None,
        recent: Sequence[Reading],
    ) -> None:
        """Record a breach on its case with the readings in memory around it."""
        snapshot = capped(in_memory(series, recent, breach.start_ms - self._margin_ms))
        until_ms = breach.end_ms + self._margin_ms
        evidence_id = tx.add_occurrence(case_id, breach, now_ms, snapshot, until_ms)
        pending = PendingSnapshot(evidence_id, breach.sensor, breach.start_ms, until_ms, now_ms)
        self._new.append(Pending(pending, self._give_up(pending)))

    def grow(self, tx: CaseTx, case_id: int, breach: Breach, now_ms: int) -> bool:
        """An episode grew (EXTEND, CLEAR): its occurrence takes the new extent and its
        snapshot, open again, reaches a margin past the new end. False: no such occurrence
        on the case."""
        until_ms = breach.end_ms + self._margin_ms
        evidence_id = tx.grow_occurrence(case_id, breach, until_ms)
        if evidence_id is None:
            return False
        pending = PendingSnapshot(evidence_id, breach.sensor, breach.start_ms, until_ms, now_ms)
        self._new.append(Pending(pending, self._give_up(pending)))
        return True

    def keep(self) -> None:
        """The round's transaction is done: its snapshots are pending now (a grown one
        replaces what was pending of it)."""
        for p in self._new:
            items = self._pending[p.snapshot.sensor]
            evidence_id = p.snapshot.evidence_id
            items[:] = [q for q in items if q.snapshot.evidence_id != evidence_id]
            items.append(p)
        self._new.clear()

    def fill(self, db: CaseStore, watermark: Callable[[str], int | None], now_ms: int) -> None:
        """Read the due snapshots back from InfluxDB, then store them.

        Due: once the sensor's readings (`watermark`: the newest judged) have passed the
        snapshot's end, and once late data has had its time (final).
        """
        fills: list[tuple[Pending, bool, list[Reading] | None]] = []
        for sensor, items in self._pending.items():
            newest = watermark(sensor)
            for p in items:
                final = now_ms > p.give_up_ms
                past_end = newest is not None and newest > p.snapshot.until_ms
                if not final and (p.filled or not past_end):
                    continue
                readings = None
                if self._history is not None:
                    after = p.snapshot.start_ms - self._margin_ms - 1
                    try:
                        found = self._history.readings_after(sensor, after, p.snapshot.until_ms)
                        readings = list(capped(sorted(found, key=_BY_TIME)))
                    except Exception as err:  # InfluxDB down: try again next tick
                        log.warning(
                            "evidence %d: could not read back readings: %s",
                            p.snapshot.evidence_id,
                            err,
                        )
                        continue
                fills.append((p, final, readings))
        if not fills:
            return
        with db.cases() as tx:
            for p, final, readings in fills:
                tx.set_snapshot(p.snapshot, readings, done=final)
        for p, final, _ in fills:
            items = self._pending[p.snapshot.sensor]
            items.remove(p)
            if not final:
                items.append(dataclasses.replace(p, filled=True))
            if not items:
                del self._pending[p.snapshot.sensor]
