"""Residents' complaints on the case board over HTTP: the office's form
files through the API's intake (real influxd judging it, SQLite store), the complaint on
its case page with the case's deadlines, and the follow-up call (回访)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.rules.case import Case, CaseKind, Level, open_case
from linli.rules.messages import local
from linli.rules.workdays import add_working_days
from linli.store import Database
from tests.api.test_board import board, csrf, nonce, sign_in  # noqa: F401 (the fixture)

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def loud(influx: InfluxClient, laeq: float = 66.0, minutes: int = 40) -> None:
    """n-hj-01 at hj-b1 (zone 2) loud for the last `minutes`, one reading a minute."""
    end = now_ms() // MIN * MIN
    line = "noise,grid=g1,sensor=n-hj-01,site=hj-b1 laeq={v},lamax={m},l90=40,seq={s}i,period_s=60i {ts}"
    influx.write(
        "\n".join(
            line.format(v=laeq + i % 3 * 0.2, m=laeq + 8, s=i + 1, ts=end - (minutes - i) * MIN)
            for i in range(minutes + 1)
        ).encode()
    )


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def form_nonce(page: str) -> str:
    found = re.search(r'<form id="complaint-form".*?name="nonce" value="([^"]+)"', page, re.S)
    assert found, page[:800]
    return found.group(1)


def fields(page: str, **changes: str) -> dict[str, str]:
    """The form as a clerk fills it: a walk-in noise complaint at hj-b1, "now"."""
    data = {
        "csrf": csrf(page),
        "nonce": form_nonce(page),
        "site": "hj-b1",
        "address": "",
        "kind": "noise",
        "source": "walk_in",
        "from": "",
        "to": "",
        "text": "楼下太吵 <script>alert(1)</script>",
        "external_id": "",
        "contact_name": "李阿姨",
        "contact_phone": "138-0000-9999",
    }
    data.update(changes)
    return data


def file(client: TestClient, **changes: str) -> Any:
    page = client.get("/board/complaints/new").text
    return client.post(
        "/board/complaints/new", data=fields(page, **changes), follow_redirects=False
    )


def listed(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/api/v1/complaints", headers=headers)
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    return doc


def section(html: str, ident: str) -> str:
    found = re.search(rf'<section id="{ident}".*?</section>', html, re.S)
    assert found, f"no section {ident}"
    return found.group(0)


@pytest.fixture
def office(board, tokens) -> TestClient:  # noqa: F811 (the fixture)
    """The g1 grid worker signed in to the board."""
    client, _ = board
    sign_in(client, token_of(tokens["grid_worker"]))
    return client


# -- filing ---------------------------------------------------------------------------


def test_the_form_files_a_judged_complaint_onto_its_case(office, registry, influx, tokens):
    loud(influx)
    page = office.get("/board/complaints/new")
    assert page.status_code == 200
    html = page.text
    assert 'id="nav-complaint"' in html  # the navigation leads to it
    sites = set(re.findall(r'<option value="([\w-]+)"', section_of_form(html)))
    assert {"rest-1", "hj-b1"} <= sites and "ktv-1" not in sites  # the g1 worker's sites only
    answer = office.post("/board/complaints/new", data=fields(html), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert re.fullmatch(r"/board/complaints/\d+\?ok=filed", location)
    shown = office.get(location).text
    (api,) = listed(office, tokens["grid_worker"])["items"]
    # the API's complaint: the form went through the same intake
    assert api["source"] == "walk_in" and api["site"] == "hj-b1"
    assert api["verdict"] == "corroborated"
    assert api["text"] == "楼下太吵 <script>alert(1)</script>"
    assert api["contact"] == {"name": "李阿姨", "phone": "138-0000-9999"}
    c = api["corroboration"]
    assert c["standard"].startswith("GB 3096") and c["limit"] in (50, 60) and c["measured"] > 65
    # the page after filing: reference, verdict with its numbers, standard, clause, case
    assert '<p id="flash" class="ok"' in shown
    assert f'<span id="complaint-ref">{api["reference"]}</span>' in shown
    assert 'id="verdict" data-verdict="corroborated"' in shown
    assert f"{c['measured']:.1f} dB(A)" in shown and f">{c['limit']:g} dB(A)<" in shown
    assert c["standard"] in shown and c["clause"] in shown
    assert f'<a id="case-link" href="/board/cases/{api["case_id"]}"' in shown
    # on its case page: the complaint, escaped, with its verdict; count and priority
    case_html = office.get(f"/board/cases/{api['case_id']}").text
    listed_here = section(case_html, "complaints")
    assert api["reference"] in listed_here and "来访" in listed_here
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listed_here and "<script>" not in case_html
    assert 'data-verdict="corroborated"' in listed_here and c["summary"] in listed_here
    assert 'id="case-complaints" class="complaints" data-count="1" data-priority="normal"' in (
        case_html
    )
    # a complaint case: its deadlines from the source's time limits, as countdowns
    with registry.cases() as tx:
        case = tx.get(api["case_id"])
    assert case.kind is CaseKind.COMPLAINT and case.sign_by_ms and case.handle_by_ms
    assert case.handle_by_ms == add_working_days(case.opened_ms, 5, "Asia/Shanghai")
    sign = deadline(case_html, "sign")
    assert sign["overdue"] == "false" and sign["text"].startswith("签收时限：还剩 1 小时")
    handle = deadline(case_html, "handle")
    assert handle["overdue"] == "false" and local(case.handle_by_ms, TZ) in handle["text"]
    assert "按工作日计" in handle["text"]
    the_list = office.get("/board/cases").text
    row = re.search(rf'<li class="case" data-id="{case.id}".*?</li>', the_list, re.S)
    assert row and 'data-deadline="sign"' in row.group(0) and "居民投诉 1 件" in row.group(0)


def section_of_form(html: str) -> str:
    found = re.search(r'<form id="complaint-form".*?</form>', html, re.S)
    assert found
    return found.group(0)


def deadline(html: str, which: str) -> dict[str, str]:
    found = re.search(
        rf'<span class="deadline[^"]*" data-deadline="{which}" data-overdue="(\w+)">([^<]*)</span>',
        html,
    )
    assert found, f"no {which} deadline"
    return {"overdue": found.group(1), "text": found.group(2)}


def test_an_address_with_no_sensor_is_kept_as_no_coverage(office, tokens):
    answer = file(office, site="", address="西湖区某某路 999 号")
    # kept for the whole community's readers: the filer sees it in this answer
    assert answer.status_code == 201
    shown = answer.text
    assert 'data-verdict="no_coverage"' in shown and 'id="no-case"' in shown
    (api,) = listed(office, tokens["admin"])["items"]
    assert (api["verdict"], api["case_id"]) == ("no_coverage", None)
    assert api["reference"] in shown and api["address"] == "西湖区某某路 999 号"
    assert listed(office, tokens["grid_worker"])["total"] == 0


def test_a_merchant_can_neither_open_nor_post_the_form(board, registry, tokens):  # noqa: F811
    client, _ = board
    sign_in(client, token_of(tokens["merchant"]))
    overview = client.get("/board/overview").text
    assert 'id="nav-complaint"' not in overview
    page = client.get("/board/complaints/new")
    assert page.status_code == 403 and 'id="error"' in page.text
    answer = client.post(
        "/board/complaints/new",
        data={
            "csrf": csrf(overview),
            "nonce": "n" * 16,
            "site": "rest-1",
            "kind": "fume",
            "source": "walk_in",
            "text": "自己投诉自己",
        },
    )
    assert answer.status_code == 403
    assert listed(client, tokens["admin"])["total"] == 0


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(office, tokens):
    page = office.get("/board/complaints/new").text
    for token in (None, "0" * 32, csrf(page)[:-1] + "x"):
        data = fields(page)
        del data["csrf"]
        if token is not None:
            data["csrf"] = token
        answer = office.post("/board/complaints/new", data=data)
        assert answer.status_code == 403 and 'id="error"' in answer.text
    assert listed(office, tokens["admin"])["total"] == 0


def _local_input(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("changes", "status", "message", "kept"),
    [
        ({"text": "   "}, 422, "请填写投诉内容", "李阿姨"),
        ({"text": "吵" * 100_000}, 413, "投诉内容太长：100,000 字", "吵" * 100_000),
        ({"from": "future"}, 422, "开始时间在未来", "楼下太吵"),
        ({"from": "9 days ago", "to": "1 day ago"}, 422, "时间段太长：最长 7 天", "楼下太吵"),
        ({"from": "2026-13-45T99:00"}, 422, "开始时间格式不对", "2026-13-45T99:00"),
        ({"site": "nowhere"}, 404, "点位「nowhere」不存在", "楼下太吵"),
        ({"site": "ktv-1"}, 404, "点位「ktv-1」不存在，或不在您的范围内", "楼下太吵"),
        ({"site": "", "address": " "}, 422, "请选择点位，或填写居民说的地址", "楼下太吵"),
        ({"kind": "smell"}, 422, "请选择投诉类型", "楼下太吵"),
        ({"source": "open311"}, 422, "请选择投诉来源", "楼下太吵"),
        ({"nonce": ""}, 400, "缺少提交编号", "楼下太吵"),
    ],
    ids=[
        "empty-text",
        "100kb-text",
        "future",
        "over-7-days",
        "bad-time",
        "unknown-site",
        "out-of-scope-site",
        "no-site-no-address",
        "unknown-kind",
        "open311-source",
        "no-nonce",
    ],
)
def test_bad_input_is_a_clear_message_on_the_form_with_what_was_typed(
    office, tokens, changes, status, message, kept
):
    now = now_ms()
    times = {
        "future": _local_input(now + 2 * 3_600_000),
        "9 days ago": _local_input(now - 9 * 86_400_000),
        "1 day ago": _local_input(now - 86_400_000),
    }
    changes = {k: times.get(v, v) for k, v in changes.items()}
    page = office.get("/board/complaints/new").text
    data = fields(page, **changes)
    answer = office.post("/board/complaints/new", data=data, follow_redirects=False)
    assert answer.status_code == status, answer.text[:400]
    flash = re.search(r'<p id="flash" class="error"[^>]*>([^<]*)</p>', answer.text)
    assert flash and message in flash.group(1)
    form = section_of_form(answer.text)
    assert kept in form  # what was typed is still there
    assert form_nonce(answer.text) != data["nonce"]  # a fresh form to send again
    assert listed(office, tokens["admin"])["total"] == 0


def test_a_window_in_the_past_is_judged_over_that_window(office, tokens):
    start = now_ms() - 3 * 3_600_000
    answer = file(office, **{"from": _local_input(start), "to": _local_input(start + 20 * MIN)})
    assert answer.status_code == 303
    (api,) = listed(office, tokens["admin"])["items"]
    got = datetime.fromisoformat(api["from"]).astimezone(TZ)
    assert got.strftime("%Y-%m-%dT%H:%M") == _local_input(start)
    assert datetime.fromisoformat(api["to"]) - datetime.fromisoformat(api["from"]) == timedelta(
        minutes=20
    )
    assert api["verdict"] == "data_gap"  # no readings then: a person checks


def test_a_form_sent_twice_files_one_complaint(office, registry, influx, tokens):
    loud(influx)
    page = office.get("/board/complaints/new").text
    data = fields(page, source="12345", external_id="HZ-12345-0001")
    first = office.post("/board/complaints/new", data=data, follow_redirects=False)
    again = office.post("/board/complaints/new", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"].endswith("?ok=filed")
    assert again.headers["location"] == first.headers["location"].replace("filed", "dup")
    assert "重复提交只登记一次" in office.get(again.headers["location"]).text
    found = listed(office, tokens["admin"])
    assert found["total"] == 1
    with registry.cases() as tx:
        assert tx.get(found["items"][0]["case_id"]).complaints == 1


# -- deadlines -------------------------------------------------------------------------


def complaint_case(db: Database, sign_in_min: int, handle_in_min: int, site: str = "hj-b1") -> int:
    """A complaint case at `site` (g1) opened an hour ago, its deadlines as given from now."""
    now = now_ms()
    case, entry = open_case(
        Case(
            site,
            "g1",
            "complaint_noise",
            CaseKind.COMPLAINT,
            "n-hj-01",
            "红街公寓1幢: 居民投诉 噪声扰民",
            now - 60 * MIN,
            first_level=Level.GRID_WORKER,
            complaints=2,
            sign_by_ms=now + sign_in_min * MIN,
            handle_by_ms=now + handle_in_min * MIN,
        )
    )
    with db.cases() as tx:
        stored = tx.insert_case(case)
        assert stored.id is not None
        tx.add_timeline(stored.id, entry)
    return stored.id


def test_overdue_deadlines_are_shown_overdue_and_signing_ends_its_countdown(office, registry):
    case_id = complaint_case(registry, sign_in_min=-30, handle_in_min=3 * 60 + 1)
    html = office.get(f"/board/cases/{case_id}").text
    sign = deadline(html, "sign")
    assert sign["overdue"] == "true" and sign["text"].startswith("签收已超时 3")
    handle = deadline(html, "handle")
    assert handle["overdue"] == "false" and "办结时限：还剩 3 小时" in handle["text"]
    assert 'data-count="2" data-priority="high"' in html  # 2 complaints: high
    the_list = office.get("/board/cases").text
    row = re.search(rf'<li class="case" data-id="{case_id}".*?</li>', the_list, re.S)
    assert row and 'data-deadline="sign" data-overdue="true"' in row.group(0)
    page = office.get(f"/board/cases/{case_id}").text
    answer = office.post(
        f"/board/cases/{case_id}/actions",
        data={"action": "acknowledge", "csrf": csrf(page), "nonce": nonce(page, "acknowledge")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    after = office.get(f"/board/cases/{case_id}").text
    assert 'data-deadline="sign"' not in after and 'data-deadline="handle"' in after
    late = complaint_case(registry, sign_in_min=-90, handle_in_min=-10, site="rest-1")
    assert deadline(office.get(f"/board/cases/{late}").text, "handle")["overdue"] == "true"


# -- the follow-up call ---------------------------------------------------------------------


def act(client: TestClient, case_id: int, action: str) -> None:
    page = client.get(f"/board/cases/{case_id}").text
    answer = client.post(
        f"/board/cases/{case_id}/actions",
        data={"action": action, "csrf": csrf(page), "nonce": nonce(page, action), "note": "已处理"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]


def followup_form(html: str, complaint_id: int) -> dict[str, str]:
    found = re.search(
        rf'<form class="followup" method="post" action="/board/complaints/{complaint_id}/followup">'
        r'.*?name="nonce" value="([^"]+)"',
        html,
        re.S,
    )
    assert found, "no follow-up form"
    return {"csrf": csrf(html), "nonce": found.group(1)}


def test_not_satisfied_on_the_follow_up_reopens_the_case(office, registry, influx, tokens):
    loud(influx)
    assert file(office).status_code == 303
    (api,) = listed(office, tokens["admin"])["items"]
    complaint_id, case_id = api["id"], api["case_id"]
    before = office.get(f"/board/cases/{case_id}").text
    assert 'class="followup"' not in before  # not resolved: nothing to rate yet
    refused = office.post(
        f"/board/complaints/{complaint_id}/followup",
        data={"csrf": csrf(before), "nonce": "n" * 16, "satisfied": "no", "note": "还是吵"},
    )
    assert refused.status_code == 409 and "办结后才能回访" in refused.text
    for action in ("acknowledge", "start", "resolve"):
        act(office, case_id, action)
    page = office.get(f"/board/cases/{case_id}").text
    form = followup_form(page, complaint_id)
    missing = office.post(f"/board/complaints/{complaint_id}/followup", data=form)
    assert missing.status_code == 422 and "请选择回访结果" in missing.text
    page = office.get(f"/board/cases/{case_id}").text
    form = followup_form(page, complaint_id) | {"satisfied": "no", "note": "晚上还是吵"}
    no_csrf = office.post(
        f"/board/complaints/{complaint_id}/followup", data={**form, "csrf": "0" * 32}
    )
    assert no_csrf.status_code == 403
    answer = office.post(
        f"/board/complaints/{complaint_id}/followup", data=form, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/board/cases/{case_id}?ok=followup_unsatisfied"
    again = office.post(
        f"/board/complaints/{complaint_id}/followup", data=form, follow_redirects=False
    )
    assert again.headers["location"] == f"/board/cases/{case_id}?ok=dup"  # applied once
    shown = office.get(answer.headers["location"]).text
    assert '<p id="flash" class="ok"' in shown and "工单已重新打开" in shown
    assert 'data-state="reopened"' in shown
    rated = section(shown, "complaints")
    assert 'class="followup" data-satisfied="false"' in rated and "晚上还是吵" in rated
    got = office.get(f"/api/v1/complaints/{complaint_id}", headers=tokens["staff"]).json()
    assert got["followup"]["satisfied"] is False and got["followup"]["note"] == "晚上还是吵"
    assert got["case_state"] == "reopened"
    with registry.cases() as tx:
        reopens = [e for e in tx.detail(case_id).timeline if e.action.value == "reopen"]
    assert len(reopens) == 1 and "不满意" in reopens[0].note


def test_satisfied_on_the_follow_up_keeps_the_case_resolved(board, registry, tokens):  # noqa: F811
    client, _ = board
    sign_in(client, token_of(tokens["staff"]))
    answer = file(client, source="phone")
    assert answer.status_code == 303
    (api,) = listed(client, tokens["admin"])["items"]
    for action in ("acknowledge", "start", "resolve"):
        act(client, api["case_id"], action)
    page = client.get(f"/board/cases/{api['case_id']}").text
    form = followup_form(page, api["id"]) | {"satisfied": "yes", "note": ""}
    answer = client.post(f"/board/complaints/{api['id']}/followup", data=form)
    assert answer.status_code == 200 and "回访已记录：满意" in answer.text
    assert 'data-state="resolved"' in answer.text
    assert 'class="followup" data-satisfied="true"' in answer.text


def test_not_satisfied_after_the_case_was_closed_puts_it_on_a_new_case(board, registry, tokens):  # noqa: F811
    client, _ = board
    sign_in(client, token_of(tokens["staff"]))
    assert file(client).status_code == 303
    (api,) = listed(client, tokens["admin"])["items"]
    old = api["case_id"]
    for action in ("acknowledge", "start", "resolve", "close"):
        act(client, old, action)
    page = client.get(f"/board/cases/{old}").text
    form = followup_form(page, api["id"]) | {"satisfied": "no", "note": "又开始吵了"}
    answer = client.post(
        f"/board/complaints/{api['id']}/followup", data=form, follow_redirects=False
    )
    assert answer.status_code == 303
    got = client.get(f"/api/v1/complaints/{api['id']}", headers=tokens["staff"]).json()
    assert got["case_id"] != old and got["case_state"] == "open"
    assert answer.headers["location"] == f"/board/cases/{got['case_id']}?ok=followup_new_case"
    shown = client.get(answer.headers["location"]).text
    assert "投诉已转入这件工单" in shown and api["reference"] in section(shown, "complaints")
    with registry.cases() as tx:
        assert tx.get(old).state.value == "closed"
