"""A site's month on the board (CONTRACT §10) in a real headless Chromium: staff go from
the overview to the probe building's report, see the API's figures in the table and the
charts, save a screenshot and print it to A4 PDF; a merchant cannot open another site's
report, not even by its URL."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from linli.rules.month import month_of
from tests.browser.harness import Board, eventually, one
from tests.helpers import wait_for

MIN = 60_000


def sign_in(browser: WebDriver, board: Board, token: str) -> None:
    browser.get(f"{board.base}/board")
    eventually(lambda: "/board/login" in browser.current_url)
    one(browser, "input[name='token']").send_keys(token)
    one(browser, "form button[type='submit']").click()
    eventually(lambda: "/board/login" not in browser.current_url)


def test_staff_open_a_sites_month_from_the_overview_and_print_it(
    board: Board, browser: WebDriver, tmp_path: Path, shots: Path | None
) -> None:
    now = time.time_ns() // 1_000_000
    month = month_of(now - 3_600_000, "Asia/Shanghai")  # the probe's reading: an hour ago
    report = wait_for(
        lambda: (
            (r := board.serve.get("/reports/sites/probe", month=str(month)))
            and any(d["ld"] is not None or d["ln"] is not None for d in r["days"])
            and r
        ),
        every_s=0.2,
    )
    day = next(d for d in report["days"] if d["ld"] is not None or d["ln"] is not None)
    sign_in(browser, board, board.token("staff"))
    browser.get(f"{board.base}/board/overview")
    links = browser.find_elements(By.CSS_SELECTOR, "li.site[data-site='probe'] a.report-link")
    assert [a.text for a in links] == ["本月月报", "上月月报"]
    links[0].click()
    eventually(lambda: "/board/reports/sites/probe" in browser.current_url)
    assert one(browser, "#report").get_attribute("data-month") == str(month)
    assert one(browser, "#report-title").text.endswith(f"{month.year}年{month.month}月月报")
    rows = browser.find_elements(By.CSS_SELECTOR, "#report-days tr.day")
    assert len(rows) == len(report["days"])
    row = one(browser, f"#report-days tr.day[data-date='{day['date']}']")
    shown = one(row, "td.ld" if day["ld"] is not None else "td.ln").text
    assert shown == f"{day['ld'] if day['ld'] is not None else day['ln']:.1f}"  # the API's
    for chart in ("svg#report-chart-ld", "svg#report-chart-ln"):
        assert one(browser, chart).size["width"] >= 300
    rules = one(browser, "#report-rules").text
    assert "GB 3096-2008 表1 2类 昼间 60 dB(A)" in rules and "能量平均" in rules
    assert str(one(browser, "#report-csv").get_attribute("href")).endswith(f"{month}&format=csv")
    png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    (tmp_path / "report.png").write_bytes(png)
    if shots is not None:
        (shots / "report.png").write_bytes(png)
    pdf = base64.b64decode(
        browser.execute_cdp_cmd(
            "Page.printToPDF",
            {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True},  # A4, inches
        )["data"]
    )
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    (tmp_path / "report.pdf").write_bytes(pdf)
    if os.environ.get("LINLI_SCREENSHOTS") == "1" and shots is not None:
        (shots / "report.pdf").write_bytes(pdf)


def test_a_merchant_reads_its_own_sites_report_and_no_other(
    board: Board, browser: WebDriver
) -> None:
    sign_in(browser, board, board.token("merchant", site="rest-10"))
    month = month_of(time.time_ns() // 1_000_000, "Asia/Shanghai")
    browser.get(f"{board.base}/board/reports/sites/rest-10?month={month}")
    assert one(browser, "#report").get_attribute("data-site") == "rest-10"
    browser.get(f"{board.base}/board/reports/sites/probe?month={month}")
    assert "找不到这个点位" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, "#report") == []
