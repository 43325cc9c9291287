"""The three high findings of an outside test, done again as the attacker did them: against
a real `linli serve` (a subprocess on the test servers' mosquitto and influxd, SQLite, its
channels the local stand-ins of DingTalk, WeCom and Aliyun SMS), with nothing but HTTP
(httpx: the API, Open311 and the board's pages and forms, read as a browser reads them)
and readings published over MQTT.

1. A grid worker sends a 12345 order id of another grid (API and the board's form): it
   gets a complaint of its own; the other grid's case is not joined, read, reopened or
   told about (CONTRACT §5, CONTRACT §7).
2. A resident's words and phone reach the grid's chat, never the merchant's chat, SMS,
   API answers, Open311 or board pages (CONTRACT §7).
3. A revoked token's board session ends and stays ended when another token is issued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import httpx
import pytest

from linli.influx.client import InfluxClient
from linli.standins import AliyunSmsStandIn, DingTalkStandIn, WeComStandIn
from linli.standins.base import Call, HttpStandIn
from tests.helpers import Publisher, wait_for
from tests.notify.serve import TOKEN, Serve

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000

# The people the stand-ins address (their mobile numbers are their addresses).
EAST_WORKER: Final = "13800000001"  # 王丽, grid g-east (the attacker's grid in 1.)
WEST_WORKER: Final = "13800000002"  # 赵强, grid g-west (the KTV's)
KTV_OWNER: Final = "13900000112"  # 韩磊, the KTV's manager

# The resident of 2., distinctive enough to be found in any body that carries them.
PHONE: Final = "13900001234"
TEXT: Final = "我是红街天城1幢302，KTV太吵"
# The other grid's order and its private resolution note (1.).
ORDER: Final = "12345-20261207-0001"
WEST_NOTE: Final = "西区私密处理记录：已约谈韩经理"

COMMUNITY: Final = """
[community]
name = "红街社区"

[rules]
escalate_unacknowledged_s = 4
escalate_unresolved_s = [3600, 7200]

[[channel]]
id = "ding-east"
type = "dingtalk"
url = "env:E2E_DING_EAST_URL"
secret = "env:E2E_DING_EAST_SECRET"

[[channel]]
id = "ding-west"
type = "dingtalk"
url = "env:E2E_DING_WEST_URL"
secret = "env:E2E_DING_WEST_SECRET"

[[channel]]
id = "wecom-ktv"
type = "wecom"
url = "env:E2E_WECOM_URL"

[[channel]]
id = "sms"
type = "sms"
url = "env:E2E_SMS_URL"
access_key_id = "env:E2E_SMS_AK"
access_key_secret = "env:E2E_SMS_SK"
sign_name = "红街社区"
template = "SMS_000000"

[[grid]]
id = "g-east"
name = "红街东网格"
notify = ["ding-east"]
workers = [
  { name = "王丽", phone = "13800000001", channels = { sms = "13800000001", ding-east = "13800000001" } },
]

[[grid]]
id = "g-west"
name = "红街西网格"
notify = ["ding-west"]
workers = [
  { name = "赵强", phone = "13800000002", channels = { sms = "13800000002", ding-west = "13800000002" } },
]

[[grid]]
id = "g0"
name = "探针网格"

[[site]]
id = "hj-b1"
name = "红街公寓1幢"
kind = "residential"
zone = "2"
grid = "g-east"
address = "上城区天城路 红街公寓1幢"

[[site]]
id = "ktv-1"
name = "欢唱KTV"
kind = "shop"
category = "ktv"
zone = "2"
grid = "g-west"
address = "上城区新塘路70号"
merchant = { name = "欢唱娱乐", notify = ["wecom-ktv"], contacts = [
  { name = "韩磊", phone = "13900000112", channels = { sms = "13900000112", wecom-ktv = "13900000112" } },
] }

[[sensor]]
id = "n-ktv"
kind = "noise"
site = "ktv-1"

[[site]]
id = "probe"
name = "探针楼"
kind = "residential"
zone = "2"
grid = "g0"

