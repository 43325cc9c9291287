"""What the case board must show, in a real headless Chromium on a 390×844 phone screen,
against `linli serve` on the session's mosquitto and influxd.

Every case here is opened by a kitchen's fume breach published over MQTT; its merchant's
link is the one the DingTalk robot stand-in received. What is asserted is what the page
shows (the ids and classes docs/board.md names) and what the API says afterwards.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from linli.rules.links import Claims, sign
from tests.browser.harness import BOARD_SECRET, PHONE, Board, absent, eventually, one, png, tap

SESSION_COOKIE = "linli_session"


def state_of(browser: WebDriver) -> str:
    return one(browser, "#case-state").get_attribute("data-state") or ""


def entries(browser: WebDriver, action: str) -> list[str]:
    """The texts of the timeline's entries of `action`."""
    found = browser.find_elements(By.CSS_SELECTOR, f"#timeline li.entry[data-action='{action}']")
    return [e.text for e in found]


def submit(browser: WebDriver, action: str, note: str = "", photo: Path | None = None) -> None:
    """Fill in and send the page's form of `action`; wait for the page it answers with."""
    form = one(browser, f"form.action[data-action='{action}']")
    if note:
        one(form, "textarea[name='note']").send_keys(note)
    if photo is not None:
        one(form, "input[type='file'][name='photos']").send_keys(str(photo))
    button = one(form, "button[type='submit']")
    tap(browser, button)
    eventually(lambda: replaced(button))


def replaced(element: WebElement) -> bool:
    """The page holding `element` has been replaced by another (a form's answer)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as err:  # asked while the new page replaced it, ChromeDriver
        if "does not belong to the document" in str(err):  # answers this instead
            return True
        raise
    return False


def with_cookie(board: Board, browser: WebDriver) -> httpx.Client:
    """An HTTP client holding the browser's session cookie (to read status codes)."""
    cookie = browser.get_cookie(SESSION_COOKIE)
    assert cookie is not None, "not signed in"
    return httpx.Client(
        base_url=board.base,
        cookies={SESSION_COOKIE: cookie["value"]},
        follow_redirects=False,
        timeout=10,
    )


def test_a_merchant_opens_the_message_link_on_a_phone_sees_the_case_and_its_chart_and_acknowledges(
    board: Board, browser: WebDriver
) -> None:
    case, link = board.new_case()
    case_id = case["id"]
    browser.get(link)
    # the token left the URL: the link signed the merchant in and redirected
    assert browser.current_url == f"{board.base}/board/cases/{case_id}"
    cookie = browser.get_cookie(SESSION_COOKIE)
    assert cookie is not None and cookie["httpOnly"] is True and cookie.get("sameSite") == "Lax"
    assert browser.execute_script("return [innerWidth, innerHeight]") == [
        PHONE["width"],
        PHONE["height"],
    ]
    # mobile-first: nothing wider than the phone
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    title = one(browser, "h1#case-title").text
    assert case["site_name"] in title, title
    assert state_of(browser) == "open"
    summary = one(browser, "#case-summary").text
    for expected in ("2.6", "限值 2 mg/m³", "GB 18483-2001"):
        assert expected in summary, (expected, summary)
    # the chart: the readings, the limit, the shaded window, the fan's lane, drawn on screen
    chart = one(browser, "svg#case-chart")
    assert chart.get_attribute("role") == "img"
    assert 300 <= chart.size["width"] <= PHONE["width"] and chart.size["height"] > 100
    series = one(chart, "path.series").get_attribute("d") or ""
    assert series.count("L") >= 10  # the 14 readings published
    assert one(chart, "path.limit").get_attribute("d")
    window = one(chart, "rect.breach-window")
    assert float(window.get_attribute("width") or 0) > 10
    fan = one(chart, "g.lane[data-lane='风机']")
    assert fan.find_elements(By.CSS_SELECTOR, "rect.on")
    # acknowledge, one tap plus a note
    submit(browser, "acknowledge", "马上处理")
    assert browser.current_url.split("?")[0] == f"{board.base}/board/cases/{case_id}"
    assert state_of(browser) == "acknowledged"
    assert one(browser, "#flash").get_attribute("class") == "ok"
    assert any("马上处理" in text for text in entries(browser, "acknowledge"))
    assert absent(browser, "form.action[data-action='acknowledge']")  # not offered twice
    detail = board.case(case_id)
    assert detail["state"] == "acknowledged"
    (acked,) = [e for e in detail["timeline"] if e["action"] == "acknowledge"]
    assert acked["note"] == "马上处理"
    # the timeline shows every delivery too: the message that carried the link
    assert entries(browser, "tell")


