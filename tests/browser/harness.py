"""The browser tests' harness: Debian's Chromium under selenium, and a `linli serve` with
shops whose merchants are told on a DingTalk robot stand-in (the links they are sent).

Chromium runs headless with a fresh profile, nothing phoning home, on a 390×844 phone
viewport. The service is a real subprocess on the session's mosquitto and influxd; a
case is opened the way a kitchen opens one, by publishing a fume breach over MQTT.
"""

from __future__ import annotations

import re
import struct
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from linli.standins import AliyunSmsStandIn, DingTalkStandIn
from tests.helpers import Publisher, wait_for
from tests.notify.community import File
from tests.notify.serve import TOKEN, Serve

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 390, "height": 844}
MIN = 60_000
BOARD_SECRET = "browser-tests-board-secret-0123456789"
# the shops of the community file: each test opens its case on a shop of its own
SHOPS = (
    ("rest-1", "蜀味小馆"),
    ("rest-2", "川香面馆"),
    ("rest-3", "老杭州面馆"),
    ("rest-4", "夜市烧烤"),
    ("rest-5", "清真拉面"),
    ("rest-6", "湘味馆"),
    ("rest-7", "粤式茶餐厅"),
    ("rest-8", "东北饺子馆"),
    ("rest-9", "潮汕牛肉火锅"),
    ("rest-10", "云南米线"),
    ("rest-11", "兰州牛肉面"),
    ("rest-12", "重庆小面"),
    ("rest-13", "徽州臭鳜鱼"),
    ("rest-14", "西北烤串"),
    ("rest-15", "桂林米粉"),
    ("rest-16", "新疆大盘鸡"),
)  # one a test that opens a case of its own (Board.new_case): more than the tests take
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/board/cases/(\d+)\?t=[A-Za-z0-9_\-.]+)")


def chrome(profile: Path, *, javascript: bool = True) -> WebDriver:
    """Headless Chromium on a 390×844 phone screen, a fresh profile, no network chatter."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--lang=zh-CN",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE['width']},{PHONE['height']}",
    ):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {**PHONE, "pixelRatio": 2.0, "touch": True}}
    )
    if not javascript:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.linli_javascript = javascript  # type: ignore[attr-defined]
    return driver


def tap(driver: WebDriver, button: WebElement) -> None:
    """Press a button as a person does. With JavaScript off chromedriver's click never
    returns (its checks run as script), so there the key a keyboard user presses: Enter
    on the focused button, which the browser turns into the same native form post."""
    if getattr(driver, "linli_javascript", True):
        button.click()
    else:
        button.send_keys(Keys.ENTER)


def one(driver: WebDriver | WebElement, css: str) -> WebElement:
    """The one element matching `css` (a test failure naming it if absent)."""
    found = driver.find_elements(By.CSS_SELECTOR, css)
    if len(found) != 1:
        raise AssertionError(f"{css!r}: {len(found)} elements")
    return found[0]


def absent(driver: WebDriver | WebElement, css: str) -> bool:
    """No element matches `css`."""
    try:
        driver.find_element(By.CSS_SELECTOR, css)
    except NoSuchElementException:
        return True
    return False


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (40, 140, 60)) -> bytes:
    """A real PNG image of one colour (a photo of the fix, as far as a server can tell)."""
    row = b"\x00" + bytes(rgb) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def fume_breach(now_ms: int, n: int = 14) -> dict[str, Any]:
    """A kitchen over GB 18483's 2 mg/m³ for the last `n` minutes, the fan and purifier on."""
    return {
        "batch": [
            {
                "ts": now_ms - (n - i) * MIN,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {
                    "oil_fume": 2.6 + i % 3 * 0.01,
                    "fan_on": True,
                    "purifier_on": True,
                    "purifier_current": 2.0,
                },
            }
            for i in range(n)
        ]
    }