[[sensor]]
id = "n-probe"
kind = "noise"
site = "probe"
"""


@dataclass
class Linli:
    """`linli serve` and the stand-ins it tells; every other client is made by the test."""

    serve: Serve
    ding_east: DingTalkStandIn
    ding_west: DingTalkStandIn
    wecom: WeComStandIn
    sms: AliyunSmsStandIn

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.serve.port}"

    def api(self, token: str = TOKEN) -> httpx.Client:
        """A client of the API and Open311 with `token` as its bearer."""
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def browser(self) -> httpx.Client:
        """A client with a cookie jar and no token: the board, as a browser uses it."""
        return httpx.Client(base_url=self.base, timeout=30)

    def issue(self, **body: Any) -> dict[str, Any]:
        """POST /api/v1/tokens as admin: the new token's id and secret."""
        with self.api() as admin:
            answer = admin.post("/api/v1/tokens", json=body)
        assert answer.status_code == 201, answer.text
        doc: dict[str, Any] = answer.json()
        return doc

    def case(self, case_id: int) -> dict[str, Any]:
        """The case as admin reads it."""
        with self.api() as admin:
            answer = admin.get(f"/api/v1/cases/{case_id}")
        assert answer.status_code == 200, answer.text
        doc: dict[str, Any] = answer.json()
        return doc

    def quiet(self) -> bool:
        """No delivery waits to be sent (or is being sent)."""
        with self.api() as admin:
            for state in ("pending", "sending"):
                answer = admin.get("/api/v1/deliveries", params={"state": state})
                assert answer.status_code == 200, answer.text
                if answer.json():
                    return False
        return True

    def told(self) -> dict[str, int]:
        """How many messages each stand-in took so far."""
        return {
            "ding-east": len(self.ding_east.accepted()),
            "ding-west": len(self.ding_west.accepted()),
            "wecom-ktv": len(self.wecom.accepted()),
            "sms": len(self.sms.accepted()),
        }


@pytest.fixture
def influx(influx_url: str, influx_db: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influx_url, influx_db)
    client.ensure_database("400d")
    yield client
    client.close()


@pytest.fixture
def pub(mqtt_url: str, topic_prefix: str) -> Iterator[Publisher]:
    publisher = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    yield publisher
    publisher.close()


@pytest.fixture
def linli(
    tmp_path: Path,
    mqtt_url: str,
    influx_url: str,
    influx_db: str,
    topic_prefix: str,
    influx: InfluxClient,
    pub: Publisher,
) -> Iterator[Linli]:
    """`linli serve --config` on the community above, ingesting, its channels stand-ins."""
    with (
        DingTalkStandIn(token="east", secret="SECeast") as ding_east,
        DingTalkStandIn(token="west", secret="SECwest") as ding_west,
        WeComStandIn(key="ktv") as wecom,
        AliyunSmsStandIn(
            access_key_id="LTAI-e2e",
            access_key_secret="sk-e2e",
            sign_name="红街社区",
            per_number_per_min=100,
        ) as sms,
    ):
        config = tmp_path / "community.toml"
        config.write_text(COMMUNITY, encoding="utf-8")
        env = {
            "E2E_DING_EAST_URL": ding_east.url,
            "E2E_DING_EAST_SECRET": "SECeast",
            "E2E_DING_WEST_URL": ding_west.url,
            "E2E_DING_WEST_SECRET": "SECwest",
            "E2E_WECOM_URL": wecom.url,
            "E2E_SMS_URL": sms.url,
            "E2E_SMS_AK": "LTAI-e2e",
            "E2E_SMS_SK": "sk-e2e",
            "LINLI_NOTIFY_GROUP_WAIT_S": "0",
        }
        serve = Serve(
            tmp_path,
            config,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_db=influx_db,
            topic_prefix=topic_prefix,
            env=env,
        )
        try:
            serve.start()
            serve.ingesting(pub, "n-probe", influx)
            yield Linli(serve, ding_east, ding_west, wecom, sms)
        finally:
            serve.close()


# -- reading pages as a browser does -------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page: each one's id and the values of its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("id", ""), {}))
        elif tag == "input" and a.get("type") == "hidden" and self.forms and "name" in a:
            self.forms[-1][1][a["name"]] = a.get("value", "")


def hidden_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden inputs of the form `form_id`, as a browser would send them."""
    parser = _Forms()
    parser.feed(page)
    for found, fields in parser.forms:
        if found == form_id:
            return fields
    raise AssertionError(f"no form {form_id!r} in {page[:600]}")


def sign_in(browser: httpx.Client, token: str) -> None:
    """Open the sign-in page, then send its form with the token (and whatever proof the
    form carries, with the cookie the page set)."""
    page = browser.get("/board/login")
    assert page.status_code == 200, page.text
    data = {**hidden_fields(page.text, "login"), "token": token, "next": "/board/overview"}
    answer = browser.post("/board/login", data=data, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/board/overview"


def on_board(browser: httpx.Client, path: str = "/board/overview") -> httpx.Response:
    """A board page as the browser's session reads it (no redirect followed)."""
    return browser.get(path, follow_redirects=False)