def test_a_grid_worker_signs_in_finds_the_case_and_resolves_it_with_a_note_and_a_photo(
    board: Board, browser: WebDriver, tmp_path: Path
) -> None:
    case, _ = board.new_case()
    case_id, site = case["id"], case["site"]
    token = board.token("grid_worker", grids=["g1"])
    browser.get(f"{board.base}/board")
    assert browser.current_url.startswith(f"{board.base}/board/login")
    one(browser, "input[name='token']").send_keys(token)
    one(browser, "form button[type='submit']").click()
    eventually(lambda: browser.current_url == f"{board.base}/board/overview")
    # the overview: the shop under its grid, with its open case
    shop = one(browser, f"section.grid[data-grid='g1'] li.site[data-site='{site}']")
    assert shop.get_attribute("data-status") == "open_case"
    # my cases: open cases first; this one among them, then its page
    browser.get(f"{board.base}/board/cases?state=open")
    listed = browser.find_elements(By.CSS_SELECTOR, "ul#cases li.case")
    assert str(case_id) in [li.get_attribute("data-id") for li in listed]
    assert {li.get_attribute("data-state") for li in listed} == {"open"}
    one(browser, f"ul#cases li.case[data-id='{case_id}'] a").click()
    eventually(lambda: browser.current_url.split("?")[0] == f"{board.base}/board/cases/{case_id}")
    # resolve with a note and a photo of the fix
    photo = tmp_path / "fix.png"
    photo.write_bytes(png(64, 48))
    submit(browser, "resolve", "已清洗油烟管道，净化器滤网已更换", photo)
    assert state_of(browser) == "resolved"
    assert one(browser, "#flash").get_attribute("class") == "ok"
    (resolved,) = browser.find_elements(
        By.CSS_SELECTOR, "#timeline li.entry[data-action='resolve']"
    )
    assert "已清洗油烟管道" in resolved.text
    (img,) = resolved.find_elements(By.CSS_SELECTOR, "img")
    src = img.get_attribute("src") or ""
    assert src.startswith(f"{board.base}/board/photos/")
    # the browser loaded and decoded the photo
    eventually(
        lambda: (
            browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
            == 64
        )
    )
    with with_cookie(board, browser) as http:
        got = http.get(src.removeprefix(board.base))
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    # kept re-encoded (api/board/photos.py): the same pixels, not the same bytes
    with Image.open(io.BytesIO(got.content)) as kept, Image.open(photo) as sent:
        assert kept.size == sent.size == (64, 48)
        assert kept.convert("RGB").tobytes() == sent.convert("RGB").tobytes()
    with httpx.Client(timeout=10) as anonymous:  # a photo is not public
        assert anonymous.get(src, follow_redirects=False).status_code in (303, 401, 404)
    detail = board.case(case_id)
    assert detail["state"] == "resolved"
    (entry,) = [e for e in detail["timeline"] if e["action"] == "resolve"]
    assert entry["note"].startswith("已清洗油烟管道")


