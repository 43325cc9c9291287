"""The public pages and reporting without an account (CONTRACT §11): what the public sees
and never sees, the SMS code's expiry and tries, the throttles and budgets, the same
night being one complaint. Real SQLite, influxd and the Aliyun SMS stand-in; the public
surface's clock injected (no sleeps)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from linli.api.public.public import Public
from linli.channels import build_channels
from linli.codes import code_sender
from linli.community import apply_street, load_config, load_street
from linli.influx.client import InfluxClient
from linli.standins import AliyunSmsStandIn
from linli.store import Database, Role
from tests.api.conftest import bearer
from tests.api.public_app import code_in, community_file, sms_stand_in

TZ = ZoneInfo("Asia/Shanghai")
PHONE = "13912345678"
NOISE = "noise,grid=g1,sensor={sensor},site={site},zone=4a laeq={laeq},period_s=3600i {ts}"


class Clock:
    """The public surface's clock, moved by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sms() -> Iterator[AliyunSmsStandIn]:
    with sms_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def street(tmp_path: Path, db: Database, sms: AliyunSmsStandIn) -> Path:
    path = community_file(tmp_path, sms)
    apply_street(db, load_street(path))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(TZ).timestamp())


@pytest.fixture
def app(make_client: Callable[..., TestClient], street: Path, clock: Clock) -> Iterator[TestClient]:
    config = load_config(street)
    assert config is not None
    channels = build_channels(config.channel)
    client = make_client(code_sender=code_sender(street, channels.ready))
    services = client.app.state.services  # type: ignore[attr-defined]
    client.app.state.public = Public(services, client.app.state.board_key, clock=clock)  # type: ignore[attr-defined]
    yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def start_report(app: TestClient, site: str = "rest-1", phone: str = PHONE, **form: str) -> Any:
    page = app.get(f"/public/sites/{site}/report")
    assert page.status_code == 200
    body = {
        "csrf": csrf(page.text),
        "kind": "noise",
        "text": "楼下KTV太吵了，我是3幢502",
        "phone": phone,
    }
    body.update(form)
    return app.post(f"/public/sites/{site}/report", data=body, follow_redirects=False)


def enter_code(app: TestClient, location: str, code: str) -> Any:
    page = app.get(location)
    return app.post(location, data={"csrf": csrf(page.text), "code": code}, follow_redirects=False)


def report(app: TestClient, sms: AliyunSmsStandIn, phone: str = PHONE, **form: str) -> str:
    sent = start_report(app, phone=phone, **form)
    assert sent.status_code == 303, sent.text
    done = enter_code(app, sent.headers["location"], code_in(sms, phone))
    assert done.status_code == 303, done.text
    location: str = done.headers["location"]
    assert location.startswith("/public/follow/")
    return location


# -- what the public sees --------------------------------------------------------------


def test_a_report_becomes_a_complaint_with_its_verdict_and_a_follow_link(
    app: TestClient, sms: AliyunSmsStandIn, db: Database
) -> None:
    follow = report(app, sms)
    page = app.get(follow)
    assert page.status_code == 200
    assert "已收到您的反映" in page.text
    assert "这里没有相应的监测设备" not in page.text  # rest-1 has a noise sensor
    assert 'id="verdict"' in page.text
    with db.complaints() as tx:
        [record], total = tx.list_complaints()
    assert total == 1
    assert record.source == "web" and record.site == "rest-1"
    assert record.contact == {"name": None, "phone": PHONE}  # the authority's, for the call
    assert record.case_id is not None  # the one intake: judged and on a case
    # the follow page carries nothing of the resident: not the words, not the phone
    assert PHONE not in page.text and "3幢502" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_public_pages_carry_nothing_personal(app: TestClient, sms: AliyunSmsStandIn) -> None:
    report(app, sms)
    for url in ("/public/sites/rest-1", "/public/communities/tianxin", "/public/sites/hj-b1"):
        page = app.get(url)
        assert page.status_code == 200, url
        for secret in (
            PHONE,
            "3幢502",
            "KTV太吵",
            "王丽",
            "138-0000-0001",
            "139-0000-0101",
            "周强",
        ):
            assert secret not in page.text, (url, secret)
        assert "n-rest-01" not in page.text and "n-hj-01" not in page.text  # no sensor ids
        assert "<script" not in page.text
    site = app.get("/public/sites/rest-1")
    assert "蜀味小馆" in site.text and 'id="case"' in site.text
    assert site.headers["cache-control"] == "public, max-age=0, s-maxage=60"


def _write_days(
    influx: InfluxClient, site: str, sensor: str, start: datetime, levels: list[float]
) -> None:
    """One hourly LAeq a day-hour for each day from `start` (local midnight), level per day."""
    lines = []
    base = int(start.timestamp() * 1000)
    for day, laeq in enumerate(levels):
        for hour in range(24):
            ts = base + (day * 24 + hour + 1) * 3_600_000
            lines.append(NOISE.format(sensor=sensor, site=site, laeq=laeq, ts=ts))
    influx.write("\n".join(lines).encode())


