"""Complaints, pure: addresses to sites, neighbours, windows, deadlines, escalation, priority."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from linli.community import load_community
from linli.rules.case import CaseState, Level, due_level
from linli.rules.complaint import (
    ComplaintRules,
    Deadline,
    Priority,
    WindowError,
    complaint_case,
    match_site,
    next_deadline,
    nuisance_order,
    priority,
    related_sites,
    window_of,
)
from linli.rules.policy import Escalation
from linli.rules.reading import SensorKind
from linli.rules.registry import Site, SiteKind
from linli.rules.workdays import add_working_days, china_workday

TZ = "Asia/Shanghai"
COMMUNITY = load_community("community/tianxin.toml")
SITES = {s.id: s for s in COMMUNITY.site_records()}
H = 3_600_000


def local_ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


@pytest.mark.parametrize(
    ("address", "site"),
    [
        pytest.param("上城区天城路 红街公寓5幢", "hj-b5", id="a site's address exactly → the site"),
        pytest.param("红街公寓5幢2单元301", "hj-b5", id="a building's name inside → the building"),
        pytest.param("上城区 新塘路70号 二楼", "ktv-huanchang", id="spaces aside → the KTV"),
        pytest.param(
            "上城区红街公寓3幢底商 8号 老码头", "hotpot-matou", id="the longest match wins"
        ),
        pytest.param("欢唱KTV门口", "ktv-huanchang", id="a shop's name → the shop"),
        pytest.param("西湖区文三路 1号", None, id="an address of no site → none (no coverage)"),
        pytest.param("   ", None, id="blank → none"),
    ],
)
def test_an_address_is_matched_to_the_communitys_sites(address, site):
    found = match_site(address, SITES.values())
    assert (None if found is None else found.id) == site


def _homes(*addresses: str) -> list[Site]:
    zone = SITES["hj-b5"].zone
    return [
        Site(f"s{i}", f"住宅{i}", SiteKind.RESIDENTIAL, zone, "g1", address)
        for i, address in enumerate(addresses)
    ]


@pytest.mark.parametrize(
    ("address", "site"),
    [
        pytest.param("红街小区3幢2单元", "s1", id="a 小区 is the address's own name"),
        pytest.param("杭州市上城区红街小区3幢", "s1", id="city and district left out, not 小区"),
        pytest.param("天城社区 天城小区3幢", "s0", id="社区 and 小区 both kept"),
        pytest.param("红街东区5号楼", "s3", id="a 东区 of an estate is kept"),
        pytest.param("浙江省杭州市上城区天城东区5号楼", "s2", id="province, city and district"),
        pytest.param("上城区 5号楼", None, id="the number alone names no site"),
    ],
)
def test_only_an_administrative_prefix_is_left_out_of_an_address(address, site):
    sites = _homes("天城小区3幢", "红街小区3幢", "上城区天城东区5号楼", "红街东区5号楼")
    found = match_site(address, sites)
    assert (None if found is None else found.id) == site


def test_a_buildings_complaint_looks_at_the_shops_of_the_building_and_its_near_sites():
    rules = COMMUNITY.complaint_rules()
    related = [s.id for s in related_sites(SITES["hj-b5"], SITES, rules)]
    assert related == ["hj-b5", "mahjong-leyou"]  # "红街公寓5幢底商 2号"
    tc1 = [s.id for s in related_sites(SITES["tc-b1"], SITES, rules)]
    assert tc1 == ["tc-b1", "ktv-huanchang", "bbq-yeshi"]  # `near` in the file
    ktv = [s.id for s in related_sites(SITES["ktv-huanchang"], SITES, rules)]
    assert ktv == ["ktv-huanchang", "tc-b1", "tc-b2"]  # near, either way round
    assert nuisance_order(
        [SITES["tc-b1"], SITES["ktv-huanchang"], SITES["bbq-yeshi"]], "tc-b1"
    ) == ["ktv-huanchang", "bbq-yeshi", "tc-b1"]  # the shops, the likely sources, first


NOW = local_ms(2026, 6, 10, 23, 0) + 25_000  # 23:00:25
M0 = NOW - 25_000  # the last whole minute
D = 24 * H


@pytest.mark.parametrize(
    ("from_ms", "to_ms", "expected"),
    [
        pytest.param(None, None, (M0 - 30 * 60_000, M0), id="none → the last 30 whole min"),
        pytest.param(NOW - H, None, (NOW - H, NOW - H + 30 * 60_000), id="from only → 30 min"),
        pytest.param(NOW - 10 * 60_000, None, (NOW - 10 * 60_000, NOW), id="from only, to now"),
        pytest.param(NOW - 2 * H, NOW - H, (NOW - 2 * H, NOW - H), id="both → as given"),
        pytest.param(NOW + H, None, "starts in the future", id="from in the future → refused"),
        pytest.param(NOW - H, NOW + H, "ends in the future", id="to in the future → refused"),
        pytest.param(NOW - 8 * 24 * H, NOW, "longer than 7 days", id="8 days → refused"),
        pytest.param(NOW, NOW - H, "after 'from'", id="to before from → refused"),
        pytest.param(None, NOW, "'to' without 'from'", id="to without from → refused"),
        pytest.param(
            NOW - 90 * D,
            NOW - 90 * D + H,
            (NOW - 90 * D, NOW - 90 * D + H),
            id="90 days ago → judged",
        ),
        pytest.param(
            NOW - 91 * D, NOW - 91 * D + H, "more than 90 days ago", id="91 days ago → refused"
        ),
        pytest.param(0, 30 * 60_000, "more than 90 days ago", id="in 1970 → refused"),
    ],
)
def test_the_complaint_window(from_ms, to_ms, expected):
    if isinstance(expected, str):
        with pytest.raises(WindowError, match=expected):
            window_of(from_ms, to_ms, NOW)
    else:
        assert window_of(from_ms, to_ms, NOW) == expected


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        pytest.param(
            local_ms(2026, 6, 8, 10),
            5,
            local_ms(2026, 6, 16),
            id="Monday + 5 working days → Monday",
        ),
        pytest.param(
            local_ms(2026, 9, 30, 15),
            5,
            local_ms(2026, 10, 14),
            id="before National Day (Oct 1–7 off, Saturday Oct 10 worked) → Oct 13 ends",
        ),
        pytest.param(
            local_ms(2026, 2, 13, 9),
            1,
            local_ms(2026, 2, 14, 0) + 24 * H,
            id="Friday before Spring Festival: Saturday Feb 14 is a make-up working day",
        ),
    ],
)
def test_working_days_skip_chinas_public_holidays(received, days, due):
    assert add_working_days(received, days, TZ) == due


def test_a_date_beyond_the_calendars_data_counts_monday_to_friday_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, "linli.rules.workdays")
    assert china_workday(date(2031, 1, 1)) is True  # a Wednesday (New Year unknown in 1.11.0)
    assert china_workday(date(2031, 1, 4)) is False  # a Saturday
    assert "no holidays for 2031" in caplog.text
    start = local_ms(2031, 1, 3, 10)  # a Friday
    assert add_working_days(start, 1, TZ) == local_ms(2031, 1, 7)  # Monday ends


def test_a_complaint_case_carries_its_sources_deadlines_and_escalates_on_them():
    opened = local_ms(2026, 6, 8, 10)
    case = complaint_case(SITES["hj-b5"], SensorKind.NOISE, "n-hj-05", opened, Deadline(2.0, 5), TZ)
    assert (case.first_level, case.rule, case.complaints) == (
        Level.GRID_WORKER, "complaint_noise", 1,
    )  # fmt: skip
    assert case.sign_by_ms == opened + 2 * H
    assert case.handle_by_ms == local_ms(2026, 6, 16)
    case = dataclasses.replace(case, level=case.first_level)
    schedule = Escalation(unacknowledged_s=60, unresolved_s=(120,))  # not the complaint's
    assert next_deadline(case) == case.sign_by_ms
    assert due_level(case, schedule, opened + H) is Level.GRID_WORKER  # within 2 h
    assert due_level(case, schedule, opened + 2 * H) is Level.COMMUNITY  # not signed for
    signed = dataclasses.replace(case, acknowledged_ms=opened + H, state=CaseState.ACKNOWLEDGED)
    assert next_deadline(signed) == case.handle_by_ms
    assert due_level(signed, schedule, local_ms(2026, 6, 15, 23)) is Level.GRID_WORKER
    assert due_level(signed, schedule, local_ms(2026, 6, 16)) is Level.COMMUNITY  # not handled


@pytest.mark.parametrize(
    ("complaints", "expected"),
    [(0, Priority.NORMAL), (1, Priority.NORMAL), (2, Priority.HIGH), (5, Priority.URGENT)],
    ids=["none → normal", "one → normal", "two → high", "five → urgent"],
)
def test_a_cases_priority_rises_with_its_complaints(complaints, expected):
    assert priority(complaints) is expected


def test_the_community_files_deadlines_per_source():
    rules = COMMUNITY.complaint_rules()
    assert rules.deadline("12345") == Deadline(2.0, 5)
    assert rules.deadline("walk_in") == Deadline(4.0, 5)
    assert rules.deadline("phone") == rules.default_deadline == Deadline(24.0, 10)
    assert ComplaintRules().deadline("12345") == Deadline(2.0, 5)


def test_the_engines_tick_escalates_a_complaint_case_that_missed_its_deadline():
    """decide.age, as for every case: one level up once the 2 hours to sign for it passed."""
    from linli.rules.engine.decide import age
    from linli.rules.policy import RulePolicy

    opened = local_ms(2026, 6, 8, 10)
    case = complaint_case(SITES["hj-b5"], SensorKind.NOISE, None, opened, Deadline(2.0, 5), TZ)
    case = dataclasses.replace(case, level=case.first_level, id=3)
    assert age(case, RulePolicy(), opened + H).changes == ()
    (change,) = age(case, RulePolicy(), opened + 2 * H).changes
    assert (change.entry.action.value, change.case.level) == ("escalate", Level.COMMUNITY)


def test_a_complaint_joins_the_case_of_the_rule_its_corroboration_measured():
    """The barbecue has a fume_conc and a purifier_off case: the purifier off joins the latter."""
    from linli.rules.case import Case, CaseKind
    from linli.rules.complaint import pick_case

    def case(site: str, rule: str, opened: int, kind: CaseKind = CaseKind.BREACH) -> Case:
        return Case(site, "g", rule, kind, None, "t", opened_ms=opened)

    cases = [
        case("bbq-yeshi", "fume_conc", 1),
        case("bbq-yeshi", "purifier_off", 2),
        case("tc-b1", "complaint_fume", 0, CaseKind.COMPLAINT),
    ]
    order = ["bbq-yeshi", "tc-b1"]
    assert pick_case(cases, order, "purifier_off_min").rule == "purifier_off"  # type: ignore[union-attr]
    assert pick_case(cases, order, "oil_fume").rule == "fume_conc"  # type: ignore[union-attr]
    assert pick_case(cases, order, None).rule == "fume_conc"  # type: ignore[union-attr]  # the oldest
    assert pick_case(cases[2:], order, "oil_fume").site == "tc-b1"  # type: ignore[union-attr]
    assert pick_case([], order) is None
