"""The community office files a walk-in complaint through the board's form, in a real
headless Chromium on a 390×844 phone screen, against `linli serve`."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.browser.harness import PHONE, Board, eventually, one, tap


def test_a_walk_in_complaint_is_filed_through_the_form_on_a_phone(
    board: Board, browser: WebDriver
) -> None:
    token = board.token("staff")
    browser.get(f"{board.base}/board/login")
    one(browser, "input[name='token']").send_keys(token)
    tap(browser, one(browser, "form#login button[type='submit']"))
    eventually(lambda: browser.current_url == f"{board.base}/board/overview")
    # the navigation leads to the form
    one(browser, "#nav-complaint").click()
    eventually(lambda: browser.current_url == f"{board.base}/board/complaints/new")
    form = one(browser, "form#complaint-form")
    # the form fits the phone: nothing wider than its screen
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    Select(one(form, "select[name='site']")).select_by_value("probe")
    one(form, "input[name='kind'][value='noise']").click()
    Select(one(form, "select[name='source']")).select_by_value("walk_in")
    one(form, "textarea[name='text']").send_keys("楼上每晚十点后有很响的敲击声")
    one(form, "input[name='contact_name']").send_keys("张阿姨")
    one(form, "input[name='contact_phone']").send_keys("13800001234")
    button = one(form, "button[type='submit']")
    tap(browser, button)
    eventually(lambda: re.search(r"/board/complaints/\d+\?ok=filed$", browser.current_url))
    assert one(browser, "#flash").get_attribute("class") == "ok"
    reference = one(browser, "#complaint-ref").text
    assert re.fullmatch(r"TS-\d{8}-\d{5}", reference)
    verdict = one(browser, "#verdict").get_attribute("data-verdict")
    assert verdict in ("corroborated", "not_corroborated", "data_gap")  # the probe has a sensor
    # the API has it, as the form filed it, with the same verdict
    found = board.api.get("/complaints", params={"site": "probe"}).json()["items"]
    (filed,) = [c for c in found if c["reference"] == reference]
    assert (filed["source"], filed["kind"], filed["verdict"]) == ("walk_in", "noise", verdict)
    assert filed["contact"] == {"name": "张阿姨", "phone": "13800001234"}
    # its case: the complaint listed there with its reference and verdict
    one(browser, "#case-link").click()
    eventually(lambda: browser.current_url == f"{board.base}/board/cases/{filed['case_id']}")
    (item,) = browser.find_elements(By.CSS_SELECTOR, "#complaints li.complaint")
    assert reference in item.text and "楼上每晚十点后" in item.text
    assert item.get_attribute("data-verdict") == verdict
    assert one(browser, "#case-complaints").get_attribute("data-count") == "1"
    deadlines = browser.find_elements(By.CSS_SELECTOR, "#case-state ~ .deadline")
    assert {d.get_attribute("data-deadline") for d in deadlines} == {"sign", "handle"}
    assert all("还剩" in d.text for d in deadlines)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