def refused(answer: httpx.Response) -> bool:
    """The board's answer to a browser with no valid session: the sign-in page (or 401)."""
    if answer.status_code == 401:
        return True
    return answer.status_code == 303 and answer.headers["location"].startswith("/board/login")


def readable(answer: httpx.Response) -> str:
    """A response as its reader reads it: JSON with its characters, not `\\u` escapes."""
    if "json" in answer.headers.get("content-type", ""):
        return json.dumps(answer.json(), ensure_ascii=False)
    return answer.text


def sent(call: Call) -> str:
    """What a stand-in was sent and understood: the text shown, and the request's body."""
    return call.reply.text + "\n" + unquote_plus(call.request.body.decode(errors="replace"))


def texts(stand_in: HttpStandIn) -> list[str]:
    return [sent(c) for c in stand_in.accepted()]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).isoformat()


# -- 1. an order id of another grid ------------------------------------------------------------


def texted_b(linli: Linli) -> list[str]:
    """The SMS sent to grid B's people: its worker and the KTV's manager."""
    return [sent(c) for c in linli.sms.accepted() if {WEST_WORKER, KTV_OWNER} & {*c.reply.mentions}]


def test_a_grid_worker_sending_another_grids_order_id_files_its_own_and_never_touches_theirs(
    linli: Linli,
) -> None:
    east = linli.issue(role="grid_worker", grids=["g-east"], note="王丽")
    west = linli.issue(role="grid_worker", grids=["g-west"], note="赵强")
    with linli.api(west["token"]) as west_api, linli.api(east["token"]) as east_api:
        # grid B's worker files the hotline's order at the KTV and resolves its case with a
        # note only grid B's readers may see
        filed = west_api.post(
            "/api/v1/complaints",
            json={"site": "ktv-1", "kind": "noise", "source": "12345", "external_id": ORDER,
                  "text": "欢唱KTV每晚唱到一点"},
        )  # fmt: skip
        assert filed.status_code == 201, filed.text
        theirs = filed.json()
        west_case = theirs["case_id"]
        assert west_case is not None
        done = west_api.post(
            f"/api/v1/cases/{west_case}/actions", json={"action": "resolve", "note": WEST_NOTE}
        )
        assert done.status_code == 200, done.text
        wait_for(linli.quiet)
        before = linli.case(west_case)
        assert (before["state"], before["complaints"]) == ("resolved", 1)
        told_before, texted_before = linli.told(), texted_b(linli)
        # grid B's chat heard its case opened and resolved (in one message when both were
        # due at once: a loaded machine's worker sends a channel's due deliveries together)
        assert told_before["ding-west"] >= 1
        with linli.api() as admin:
            owed = admin.get(f"/api/v1/cases/{west_case}/deliveries").json()
        assert {(d["event"], d["state"]) for d in owed if d["channel"] == "ding-west"} == {
            ("case.opened", "delivered"),
            ("case.resolved", "delivered"),
        }

        # grid A's worker sends the same order id, at a building of its own grid (API)
        sent_api = east_api.post(
            "/api/v1/complaints",
            json={"site": "hj-b1", "kind": "noise", "source": "12345", "external_id": ORDER,
                  "text": "楼上很吵"},
        )  # fmt: skip
        assert sent_api.status_code == 201, sent_api.text
        mine = sent_api.json()
        assert mine["id"] != theirs["id"] and mine["merged_into"] is None, mine
        assert mine["site"] == "hj-b1" and mine["case_id"] not in (None, west_case), mine
        assert WEST_NOTE not in readable(sent_api)

        # and through the board's complaint form, signed in with its token
        with linli.browser() as board:
            sign_in(board, east["token"])
            page = board.get("/board/complaints/new")
            assert page.status_code == 200, page.text
            form = {**hidden_fields(page.text, "complaint-form"), "site": "hj-b1",
                    "address": "", "kind": "noise", "source": "12345", "from": "", "to": "",
                    "text": "楼上又在吵", "external_id": ORDER, "contact_name": "",
                    "contact_phone": ""}  # fmt: skip
            posted = board.post("/board/complaints/new", data=form, follow_redirects=False)
            assert posted.status_code == 303, posted.text[:600]
            shown = board.get(posted.headers["location"])
            assert shown.status_code == 200, shown.text[:600]
            assert WEST_NOTE not in shown.text
            # grid B's case and complaint do not exist for grid A, on the board either
            assert on_board(board, f"/board/cases/{west_case}").status_code == 404
            assert on_board(board, f"/board/complaints/{theirs['id']}").status_code == 404

        # what grid A has is its own: no complaint of grid B's case, no word of its note
        listed = east_api.get("/api/v1/complaints")
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert len(items) >= 1 and mine["id"] in [c["id"] for c in items]
        assert [c for c in items if c["case_id"] == west_case or c["id"] == theirs["id"]] == []
        assert WEST_NOTE not in readable(listed)
        for path in (f"/api/v1/cases/{west_case}", f"/api/v1/complaints/{theirs['id']}"):
            answer = east_api.get(path)
            assert answer.status_code == 404, (path, answer.text)
            assert WEST_NOTE not in answer.text

        # grid B's case is as it was: one complaint, its priority, resolved
        after = linli.case(west_case)
        assert (after["state"], after["complaints"], after["priority"]) == (
            "resolved", 1, before["priority"],
        )  # fmt: skip

        # grid A resolves its own case; its follow-up call finds the resident not satisfied
        done = east_api.post(
            f"/api/v1/cases/{mine['case_id']}/actions",
            json={"action": "resolve", "note": "已劝导"},
        )
        assert done.status_code == 200, done.text
        rated = east_api.post(
            f"/api/v1/complaints/{mine['id']}/followup",
            json={"satisfied": False, "note": "还是吵"},
        )
        assert rated.status_code == 200, rated.text
        assert WEST_NOTE not in readable(rated)
        # grid B's complaint cannot be rated by grid A
        other = east_api.post(
            f"/api/v1/complaints/{theirs['id']}/followup",
            json={"satisfied": False, "note": "还是吵"},
        )
        assert other.status_code == 404, other.text

    # grid A's case is reopened and its grid's chat told so; grid B's case is not
    assert linli.case(mine["case_id"])["state"] == "reopened"
    wait_for(lambda: any("重新打开" in t for t in texts(linli.ding_east)))
    wait_for(linli.quiet)
    after = linli.case(west_case)
    assert (after["state"], after["complaints"], after["priority"]) == (
        "resolved", 1, before["priority"],
    )  # fmt: skip
    assert [e for e in after["timeline"] if e["action"] == "reopen"] == []
    # nobody of grid B (its chat, the KTV's chat, their SMS) heard anything more
    told = linli.told()
    assert {k: told[k] for k in ("ding-west", "wecom-ktv")} == {
        k: told_before[k] for k in ("ding-west", "wecom-ktv")
    }
    assert texted_b(linli) == texted_before
    assert not [t for t in texts(linli.ding_east) if WEST_NOTE in t]