def test_a_residential_site_shows_day_verdicts_only_and_a_shop_its_numbers(
    app: TestClient, influx: InfluxClient, clock: Clock
) -> None:
    start = datetime(2025, 10, 1, tzinfo=TZ)
    # 4a: 70 by day, 55 by night; class 2: 60 and 50. Day 3 loud at both.
    levels = [45.0] * 32
    levels[3] = 75.0
    _write_days(influx, "rest-1", "n-rest-01", start, levels)
    _write_days(influx, "hj-b1", "n-hj-01", start, levels)
    clock.t = datetime(2025, 11, 1, 12, tzinfo=TZ).timestamp()
    shop = app.get("/public/sites/rest-1").text
    home = app.get("/public/sites/hj-b1").text
    for page in (shop, home):
        verdicts = re.findall(r'data-date="([0-9-]+)" data-verdict="(\w+)"', page)
        assert len(verdicts) == 30
        assert verdicts[0][0] == "2025-10-03" and verdicts[-1][0] == "2025-11-01"
        by_date = dict(verdicts)
        assert by_date["2025-10-04"] == "over"
        assert by_date["2025-10-05"] == "within"
        assert by_date["2025-11-01"] == "unknown"  # today: not covered yet
    assert 'id="chart"' in shop and "<polyline" in shop  # a shop's curve
    assert 'id="chart"' not in home and "<polyline" not in home and "dB(A)，" not in home
    text = re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", home, flags=re.S))
    assert "75" not in text.replace("2025", "")  # no day's level of the flat
    assert 'id="reply"' not in home  # nobody answers for a flat in public


def test_the_qr_code_encodes_the_pages_absolute_url(app: TestClient) -> None:
    got = app.get("/public/sites/rest-1/qr.svg")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/svg+xml"
    assert got.content.startswith(b"<?xml") and b"<svg" in got.content
    import io

    import segno

    # the same symbol as segno makes of the page's absolute URL (LINLI_PUBLIC_URL)
    expected = io.BytesIO()
    url = "http://127.0.0.1:8000/public/sites/rest-1"
    segno.make(url, error="m", micro=False).save(expected, kind="svg", scale=8, border=4)
    assert got.content == expected.getvalue()
    other = io.BytesIO()
    segno.make(url + "x", error="m", micro=False).save(other, kind="svg", scale=8, border=4)
    assert got.content != other.getvalue()
    assert app.get("/public/sites/nope/qr.svg").status_code == 404


def test_unknown_site_and_community_are_404(app: TestClient) -> None:
    assert app.get("/public/sites/nope").status_code == 404
    assert app.get("/public/communities/nope").status_code == 404
    assert app.get("/public/follow/" + "x" * 32).status_code == 404


# -- the merchant's reply --------------------------------------------------------------


