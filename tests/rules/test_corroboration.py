"""Corroborating a complaint, pure: a row per verdict and per standard's clause (no server)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from linli.rules.corroboration import (
    MAX_EVIDENCE_READINGS,
    Verdict,
    corroborate,
    coverage,
)
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Sensor, Site, SiteKind, Zone

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
POLICY = RulePolicy()
HOME = Site("hj-b5", "红街公寓5幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1")
SHOP = Site("rest-1", "蜀味小馆", SiteKind.SHOP, Zone.Z2, "g1", cooking_heads=2)
N_HOME = Sensor("n-home", SensorKind.NOISE, HOME.id)
F_SHOP = Sensor("f-shop", SensorKind.FUME, SHOP.id)


def at(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(2026, 6, 10, h, m, tzinfo=TZ).timestamp() * 1000)


def noise(start: str, minutes: int, laeq: float, lamax: float | None = None, every: int = 1):
    t0 = at(start)
    out = []
    for i in range(0, minutes, every):
        metrics: dict[str, float | bool] = {"laeq": laeq}
        if lamax is not None:
            metrics["lamax"] = lamax
        out.append(Reading(N_HOME.id, SensorKind.NOISE, t0 + (i + 1) * MIN, i, 60, metrics))
    return out


def fume(start: str, minutes: int, oil: float, fan: bool = True, purifier: bool = True):
    t0 = at(start)
    return [
        Reading(
            F_SHOP.id,
            SensorKind.FUME,
            t0 + (i + 1) * MIN,
            i,
            60,
            {"oil_fume": oil, "fan_on": fan, "purifier_on": purifier, "purifier_current": 2.0},
        )
        for i in range(minutes)
    ]


ROWS = [
    pytest.param(
        SensorKind.NOISE,
        "23:00",
        "23:30",
        noise("23:00", 30, 56.0),
        N_HOME,
        HOME,
        Verdict.CORROBORATED,
        56.0,
        50.0,
        "GB 3096-2008 表1 2类 夜间 50 dB(A)",
        id="night Leq 56 at a zone 2 home over 50 → corroborated (GB 3096 表1)",
    ),
    pytest.param(
        SensorKind.NOISE,
        "14:00",
        "14:30",
        noise("14:00", 30, 58.0),
        N_HOME,
        HOME,
        Verdict.NOT_CORROBORATED,
        58.0,
        60.0,
        "GB 3096-2008 表1 2类 昼间 60 dB(A)",
        id="day Leq 58 under 60 → not corroborated",
    ),
    pytest.param(
        SensorKind.NOISE,
        "23:00",
        "23:30",
        noise("23:00", 30, 48.0, lamax=68.0),
        N_HOME,
        HOME,
        Verdict.CORROBORATED,
        68.0,
        65.0,
        "GB 3096-2008 §5.4 夜间突发噪声最大声级超过限值不得高于15 dB(A): 50+15 = 65 dB(A)",
        id="night Leq lawful but LAmax 68 over 50+15 → corroborated (GB 3096-2008 §5.4)",
    ),
    pytest.param(
        SensorKind.NOISE,
        "23:00",
        "23:30",
        noise("23:00", 30, 48.0, lamax=64.0),
        N_HOME,
        HOME,
        Verdict.NOT_CORROBORATED,
        64.0,
        65.0,
        "GB 3096-2008 §5.4 夜间突发噪声最大声级超过限值不得高于15 dB(A): 50+15 = 65 dB(A)",
        id="night Leq 48 and LAmax 64 within limits → not corroborated (the nearest: LAmax)",
    ),
    pytest.param(
        SensorKind.NOISE,
        "23:00",
        "23:30",
        noise("23:00", 30, 70.0, every=2),
        N_HOME,
        HOME,
        Verdict.DATA_GAP,
        None,
        None,
        None,
        id="half the window reported (50 % < 75 %) → data gap",
    ),
    pytest.param(
        SensorKind.NOISE,
        "23:00",
        "23:30",
        [],
        N_HOME,
        HOME,
        Verdict.DATA_GAP,
        None,
        None,
        None,
        id="sensor offline for the window → data gap",
    ),
    pytest.param(
        SensorKind.FUME,
        "12:00",
        "12:30",
        fume("12:00", 30, 2.6),
        F_SHOP,
        SHOP,
        Verdict.CORROBORATED,
        2.6,
        2.0,
        "GB 18483-2001 表2 小型 油烟最高允许排放浓度 2 mg/m³",
        id="oil fume 2.6 over 2.0 → corroborated (GB 18483 表2)",
    ),
    pytest.param(
        SensorKind.FUME,
        "12:00",
        "12:30",
        fume("12:00", 30, 0.8),
        F_SHOP,
        SHOP,
        Verdict.NOT_CORROBORATED,
        0.8,
        2.0,
        "GB 18483-2001 表2 小型 油烟最高允许排放浓度 2 mg/m³",
        id="oil fume 0.8, purifier on → not corroborated",
    ),
    pytest.param(
        SensorKind.FUME,
        "18:00",
        "18:30",
        fume("18:00", 30, 1.0, purifier=False),
        F_SHOP,
        SHOP,
        Verdict.CORROBORATED,
        30.0,
        None,
        "GB 18483-2001 §5.1 排放油烟须经净化设施处理, 未运行净化设施视同超标 (净化效率不低于60%)",
        id="fan on, purifier off for 30 min → corroborated (GB 18483-2001 §5.1 installed but not used)",
    ),
]


@pytest.mark.parametrize(
    (
        "kind",
        "start",
        "end",
        "readings",
        "sensor",
        "site",
        "verdict",
        "measured",
        "limit",
        "clause",
    ),
    ROWS,
)
def test_a_complaint_is_judged_as_the_standard_would(
    kind, start, end, readings, sensor, site, verdict, measured, limit, clause
):
    got = corroborate(kind, at(start), at(end), [(sensor, site)], {sensor.id: readings}, POLICY)
    assert got.verdict is verdict
    assert (got.measured, got.limit, got.clause) == (measured, limit, clause)
    assert got.sensor == sensor.id
    assert got.summary  # zh-CN, with the numbers
    if measured is not None:
        assert f"{measured:g}"[:2] in got.summary
    assert got.on_site_check is (verdict is not Verdict.CORROBORATED)
    assert list(got.readings) == [r for r in readings if at(start) < r.ts_ms <= at(end)]


def test_no_sensor_is_no_coverage_and_asks_for_an_on_site_check():
    got = corroborate(SensorKind.NOISE, at("23:00"), at("23:30"), [], {}, POLICY)
    assert got.verdict is Verdict.NO_COVERAGE
    assert got.sensor is None and got.measured is None
    assert got.on_site_check
    assert "现场核查" in got.summary


def test_a_window_across_22_00_judges_day_and_night_apart():
    """21:45–22:15 at 55 dB: lawful by day (60), over by night (50): corroborated at night."""
    readings = noise("21:45", 30, 55.0)
    got = corroborate(
        SensorKind.NOISE, at("21:45"), at("22:15"), [(N_HOME, HOME)], {N_HOME.id: readings}, POLICY
    )
    assert (got.verdict, got.measured, got.limit) == (Verdict.CORROBORATED, 55.0, 50.0)


def test_the_leq_is_energetic_not_arithmetic():
    """15 min at 40 and 15 at 60 by night: Leq 57.0 (energy), not 50 (the arithmetic mean)."""
    readings = noise("23:00", 15, 40.0) + noise("23:15", 15, 60.0)
    got = corroborate(
        SensorKind.NOISE, at("23:00"), at("23:30"), [(N_HOME, HOME)], {N_HOME.id: readings}, POLICY
    )
    assert (got.verdict, got.measured) == (Verdict.CORROBORATED, 57.0)


def test_readings_outside_the_window_are_not_judged():
    """A loud hour before the window changes nothing: only the window's readings count."""
    readings = noise("22:00", 60, 75.0)[:30] + noise("22:30", 30, 45.0)
    got = corroborate(
        SensorKind.NOISE, at("22:30"), at("23:00"), [(N_HOME, HOME)], {N_HOME.id: readings}, POLICY
    )
    assert (got.verdict, got.measured) == (Verdict.NOT_CORROBORATED, 45.0)
    assert len(got.readings) == 30


