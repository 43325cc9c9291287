"""Every dashboard query, with Grafana's macros and variables filled, against real data.

Grafana cannot run here, so the dashboards are proven by their queries: each variable,
panel target and annotation query of every dashboard runs against the influxd holding a
day of readings stored through ingest (conftest.py) and returns series; the energetic
levels and minutes the panels show equal those computed in Python from the readings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from linli.dashboards.build import build_all
from linli.influx.client import ResultSeries
from linli.influx.retention import HOUR_MS
from linli.rules.constants import UNREGISTERED_SENSOR
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from tests.dashboards.conftest import COMMUNITIES, NOISE_SENSORS, Day, registry

INTERVAL = "10m"
BOARDS = build_all()


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def panel(board: str, title: str) -> dict[str, Any]:
    """The panel of `board` titled `title`."""
    return next(p for p in panels(BOARDS[board]) if p["title"] == title)


def regex_of(values: list[str]) -> str:
    """A multi-value variable in a regex, as Grafana formats it for InfluxDB: (a|b|…)."""
    return "(" + "|".join(re.escape(v) for v in values) + ")"


def fill(query: str, day: Day, values: dict[str, str]) -> str:
    """Replace Grafana's macros and the variables (longest names first)."""
    text = query.replace("$timeFilter", day.time_filter).replace("$__interval", INTERVAL)
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(f"${name}", values[name])
    assert "$" not in text.replace("$/", ""), f"unfilled macro in {text}"
    return text


def resolve_variables(
    board: dict[str, Any], day: Day, chosen: dict[str, str] | None = None
) -> dict[str, str]:
    """Run each variable's query in order, every value selected (Grafana's 'All') but
    for the `chosen` ones, which take one value."""
    values: dict[str, str] = {}
    for var in board["templating"]["list"]:
        if chosen and var["name"] in chosen:
            values[var["name"]] = regex_of([chosen[var["name"]]])
            continue
        series = day.influx.query(fill(var["query"], day, values))
        found = sorted({row[1] for s in series for row in s.values})
        assert found, f"variable {var['name']} of {board['uid']} has no values"
        values[var["name"]] = regex_of(found)
    return values


def all_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, query) for every panel target and annotation query."""
    for p in panels(board):
        for t in p.get("targets", []):
            yield f"{p['title']}/{t['refId']}", t["query"]
    for a in board["annotations"]["list"]:
        if "query" in a:
            yield f"annotation {a['name']}", a["query"]


def run(board: str, title: str, day: Day, ref: str = "A", **chosen: str) -> list[ResultSeries]:
    """The filled query of one panel target, run; `chosen` variables take one value."""
    values = resolve_variables(BOARDS[board], day) | {k: regex_of([v]) for k, v in chosen.items()}
    target = next(t for t in panel(board, title)["targets"] if t["refId"] == ref)
    return day.influx.query(fill(target["query"], day, values))


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_query_succeeds_and_returns_series(day: Day, name: str):
    board = BOARDS[name]
    values = resolve_variables(board, day)
    checked = 0
    for where, query in all_queries(board):
        series = day.influx.query(fill(query, day, values))
        assert series, f"{name}: {where} returned no series: {fill(query, day, values)}"
        assert any(row[1:] for s in series for row in s.values), f"{name}: {where} is empty"
        checked += 1
    expected = {"overview": 6, "noise": 33, "fume": 8, "devices": 9}  # targets + annotations
    assert checked == expected[name]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_the_community_variable_narrows_every_panel_to_that_community(day: Day, name: str):
    """CONTRACT §9: each dashboard's first variable is the street's communities; with one
    chosen, every variable and panel shows only that community's grids, sites, sensors."""
    board = BOARDS[name]
    first = board["templating"]["list"][0]
    assert (first["name"], first["allValue"]) == ("community", ".*")
    found = day.influx.query(fill(first["query"], day, {}))
    assert sorted({row[1] for s in found for row in s.values}) == ["jq", "tianxin"]
    reg = registry()
    for community in ("tianxin", "jq"):
        grids = {g for g, c in COMMUNITIES.items() if c == community}
        sites = {s.id for s in reg.sites.values() if s.grid in grids}
        sensors = {s.id for s in reg.sensors.values() if s.site in sites}
        # a topic naming no registered sensor is of no community: every choice shows it
        sensors_shown = sensors | {UNREGISTERED_SENSOR}
        values = resolve_variables(board, day, {"community": community})
        for var, allowed in (("grid", grids), ("site", sites), ("sensor", sensors)):
            if var in values:
                assert set(values[var].strip("()").replace("\\", "").split("|")) <= allowed
        shown: set[str] = set()
        for where, query in all_queries(board):
            for s in day.influx.query(fill(query, day, values)):
                for tag, allowed in (("grid", grids), ("site", sites), ("sensor", sensors_shown)):
                    if s.tags.get(tag):
                        assert s.tags[tag] in allowed, f"{name}: {where} shows {s.tags}"
                        shown.add(s.tags[tag]) if s.tags[tag] != UNREGISTERED_SENSOR else None
        assert shown, f"{name}: nothing of {community} shown"


