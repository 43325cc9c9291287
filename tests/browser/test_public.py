"""A resident on a phone (CONTRACT §11): scans a shop's QR code (opens its target), reads
its record, reports without an account, receives the code at the SMS stand-in, sees the
sensors' verdict, and later follows the private link and rates the follow-up; the
merchant posts a public reply from the board and it appears. JavaScript off: the pages
need none."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.browser.harness import PHONE, Board, eventually, one, tap

RESIDENT = "13700005678"


def _code(board: Board) -> str:
    def sent() -> str | None:
        for call in board.sms.accepted():
            if RESIDENT in call.reply.mentions:
                found = re.search(r"验证码为(\d{6})", call.reply.text)
                if found:
                    return found.group(1)
        return None

    code: str = eventually(sent)
    return code


def test_a_resident_reports_from_the_qr_page_and_rates_the_follow_up(
    board: Board, browser_nojs: WebDriver
) -> None:
    browser = browser_nojs
    case, merchant_link = board.new_case()
    site = case["site"]
    # the QR code at the door: its target is the site's public page
    qr = board.serve.http.get(f"{board.base}/public/sites/{site}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    browser.get(f"{board.base}/public/sites/{site}")
    assert one(browser, "#site-name").text == case["site_name"]
    days = browser.find_elements(By.CSS_SELECTOR, "#days li")
    assert len(days) == 30
    assert "油烟" in one(browser, "#case").text or "工单" in one(browser, "#case").text
    # report, without an account
    tap(browser, one(browser, "#report"))
    eventually(lambda: browser.current_url.endswith(f"/public/sites/{site}/report"))
    form = one(browser, "form#report-form")
    Select(one(form, "select[name='kind']")).select_by_value("fume")
    one(form, "textarea[name='text']").send_keys("油烟味很重，窗户都不敢开")
    one(form, "input[name='phone']").send_keys(RESIDENT)
    tap(browser, one(form, "#send"))
    eventually(lambda: "/public/reports/" in browser.current_url)
    one(browser, "input[name='code']").send_keys(_code(board))
    tap(browser, one(browser, "#confirm"))
    eventually(lambda: "/public/follow/" in browser.current_url)
    follow = browser.current_url.split("?")[0]
    assert "已收到您的反映" in one(browser, "#flash").text
    verdict = one(browser, "#verdict").text
    assert verdict.startswith("监测结论：") and verdict.endswith("。")
    assert RESIDENT not in browser.page_source and "窗户都不敢开" not in browser.page_source
    # the same intake: the complaint is on the shop's case
    found = board.api.get("/complaints", params={"site": site}).json()["items"]
    (filed,) = [c for c in found if (c["contact"] or {}).get("phone") == RESIDENT]
    assert filed["source"] == "web" and filed["case_id"] == case["id"]
    # the merchant posts a public reply from the board; it appears on the page
    browser.get(merchant_link)
    eventually(lambda: browser.current_url.endswith(f"/board/cases/{case['id']}"))
    tap(browser, one(browser, "#public-reply"))
    eventually(lambda: browser.current_url.endswith(f"/board/sites/{site}/reply"))
    one(browser, "#reply-text").send_keys("已加装隔音门，22:00 后关门营业")
    tap(browser, one(browser, "#reply-save"))
    eventually(lambda: "ok=1" in browser.current_url)
    browser.get(f"{board.base}/public/sites/{site}")
    assert "已加装隔音门，22:00 后关门营业" in one(browser, "#reply").text
    # the case is resolved; later the resident follows the link and rates the follow-up
    for action in ("acknowledge", "resolve"):
        r = board.api.post(
            f"/cases/{case['id']}/actions", json={"action": action, "note": "已整改"}
        )
        assert r.status_code == 200, r.text
    browser.delete_all_cookies()
    browser.get(follow)
    one(browser, "#rate-satisfied").send_keys(" ")
    tap(browser, one(browser, "#rate"))
    eventually(lambda: "rated=1" in browser.current_url)
    assert "评价已记录" in one(browser, "#flash").text
    rated = board.api.get(f"/complaints/{filed['id']}").json()
    assert rated["followup"]["satisfied"] is True
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
