"""The overview's state of a site: from the engine's memory of its sensors' readings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from linli.api.board.pages import OK, OVER, site_status
from linli.rules.judge import SensorState
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from tests.helpers import small_registry

TZ = ZoneInfo("Asia/Shanghai")
# 14:00 local: the day limit of a zone 2 building, 60 dB(A)
NOON_MS = int(datetime(2026, 6, 2, 14, 0, tzinfo=TZ).timestamp() * 1000)


def _reading(ts_ms: int, laeq: float) -> Reading:
    return Reading("n-01", SensorKind.NOISE, ts_ms, ts_ms // 60_000, 60, {"laeq": laeq})


def _status(recent: tuple[Reading, ...]) -> str:
    site = small_registry().sites["hj-b1"]
    state = SensorState("n-01", recent=recent, last_seen_ms=NOON_MS)
    now = site_status(
        site, ["n-01"], {"n-01": SensorKind.NOISE}, {"n-01": state}, [], RulePolicy(), TZ, NOON_MS
    )
    return now.status


def test_the_newest_reading_by_time_decides_not_the_last_received() -> None:
    # a device catching up: its newest reading (over the limit) came first, older ones after
    newest_first: tuple[Reading, ...] = (_reading(NOON_MS, 62.6), _reading(NOON_MS - 120_000, 40.2))
    newest_first += (_reading(NOON_MS - 60_000, 41.0),)
    assert _status(newest_first) == OVER
    assert _status(tuple(reversed(newest_first))) == OVER


def test_a_site_within_its_limit_is_ok() -> None:
    assert _status((_reading(NOON_MS - 60_000, 62.0), _reading(NOON_MS, 55.0))) == OK
