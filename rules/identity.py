"""A reading's identity is (sensor, ts): stored once, never written over (it is evidence).

InfluxDB keeps one point per series and time, the last written, so whatever reaches it
for a (sensor, ts) it already holds replaces the evidence. Before a reading is written it
is judged against what is stored for its (sensor, ts):

- nothing stored → `FRESH`: written;
- the same seq, period and metrics → `DUPLICATE` (CONTRACT §2): counted, not written again;
- anything else → `CONFLICT`: kept as a rejected record `conflict`, not written, so the
  first stored reading stays what the evidence shows.

`RecentReadings` decides in memory on the MQTT thread for what it remembers; what it
cannot decide (`CHECK`: a ts at or below what this process already sent or found stored,
not remembered) is checked against InfluxDB by the writer (ingest/identity.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Final

from linli.rules.localtime import rfc3339
from linli.rules.reading import Metric, Reading
from linli.rules.rejection import ReasonCode, Rejection

# What is stored for a (sensor, ts): seq, period_s and the device's metrics. In memory
# the Reading itself (no copy on the hot path); read back from InfluxDB, a tuple.
Stored = Reading | tuple[int, int, Mapping[str, Metric]]

# Readings remembered per sensor: at least this many, at most twice as many (forgetting
# in bulk is cheaper than one at a time). 8 covers a device's resend of its last 8 minutes
# at one reading a minute; older ts are checked in InfluxDB (a query per batch).
RECENT_PER_SENSOR = 8


class Identity(IntEnum):
    """What a reading is, against what is stored for its (sensor, ts)."""

    FRESH = 0
    DUPLICATE = 1
    CONFLICT = 2
    CHECK = 3


# The members as module globals: `Identity.FRESH` costs an enum class lookup (~0.2 µs on
# Python 3.11) on the hot path, a global does not.
FRESH: Final = Identity.FRESH
DUPLICATE: Final = Identity.DUPLICATE
CONFLICT: Final = Identity.CONFLICT
CHECK: Final = Identity.CHECK


def _fields(stored: Stored) -> tuple[int, int, Mapping[str, Metric]]:
    if isinstance(stored, Reading):
        return stored.seq, stored.period_s, stored.metrics
    return stored


def judge(stored: Stored | None, reading: Reading) -> Identity:
    """FRESH when nothing is stored, DUPLICATE when the same reading is, else CONFLICT."""
    if stored is None:
        return FRESH
    seq, period_s, metrics = _fields(stored)
    if seq == reading.seq and period_s == reading.period_s and metrics == reading.metrics:
        return DUPLICATE
    return CONFLICT


def conflict(
    reading: Reading,
    stored: Stored,
    topic: str,
    payload: bytes,
    received_ms: int,
    index: int | None = None,
) -> Rejection:
    """The rejected record of a conflicting reading (the one place `conflict` is made)."""
    seq, period_s, metrics = _fields(stored)
    when = rfc3339(reading.ts_ms)
    differs = [
        f"{name} {metrics.get(name)!r} → {reading.metrics.get(name)!r}"
        for name in sorted(set(metrics) | set(reading.metrics))
        if metrics.get(name) != reading.metrics.get(name)
    ]
    if seq != reading.seq:
        differs.insert(0, f"seq {seq} → {reading.seq}")
    if period_s != reading.period_s:
        differs.append(f"period_s {period_s} → {reading.period_s}")
    detail = (
        f"sensor {reading.sensor!r}: a reading for ts {when} is already stored; this one "
        f"differs ({', '.join(differs)}) and was not written over it"
    )
    if index is not None:
        detail = f"batch[{index}]: {detail}"
    return Rejection(
        topic, payload, received_ms, ReasonCode.CONFLICT, detail, sensor=reading.sensor, index=index
    )


_BLIND = 1 << 62  # newest and floor of a sensor while nothing is known: every ts at or below


class _Sensor:
    """One sensor's memory: newest ts, recent readings, and the floor below which it is blind."""

    __slots__ = ("floor", "newest", "recent", "sent")

    def __init__(self, newest: int) -> None:
        self.newest = newest  # every ts sent or found stored is at or below it
        self.floor = newest  # every such ts not in `recent` is at or below it
        self.recent: dict[int, Stored] = {}
        self.sent = -1  # the newest ts sent to check (what the seed cannot know of)


