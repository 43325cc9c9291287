"""The board's statistics page (CONTRACT §10) in a real headless Chromium against
`linli serve`: staff reach it from the overview, its totals are the API's, it prints to
an A4 PDF, and a grid worker is refused; a screenshot is saved."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.harness import Board, absent, eventually, one
from tests.browser.test_screenshots import full_page_png


def this_month() -> tuple[str, str, str]:
    """The current local month, and its bounds as RFC 3339."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return f"{now.year:04d}-{now.month:02d}", start.isoformat(), end.isoformat()


def sign_in(board: Board, browser: WebDriver, token: str, target: str) -> None:
    browser.get(f"{board.base}/board/login?next={quote(target, safe='')}")
    one(browser, "input[name='token']").send_keys(token)
    one(browser, "form button[type='submit']").click()


def test_staff_open_the_month_from_the_overview_and_print_it(
    board: Board, browser: WebDriver, shots: Path | None, tmp_path: Path
) -> None:
    board.new_case()
    month, start, end = this_month()
    sign_in(board, browser, board.token("staff"), "/board/overview")
    eventually(lambda: browser.current_url == f"{board.base}/board/overview")
    one(browser, "a#to-stats").click()
    eventually(lambda: "/board/stats" in browser.current_url)
    browser.get(f"{board.base}/board/stats?month={month}")
    assert "治理统计" in one(browser, "h1").text
    table = one(browser, "table#stats-grid")
    total = one(table, "tr.total")
    # the page's totals are the API's: one computation
    api = board.api.get("/stats/cases", params={"from": start, "to": end, "by": "grid"}).json()
    for figure in ("opened", "acknowledged", "closed", "reopened", "complaints"):
        cell = one(total, f"td[data-figure='{figure}']").text
        assert cell == str(api["total"][figure]), figure
    assert int(one(total, "td[data-figure='opened']").text) >= 1
    # the reopen rate sits beside the closure rate
    heads = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert heads.index("重开率") - heads.index("结案率") == 2  # 结案率, 重新打开, 重开率
    one(browser, "table#stats-rule")
    # printable: Chromium's own PDF on A4 landscape
    pdf = browser.execute_cdp_cmd(
        "Page.printToPDF", {"landscape": True, "paperWidth": 8.27, "paperHeight": 11.69}
    )
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF-")
    shot = full_page_png(browser)
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "stats.png").write_bytes(shot)
    if shots is not None:
        (shots / "stats.png").write_bytes(shot)


def test_a_grid_worker_is_not_shown_the_page_nor_its_link(board: Board, browser: WebDriver) -> None:
    sign_in(board, browser, board.token("grid_worker", grids=["g1"]), "/board/overview")
    eventually(lambda: browser.current_url == f"{board.base}/board/overview")
    assert absent(browser, "a#to-stats")
    browser.get(f"{board.base}/board/stats")
    assert "统计页面供社区和街道工作人员查看" in browser.page_source