# -- 2. a resident's words never reach the merchant ------------------------------------------


def loud(start_ms: int, n: int) -> dict[str, Any]:
    """The KTV's one-minute readings, well over GB 22337-2008's limits for zone 2, day or
    night (varying, or the sensor would be stuck)."""
    return {
        "batch": [
            {
                "ts": start_ms + (i + 1) * MIN,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {"laeq": 70.0 + i % 3 * 0.1, "l90": 60.0 + i % 2 * 0.1},
            }
            for i in range(n)
        ]
    }


def test_a_residents_words_and_phone_reach_the_grids_chat_never_the_merchant(
    linli: Linli, pub: Publisher, topic_prefix: str
) -> None:
    merchant = linli.issue(role="merchant", site="ktv-1", note="韩磊")
    west = linli.issue(role="grid_worker", grids=["g-west"], note="赵强")
    # the KTV is loud for the last 12 minutes: its case opens at the merchant, nobody
    # acknowledges, it climbs to the grid; the office resolves it
    start = now_ms() - 13 * MIN
    pub.send(f"{topic_prefix}/n-ktv/telemetry", loud(start, 12))

    def the_case() -> dict[str, Any] | None:
        with linli.api() as admin:
            answer = admin.get("/api/v1/cases", params={"site": "ktv-1", "limit": 100})
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        items = doc["items"] if isinstance(doc, dict) else doc
        return next((c for c in items if c["rule"] == "noise_leq"), None)

    case_id = wait_for(the_case)["id"]
    wait_for(lambda: linli.case(case_id)["level"] != "merchant")
    with linli.api() as admin:
        done = admin.post(
            f"/api/v1/cases/{case_id}/actions", json={"action": "resolve", "note": "已调低音量"}
        )
        assert done.status_code == 200, done.text
    wait_for(lambda: len(linli.wecom.accepted()) >= 2 and linli.quiet())
    assert any(KTV_OWNER in c.reply.mentions for c in linli.sms.accepted())

    # the resident calls 12345; the grid worker files it, the KTV's sensor bears it out
    with linli.api(west["token"]) as west_api:
        filed = west_api.post(
            "/api/v1/complaints",
            json={
                "site": "ktv-1",
                "kind": "noise",
                "source": "12345",
                "from": iso(start),
                "to": iso(start + 12 * MIN),
                "text": TEXT,
                "external_id": "12345-20261207-0042",
                "contact": {"name": "李秀英", "phone": PHONE},
            },
        )
        assert filed.status_code == 201, filed.text
        complaint = filed.json()
        assert (complaint["verdict"], complaint["case_id"]) == ("corroborated", case_id)
        # the grid worker reads the resident: what the merchant must not is really there
        seen = readable(west_api.get(f"/api/v1/complaints/{complaint['id']}"))
        assert TEXT in seen and PHONE in seen
    assert linli.case(case_id)["state"] == "reopened"

    def reopened(stand_in: HttpStandIn) -> list[str]:
        return [t for t in texts(stand_in) if "重新打开" in t]

    wait_for(lambda: reopened(linli.wecom) and reopened(linli.ding_west) and linli.quiet())
    # the grid's chat is the authority's: the resident's words are there to act on
    assert any(TEXT in t for t in reopened(linli.ding_west)), reopened(linli.ding_west)
    # the merchant's chat and every SMS (the KTV's manager's among them) carry neither
    shop = texts(linli.wecom)
    assert [t for t in shop if TEXT in t or PHONE in t] == []
    to_owner = [sent(c) for c in linli.sms.accepted() if KTV_OWNER in c.reply.mentions]
    assert len(to_owner) >= 3  # opened, resolved, reopened
    assert [t for t in texts(linli.sms) if TEXT in t or PHONE in t] == []

    # the merchant, over HTTP: the case's timeline, the complaints, Open311 with its key
    with linli.api(merchant["token"]) as shop_api:
        for path, params in (
            (f"/api/v1/cases/{case_id}", {}),
            ("/api/v1/complaints", {}),
            (f"/api/v1/complaints/{complaint['id']}", {}),
            ("/open311/v2/requests.json", {"api_key": merchant["token"]}),
            (f"/open311/v2/requests/{complaint['id']}.json", {"api_key": merchant["token"]}),
        ):
            answer = shop_api.get(path, params=params)
            assert answer.status_code == 200, (path, answer.text)
            body = readable(answer)
            assert str(complaint["id"]) in body or str(case_id) in body, (path, body)
            assert TEXT not in body and PHONE not in body, (path, body)
    # and on the board, signed in with its token
    with linli.browser() as board:
        sign_in(board, merchant["token"])
        for path in (f"/board/cases/{case_id}", f"/board/complaints/{complaint['id']}"):
            page = on_board(board, path)
            assert page.status_code == 200, (path, page.text[:600])
            assert TEXT not in page.text and PHONE not in page.text, (path, page.text)


