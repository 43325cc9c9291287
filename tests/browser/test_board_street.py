"""The street's board in a real headless Chromium on a 390×844 phone screen (CONTRACT §9),
against `linli serve --config DIR` with two community files on the session's mosquitto
and influxd: the street's staff land on the communities side by side and go on to one
community's overview; a community's staff land on their own community and cannot reach
another community's case, not even by its URL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from linli.influx.client import InfluxClient
from linli.localservers import LocalServer
from linli.standins import DingTalkStandIn, FeishuStandIn
from tests.browser.harness import PHONE, eventually, one
from tests.helpers import Publisher, wait_for
from tests.notify.serve import Serve
from tests.notify.test_street_e2e import community_file, loud, street_table


class StreetBoard:
    """`linli serve` of two communities, a loud building in each with its case open."""

    def __init__(self, serve: Serve, cases: dict[str, dict[str, Any]]) -> None:
        self.serve = serve
        self.cases = cases
        self.base = f"http://127.0.0.1:{serve.port}"

    def token(self, **body: Any) -> str:
        answer = self.serve.http.post("/tokens", json={**body, "note": "street browser test"})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])


@pytest.fixture(scope="module")
def street_board(
    broker: LocalServer, influx_server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StreetBoard]:
    tmp = tmp_path_factory.mktemp("street-board")
    tag = uuid.uuid4().hex[:6]
    influx_url = f"http://127.0.0.1:{influx_server.port}"
    mqtt_url = f"mqtt://127.0.0.1:{broker.port}"
    db_name, prefix = f"street_{tag}", f"street-{tag}/v1"
    influx = InfluxClient(influx_url, db_name)
    influx.ensure_database("400d")
    secret = "SEC-street-board"
    with (
        DingTalkStandIn(token="tx", secret=secret) as tianxin,
        DingTalkStandIn(token="hj", secret=secret) as hongjie,
        FeishuStandIn(token="street", secret=secret) as street,
    ):
        files = tmp / "street"
        files.mkdir()
        (files / "hongjie.toml").write_text(
            community_file("hongjie", "红街社区", "g-hj", "hj-1", hongjie.url, ""), "utf-8"
        )
        (files / "tianxin.toml").write_text(
            community_file(
                "tianxin", "天新社区", "g-tx", "tx-1", tianxin.url, street_table(street.url)
            ),
            "utf-8",
        )
        serve = Serve(
            tmp,
            files,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_db=db_name,
            topic_prefix=prefix,
            env={"E2E_OFFICE_SECRET": secret, "E2E_STREET_SECRET": secret},
        )
        pub = Publisher(mqtt_url, f"pub-{tag}")
        try:
            serve.start()
            serve.ingesting(pub, "n-tx-1", influx)
            now = time.time_ns() // 1_000_000
            for site in ("tx-1", "hj-1"):
                pub.send(f"{prefix}/n-{site}/telemetry", loud(now))

            def both() -> dict[str, dict[str, Any]] | None:
                found = {c["site"]: c for c in serve.cases() if c["rule"] == "noise_leq"}
                return found if set(found) == {"tx-1", "hj-1"} else None

            yield StreetBoard(serve, wait_for(both))
        finally:
            pub.close()
            serve.close()
            influx.close()
            httpx.post(f"{influx_url}/query", data={"q": f'DROP DATABASE "{db_name}"'}, timeout=10)


def sign_in(browser: WebDriver, board: StreetBoard, token: str) -> None:
    browser.get(f"{board.base}/board")
    eventually(lambda: "/board/login" in browser.current_url)
    one(browser, "input[name='token']").send_keys(token)
    one(browser, "form button[type='submit']").click()
    eventually(lambda: "/board/login" not in browser.current_url)


def fits_the_phone(browser: WebDriver) -> bool:
    width = browser.execute_script("return document.documentElement.scrollWidth")
    return int(width) <= PHONE["width"]


def test_the_streets_staff_see_the_communities_side_by_side_and_open_one(
    street_board: StreetBoard, browser: WebDriver
) -> None:
    sign_in(browser, street_board, street_board.token(role="staff"))
    assert browser.current_url == f"{street_board.base}/board/street"
    assert one(browser, "h1").text == "街道概览"
    rows = browser.find_elements(By.CSS_SELECTOR, "ul.communities li.community")
    assert [r.get_attribute("data-community") for r in rows] == ["hongjie", "tianxin"]
    for row in rows:
        count = one(row, "[data-count='open_cases']")
        assert count.text == "工单 1" and count.is_displayed()
    assert fits_the_phone(browser)
    # the tap target of a community, then its overview: its building only
    link = one(browser, "li.community[data-community='tianxin'] a")
    assert link.size["height"] >= 44
    link.click()
    eventually(lambda: browser.current_url.endswith("/board/overview?community=tianxin"))
    sites = browser.find_elements(By.CSS_SELECTOR, "li.site")
    assert [s.get_attribute("data-site") for s in sites] == ["tx-1"]
    assert sites[0].get_attribute("data-status") == "open_case"
    assert "红街" not in one(browser, "main").text
    one(browser, "#to-street").click()
    eventually(lambda: browser.current_url == f"{street_board.base}/board/street")


def test_a_communitys_staff_land_on_their_community_and_cannot_reach_anothers_case(
    street_board: StreetBoard, browser: WebDriver
) -> None:
    token = street_board.token(role="staff", communities=["tianxin"])
    sign_in(browser, street_board, token)
    assert browser.current_url == f"{street_board.base}/board/overview"
    assert "天新社区" in one(browser, "h1").text
    sites = browser.find_elements(By.CSS_SELECTOR, "li.site")
    assert [s.get_attribute("data-site") for s in sites] == ["tx-1"]
    assert fits_the_phone(browser)
    # the other community's case, by its URL: as if it did not exist
    other = street_board.cases["hj-1"]["id"]
    browser.get(f"{street_board.base}/board/cases/{other}")
    page = one(browser, "main").text
    assert "找不到这个工单" in page and "红街" not in page
    own = street_board.cases["tx-1"]["id"]
    browser.get(f"{street_board.base}/board/cases/{own}")
    assert "天新社区1幢" in one(browser, "main").text
    # the street's page and the other community's overview are not theirs
    browser.get(f"{street_board.base}/board/street")
    eventually(lambda: browser.current_url == f"{street_board.base}/board/overview")
    browser.get(f"{street_board.base}/board/overview?community=hongjie")
    assert "找不到这个社区" in one(browser, "main").text
    assert not browser.find_elements(By.CSS_SELECTOR, "li.site")