def test_points_and_hourly_aggregates_carry_the_community_tag(day: Day):
    for source in ('"noise"', '"fume"', '"device"', '"case_event"', '"forever"."noise_1h"'):
        series = day.influx.query(
            f'SELECT count(*) FROM {source} WHERE {day.time_filter} GROUP BY "community"'
        )
        assert {s.tags.get("community") for s in series} == {"tianxin", "jq"}, source


def _expected_hourly_leq(day: Day) -> dict[tuple[str, int], float]:
    energy: dict[tuple[str, int], list[float]] = defaultdict(list)
    for sensor, readings in day.noise.items():
        for r in readings:
            energy[(NOISE_SENSORS[sensor], r["ts"] // HOUR_MS * HOUR_MS)].append(
                r["metrics"]["laeq"]
            )
    # every period is 60 s, so the time-weighted energy mean is the plain energy mean
    return {k: 10 * np.log10(np.mean(10 ** (np.array(v) / 10))) for k, v in energy.items()}


def _by_site_and_time(series: list[ResultSeries]) -> dict[tuple[str, int], float]:
    return {(s.tags["site"], row[0]): row[1] for s in series for row in s.values}


@pytest.mark.parametrize(
    ("title", "source"),
    [
        pytest.param("小时等效声级", "raw", id="hourly Leq from raw readings"),
        pytest.param("小时等效声级(聚合)", "noise_1h", id="hourly Leq from the hourly aggregates"),
    ],
)
def test_hourly_leq_is_energetic_and_exact(day: Day, title: str, source: str):
    got = _by_site_and_time(run("noise", title, day))
    expected = _expected_hourly_leq(day)
    assert sorted(got) == sorted(expected)
    assert len(expected) == 2 * 25  # two sites; the day's readings touch 25 clock hours
    worst = max(abs(got[k] - v) for k, v in expected.items())
    assert worst < 0.01
    # and it is not the arithmetic mean of the dB values, which is lower
    arithmetic = np.mean([r["metrics"]["laeq"] for r in day.noise["n-03"][:59]])
    first_hour = (day.noise["n-03"][0]["ts"] // HOUR_MS) * HOUR_MS
    assert got[("hj-b3", first_hour)] > arithmetic + 0.5


def _expected_exceedance_minutes(day: Day) -> dict[str, int]:
    policy = RulePolicy(calendar=Calendar("Asia/Shanghai"))  # what the fixture's ingest ran with
    sites = registry().sites
    minutes: dict[str, int] = defaultdict(int)
    for sensor, readings in day.noise.items():
        site = NOISE_SENSORS[sensor]
        limits = policy.site_limits(sites[site])
        for r in readings:
            limit = limits.noise_in_force(policy.calendar, r["ts"], r["period_s"]).value
            minutes[site] += r["metrics"]["laeq"] > limit
    return dict(minutes)


def test_minutes_over_the_limit_per_site(day: Day):
    expected = _expected_exceedance_minutes(day)
    assert all(v > 0 for v in expected.values())
    got = {s.tags["site"]: s.values[0][1] for s in run("noise", "超标分钟", day)}
    assert got == expected
    today = {
        s.tags["site"]: s.values[0][1]
        for s in run("overview", "今日超标分钟", day)
        if s.tags["site"] in expected
    }
    assert today == expected
    # the heatmap's cells (minutes per local hour and day) add up to the same
    board = BOARDS["noise"]
    values = resolve_variables(board, day)
    heatmap = panel("noise", "超标热力图(时段 × 日期)")
    cells = sum(
        row[1]
        for t in heatmap["targets"]
        for s in day.influx.query(fill(t["query"], day, values))
        for row in s.values
    )
    assert cells == sum(expected.values())


def test_fume_minutes_over_the_limit_and_installed_but_not_used(day: Day):
    over = {s.tags["site"]: s.values[0][1] for s in run("fume", "超标与装而不用分钟", day, "A")}
    idle = {s.tags["site"]: s.values[0][1] for s in run("fume", "超标与装而不用分钟", day, "B")}
    for site, sensor in (("rest-1", "f-01"), ("rest-2", "f-02")):
        metrics = [r["metrics"] for r in day.fume[sensor]]
        assert over[site] == sum(m["oil_fume"] > 2.0 for m in metrics)
        assert idle[site] == sum(m["fan_on"] and not m["purifier_on"] for m in metrics) == 60


def test_open_cases_by_kind(day: Day):
    series = run("overview", "未结工单", day)
    assert {s.tags["kind"]: s.values[0][1] for s in series} == {"breach": 1, "device": 1}


def test_devices_rejections_and_seq_gaps(day: Day):
    rejected = {
        (s.tags["sensor"], s.tags["reason"]): s.values[0][1]
        for s in run("devices", "拒收消息", day)
    }
    assert rejected == {("n-01", "out_of_range"): 1, ("_unregistered", "unknown_sensor"): 1}
    gaps = {s.tags["sensor"]: s.values[0][1] for s in run("devices", "序号缺口与重复", day)}
    assert gaps["n-02"] == 3


def test_devices_failed_deliveries_and_retries_per_channel(day: Day):
    """Each delivery of a send is a point: a digest of two retried twice is 4 retries;
    what was delivered is not on the panel."""
    got = {
        (s.tags["channel"], s.tags["outcome"]): s.values[0][1]
        for s in run("devices", "通知投递失败与重试", day)
    }
    assert got == {("ding-g1", "retry"): 4, ("sms", "failed"): 1}
    over_time = {
        (s.tags["channel"], s.tags["outcome"], row[0]): row[1]
        for s in run("devices", "通知投递失败与重试趋势", day)
        for row in s.values
    }
    assert sum(over_time.values()) == 5
    assert {k[:2] for k in over_time} == {("ding-g1", "retry"), ("sms", "failed")}


@pytest.mark.parametrize(
    ("site", "limits"),
    [
        pytest.param("hj-b1", {55.0, 70.0}, id="zone 4a: 70 by day, 55 by night"),
        pytest.param("hj-b3", {50.0, 60.0}, id="zone 2: 60 by day, 50 by night"),
    ],
)
def test_each_repeated_panel_draws_its_sites_limit_in_force(day: Day, site: str, limits: set):
    # the panel repeats per site: Grafana fills $site with one value in each copy
    series = run("noise", "等效声级与限值 · $site", day, "B", site=site)
    assert {row[1] for s in series for row in s.values} == limits
    levels = run("noise", "等效声级与限值 · $site", day, "A", site=site)
    assert sorted(s.tags["sensor"] for s in levels) == sorted(
        sensor for sensor, at in NOISE_SENSORS.items() if at == site
    )
