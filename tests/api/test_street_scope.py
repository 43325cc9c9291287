"""A street's communities in one linli (CONTRACT §9), through the API and the board: the
scope table (api/scope.py), tokens limited to communities, the registry's community, the
communities' counts, complaints matched across the street, and a walk of every route and
board page as one community's staff that finds nothing of the other community."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from linli.api.board import complaints as board_complaints
from linli.api.board import views as board_views
from linli.api.scope import Scope
from linli.community import apply_street, load_street
from linli.influx.client import InfluxClient
from linli.rules.case import Level
from linli.rules.engine.engine import Engine
from linli.rules.engine.telling import OutboxTeller
from linli.rules.links import LinkSigner
from linli.rules.policy import Escalation, RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.rules.rejection import ReasonCode, Rejection
from linli.rules.routing import ChannelType, Group, NotifyPlan, directory_of
from linli.settings import Settings
from linli.store import Database, Grant, NotFound, Role
from linli.wiring import load_policy
from tests.api.conftest import ADMIN, bearer
from tests.api.test_board import path_of, sign_in
from tests.streetfiles import write_street

MIN = 60_000

# Everything of the Huanding community (B) that may never reach Tianxin's staff (A):
# ids, names, its office's channel, its complaint's words, its readings' value.
B_MARKS = (
    "hd-g1",
    "hd-shop",
    "hd-home",
    "n-hd-1",
    "f-hd-1",
    "huanding",
    "hd-office",
    "环丁",
    "HDSECRET",
    "77.77",
)


@pytest.fixture
def street_db(db: Database, tmp_path: Path) -> Database:
    apply_street(db, load_street(write_street(tmp_path / "street")))
    return db


# -- the scope, as a table ------------------------------------------------------------

ALL_GRIDS = {"hd-g1", "tx-g1"}
ALL_SITES = {"hd-home", "hd-shop", "tx-home", "tx-shop"}


@pytest.mark.parametrize(
    ("grant", "whole", "communities", "grids", "sites", "sensors"),
    [
        (Grant(Role.ADMIN), True, None, ALL_GRIDS, ALL_SITES, 4),
        (Grant(Role.STAFF), True, None, ALL_GRIDS, ALL_SITES, 4),
        (
            Grant(Role.STAFF, communities=frozenset({"tianxin"})),
            False,
            {"tianxin"},
            {"tx-g1"},
            {"tx-home", "tx-shop"},
            2,
        ),
        (
            Grant(Role.STAFF, communities=frozenset({"tianxin", "huanding"})),
            False,
            {"tianxin", "huanding"},
            ALL_GRIDS,
            ALL_SITES,
            4,
        ),
        (Grant(Role.STAFF, communities=frozenset()), False, set(), set(), set(), 0),
        (
            Grant(Role.GRID_WORKER, grids=frozenset({"hd-g1"})),
            False,
            {"huanding"},
            {"hd-g1"},
            {"hd-home", "hd-shop"},
            2,
        ),
        (Grant(Role.MERCHANT, site="tx-shop"), False, {"tianxin"}, set(), {"tx-shop"}, 1),
    ],
    ids=[
        "admin",
        "street staff",
        "tianxin staff",
        "staff of both",
        "staff of none",
        "grid worker",
        "merchant",
    ],
)
def test_the_scope_of_each_token(
    street_db: Database,
    grant: Grant,
    whole: bool,
    communities: set[str] | None,
    grids: set[str],
    sites: set[str],
    sensors: int,
) -> None:
    scope = Scope(grant, street_db)
    assert scope.whole is whole
    assert scope.communities == (None if communities is None else frozenset(communities))
    for community in ("tianxin", "huanding"):
        assert scope.sees_community(community) is (communities is None or community in communities)
    assert {g.id for g in scope.grids()} == grids
    assert {s.id for s in scope.sites()} == sites
    assert len(scope.sensors()) == sensors
    assert scope.sensor_ids() == (None if whole else {s.id for s in scope.sensors()})
    for site in ALL_SITES - sites:
        with pytest.raises(NotFound, match=f"site '{site}' does not exist"):
            scope.site(site)
    for grid in ALL_GRIDS - grids:
        with pytest.raises(NotFound):
            scope.grid(grid)


# -- tokens, registry, communities ------------------------------------------------------


def test_a_staff_token_of_a_community_and_its_refusals(
    street_db: Database, client: TestClient
) -> None:
    made = client.post(
        "/api/v1/tokens", headers=ADMIN, json={"role": "staff", "communities": ["tianxin"]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["communities"] == ["tianxin"]
    grant = street_db.resolve_token(made.json()["token"])
    assert grant is not None and grant.communities == frozenset({"tianxin"})
    street = client.post("/api/v1/tokens", headers=ADMIN, json={"role": "staff"}).json()
    assert street["communities"] is None  # the street's: every community
    for body, detail in (
        ({"role": "staff", "communities": ["xihu"]}, "community 'xihu' does not exist"),
        (
            {"role": "admin", "communities": ["tianxin"]},
            "communities: Extra inputs are not permitted",
        ),
        ({"role": "staff", "communities": []}, None),
        ({"role": "staff", "communities": ["Tian Xin"]}, None),
        ({"role": "grid_worker", "grids": ["tx-g1"], "communities": ["tianxin"]}, None),
    ):
        refused = client.post("/api/v1/tokens", headers=ADMIN, json=body)
        assert refused.status_code == 422, (body, refused.text)
        if detail is not None:
            assert detail in refused.json()["detail"]


def test_a_grid_belongs_to_a_community_and_the_registry_says_which(
    street_db: Database, client: TestClient
) -> None:
    grid = client.post(
        "/api/v1/grids",
        headers=ADMIN,
        json={"id": "hd-g2", "name": "环丁二网格", "community": "huanding"},
    )
    assert grid.status_code == 201, grid.text
    assert grid.json()["community"] == "huanding"
    assert street_db.grid("hd-g2").community == "huanding"
    nameless = client.post("/api/v1/grids", headers=ADMIN, json={"id": "x-g", "name": "网格"})
    assert nameless.status_code == 422
    assert "community: required, one of huanding, tianxin" in nameless.json()["detail"]
    unknown = client.post(
        "/api/v1/grids", headers=ADMIN, json={"id": "x-g", "name": "网格", "community": "xihu"}
    )
    assert (unknown.status_code, unknown.json()["detail"]) == (
        422,
        "community 'xihu' does not exist",
    )
    moved = client.patch("/api/v1/grids/hd-g2", headers=ADMIN, json={"community": "tianxin"})
    assert (moved.status_code, moved.json()["community"]) == (200, "tianxin")
    nowhere = client.patch("/api/v1/grids/hd-g2", headers=ADMIN, json={"community": "xihu"})
    assert nowhere.status_code == 422
    assert "community 'xihu' does not exist" in nowhere.json()["detail"]
    assert client.get("/api/v1/sites/hd-shop", headers=ADMIN).json()["community"] == "huanding"
    assert client.get("/api/v1/sensors/n-tx-1", headers=ADMIN).json()["community"] == "tianxin"
    sensors = client.get("/api/v1/sensors", headers=ADMIN).json()
    assert {s["id"]: s["community"] for s in sensors} == {
        "f-hd-1": "huanding", "f-tx-1": "tianxin", "n-hd-1": "huanding", "n-tx-1": "tianxin",
    }  # fmt: skip


# -- two communities with everything in them ------------------------------------------------


@dataclass
class Street:
    """The store with both communities' cases, complaints, deliveries, rejected records,
    readings and a photo; the ids of each community's."""

    client: TestClient
    db: Database
    a: dict[str, Any]  # tianxin's
    b: dict[str, Any]  # huanding's
    tokens: dict[str, str]


