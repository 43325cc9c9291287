"""The street's page of the board (CONTRACT §9): the communities side by side with their
counts, each leading to its own overview; the street's staff land on it, a community's
staff on their own community's overview, and another community's overview is 404."""

from __future__ import annotations

import dataclasses
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from linli.api.board import pages
from linli.api.board.street import community_rows
from linli.rules.case import Case, CaseKind, CaseState
from linli.rules.registry import Site, SiteKind, Zone
from linli.store import CommunityRecord
from tests.api import test_street_scope as scoped
from tests.api.test_board import login_csrf
from tests.api.test_street_scope import B_MARKS, Street

# the two communities' store, cases, complaints and tokens (tests/api/test_street_scope.py)
street_db = scoped.street_db
street = scoped.street

TZ = ZoneInfo("Asia/Shanghai")
NOW = 1_800_000_000_000
H = 3_600_000


def sign_in_to(client: TestClient, token: str) -> str:
    """Sign in with no page asked for; where the board sends the reader."""
    answer = client.post(
        "/board/login", data={"token": token, "csrf": login_csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def _counts(html: str, community: str) -> dict[str, str]:
    """The counts of one community's row on the street's page."""
    row = html.split(f'data-community="{community}"', 1)[1].split("</li>", 1)[0]
    out = {}
    for part in row.split('data-count="')[1:]:
        key, rest = part.split('"', 1)
        out[key] = rest.split("<", 1)[0].split()[-1]
    return out


def test_the_streets_staff_land_on_the_communities_side_by_side(street: Street) -> None:
    client = street.client
    assert sign_in_to(client, street.tokens["street"]) == "/board/street"
    assert client.get("/board", follow_redirects=False).headers["location"] == "/board/street"
    page = client.get("/board/street")
    assert page.status_code == 200
    html = page.text
    assert "天新" in html and "环丁" in html
    assert 'href="/board/overview?community=tianxin"' in html
    assert 'href="/board/overview?community=huanding"' in html
    # each community: its shop's fume case and its building's complaint case are open
    expected = {"open_cases": "2", "over": "0", "offline": "0", "overdue": "0"}
    assert _counts(html, "tianxin") == expected
    assert _counts(html, "huanding") == expected
    # one community's overview: its sites, none of the other's
    hd = client.get("/board/overview?community=huanding").text
    assert "环丁1幢" in hd and "环丁烧烤店" in hd and "天新" not in hd
    assert 'id="to-street"' in hd
    tx = client.get("/board/overview?community=tianxin").text
    assert "天新1幢" in tx and not [m for m in B_MARKS if m in tx]
    assert client.get("/board/overview?community=nowhere").status_code == 404


def test_a_communitys_staff_land_on_their_own_community_and_never_reach_another(
    street: Street,
) -> None:
    client = street.client
    assert sign_in_to(client, street.tokens["tianxin"]) == "/board/overview"
    assert client.get("/board", follow_redirects=False).headers["location"] == "/board/overview"
    street_page = client.get("/board/street", follow_redirects=False)
    assert street_page.status_code == 303
    assert street_page.headers["location"] == "/board/overview"
    own = client.get("/board/overview")
    assert own.status_code == 200 and "天新 · 社区概览" in own.text
    assert 'id="to-street"' not in own.text
    assert not [m for m in B_MARKS if m in own.text]
    other = client.get("/board/overview?community=huanding")
    assert other.status_code == 404
    assert not [m for m in B_MARKS if m in other.text]


def _site(site_id: str) -> Site:
    return Site(site_id, site_id, SiteKind.SHOP, Zone.Z2, "g")


def _case(site: str, **kw: Any) -> Case:
    case = Case(site, "g", "noise_leq", CaseKind.COMPLAINT, None, "t", NOW - 2 * H)
    return dataclasses.replace(case, **kw)


@pytest.mark.parametrize(
    ("cases", "status", "expected"),
    [
        pytest.param([], pages.OK, (0, 0, 0, 0), id="quiet"),
        pytest.param([], pages.OVER, (0, 1, 0, 0), id="over now, no case yet"),
        pytest.param([], pages.OFFLINE, (0, 0, 1, 0), id="offline"),
        pytest.param([_case("a", sign_by_ms=NOW + H)], pages.OPEN_CASE, (1, 0, 0, 0), id="in time"),
        pytest.param(
            [_case("a", sign_by_ms=NOW - 1)], pages.OPEN_CASE, (1, 0, 0, 1), id="sign-for late"
        ),
        pytest.param(
            [
                _case(
                    "a",
                    acknowledged_ms=NOW - H,
                    state=CaseState.ACKNOWLEDGED,
                    sign_by_ms=NOW - 1,
                    handle_by_ms=NOW + H,
                )
            ],
            pages.OPEN_CASE,
            (1, 0, 0, 0),
            id="signed for in time, handling still in time",
        ),
        pytest.param(
            [_case("a", state=CaseState.RESOLVED, handle_by_ms=NOW - 1)],
            pages.OK,
            (0, 0, 0, 0),
            id="resolved: neither open nor overdue",
        ),
    ],
)
def test_a_communitys_counts(cases: list[Case], status: str, expected: tuple[int, ...]) -> None:
    mine = pages.SiteNow(_site("a"), status, "", tuple(cases))
    other = pages.SiteNow(_site("b"), pages.OVER, "", (_case("b", sign_by_ms=NOW - 1),))
    rows = community_rows(
        [CommunityRecord("tx", "天新"), CommunityRecord("hd", "环丁")],
        [mine, other],
        {"a": "tx", "b": "hd"},
        NOW,
        TZ,
    )
    row = rows[0]
    assert (row.id, row.sites) == ("tx", 1)
    assert (row.open_cases, row.over, row.offline, row.overdue) == expected
    assert (rows[1].open_cases, rows[1].over, rows[1].overdue) == (1, 1, 1)
