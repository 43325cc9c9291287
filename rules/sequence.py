"""Per-sensor `seq` accounting: duplicates and readings lost at source (CONTRACT §2).

A seq above the last one seen by more than one opens a gap; the missing seqs wait
`grace_ms` for a late arrival (a backfill, a redelivery out of order) before they
are confirmed lost and counted. The same (seq, ts) again is a duplicate. A seq at
or below the last one with a newer ts means the device restarted its counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Missing seqs remembered per sensor; beyond this a gap is counted at once.
MAX_MISSING = 4096


class Verdict:
    """What one observed reading was."""

    NEW = 0
    DUPLICATE = 1
    LATE_FILL = 2


@dataclass(slots=True)
class _SensorSeq:
    last_seq: int
    last_ts: int
    missing: dict[int, int] = field(default_factory=dict)  # seq -> when it went missing (ms)
    lost: int = 0  # confirmed lost, not yet reported
    duplicates: int = 0  # not yet reported


class SeqTracker:
    """Counts duplicates and seq gaps for every sensor; pure state, the caller passes `now`."""

    __slots__ = ("_grace_ms", "_owned", "_sensors")

    def __init__(self, grace_ms: int = 10 * 60 * 1000, *, owned_only: bool = False) -> None:
        self._grace_ms = grace_ms
        self._sensors: dict[str, _SensorSeq] = {}
        # owned_only: only the sensors `own`ed are accounted (a worker owning a share)
        self._owned: set[str] | None = set() if owned_only else None

    def own(self, sensor: str, last: tuple[int, int] | None) -> None:
        """Account a sensor gained from here on: `last` is its newest stored (seq, ts), the
        baseline a gap across the hand-over is counted from (None: nothing stored)."""
        if self._owned is not None:
            self._owned.add(sensor)
        self._sensors.pop(sensor, None)
        if last is not None:
            self._sensors[sensor] = _SensorSeq(*last)

    def disown(self, sensor: str) -> int:
        """Stop accounting a sensor lost; returns what it had confirmed lost and not yet
        reported. Its gaps still in their grace period are not counted (by anyone)."""
        if self._owned is not None:
            self._owned.discard(sensor)
        state = self._sensors.pop(sensor, None)
        return 0 if state is None else state.lost

    def observe(self, sensor: str, seq: int, ts_ms: int, now_ms: int) -> int:
        """Record one reading; returns a `Verdict`."""
        state = self._sensors.get(sensor)
        if state is None:
            if self._owned is not None and sensor not in self._owned:
                return Verdict.NEW  # not this worker's to account
            self._sensors[sensor] = _SensorSeq(seq, ts_ms)
            return Verdict.NEW
        if seq == state.last_seq + 1:
            state.last_seq, state.last_ts = seq, max(ts_ms, state.last_ts)
            return Verdict.NEW
        if seq > state.last_seq:
            for missing in range(state.last_seq + 1, seq):
                if len(state.missing) >= MAX_MISSING:
                    state.lost += seq - missing
                    break
                state.missing[missing] = now_ms
            state.last_seq, state.last_ts = seq, max(ts_ms, state.last_ts)
            return Verdict.NEW
        if state.missing.pop(seq, None) is not None:
            return Verdict.LATE_FILL
        if ts_ms > state.last_ts:
            # The device restarted its counter (CONTRACT §2: seq rises per sensor, so a
            # lower seq with a newer time is a new run, not a duplicate).
            state.last_seq, state.last_ts = seq, ts_ms
            return Verdict.NEW
        state.duplicates += 1
        return Verdict.DUPLICATE

    def harvest(self, now_ms: int) -> dict[str, tuple[int, int]]:
        """Confirm gaps older than the grace period; returns {sensor: (lost, duplicates)}
        counted since the last harvest, for sensors with anything to report."""
        out: dict[str, tuple[int, int]] = {}
        cutoff = now_ms - self._grace_ms
        for sensor, state in self._sensors.items():
            if state.missing:
                expired = [s for s, since in state.missing.items() if since <= cutoff]
                for s in expired:
                    del state.missing[s]
                state.lost += len(expired)
            if state.lost or state.duplicates:
                out[sensor] = (state.lost, state.duplicates)
                state.lost = state.duplicates = 0
        return out