PLAN = NotifyPlan(
    channels={"tx-office": ChannelType.WEBHOOK, "hd-office": ChannelType.WEBHOOK},
    merchants={"tx-shop": ("tx-office",), "hd-shop": ("hd-office",)},
)


def _teller(db: Database) -> OutboxTeller:
    registry = db.load_registry
    return OutboxTeller(
        lambda: directory_of(registry(), PLAN),
        lambda: {s.id: s.name for s in registry().sites.values()},
        "http://testserver",
        ZoneInfo("Asia/Shanghai"),
    )


def _readings(influx: InfluxClient, now: int) -> None:
    lines = []
    for p, db_value in (("tx", 61.11), ("hd", 77.77)):
        for i in range(30):
            ts = now - (30 - i) * MIN
            lines.append(
                f"noise,grid={p}-g1,sensor=n-{p}-1,site={p}-home "
                f"laeq={db_value},l90=40,seq={i}i,period_s=60i {ts}"
            )
            lines.append(
                f"fume,grid={p}-g1,sensor=f-{p}-1,site={p}-shop "
                f"oil_fume=2.5,fan_on=true,purifier_on=false,seq={i}i,period_s=60i {ts}"
            )
    influx.write("\n".join(lines).encode())


@pytest.fixture
def street(
    street_db: Database, influx: InfluxClient, make_client: Callable[..., TestClient]
) -> Street:
    db = street_db
    tell = _teller(db)
    client = make_client(tellers=[tell])
    now = time.time_ns() // 1_000_000
    _readings(influx, now)
    engine = Engine(db, RulePolicy(), tellers=[tell])
    for p in ("tx", "hd"):
        for i in range(10):
            ts = now - (15 - i) * MIN
            r = Reading(f"f-{p}-1", SensorKind.FUME, ts, i, 60, {"oil_fume": 2.5, "fan_on": True})
            engine.process([r], r.ts_ms)
    db.add_rejections(
        [
            Rejection("linli/v1/n-hd-1/telemetry", b'{"x":"HDSECRET"}', now, ReasonCode.NOT_JSON,
                      "not JSON", "n-hd-1"),
            Rejection("linli/v1/n-tx-1/telemetry", b'{"x":"tx"}', now, ReasonCode.NOT_JSON,
                      "not JSON", "n-tx-1"),
        ]
    )  # fmt: skip
    ids: dict[str, dict[str, Any]] = {}
    for p, address, text in (
        ("tx", "天新路8号", "天新的住户说太吵了"),
        ("hd", "环丁路8号", "环丁的住户说太吵了 HDSECRET"),
    ):
        filed = client.post(
            "/api/v1/complaints",
            headers=ADMIN,
            json={"kind": "noise", "text": text, "source": "12345", "address": address},
        )
        assert filed.status_code in (200, 201), filed.text
        complaint = filed.json()
        assert complaint["site"] == f"{p}-home"  # matched by address across the street
        with db.cases() as tx:
            (fume_case,) = [c for c in tx.not_closed() if c.site == f"{p}-shop"]
            assert fume_case.id is not None
            photo = tx.add_photo(fume_case.id, now, "admin", "image/png", b"\x89PNG photo")
        ids[p] = {
            "grid_id": f"{p}-g1",
            "site_id": f"{p}-home",
            "sensor_id": f"n-{p}-1",
            "case_id": fume_case.id,
            "complaint_id": complaint["id"],
            "request_id": complaint["id"],
            "photo_id": photo,
            "rule_id": "noise_leq",
            "complaint_case": complaint["case_id"],
        }
    tokens = {
        "tianxin": street_db.create_token(Role.STAFF, communities=["tianxin"])[0],
        "street": street_db.create_token(Role.STAFF)[0],
    }
    return Street(client, db, ids["tx"], ids["hd"], tokens)


