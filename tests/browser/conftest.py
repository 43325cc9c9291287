"""Session fixtures of the browser tests: one `linli serve`, a JavaScript and a no-script
Chromium, each test's cookies cleared (every test signs in by its own link or token)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from linli.influx.client import InfluxClient
from linli.localservers import LocalServer
from tests.browser.harness import Board, chrome, profile_dir


@pytest.fixture(scope="session")
def board(
    broker: LocalServer, influx_server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Board]:
    """`linli serve` with the shops of tests/browser/harness.py, on the session's servers."""
    tag = uuid.uuid4().hex[:6]
    influx_url = f"http://127.0.0.1:{influx_server.port}"
    db_name = f"browser_{tag}"
    influx = InfluxClient(influx_url, db_name)
    influx.ensure_database("400d")
    served = Board(
        tmp_path_factory.mktemp("board"),
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        influx_url=influx_url,
        influx_db=db_name,
        prefix=f"browser-{tag}/v1",
    )
    try:
        yield served.start(influx)
    finally:
        served.close()
        influx.close()
        httpx.post(f"{influx_url}/query", data={"q": f'DROP DATABASE "{db_name}"'}, timeout=10)


def _driver(javascript: bool) -> Iterator[WebDriver]:
    profile = profile_dir()
    driver = chrome(profile, javascript=javascript)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def _chrome() -> Iterator[WebDriver]:
    yield from _driver(True)


@pytest.fixture(scope="session")
def _chrome_nojs() -> Iterator[WebDriver]:
    yield from _driver(False)


@pytest.fixture
def browser(_chrome: WebDriver) -> WebDriver:
    """Chromium with JavaScript, no cookies of an earlier test."""
    _chrome.delete_all_cookies()
    return _chrome


@pytest.fixture
def browser_nojs(_chrome_nojs: WebDriver) -> WebDriver:
    """Chromium with JavaScript off, no cookies of an earlier test."""
    _chrome_nojs.delete_all_cookies()
    return _chrome_nojs


@pytest.fixture
def shots() -> Path | None:
    """Where the screenshots go (docs/screenshots/) when LINLI_SCREENSHOTS=1."""
    import os

    if os.environ.get("LINLI_SCREENSHOTS") != "1":
        return None
    out = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out