def test_the_merchants_reply_is_shown_escaped_and_staff_can_hide_it(
    app: TestClient, db: Database
) -> None:
    merchant, _ = db.create_token(Role.MERCHANT, site="rest-1")
    staff, _ = db.create_token(Role.STAFF)
    board = app
    board.cookies.clear()
    login = board.get("/board/login")
    board.post(
        "/board/login",
        data={"token": merchant, "csrf": csrf(login.text), "next": "/board/sites/rest-1/reply"},
    )
    form = board.get("/board/sites/rest-1/reply")
    assert form.status_code == 200
    sent = board.post(
        "/board/sites/rest-1/reply",
        data={"csrf": csrf(form.text), "text": "已加装隔音门，22:00 后关门营业<script>x</script>"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = app.get("/public/sites/rest-1").text
    assert "已加装隔音门，22:00 后关门营业&lt;script&gt;" in page
    assert "<script>x" not in page
    # another merchant's site: not found
    assert board.get("/board/sites/hj-b1/reply").status_code == 404
    board.cookies.clear()
    login = board.get("/board/login")
    board.post(
        "/board/login",
        data={"token": staff, "csrf": csrf(login.text), "next": "/board/sites/rest-1/reply"},
    )
    form = board.get("/board/sites/rest-1/reply")
    hid = board.post(
        "/board/sites/rest-1/reply",
        data={"csrf": csrf(form.text), "hide": "1"},
        follow_redirects=False,
    )
    assert hid.status_code == 303
    assert "已加装隔音门" not in app.get("/public/sites/rest-1").text


# -- abuse -----------------------------------------------------------------------------


def test_a_code_expires(app: TestClient, sms: AliyunSmsStandIn, clock: Clock) -> None:
    sent = start_report(app)
    clock.t += 301  # LINLI_PUBLIC_CODE_TTL_S 300
    done = enter_code(app, sent.headers["location"], code_in(sms, PHONE))
    assert done.status_code == 410
    assert "已过期" in done.text


def test_a_code_takes_a_bounded_number_of_tries(
    app: TestClient, sms: AliyunSmsStandIn, db: Database
) -> None:
    sent = start_report(app)
    right = code_in(sms, PHONE)
    wrong = "000000" if right != "000000" else "111111"
    statuses = [enter_code(app, sent.headers["location"], wrong).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    assert enter_code(app, sent.headers["location"], right).status_code == 429  # void now
    with db.complaints() as tx:
        assert tx.list_complaints()[1] == 0


def test_reports_are_throttled_per_phone_then_allowed_again(
    app: TestClient, sms: AliyunSmsStandIn, clock: Clock
) -> None:
    got = [start_report(app).status_code for _ in range(4)]
    assert got == [303, 303, 303, 429]  # LINLI_PUBLIC_REPORTS_PER_PHONE 3 an hour
    assert len([c for c in sms.accepted() if PHONE in c.reply.mentions]) == 3
    assert start_report(app, phone="13800001111").status_code == 303  # another phone
    clock.t += 3601
    assert start_report(app).status_code == 303


def test_reports_are_throttled_per_client(app: TestClient, sms: AliyunSmsStandIn) -> None:
    got = [start_report(app, phone=f"1380000{i:04d}").status_code for i in range(11)]
    assert got == [303] * 10 + [429]  # LINLI_PUBLIC_REPORTS_PER_CLIENT 10 an hour
    assert len(sms.accepted()) == 10


def test_a_flood_sends_a_bounded_number_of_sms_and_keeps_bounded_rows(
    app: TestClient, sms: AliyunSmsStandIn, db: Database, clock: Clock
) -> None:
    from dataclasses import replace

    services = app.app.state.services  # type: ignore[attr-defined]
    config = replace(services.config, public_sms_per_hour=5, public_reports_per_client=1000)
    services = replace(services, config=config)
    app.app.state.services = services  # type: ignore[attr-defined]
    app.app.state.public = Public(services, app.app.state.board_key, clock=clock)  # type: ignore[attr-defined]
    got = [start_report(app, phone=f"1390000{i:04d}").status_code for i in range(8)]
    assert got == [303] * 5 + [429] * 3
    assert len(sms.accepted()) == 5
    from sqlalchemy import func, select

    from linli.store.tables import public_reports

    with db.public() as tx:
        assert tx.conn.execute(select(func.count()).select_from(public_reports)).scalar() == 5
    clock.t += 2 * 3600 + 400  # expired and out of the hour: deleted as new ones come
    assert start_report(app, phone="13900009999").status_code == 303
    with db.public() as tx:
        assert tx.conn.execute(select(func.count()).select_from(public_reports)).scalar() == 1


def test_the_same_phone_about_the_same_night_is_one_complaint(
    app: TestClient, sms: AliyunSmsStandIn, db: Database
) -> None:
    first = report(app, sms)
    again = report(app, sms, text="还是很吵")
    assert "same=1" in again
    assert "同一件反映" in app.get(again).text
    with db.complaints() as tx:
        assert tx.list_complaints()[1] == 1
    assert app.get(first).status_code == 200


def test_a_form_from_another_site_is_refused(app: TestClient, sms: AliyunSmsStandIn) -> None:
    got = app.post(
        "/public/sites/rest-1/report",
        data={"csrf": "forged", "kind": "noise", "text": "x", "phone": PHONE},
    )
    assert got.status_code == 403
    assert sms.calls == []


def test_the_resident_rates_the_follow_up_when_the_case_is_resolved(
    app: TestClient, sms: AliyunSmsStandIn, db: Database
) -> None:
    follow = report(app, sms)
    page = app.get(follow)
    assert 'id="rate-form"' not in page.text  # not resolved yet
    with db.complaints() as tx:
        [record], _ = tx.list_complaints()
    staff = bearer(db.create_token(Role.STAFF)[0])
    for action in ("acknowledge", "resolve"):
        got = app.post(
            f"/api/v1/cases/{record.case_id}/actions",
            json={"action": action, "note": "已处理"},
            headers=staff,
        )
        assert got.status_code == 200, got.text
    page = app.get(follow)
    assert 'id="rate-form"' in page.text
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce
    rated = app.post(
        follow.split("?")[0] + "/rate",
        data={"csrf": csrf(page.text), "nonce": nonce.group(1), "rating": "basic"},
        follow_redirects=False,
    )
    assert rated.status_code == 303
    with db.complaints() as tx:
        after = tx.complaint(record.id)
    assert after.followup_satisfied is True and after.followup_note == "基本满意"
