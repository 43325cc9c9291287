"""The case board over HTTP: signed links, sessions, CSRF, scope, the pages,
acting on a case with notes and photos, and bad input. Real influxd, SQLite store."""

from __future__ import annotations

import dataclasses
import io
import re
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from linli.api.board.sessions import COOKIE
from linli.influx.client import InfluxClient
from linli.rules.case import Case, CaseKind, Level, open_case
from linli.rules.engine.engine import Engine
from linli.rules.engine.telling import OutboxTeller
from linli.rules.links import (
    GRID_WORKER,
    LINK,
    MERCHANT,
    SESSION,
    STAFF,
    BadLink,
    Claims,
    LinkSigner,
    sign,
    verify,
)
from linli.rules.policy import RulePolicy
from linli.rules.routing import ChannelType, Event, Group, NotifyPlan, directory_of
from linli.store import Database, Role
from tests.api.conftest import ADMIN_TOKEN
from tests.api.test_cases import fume

MIN = 60_000


def image(kind: str, size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    """A real image of one colour, encoded as `kind` (PNG, JPEG, …)."""
    out = io.BytesIO()
    Image.new("RGB", size, (30, 140, 60)).save(out, kind, **save)
    return out.getvalue()


PNG = image("PNG")
JPEG = image("JPEG")
PLAN = NotifyPlan(
    channels={
        "sms": ChannelType.SMS,
        "grid-chat": ChannelType.DINGTALK,
        "office": ChannelType.DINGTALK,
    },
    grids={"g1": ("grid-chat",)},
    community=Group("天新社区", (), ("office",)),
)


def key_of(db: Database) -> bytes:
    return db.board_key().encode()


def teller(db: Database) -> OutboxTeller:
    registry = db.load_registry
    return OutboxTeller(
        lambda: directory_of(registry(), PLAN),
        lambda: {s.id: s.name for s in registry().sites.values()},
        "http://testserver",
        ZoneInfo("Asia/Shanghai"),
        signer=LinkSigner(key_of(db), ttl_s=3600),
    )


def fume_case(db: Database, tell: OutboxTeller, influx: InfluxClient | None = None) -> int:
    """rest-1's fume case, opened by the engine from readings of the last quarter hour
    (its messages' links then expire an hour from now); the readings in InfluxDB too."""
    readings = fume(10, time.time_ns() // 1_000_000 - 15 * MIN)
    if influx is not None:
        line = "fume,grid=g1,sensor=f-rest-01,site=rest-1 oil_fume={v},fan_on=true,purifier_on=false,seq={s}i,period_s=60i {ts}"
        body = "\n".join(
            line.format(v=r.metrics["oil_fume"], s=r.seq, ts=r.ts_ms) for r in readings
        )
        influx.write(body.encode())
    engine = Engine(db, RulePolicy(), tellers=[tell])
    for r in readings:
        engine.process([r], r.ts_ms)
    with db.cases() as tx:
        (case,) = [c for c in tx.not_closed() if c.site == "rest-1"]
    assert case.id is not None
    return case.id


def plain_case(db: Database, site: str, grid: str) -> int:
    """A device case at another site, opened directly."""
    now = time.time_ns() // 1_000_000
    case, entry = open_case(
        Case(site, grid, "device_offline", CaseKind.DEVICE, None, "设备离线", now - 5 * MIN)
    )
    with db.cases() as tx:
        stored = tx.insert_case(case)
        assert stored.id is not None
        tx.add_timeline(stored.id, entry)
    return stored.id


def link_of(db: Database, case_id: int, level: Level) -> str:
    """The signed link of the case's first delivery for `level`."""
    with db.outbox() as box:
        for d in box.of_case(case_id):
            if level in d.levels:
                return d.link
    raise AssertionError(f"no delivery for {level}")


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def nonce(page: str, action: str) -> str:
    found = re.search(rf'name="nonce" value="([^"]+-{action})"', page)
    assert found, f"no {action} form"
    return found.group(1)


@pytest.fixture
def board(
    make_client: Callable[..., TestClient], registry: Database
) -> tuple[TestClient, OutboxTeller]:
    tell = teller(registry)
    return make_client(tellers=[tell]), tell


def login_csrf(client: TestClient) -> str:
    """The sign-in form's proof (its cookie is then in the client)."""
    return csrf(client.get("/board/login").text)


def sign_in(client: TestClient, token: str) -> None:
    answer = client.post(
        "/board/login",
        data={"token": token, "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def open_link(client: TestClient, link: str) -> Any:
    return client.get(path_of(link), follow_redirects=False)


# -- signed links -------------------------------------------------------------------------

KEY = b"k" * 32
NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("token", "key", "now", "kind", "why"),
    [
        (sign(KEY, Claims(MERCHANT, NOW + 60, site="rest-1", case=7)), KEY, NOW, LINK, None),
        (sign(KEY, Claims(GRID_WORKER, NOW + 60, grids=("g1",), case=7)), KEY, NOW, LINK, None),
        (sign(KEY, Claims(STAFF, NOW + 60, case=7, person="天新社区")), KEY, NOW, LINK, None),
        (sign(KEY, Claims(MERCHANT, NOW + 60, site="rest-1")), b"x" * 32, NOW, LINK, "改动"),
        (sign(KEY, Claims(MERCHANT, NOW + 60, site="rest-1")), KEY, NOW + 60, LINK, "过期"),
        (sign(KEY, Claims(MERCHANT, NOW + 60, site="rest-1")), KEY, NOW, SESSION, "无效"),
        (sign(KEY, Claims("root", NOW + 60)), KEY, NOW, LINK, "无效"),
        ("not-a-token", KEY, NOW, LINK, "不是"),
        ("", KEY, NOW, LINK, "不是"),
    ],
    ids=[
        "merchant",
        "grid-worker",
        "staff",
        "wrong-key",
        "expired",
        "wrong-kind",
        "unknown-role",
        "garbage",
        "empty",
    ],
)
def test_a_link_verifies_only_unaltered_unexpired_with_its_key(token, key, now, kind, why):
    if why is None:
        claims = verify(key, token, now, kind)
        assert claims.case == 7 or claims.case is None
        return
    with pytest.raises(BadLink, match=why):
        verify(key, token, now, kind)


def test_an_altered_claim_or_signature_is_refused():
    token = sign(KEY, Claims(MERCHANT, NOW + 60, site="rest-1", case=7))
    body, mac = token.split(".")
    other = sign(KEY, Claims(MERCHANT, NOW + 60, site="ktv-1", case=7)).split(".")[0]
    for altered in (f"{other}.{mac}", f"{body}.{mac[:-2]}AA", f"{body}x.{mac}"):
        with pytest.raises(BadLink):
            verify(KEY, altered, NOW)


# -- the teller's messages carry verifiable links of the notice's scope ----------------


def test_each_message_carries_a_link_scoped_to_its_level(board, registry, client):
    _, tell = board
    case_id = fume_case(registry, tell)
    with registry.cases() as tx:  # the same case escalated to the grid, then the community
        case = tx.get(case_id)
        at = time.time_ns() // 1_000_000
        out = tell.deliveries(tx, Event.ESCALATED, _at(case, Level.GRID_WORKER), at)
        out += tell.deliveries(tx, Event.ESCALATED, _at(case, Level.COMMUNITY), at)
    (merchant,) = [d for d in _stored(registry, case_id) if Level.MERCHANT in d.levels]
    grid = next(d for d in out if d.levels == (Level.GRID_WORKER,))
    office = next(d for d in out if d.levels == (Level.COMMUNITY,))
    now = time.time()
    key = key_of(registry)
    for d, role, site, grids in (
        (merchant, MERCHANT, "rest-1", ()),
        (grid, GRID_WORKER, None, ("g1",)),
        (office, STAFF, None, ()),
    ):
        assert d.link.startswith(f"http://testserver/board/cases/{case_id}?t=")
        assert d.sms["link"] == d.link
        claims = verify(key, parse_qs(urlsplit(d.link).query)["t"][0], now)
        assert (claims.role, claims.site, claims.grids, claims.case) == (role, site, grids, case_id)
        assert claims.exp_s > now  # an hour (the teller's ttl_s) from the change
    # the API never gives a delivery's link out (it would hand a merchant a staff link)
    told = client.get(
        f"/api/v1/cases/{case_id}/deliveries", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert told and all("link" not in d for d in told)


def _at(case: Case, level: Level) -> Case:
    return dataclasses.replace(case, level=level)


def _stored(db: Database, case_id: int) -> list[Any]:
    with db.outbox() as box:
        return box.of_case(case_id)


# -- opening a link, sessions, scope --------------------------------------------------


def test_a_link_opens_the_case_sets_the_cookie_and_leaves_the_url(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    answer = open_link(client, link_of(registry, case_id, Level.MERCHANT))
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/board/cases/{case_id}"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/board" in cookie
    assert "Secure" not in cookie  # LINLI_PUBLIC_URL is http here
    page = client.get(f"/board/cases/{case_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="case-title"' in html and f"#{case_id} 蜀味小馆" in html
    assert 'data-state="open"' in html
    summary = re.search(r'<p id="case-summary">(.*?)</p>', html, re.S)
    assert summary and "限值 2 mg/m³" in summary.group(1) and "GB 18483-2001" in summary.group(1)
    # a merchant may not close nor reopen: those forms are not offered
    offered = re.findall(r'<form class="action" data-action="(\w+)"', html)
    assert offered == ["acknowledge", "start", "resolve", "comment"]
    assert "Content-Security-Policy" in page.headers


def test_an_altered_or_expired_link_is_refused(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    link = link_of(registry, case_id, Level.MERCHANT)
    token = parse_qs(urlsplit(link).query)["t"][0]
    body, mac = token.split(".")
    altered = client.get(f"/board/cases/{case_id}?t={body}.{mac[::-1]}", follow_redirects=False)
    assert altered.status_code == 403 and 'id="error"' in altered.text
    assert COOKIE not in altered.headers.get("set-cookie", "")
    expired = sign(
        key_of(registry), Claims(MERCHANT, int(time.time()) - 1, site="rest-1", case=case_id)
    )
    answer = client.get(f"/board/cases/{case_id}?t={expired}", follow_redirects=False)
    assert answer.status_code == 403 and "过期" in answer.text
    # a good link for one case does not open another
    other = plain_case(registry, "rest-1", "g1")
    answer = client.get(f"/board/cases/{other}?t={token}", follow_redirects=False)
    assert answer.status_code == 403
    # nothing signed in: the case page asks to sign in
    answer = client.get(f"/board/cases/{case_id}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/board/login")


def test_a_merchants_link_reaches_no_other_site(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    ktv = plain_case(registry, "ktv-1", "g2")
    mine = plain_case(registry, "rest-1", "g1")
    assert open_link(client, link_of(registry, case_id, Level.MERCHANT)).status_code == 303
    assert client.get(f"/board/cases/{ktv}").status_code == 404
    assert client.get(f"/board/cases/{mine}").status_code == 200
    listed = client.get("/board/cases").text
    ids = {int(i) for i in re.findall(r'<li class="case" data-id="(\d+)"', listed)}
    assert ids == {case_id, mine}
    assert 'id="grid-counts"' not in listed  # staff only
    assert client.get("/board/cases?site=ktv-1").text.count('class="case"') == 0
    overview = client.get("/board/overview").text
    assert set(re.findall(r'data-site="([^"]+)"', overview)) == {"rest-1"}
    # acting on the other site's case: not found, and it is unchanged
    page = client.get(f"/board/cases/{case_id}").text
    answer = client.post(
        f"/board/cases/{ktv}/actions",
        data={"action": "acknowledge", "csrf": csrf(page), "nonce": "n" * 16, "note": ""},
    )
    assert answer.status_code == 404
    with registry.cases() as tx:
        assert tx.get(ktv).state.value == "open"


def test_staff_sign_in_see_the_community_and_sign_out(board, registry, tokens):
    client, tell = board
    case_id = fume_case(registry, tell)
    ktv = plain_case(registry, "ktv-1", "g2")
    refused = client.post(
        "/board/login",
        data={"token": "linli_wrong", "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert refused.status_code == 401 and "令牌无效" in refused.text
    staff = tokens["staff"]["Authorization"].removeprefix("Bearer ")
    sign_in(client, staff)
    listed = client.get("/board/cases").text
    ids = [int(i) for i in re.findall(r'<li class="case" data-id="(\d+)"', listed)]
    assert set(ids) == {case_id, ktv}
    counts = re.search(r'<table id="grid-counts">(.*?)</table>', listed, re.S)
    assert counts and 'data-grid="g1"' in counts.group(1) and 'data-grid="g2"' in counts.group(1)
    assert "将升级至网格员" in listed  # the countdown of the open merchant-level case
    assert [
        int(i) for i in re.findall(r'data-id="(\d+)"', client.get("/board/cases?grid=g2").text)
    ] == [ktv]
    assert client.get("/board/cases?kind=device").text.count('class="case"') == 1
    assert client.get("/board/cases?state=closed").text.count('class="case"') == 0
    overview = client.get("/board/overview").text
    assert re.findall(r'<section class="grid" data-grid="(\w+)"', overview) == ["g1", "g2"]
    status = dict(re.findall(r'data-site="([^"]+)" data-status="(\w+)"', overview))
    assert status == {"rest-1": "open_case", "hj-b1": "offline", "ktv-1": "open_case"}
    page = client.get("/board/cases").text
    out = client.post("/board/logout", data={"csrf": csrf(page)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/board/cases", follow_redirects=False).status_code == 303


def test_a_revoked_tokens_session_ends(board, registry):
    client, _ = board
    token, grant = registry.create_token(Role.STAFF)
    sign_in(client, token)
    assert client.get("/board/overview", follow_redirects=False).status_code == 200
    assert grant.id is not None
    registry.revoke_token(grant.id)
    assert client.get("/board/overview", follow_redirects=False).status_code == 303


# -- acting through the forms -----------------------------------------------------------


def case_page(client: TestClient, case_id: int) -> str:
    page = client.get(f"/board/cases/{case_id}")
    assert page.status_code == 200
    return page.text


def post_action(client: TestClient, case_id: int, page: str, action: str, **fields: Any) -> Any:
    files = fields.pop("files", None)
    data = {"action": action, "csrf": csrf(page), "nonce": nonce(page, action), "note": ""}
    data.update(fields)
    return client.post(
        f"/board/cases/{case_id}/actions", data=data, files=files, follow_redirects=False
    )


def test_acknowledging_through_the_form_changes_the_case(board, registry, tokens):
    client, tell = board
    case_id = fume_case(registry, tell)
    open_link(client, link_of(registry, case_id, Level.MERCHANT))
    page = case_page(client, case_id)
    answer = post_action(client, case_id, page, "acknowledge", note="已开启净化器")
    assert answer.status_code == 303 and answer.headers["location"].endswith("?ok=acknowledge")
    shown = client.get(answer.headers["location"]).text
    assert '<p id="flash" class="ok"' in shown and 'data-state="acknowledged"' in shown
    assert '<li class="entry" data-action="acknowledge">' in shown and "已开启净化器" in shown
    api = client.get(f"/api/v1/cases/{case_id}", headers=tokens["staff"]).json()
    assert api["state"] == "acknowledged"
    last = api["timeline"][-1]
    assert (last["action"], last["actor"], last["note"]) == (
        "acknowledge",
        "merchant:rest-1",
        "已开启净化器",
    )
    # told like an API action: the merchant's SMS hears of it, in the same transaction
    assert [d.event for d in _stored(registry, case_id)][-1] == "case.acknowledged"


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    open_link(client, link_of(registry, case_id, Level.MERCHANT))
    page = case_page(client, case_id)
    for token in (None, "0" * 32, csrf(page)[:-1] + "x"):
        data = {"action": "acknowledge", "nonce": nonce(page, "acknowledge")}
        if token is not None:
            data["csrf"] = token
        answer = client.post(f"/board/cases/{case_id}/actions", data=data)
        assert answer.status_code == 403 and 'id="error"' in answer.text
    # the CSRF token of another session does not do either
    other = TestClient(client.app)
    open_link(other, link_of(registry, case_id, Level.MERCHANT))
    theirs = csrf(case_page(other, case_id))
    assert theirs != csrf(page)
    answer = client.post(
        f"/board/cases/{case_id}/actions",
        data={"action": "acknowledge", "csrf": theirs, "nonce": nonce(page, "acknowledge")},
    )
    assert answer.status_code == 403
    with registry.cases() as tx:
        assert tx.get(case_id).state.value == "open"


def test_resolving_with_a_note_and_photos_keeps_and_shows_them(board, registry, tokens):
    client, tell = board
    case_id = fume_case(registry, tell)
    assert open_link(client, _grid_link(registry, case_id)).status_code == 303
    page = case_page(client, case_id)
    assert re.findall(r'<form class="action" data-action="(\w+)"', page) == [
        "acknowledge",
        "start",
        "resolve",
        "comment",
        "close",
    ]
    assert 'type="file" name="photos" multiple accept="image/*"' in page
    files = [
        ("photos", ("fix1.png", PNG, "image/png")),
        ("photos", ("fix2.jpg", JPEG, "image/jpeg")),
    ]
    answer = post_action(client, case_id, page, "resolve", note="已清洗烟道", files=files)
    assert answer.status_code == 303, answer.text
    shown = client.get(answer.headers["location"]).text
    assert 'data-state="resolved"' in shown
    ids = [int(i) for i in re.findall(r'<img src="/board/photos/(\d+)"', shown)]
    assert len(ids) == 2
    got = client.get(f"/board/photos/{ids[0]}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(got.content)) as kept:  # re-encoded: the same pixels
        assert (kept.format, kept.size, kept.convert("RGB").getpixel((5, 5))) == (
            "PNG",
            (40, 30),
            (30, 140, 60),
        )
    assert client.get(f"/board/photos/{ids[1]}").headers["content-type"] == "image/jpeg"
    api = client.get(f"/api/v1/cases/{case_id}", headers=tokens["staff"]).json()
    assert api["state"] == "resolved" and api["timeline"][-1]["note"] == "已清洗烟道"
    # a merchant of another site never sees them
    other = TestClient(client.app)
    ktv, _ = registry.create_token(Role.MERCHANT, site="ktv-1")
    sign_in(other, ktv)
    assert other.get(f"/board/photos/{ids[0]}").status_code == 404


def _grid_link(db: Database, case_id: int) -> str:
    """A grid worker's link as the teller signs it for an escalated case."""
    with db.cases() as tx:
        case = tx.get(case_id)
    token = LinkSigner(key_of(db), 3600).token(
        case, (Level.GRID_WORKER,), time.time_ns() // 1_000_000, "东网格 网格员"
    )
    return f"http://testserver/board/cases/{case_id}?t={token}"


# -- bad input ----------------------------------------------------------------------------


@pytest.fixture
def merchant_on_case(board, registry) -> tuple[TestClient, int, str]:
    client, tell = board
    case_id = fume_case(registry, tell)
    open_link(client, link_of(registry, case_id, Level.MERCHANT))
    return client, case_id, case_page(client, case_id)


def unchanged(db: Database, case_id: int, entries: int = 1) -> None:
    with db.cases() as tx:
        detail = tx.detail(case_id)
    assert detail.case.state.value == "open"
    assert len([e for e in detail.timeline if e.action.value != "tell"]) == entries
    with db.cases() as tx:
        assert tx.photos_of(case_id) == []


def test_an_oversized_photo_is_refused_with_the_note_kept(merchant_on_case, registry):
    client, case_id, page = merchant_on_case
    big = b"\xff\xd8\xff" + b"\x00" * (5 << 20)
    answer = post_action(
        client,
        case_id,
        page,
        "resolve",
        note="换了滤网",
        files=[("photos", ("big.jpg", big, "image/jpeg"))],
    )
    assert answer.status_code == 413
    assert '<p id="flash" class="error"' in answer.text and "超过 5 MB" in answer.text
    assert "换了滤网</textarea>" in answer.text  # nothing the person wrote is lost
    unchanged(registry, case_id)


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(make_client, registry):
    client = make_client()
    answer = client.post(
        "/board/cases/1/actions",
        content=b"x" * 10,
        headers={
            "Content-Length": str(64 << 20),
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    assert answer.status_code == 413 and 'id="error"' in answer.text


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00 this is an exe",
        b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",  # HTML after PNG's magic
        b"\xff\xd8\xff\xe0<svg onload=alert(1)>",  # after JPEG's
        PNG[: len(PNG) // 2],  # a PNG cut short
    ],
    ids=["exe", "html-after-png-magic", "svg-after-jpeg-magic", "truncated-png"],
)
def test_a_file_that_is_not_an_image_is_refused(merchant_on_case, registry, data):
    client, case_id, page = merchant_on_case
    files = [("photos", ("fix.jpg", data, "image/jpeg"))]
    answer = post_action(client, case_id, page, "resolve", files=files)
    assert answer.status_code == 415 and "不是图片" in answer.text
    unchanged(registry, case_id)


def _png_of(width: int, height: int) -> bytes:
    """A small PNG file that says it is width×height (its pixels never written)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    head = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_900_megapixel_image_is_refused_before_it_is_decoded(merchant_on_case, registry):
    client, case_id, page = merchant_on_case
    bomb = _png_of(30_000, 30_000)
    assert len(bomb) < 5 << 20  # under the upload's byte limit: only its pixels tell
    files = [("photos", ("fix.png", bomb, "image/png"))]
    answer = post_action(client, case_id, page, "resolve", note="清洗", files=files)
    assert answer.status_code == 413 and "像素过多" in answer.text
    unchanged(registry, case_id)


def test_what_is_kept_of_a_photo_is_its_pixels_without_metadata_or_trailing_bytes(
    merchant_on_case, registry
):
    client, case_id, page = merchant_on_case
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker-X"  # Make
    exif[0x013B] = "住在1幢302的周某"  # Artist: who took it
    jpeg = image("JPEG", (64, 48), exif=exif.tobytes())
    png = PNG + b"<html><script>alert(1)</script></html>"  # after IEND
    files = [("photos", ("a.jpg", jpeg, "image/jpeg")), ("photos", ("b.png", png, "image/png"))]
    answer = post_action(client, case_id, page, "resolve", note="清洗", files=files)
    assert answer.status_code == 303, answer.text
    with registry.cases() as tx:
        kept = [tx.photo(p.id).data for p in tx.photos_of(case_id)]
    assert len(kept) == 2
    for data in kept:
        assert b"PhoneMaker-X" not in data and b"Exif" not in data and b"<script>" not in data
        assert "周某".encode() not in data
        with Image.open(io.BytesIO(data)) as img:
            assert img.size in ((64, 48), (40, 30)) and not img.getexif()


def test_a_note_of_100_kb_is_refused_and_kept(merchant_on_case, registry):
    client, case_id, page = merchant_on_case
    note = "噪" * 34_000  # 100 KB of UTF-8
    answer = post_action(client, case_id, page, "comment", note=note)
    assert answer.status_code == 413 and "备注太长" in answer.text
    assert note in answer.text
    unchanged(registry, case_id)


def test_html_in_a_note_is_escaped_never_executed(merchant_on_case, registry, tokens):
    client, case_id, page = merchant_on_case
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    answer = post_action(client, case_id, page, "comment", note=evil)
    assert answer.status_code == 303
    shown = client.get(f"/board/cases/{case_id}").text
    assert "<script>alert" not in shown and "<img src=x" not in shown
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in shown
    )
    api = client.get(f"/api/v1/cases/{case_id}", headers=tokens["staff"]).json()
    assert api["timeline"][-1]["note"] == evil  # kept as written


def test_a_double_submitted_action_is_applied_once(merchant_on_case, registry):
    client, case_id, page = merchant_on_case
    first = post_action(client, case_id, page, "comment", note="第一次")
    again = post_action(client, case_id, page, "comment", note="第一次")
    assert first.headers["location"].endswith("?ok=comment")
    assert again.status_code == 303 and again.headers["location"].endswith("?ok=dup")
    assert "重复提交只生效一次" in client.get(again.headers["location"]).text
    with registry.cases() as tx:
        notes = [e.note for e in tx.detail(case_id).timeline if e.action.value == "comment"]
    assert notes == ["第一次"]


def test_an_action_the_state_does_not_allow_is_a_clear_message(merchant_on_case, registry):
    client, case_id, page = merchant_on_case
    assert post_action(client, case_id, page, "acknowledge").status_code == 303
    # the old page's acknowledge form again, with a fresh nonce: the case is acknowledged
    data = {
        "action": "acknowledge",
        "csrf": csrf(page),
        "nonce": "fresh-nonce-123",
        "note": "再签一次",
    }
    answer = client.post(f"/board/cases/{case_id}/actions", data=data)
    assert answer.status_code == 409 and "不能签收" in answer.text and "再签一次" in answer.text
    # and a merchant may not close at all
    data = {"action": "close", "csrf": csrf(page), "nonce": "fresh-nonce-456"}
    assert client.post(f"/board/cases/{case_id}/actions", data=data).status_code == 403


# -- the chart --------------------------------------------------------------------------


def test_the_case_page_charts_the_readings_from_influxdb(make_client, registry, influx):
    tell = teller(registry)
    client = make_client(tellers=[tell])
    case_id = fume_case(registry, tell, influx)
    open_link(client, link_of(registry, case_id, Level.MERCHANT))
    html = case_page(client, case_id)
    svg = re.search(r'<svg id="case-chart".*?</svg>', html, re.S)
    assert svg, "no chart"
    chart = svg.group(0)
    assert '<path class="series"' in chart and '<path class="limit"' in chart
    assert 'class="breach-window"' in chart
    assert 'data-lane="风机"' in chart and 'data-lane="净化器"' in chart
    assert 'class="empty"' not in chart


# -- the demo and the processes' shared key -------------------------------------------


def test_the_wired_teller_and_the_app_share_the_stores_key(make_client, registry, settings):
    """linli/notifying.make_teller (the engine's child and the API's process build it)
    signs with the key the case store keeps; the app verifies with the same one."""
    from linli.notifying import make_teller

    tell = make_teller(registry, PLAN, settings)
    client = make_client(tellers=[tell])
    case_id = fume_case(registry, tell)
    link = link_of(registry, case_id, Level.MERCHANT)
    assert "?t=" in link
    assert open_link(client, link).headers["location"] == f"/board/cases/{case_id}"
    assert client.get(f"/board/cases/{case_id}").status_code == 200


def test_the_demos_overview_link_signs_in_as_staff(make_client, registry, settings):
    from linli.demo import overview_link

    client = make_client()
    link = overview_link(settings, key_of(registry))
    assert link.startswith(f"{settings.public_url}/board/overview?t=")
    answer = open_link(client, link)
    assert answer.status_code == 303 and answer.headers["location"] == "/board/overview"
    page = client.get("/board/overview").text
    assert re.findall(r'<section class="grid" data-grid="(\w+)"', page) == ["g1", "g2"]
    # a case's link does not open the overview, nor the overview's a case
    case_token = sign(key_of(registry), Claims(STAFF, int(time.time()) + 60, case=1))
    assert TestClient(client.app).get(f"/board/overview?t={case_token}").status_code == 403
    token = parse_qs(urlsplit(link).query)["t"][0]
    assert TestClient(client.app).get(f"/board/cases/1?t={token}").status_code == 403


def test_a_digest_names_each_case_by_its_bare_link_and_signs_the_messages_own(registry):
    """100 signed links (~200 characters each) would not fit a robot's 20 KB: a digest's
    lines carry the bare links, and its own link (the first case's) is the signed one."""
    from linli.rules.delivery import Delivery
    from linli.rules.messages import digest

    signer = LinkSigner(key_of(registry))
    now = time.time_ns() // 1_000_000
    items = []
    for i in range(100):
        case = Case(
            "p001", "g1", "device_offline", CaseKind.DEVICE, None, "设备离线", now, id=i + 1
        )
        token = signer.token(case, (Level.GRID_WORKER,), now, "东网格 网格员")
        link = f"http://testserver/board/cases/{i + 1}?t={token}"
        items.append(
            Delivery(f"k{i}", i + 1, "case.opened", "ding", (), (Level.GRID_WORKER,), "东网格 网格员",
                     f"【新工单】红街公寓{i}幢: 设备离线 sensor offline", "", link, now)
        )  # fmt: skip
    d = digest(items)
    assert d.link == items[0].link and "?t=" in d.link
    assert "?t=" not in d.text and "(http://testserver/board/cases/57)" in d.text
    assert len(d.text.encode()) < 20_000
    assert verify(key_of(registry), parse_qs(urlsplit(d.link).query)["t"][0], time.time()).case == 1


def test_the_cookie_is_secure_when_the_public_url_is_https(settings, registry, influx, tokens):
    from linli.api.app import create_app
    from linli.wiring import api_config

    https = settings.model_copy(update={"public_url": "https://linli.example"})
    client = TestClient(
        create_app(api_config(https), registry, influx, lambda: True),
        base_url="https://testserver",  # the sign-in form's Secure cookie goes back
    )
    staff = tokens["staff"]["Authorization"].removeprefix("Bearer ")
    answer = client.post(
        "/board/login", data={"token": staff, "csrf": login_csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/board/overview"
    cookie = answer.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    # the sign-in's `next` is only ever a board page of this site
    answer = client.post(
        "/board/login",
        data={"token": staff, "next": "//evil.example/x", "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/board/overview"


@pytest.mark.parametrize(
    "path",
    [
        "/board/cases/99999999999999999999999",
        "/board/cases/9223372036854775808",
        "/board/cases/0",
        "/board/cases/-1",
        "/board/photos/99999999999999999999999",
        "/board/complaints/99999999999999999999999",
    ],
)
def test_an_id_too_large_for_the_store_is_not_found(board, registry, tokens, path):
    client, _ = board
    sign_in(client, tokens["staff"]["Authorization"].removeprefix("Bearer "))
    answer = client.get(path)
    assert answer.status_code == 404 and 'id="error"' in answer.text
    assert "Traceback" not in answer.text


def test_acting_on_an_id_too_large_for_the_store_is_not_found(board, registry, tokens):
    client, tell = board
    case_id = fume_case(registry, tell)
    sign_in(client, tokens["staff"]["Authorization"].removeprefix("Bearer "))
    page = case_page(client, case_id)
    answer = client.post(
        "/board/cases/99999999999999999999999/actions",
        data={"action": "comment", "csrf": csrf(page), "nonce": "n" * 16, "note": "x"},
    )
    assert answer.status_code == 404 and 'id="error"' in answer.text