def test_a_merchants_link_cannot_open_another_sites_case(board: Board, browser: WebDriver) -> None:
    mine, link = board.new_case()
    other, other_link = board.new_case()
    assert mine["site"] != other["site"]
    browser.get(link)
    assert state_of(browser) in ("open", "acknowledged")
    # signed in as the merchant of `mine`: the other shop's case does not exist for them
    browser.get(f"{board.base}/board/cases/{other['id']}")
    assert one(browser, "h1#error")
    assert absent(browser, "h1#case-title") and absent(browser, "svg#case-chart")
    assert other["site_name"] not in browser.page_source
    with with_cookie(board, browser) as http:
        assert http.get(f"/board/cases/{other['id']}").status_code == 404
        assert http.get(f"/board/cases?site={other['site']}").status_code in (200, 404)
    browser.get(f"{board.base}/board/cases")
    shown = {
        li.get_attribute("data-id")
        for li in browser.find_elements(By.CSS_SELECTOR, "ul#cases li.case")
    }
    assert str(mine["id"]) in shown and str(other["id"]) not in shown
    # nor does the merchant's token open it under the other case's number
    token = link.split("?t=", 1)[1]
    browser.delete_all_cookies()
    browser.get(f"{board.base}/board/cases/{other['id']}?t={token}")
    assert one(browser, "h1#error")
    assert browser.get_cookie(SESSION_COOKIE) is None
    assert other_link != link


def _altered_claims(token: str, **changes: Any) -> str:
    body, mac = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    doc.update(changes)
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


@pytest.fixture(scope="module")
def linked(board: Board) -> tuple[dict[str, Any], str]:
    """One case and its merchant's link, for the refused links' variations."""
    return board.new_case()


def _claims(case: dict[str, Any], exp_s: int) -> Claims:
    return Claims(
        role="merchant", exp_s=exp_s, site=case["site"], case=case["id"], level="merchant"
    )


def _bad_token(how: str, case: dict[str, Any], token: str) -> str:
    now_s = int(time.time())
    if how == "expired":
        return sign(BOARD_SECRET.encode(), _claims(case, now_s - 1))
    if how == "signature":
        return token[:-1] + ("A" if token[-1] != "A" else "B")
    if how == "claims":
        return _altered_claims(token, s="rest-10")
    if how == "key":
        return sign(b"not-the-board-key-0123456789", _claims(case, now_s + 3600))
    assert how == "truncated"
    return token[: len(token) // 2]


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("expired", id="expired a second ago → refused"),
        pytest.param("signature", id="its signature altered → refused"),
        pytest.param("claims", id="its site altered, signature kept → refused"),
        pytest.param("key", id="signed with another key → refused"),
        pytest.param("truncated", id="cut short → refused"),
    ],
)
def test_an_expired_or_altered_link_is_refused(
    board: Board, browser: WebDriver, linked: tuple[dict[str, Any], str], how: str
) -> None:
    case, link = linked
    bad = _bad_token(how, case, link.split("?t=", 1)[1])
    browser.get(f"{board.base}/board/cases/{case['id']}?t={bad}")
    error = one(browser, "h1#error")
    assert error.text
    if how == "expired":
        assert "过期" in browser.find_element(By.TAG_NAME, "body").text
    assert absent(browser, "h1#case-title") and absent(browser, "svg#case-chart")
    assert browser.get_cookie(SESSION_COOKIE) is None  # not signed in
    with httpx.Client(base_url=board.base, timeout=10) as http:
        assert http.get(f"/board/cases/{case['id']}", params={"t": bad}).status_code == 403
    # the real link still opens it
    browser.get(link)
    assert one(browser, "h1#case-title")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param("arguments[0].remove()", id="csrf field removed → refused"),
        pytest.param("arguments[0].value = 'forged'", id="csrf value forged → refused"),
    ],
)
def test_a_form_posted_without_its_csrf_token_is_refused(
    board: Board, browser: WebDriver, tamper: str
) -> None:
    case, link = board.new_case()
    browser.get(link)
    assert state_of(browser) == "open"
    form = one(browser, "form.action[data-action='acknowledge']")
    browser.execute_script(tamper, one(form, "input[name='csrf']"))
    button = one(form, "button[type='submit']")
    button.click()
    eventually(lambda: replaced(button))
    assert one(browser, "h1#error")
    assert board.case(case["id"])["state"] == "open"
    assert [e for e in board.case(case["id"])["timeline"] if e["action"] == "acknowledge"] == []
    # a cross-site post (no cookie for it, no token) changes nothing either
    with httpx.Client(base_url=board.base, timeout=10) as http:
        r = http.post(f"/board/cases/{case['id']}/actions", data={"action": "acknowledge"})
        assert r.status_code in (401, 403)
    assert board.case(case["id"])["state"] == "open"