def test_a_complaint_reaches_the_case_of_its_own_community(street: Street) -> None:
    with street.db.cases() as tx:
        for ids, site in ((street.a, "tx-home"), (street.b, "hd-home")):
            # its sensor bears it out (over the limit): it opened its own site's case
            assert tx.get(ids["complaint_case"]).site == site
    huanding = bearer(street.db.create_token(Role.STAFF, communities=["huanding"])[0])
    got = street.client.get(f"/api/v1/complaints/{street.b['complaint_id']}", headers=huanding)
    assert got.status_code == 200 and "HDSECRET" in got.text
    tianxin = bearer(street.tokens["tianxin"])
    assert (
        street.client.get(
            f"/api/v1/complaints/{street.b['complaint_id']}", headers=tianxin
        ).status_code
        == 404
    )


def test_the_communities_with_their_counts_as_each_token_sees_them(street: Street) -> None:
    every = street.client.get("/api/v1/communities", headers=bearer(street.tokens["street"]))
    assert every.json() == [
        {"id": "huanding", "name": "环丁", "name_en": "hd community", "sites": 2, "sensors": 2,
         "open_cases": 2},
        {"id": "tianxin", "name": "天新", "name_en": "tx community", "sites": 2, "sensors": 2,
         "open_cases": 2},
    ]  # fmt: skip
    own = street.client.get("/api/v1/communities", headers=bearer(street.tokens["tianxin"]))
    assert [c["id"] for c in own.json()] == ["tianxin"]
    merchant = bearer(street.db.create_token(Role.MERCHANT, site="hd-shop")[0])
    (shop,) = street.client.get("/api/v1/communities", headers=merchant).json()
    assert (shop["id"], shop["sites"], shop["sensors"], shop["open_cases"]) == (
        "huanding",
        1,
        1,
        1,
    )  # fmt: skip  (the shop's fume case; the building's complaint case is not the shop's)


