"""Vectorised readings for many devices at once: profiles, randomness and scripted effects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from .acoustics import period_levels
from .profiles import ProfileTable, minute_of_day
from .scenario import EventType, ScenarioEvent

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SAMPLE_MIN_DB: Final = 25.0  # keeps LAeq inside the contract's 20–140 dB(A)
SAMPLE_MAX_DB: Final = 135.0
# With the purifier off the exhaust carries what it would have removed: GB 18483 asks
# 60–85 % removal, so about four times the purified concentration (1 / (1 − 0.75)).
UNPURIFIED_FACTOR: Final = 4.0


@dataclass(frozen=True, slots=True)
class Effect:
    """A scenario's level effect bound to one device, in absolute simulated seconds."""

    device: int
    type: EventType
    start_s: int
    end_s: int
    add_db: float | None = None
    set_db: float | None = None
    factor: float | None = None
    set_mg_m3: float | None = None

    @classmethod
    def of(cls, event: ScenarioEvent, device: int, sim_start_s: int) -> Effect:
        """Bind `event` to `device` for a run that started at `sim_start_s`."""
        start = sim_start_s + event.at_s
        return cls(
            device, event.type, start, start + event.for_s,
            event.add_db, event.set_db, event.factor, event.set_mg_m3,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FumeBatch:
    """Fume readings, one row per (device, period)."""

    oil_fume: FloatArray
    pm: FloatArray
    nmhc: FloatArray
    fan_on: BoolArray
    purifier_on: BoolArray
    purifier_current: FloatArray


class Sampler:
    """Makes period readings for any set of (device, period end) pairs in one go."""

    def __init__(
        self,
        profile_idx: IntArray,
        table: ProfileTable,
        tz: ZoneInfo,
        rng: np.random.Generator,
        effects: Sequence[Effect] = (),
    ) -> None:
        self.profile_idx = profile_idx
        self.table = table
        self.tz = tz
        self.rng = rng
        self.noise_effects = [e for e in effects if e.type is EventType.NOISE]
        self.fume_effects = [
            e for e in effects if e.type in (EventType.FUME, EventType.PURIFIER_OFF)
        ]

    def noise_samples(self, devices: IntArray, end_s: IntArray, period_s: int) -> FloatArray:
        """1-second levels, (len(devices) × period_s), of the periods ending at `end_s`."""
        t = self.table
        seconds = end_s[:, None] - period_s + np.arange(period_s, dtype=np.int64)[None, :]
        prof = self.profile_idx[devices][:, None]
        minute = minute_of_day(seconds, self.tz)
        base = t.noise_db[prof, minute]
        rng = self.rng
        # The background wanders slowly (a per-period offset) and quickly (per second).
        level = base + rng.normal(0.0, 1.0, (base.shape[0], 1))
        level += rng.normal(0.0, 1.0, base.shape) * t.sd_db[prof]
        events = rng.random(base.shape) < t.event_p[prof, minute]
        if events.any():
            top = np.broadcast_to(t.event_db[prof], base.shape)[events]
            rise = rng.uniform(3.0, top)
            # A passing event adds its energy to the background, it does not replace it.
            level[events] += 10.0 * np.log10(1.0 + np.power(10.0, rise / 10.0))
        for e in self.noise_effects:
            rows = np.flatnonzero(devices == e.device)
            if rows.size == 0:
                continue
            inside = (seconds[rows] >= e.start_s) & (seconds[rows] < e.end_s)
            if e.add_db is not None:
                level[rows] += np.where(inside, e.add_db, 0.0)
            elif e.set_db is not None:  # move the background to the level, keep the texture
                level[rows] += np.where(inside, e.set_db - base[rows], 0.0)
        result: FloatArray = np.clip(level, SAMPLE_MIN_DB, SAMPLE_MAX_DB)
        return result

    def noise(self, devices: IntArray, end_s: IntArray, period_s: int) -> FloatArray:
        """(laeq, lamax, lamin, l10, l50, l90) rows for the periods ending at `end_s`."""
        return period_levels(self.noise_samples(devices, end_s, period_s))

    def fume(self, devices: IntArray, end_s: IntArray, period_s: int) -> FumeBatch:
        """Fume readings averaged over the periods ending at `end_s`."""
        t, rng, n = self.table, self.rng, devices.size
        prof = self.profile_idx[devices]
        minute = minute_of_day(end_s - period_s // 2, self.tz)
        cooking = t.cooking[prof, minute]
        fan = t.business[prof, minute]
        purifier = fan.copy()  # normally the purifier runs whenever the fan does
        oil = 0.05 * rng.uniform(0.6, 1.4, n) + cooking * t.oil_fume_peak[prof] * rng.lognormal(
            0.0, 0.25, n
        )
        pm_ratio = 1.5 * rng.lognormal(0.0, 0.2, n)
        nmhc = 1.2 * rng.uniform(0.8, 1.2, n) + cooking * 6.0 * rng.lognormal(0.0, 0.2, n)
        current = np.where(purifier, rng.uniform(2.0, 4.0, n), rng.uniform(0.0, 0.05, n))
        for e in self.fume_effects:
            rows = np.flatnonzero((devices == e.device) & (end_s >= e.start_s) & (end_s < e.end_s))
            if rows.size == 0:
                continue
            if e.type is EventType.PURIFIER_OFF:
                oil[rows] *= np.where(purifier[rows], UNPURIFIED_FACTOR, 1.0)
                purifier[rows] = False
                current[rows] = rng.uniform(0.0, 0.05, rows.size)
            elif e.factor is not None:
                oil[rows] *= e.factor
            elif e.set_mg_m3 is not None:
                oil[rows] = e.set_mg_m3 * rng.lognormal(0.0, 0.05, rows.size)
        oil = np.clip(oil, 0.0, 50.0).round(2)
        return FumeBatch(
            oil_fume=oil,
            pm=np.clip(0.02 + oil * pm_ratio, 0.0, 50.0).round(2),
            nmhc=np.clip(nmhc, 0.0, 200.0).round(2),
            fan_on=fan,
            purifier_on=purifier,
            purifier_current=current.round(2),
        )