# -- 3. a revoked token's board session -------------------------------------------------------


def test_revoking_a_token_ends_its_board_session_for_good(linli: Linli) -> None:
    first = linli.issue(role="staff", note="社区办 徐主任")
    newest = linli.issue(role="staff", note="离职的工作人员")
    with linli.browser() as board, linli.api() as admin:
        sign_in(board, newest["token"])
        assert on_board(board).status_code == 200
        assert admin.delete(f"/api/v1/tokens/{newest['id']}").status_code == 204
        assert refused(on_board(board))
        # another token is issued (SQLite gave it the revoked one's id): the session stays
        # ended, on every page, and the way back is the sign-in form
        third = linli.issue(role="grid_worker", grids=["g-east"], note="王丽")
        for path in ("/board/overview", "/board/cases", "/board/complaints/new"):
            assert refused(on_board(board, path)), path
        page = board.get("/board/overview", follow_redirects=True)  # as a browser does
        assert page.status_code == 200 and 'name="token"' in page.text, page.text[:600]
        with linli.api(newest["token"]) as stolen:
            assert stolen.get("/api/v1/cases").status_code == 401
        assert refused(on_board(board))
    # the tokens not revoked sign in as before
    for token in (first["token"], third["token"]):
        with linli.browser() as other:
            sign_in(other, token)
            assert on_board(other).status_code == 200
