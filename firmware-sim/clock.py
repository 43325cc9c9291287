"""Simulated time: a start, a speed, and never ahead of real time.

linli accepts a reading's ts from 7 days ago to 5 minutes ahead of its own clock
(CONTRACT §2), so a sped-up run starts in the past and, once it has caught up with
real time, goes on at real speed instead of running into the future.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from .scenario import ScenarioError, parse_duration

TS_PAST_LIMIT_S: Final = 7 * 86_400
TS_FUTURE_LIMIT_S: Final = 300
# Room for a run to start a little after it was planned and still be inside the window.
_START_MARGIN_S: Final = 600


class SimClock:
    """Simulated epoch seconds: `start_s` at `begin()`, then `speed` times real time."""

    __slots__ = ("_mono0", "_monotonic", "_wall", "speed", "start_s")

    def __init__(
        self,
        start_s: int,
        speed: float = 1.0,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} is not positive")
        self.start_s = start_s
        self.speed = speed
        self._wall = wall
        self._monotonic = monotonic
        self._mono0: float | None = None

    def begin(self) -> None:
        """Let time run from now on."""
        self._mono0 = self._monotonic()

    def now_s(self) -> float:
        """The simulated time; never later than the real time."""
        if self._mono0 is None:
            return float(self.start_s)
        sped = self.start_s + (self._monotonic() - self._mono0) * self.speed
        return min(sped, self._wall())

    def real_delay_s(self, sim_s: float) -> float:
        """Real seconds until the simulated time reaches `sim_s` (0 if it has)."""
        if self._mono0 is None:
            return 0.0
        sped = self.start_s + (self._monotonic() - self._mono0) * self.speed
        return max(0.0, (sim_s - sped) / self.speed, sim_s - self._wall())


def check_start(start_s: float, now_s: float) -> None:
    """Refuse a start whose readings linli would reject as too old or in the future."""
    if start_s < now_s - TS_PAST_LIMIT_S + _START_MARGIN_S:
        raise ValueError(
            f"start {_iso(start_s)} is more than 7 days ago (less a 10-minute margin): "
            "linli rejects such readings as ts_out_of_range"
        )
    if start_s > now_s + 1:
        raise ValueError(f"start {_iso(start_s)} is in the future; readings must not be")


def parse_start(text: str, tz: ZoneInfo, now_s: float) -> int:
    """Epoch seconds of `now`, `-6h` / `now-6h` / `6h ago`, or ISO 8601 (`tz` if no offset)."""
    value = text.strip()
    if value == "now":
        return int(now_s)
    if value.endswith(" ago"):
        value = "-" + value.removesuffix(" ago")
    ago = value.removeprefix("now")
    if ago.startswith("-"):
        try:
            return int(now_s) - parse_duration(ago[1:])
        except ScenarioError as err:
            raise ValueError(f"start {text!r}: {err}") from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"start {text!r} is not 'now', '-6h' or a time like 2026-11-27T12:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp())


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")