class RecentReadings:
    """Per sensor, the newest ts sent or stored and its last readings; single-threaded.

    Until `seed` has told what InfluxDB holds (each sensor's newest stored ts), it knows
    nothing stored and says CHECK for every reading.
    """

    __slots__ = ("_keep", "_limit", "_newest_stored", "_sensors", "seeded")

    def __init__(self, keep: int = RECENT_PER_SENSOR) -> None:
        self._keep = keep
        self._limit = 2 * keep
        self._sensors: dict[str, _Sensor] = {}
        self._newest_stored: Mapping[str, int] = {}
        self.seeded = False

    def seed(self, newest_stored: Mapping[str, int]) -> None:
        """What is stored: each sensor's newest ts (from InfluxDB and the spool)."""
        self._newest_stored = newest_stored
        for sensor, state in self._sensors.items():  # seen while blind: all sent as CHECK
            state.newest = state.floor = max(state.sent, newest_stored.get(sensor, -1))
        self.seeded = True

    def own(self, sensor: str, stored: Sequence[tuple[int, Stored]], complete: bool) -> None:
        """Know a sensor gained (an ingest worker owning a share): `stored` are its newest
        stored readings as (ts, what is stored), oldest first; `complete` when they are all
        it has stored within the accepted window. Until then (blind) its readings were
        CHECKs; what was sent so stays at or below the floor, checked."""
        sent = self._sensors[sensor].sent if sensor in self._sensors else -1
        state = self._sensors[sensor] = _Sensor(-1)
        state.recent = dict(stored)
        newest = stored[-1][0] if stored else -1
        floor = -1 if complete or not stored else stored[0][0] - 1
        state.newest, state.floor, state.sent = max(newest, sent), max(floor, sent), sent

    def disown(self, sensor: str) -> None:
        """Forget a sensor lost to another owner: blind again (CHECK) if it comes back."""
        self._sensors.pop(sensor, None)

    def judge(self, reading: Reading) -> Identity:
        """FRESH, DUPLICATE, CONFLICT or CHECK; a FRESH reading is remembered as sent."""
        ts = reading.ts_ms
        state = self._sensors.get(reading.sensor)
        if state is None:
            newest = self._newest_stored.get(reading.sensor, -1) if self.seeded else _BLIND
            state = self._sensors[reading.sensor] = _Sensor(newest)
        if ts > state.newest:  # the common case: a sensor's next reading
            state.newest = ts
            recent = state.recent
            recent[ts] = reading
            if len(recent) >= self._limit:
                self._forget(state)
            return FRESH
        stored = state.recent.get(ts)
        if stored is not None:
            return judge(stored, reading)
        if ts <= state.floor:
            if ts > state.sent:
                state.sent = ts
            return CHECK
        state.recent[ts] = reading  # a ts never sent, between ones sent: fresh too
        if len(state.recent) >= self._limit:
            self._forget(state)
        return FRESH

    def _forget(self, state: _Sensor) -> None:
        """Keep the last `keep` remembered; the floor rises to the newest forgotten ts."""
        items = list(state.recent.items())  # in the order sent (fresh ts mostly rise)
        cut = len(items) - self._keep
        state.floor = max(state.floor, max(ts for ts, _ in items[:cut]))
        state.recent = dict(items[cut:])

    def stored(self, sensor: str, ts_ms: int) -> Stored | None:
        """The remembered reading of (sensor, ts), if any."""
        state = self._sensors.get(sensor)
        return None if state is None else state.recent.get(ts_ms)