def community() -> File:
    """The shops, each merchant told on a robot channel of its own (one stand-in behind
    them all: a robot's channel sends what is due at once as one digest, which signs only
    its first case's link), and a quiet probe building."""
    return File(
        rules={"escalate_unacknowledged_s": 3600, "escalate_unresolved_s": [7200, 14400]},
        channels=[
            *(
                dict[str, object](id=f"ding-{site}", type="dingtalk", url="env:BT_DING_URL")
                for site, _ in SHOPS
            ),
            {  # residents' codes on the public page (CONTRACT §11)
                "id": "sms",
                "type": "sms",
                "url": "env:BT_SMS_URL",
                "access_key_id": "LTAI-standin",
                "access_key_secret": "standin-secret",
                "sign_name": "天新社区",
                "template": "SMS_000000",
                "code_template": "SMS_CODE",
            },
        ],
        shops=[(site, name, [f"ding-{site}"]) for site, name in SHOPS],
        residential=["probe"],
    )


class Board:
    """`linli serve` on the session's servers, its merchants' messages, its API as admin."""

    def __init__(
        self, tmp: Path, *, mqtt_url: str, influx_url: str, influx_db: str, prefix: str
    ) -> None:
        self.ding = DingTalkStandIn(token="shop-token", secret=None, rate_per_min=1000).start()
        self.sms = AliyunSmsStandIn(
            templates={
                "SMS_000000": "${site}: ${rule}。请处理: ${link}",
                "SMS_CODE": "您的验证码为${code}，5分钟内有效。",
            },
            per_number_per_min=1000,
        ).start()
        config = tmp / "community.toml"
        config.write_text(community().text(), encoding="utf-8")
        self.serve = Serve(
            tmp,
            config,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_db=influx_db,
            topic_prefix=prefix,
            env={
                "BT_DING_URL": self.ding.url,
                "BT_SMS_URL": self.sms.url,
                "LINLI_BOARD_SECRET": BOARD_SECRET,
                "LINLI_NOTIFY_GROUP_WAIT_S": "0",
            },
        )
        self.base = f"http://127.0.0.1:{self.serve.port}"
        self.serve.env["LINLI_PUBLIC_URL"] = self.base  # the messages' links open here
        self.prefix = prefix
        self.pub = Publisher(mqtt_url, f"pub-{prefix.split('/')[0]}")
        self._free = list(SHOPS)

    def start(self, influx: Any) -> Board:
        """Start the service; wait until ingest takes readings."""
        self.serve.start()
        self.serve.ingesting(self.pub, "n-probe", influx)
        return self

    def close(self) -> None:
        """Stop the service, the publisher and the stand-in."""
        self.serve.close()
        self.pub.close()
        self.ding.stop()
        self.sms.stop()

    @property
    def api(self) -> httpx.Client:
        """The API (`/api/v1`) as admin."""
        return self.serve.http

    def new_case(self) -> tuple[dict[str, Any], str]:
        """A shop of its own breaches the fume limit: its case (as the API shows it) and
        the link its merchant was sent."""
        site, name = self._free.pop(0)
        self.pub.send(f"{self.prefix}/f-{site}/telemetry", fume_breach(time.time_ns() // 10**6))

        def opened() -> dict[str, Any] | None:
            for c in self.serve.cases():
                if c["site"] == site and c["rule"] == "fume_conc":
                    return c
            return None

        case: dict[str, Any] = wait_for(opened, every_s=0.2)
        return {**case, "site_name": name}, self.link(case["id"])

    def messages(self) -> list[str]:
        """Every text the merchants' robot took, oldest first."""
        return [call.reply.text for call in self.ding.accepted()]

    def link(self, case_id: int) -> str:
        """The link (with its signed token) of the first message about `case_id`."""

        def sent() -> str | None:
            for text in self.messages():
                for url, cid in LINK.findall(text):
                    if int(cid) == case_id:
                        return str(url)
            return None

        found: str = wait_for(sent, every_s=0.2)
        return found

    def case(self, case_id: int) -> dict[str, Any]:
        """GET /api/v1/cases/{id} as admin."""
        found: dict[str, Any] = self.serve.get(f"/cases/{case_id}")
        return found

    def token(self, role: str, **scope: Any) -> str:
        """A bearer token for `role` (POST /api/v1/tokens as admin)."""
        r = self.api.post("/tokens", json={"role": role, **scope, "note": "browser test"})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """`wait_for` with a browser's pace."""
    return wait_for(check, timeout_s=timeout_s, every_s=0.1)


def profile_dir() -> Path:
    """A fresh Chromium profile directory."""
    return Path(tempfile.mkdtemp(prefix="linli-chrome-"))


__all__ = ["TOKEN", "Board", "chrome", "one", "png"]