# -- the walk ------------------------------------------------------------------------------

# what a route needs beyond its path to answer at all
QUERY: dict[str, dict[str, str]] = {
    "/api/v1/sites/{site_id}/readings": {"metric": "laeq"},
    "/api/v1/rules/{rule_id}/backtest": {
        "from": str(time.time_ns() // 1_000_000 - 2 * 3600_000),
        "to": str(time.time_ns() // 1_000_000 + MIN),
    },
    "/api/v1/deliveries": {"state": "pending"},
    # the statistics of the days around now, by grid and by site: only Tianxin's are counted
    "/api/v1/stats/cases": {
        "from": str(time.time_ns() // 1_000_000 - 30 * 86_400_000),
        "to": str(time.time_ns() // 1_000_000 + 86_400_000),
        "by": "site",
    },
}
# filters naming a thing: `name` of the other community's is as if it did not exist
FILTERS: dict[str, tuple[str, str]] = {
    "/api/v1/cases": ("site", "site_id"),
    "/api/v1/complaints": ("site", "site_id"),
    "/api/v1/rejected": ("sensor", "sensor_id"),
    "/api/v1/rules/{rule_id}/backtest": ("site", "site_id"),
    "/board/cases": ("site", "site_id"),
}


def _leaks(text: str, allowed: str = "") -> list[str]:
    """B's marks in `text`, but for `allowed`: what the request itself named, echoed."""
    return [m for m in B_MARKS if m in text and m not in allowed]


def _get_routes(client: TestClient) -> list[str]:
    doc = client.get("/openapi.json").json()
    paths = [p for p, ops in doc["paths"].items() if "get" in ops]
    for router in (board_views.router, board_complaints.router):
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                paths.append(route.path)
    return paths


def _fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def test_a_communitys_staff_finds_nothing_of_another_community_anywhere(street: Street) -> None:
    client = street.client
    h = bearer(street.tokens["tianxin"])
    everyone = bearer(street.tokens["street"])
    # the street's staff sees both: the data is there to be found
    seen = (
        client.get("/api/v1/cases", headers=everyone).text
        + client.get("/api/v1/complaints", headers=everyone).text
        + client.get("/api/v1/deliveries?state=pending", headers=everyone).text
    )
    assert {"hd-shop", "HDSECRET", "环丁"} <= set(_leaks(seen))
    sign_in(client, street.tokens["tianxin"])  # the board's pages in the same walk
    routes = _get_routes(client)
    assert {"/api/v1/cases/{case_id}", "/board/overview", "/board/photos/{photo_id}",
            "/open311/v2/requests/{request_id}.json", "/api/v1/communities"} <= set(routes)  # fmt: skip
    walked = 0
    for route in routes:
        if route == "/api/v1/health":
            continue  # the service's parts, no community's things (statuses only, checked below)
        query = QUERY.get(route, {})
        url = route if route.startswith("/") else "/" + route
        if route.startswith("/open311/"):
            query = {**query, "api_key": street.tokens["tianxin"]}
        mine = client.get(_fill(url, street.a), params=query, headers=h)
        assert mine.status_code < 400 or route == "/api/v1/spool/failed", (route, mine.text[:300])
        assert not _leaks(mine.text), (route, _leaks(mine.text))
        walked += 1
        if _fill(url, street.b) != _fill(url, street.a):  # a path naming a thing of B's
            named = _fill(url, street.b)
            theirs = client.get(named, params=query, headers=h)
            assert theirs.status_code == 404, (route, theirs.status_code, theirs.text[:300])
            assert not _leaks(theirs.text, allowed=named), (route, _leaks(theirs.text, named))
        if route in FILTERS:
            name, key = FILTERS[route]
            filtered = client.get(
                _fill(url, street.a), params={**query, name: street.b[key]}, headers=h
            )
            assert filtered.status_code in (200, 404), (route, filtered.text[:300])
            assert not _leaks(filtered.text, allowed=street.b[key]), (route, filtered.text[:300])
    assert walked >= 25
    cases = client.get("/api/v1/cases", headers=h).json()
    assert {c["site"] for c in cases["items"]} <= {"tx-home", "tx-shop"} and cases["items"]
    # the service's parts are the street's: their details (the channels' names, addresses)
    # for the street's staff and admins only
    health = client.get("/api/v1/health", headers=h).json()
    assert not _leaks(str(health)) and all(k.startswith("channel-") for k in health["channels"])
    assert [health[p].get("detail") for p in ("broker", "influxdb", "case_store")] == [None] * 3
    street_health = client.get("/api/v1/health", headers=everyone).json()
    assert street_health["case_store"].get("detail")


def test_acting_on_another_communitys_things_is_as_if_they_did_not_exist(street: Street) -> None:
    client = street.client
    h = bearer(street.tokens["tianxin"])
    b = street.b
    for method, url, body in (
        ("POST", f"/api/v1/cases/{b['case_id']}/actions", {"action": "acknowledge"}),
        ("POST", f"/api/v1/complaints/{b['complaint_id']}/followup", {"satisfied": True}),
        ("PATCH", "/api/v1/sites/hd-shop", {"name": "x"}),
        ("PATCH", "/api/v1/grids/hd-g1", {"name": "x"}),
        ("PATCH", "/api/v1/sensors/n-hd-1", {"kind": "fume"}),
        (
            "POST",
            "/api/v1/complaints",
            {"kind": "noise", "text": "吵", "source": "12345", "site": "hd-home"},
        ),
    ):
        answer = client.request(method, url, json=body, headers=h)
        assert answer.status_code == 404, (method, url, answer.text)
        assert not _leaks(answer.text, allowed=url + str(body))
    with street.db.cases() as tx:
        assert tx.get(b["case_id"]).state.value == "open"  # untouched
    # the board: the other community's case page and its form are not there
    sign_in(client, street.tokens["tianxin"])
    assert client.get(f"/board/cases/{b['case_id']}").status_code == 404
    acted = client.post(
        f"/board/cases/{b['case_id']}/actions",
        data={"action": "acknowledge", "csrf": "x", "nonce": "n"},
        follow_redirects=False,
    )
    assert acted.status_code in (403, 404)
    with street.db.cases() as tx:
        assert tx.get(b["case_id"]).state.value == "open"


def test_a_board_session_of_a_community_staff_stays_in_its_community(street: Street) -> None:
    """Signing in with a community's token gives a session of that community only: the
    session's signed claims keep the communities (they are not the street's staff)."""
    client = street.client
    sign_in(client, street.tokens["tianxin"])
    overview = client.get("/board/overview")
    assert overview.status_code == 200 and "天新" in overview.text
    assert not _leaks(overview.text)
    assert client.get(f"/board/cases/{street.b['case_id']}").status_code == 404
    assert client.get(f"/board/cases/{street.a['case_id']}").status_code == 200


# -- a message's link to a community office ---------------------------------------------


def test_a_link_to_a_community_office_opens_that_community_only(
    street_db: Database, make_client: Callable[..., TestClient]
) -> None:
    """The office of Tianxin is told of its case with a signed link: signed in by it, the
    reader sees Tianxin's cases and not Huanding's (the street's staff would see both)."""
    db = street_db
    plan = NotifyPlan(
        channels={"tx-office": ChannelType.WEBHOOK, "hd-office": ChannelType.WEBHOOK},
        communities={
            "tianxin": Group("天新", (), ("tx-office",)),
            "huanding": Group("环丁", (), ("hd-office",)),
        },
    )
    registry = db.load_registry
    tell = OutboxTeller(
        lambda: directory_of(registry(), plan),
        lambda: {s.id: s.name for s in registry().sites.values()},
        "http://testserver",
        ZoneInfo("Asia/Shanghai"),
        signer=LinkSigner(db.board_key().encode(), ttl_s=3600),
    )
    client = make_client(tellers=[tell])
    now = time.time_ns() // 1_000_000
    # two steps up, merchant → grid worker → community, two minutes after opening
    policy = RulePolicy(escalation=Escalation(60, (120,), 0))
    engine = Engine(db, policy, tellers=[tell])
    for i in range(10):
        ts = now - (20 - i) * MIN
        engine.process(
            [
                Reading(f"f-{p}-1", SensorKind.FUME, ts, i, 60,
                        {"oil_fume": 2.5 + i % 3 * 0.01, "fan_on": True})
                for p in ("tx", "hd")
            ],
            ts,
        )  # fmt: skip
    engine.tick(now)
    with db.cases() as tx:
        cases = {c.site: c for c in tx.not_closed() if c.rule == "fume_conc"}
    tx_case, hd_case = cases["tx-shop"], cases["hd-shop"]
    assert tx_case.level is Level.COMMUNITY and hd_case.level is Level.COMMUNITY
    with db.outbox() as box:
        (told,) = [d for d in box.of_case(tx_case.id) if Level.COMMUNITY in d.levels]  # type: ignore[arg-type]
    assert told.channel == "tx-office"
    opened = client.get(path_of(told.link), follow_redirects=False)
    assert opened.status_code == 303, opened.text
    assert client.get(f"/board/cases/{tx_case.id}").status_code == 200
    assert client.get(f"/board/cases/{hd_case.id}").status_code == 404
    page = client.get("/board/cases")
    assert page.status_code == 200 and not _leaks(page.text)
    overview = client.get("/board/overview", follow_redirects=True)
    assert overview.status_code == 200 and not _leaks(overview.text)


def test_the_limits_in_force_are_each_communitys_own(
    tmp_path: Path, db: Database, make_client: Callable[..., TestClient]
) -> None:
    """Huanding's `[rules]` set its own oil-fume limit: GET /rules (and the board's case
    page) say the limit its sites are judged by, Tianxin's stay the standard's."""
    a, b = write_street(tmp_path / "street")
    b.write_text(b.read_text() + "\n[rules]\nfume_limit_mg = { oil_fume = 1.2 }\n")
    apply_street(db, load_street([a, b]))
    policy = load_policy(Settings(tz="Asia/Shanghai"), [a, b])
    client = make_client(policy=policy)
    rules = {r["site"]: r for r in client.get("/api/v1/rules", headers=ADMIN).json()}

    def oil_fume(site: str) -> float:
        (limit,) = [x["value"] for x in rules[site]["limits"] if x["metric"] == "oil_fume"]
        return float(limit)

    assert (oil_fume("tx-shop"), oil_fume("hd-shop")) == (2.0, 1.2)