def test_the_pages_work_with_javascript_off(board: Board, browser_nojs: WebDriver) -> None:
    browser = browser_nojs
    browser.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert browser.title == "off"  # this Chromium runs no script
    case, link = board.new_case()
    browser.get(link)
    assert browser.current_url == f"{board.base}/board/cases/{case['id']}"
    assert state_of(browser) == "open"
    chart = one(browser, "svg#case-chart")  # server-rendered: there without a script
    assert chart.size["width"] >= 300 and one(chart, "path.series").get_attribute("d")
    note = "<b>粗体</b><script>document.title='x'</script> & 已处理"
    submit(browser, "acknowledge", note)
    assert state_of(browser) == "acknowledged"
    (entry,) = browser.find_elements(
        By.CSS_SELECTOR, "#timeline li.entry[data-action='acknowledge']"
    )
    assert "<b>粗体</b>" in entry.text  # shown as typed, never as markup
    assert entry.find_elements(By.CSS_SELECTOR, "b, script") == []
    assert board.case(case["id"])["state"] == "acknowledged"
    # the other pages, with a form post and no script: the list, the overview, sign out
    browser.get(f"{board.base}/board/cases")
    assert (
        one(browser, f"ul#cases li.case[data-id='{case['id']}']").get_attribute("data-state")
        == "acknowledged"
    )
    one(browser, "form#filters")
    browser.get(f"{board.base}/board/overview")
    assert one(browser, f"li.site[data-site='{case['site']}']")
    tap(browser, one(browser, "form[action='/board/logout'] button[type='submit']"))
    eventually(lambda: browser.current_url.startswith(f"{board.base}/board/login"))
    browser.get(f"{board.base}/board/cases/{case['id']}")
    assert browser.current_url.startswith(f"{board.base}/board/login")


def test_a_photo_that_is_no_image_is_refused_with_the_note_kept_and_a_double_submit_applies_once(
    board: Board, browser: WebDriver, tmp_path: Path
) -> None:
    case, link = board.new_case()
    browser.get(link)
    fake = tmp_path / "fix.png"
    fake.write_bytes(b"%PDF-1.4 not an image at all")
    submit(browser, "resolve", "已更换滤网", fake)
    flash = one(browser, "#flash")
    assert flash.get_attribute("class") == "error" and flash.text
    assert state_of(browser) == "open" and board.case(case["id"])["state"] == "open"
    kept = [
        t.get_attribute("value")
        for t in browser.find_elements(By.CSS_SELECTOR, "form.action textarea[name='note']")
    ]
    assert "已更换滤网" in kept  # nothing typed is lost
    # the acknowledge form's fields, posted twice (a double tap, or a resend on a bad line)
    form = one(browser, "form.action[data-action='acknowledge']")
    fields = {
        name: one(form, f"input[name='{name}']").get_attribute("value") or ""
        for name in ("csrf", "nonce")
    }
    with with_cookie(board, browser) as http:
        body = {**fields, "action": "acknowledge", "note": "收到"}
        first = http.post(f"/board/cases/{case['id']}/actions", data=body)
        again = http.post(f"/board/cases/{case['id']}/actions", data=body)
    assert first.status_code == 303 and again.status_code == 303
    browser.get(f"{board.base}{again.headers['location']}")
    assert state_of(browser) == "acknowledged"
    assert one(browser, "#flash").get_attribute("class") == "ok"  # "already done", not an error
    detail = board.case(case["id"])
    assert [e["note"] for e in detail["timeline"] if e["action"] == "acknowledge"] == ["收到"]