def test_a_breach_on_any_sensor_speaks_for_the_complaint():
    """The home's sensor is quiet, the shop's fan side loud: the shop's sensor corroborates."""
    shop_sensor = Sensor("n-shop", SensorKind.NOISE, SHOP.id)
    loud = [r._replace(sensor="n-shop", metrics={"laeq": 62.0}) for r in noise("23:00", 30, 0)]
    got = corroborate(
        SensorKind.NOISE,
        at("23:00"),
        at("23:30"),
        [(N_HOME, HOME), (shop_sensor, SHOP)],
        {N_HOME.id: noise("23:00", 30, 45.0), "n-shop": loud},
        POLICY,
    )
    # the shop is judged by GB 22337 at its boundary, zone 2 at night: 50
    assert (got.verdict, got.sensor, got.site, got.measured, got.standard) == (
        Verdict.CORROBORATED, "n-shop", SHOP.id, 62.0, "GB 22337-2008",
    )  # fmt: skip


def test_the_coverage_threshold_is_a_parameter():
    readings = noise("23:00", 30, 70.0, every=2)  # 50 %
    assert coverage(readings, at("23:00"), at("23:30")) == 0.5
    got = corroborate(
        SensorKind.NOISE,
        at("23:00"),
        at("23:30"),
        [(N_HOME, HOME)],
        {N_HOME.id: readings},
        POLICY,
        min_coverage=0.5,
    )
    assert got.verdict is Verdict.CORROBORATED


def test_evidence_is_bounded_to_its_first_and_last_readings():
    readings = [
        Reading(N_HOME.id, SensorKind.NOISE, at("23:00") + (i + 1) * 100, i, 1, {"laeq": 40.0})
        for i in range(10_000)
    ]
    got = corroborate(
        SensorKind.NOISE,
        at("23:00"),
        at("23:00") + 1_000_000,
        [(N_HOME, HOME)],
        {N_HOME.id: readings},
        POLICY,
        min_coverage=0.0,
    )
    assert len(got.readings) == MAX_EVIDENCE_READINGS
    assert got.readings[0] == readings[0] and got.readings[-1] == readings[-1]
