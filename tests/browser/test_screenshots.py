"""The demo community (community/tianxin.toml) on the board, as a staff member sees it on a
phone: the overview with every state a site can be in, the case list, a kitchen's case.

`LINLI_SCREENSHOTS=1` also writes the three pages as PNGs to docs/screenshots/ (the
docs/board.md shows them); without it the same pages are checked and not kept.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from linli.community import load_community
from linli.demochannels import start_standins
from linli.influx.client import InfluxClient
from linli.rules.reading import SensorKind
from linli.settings import Settings
from linli.store import Database
from linli.wiring import load_policy
from tests.browser.harness import one
from tests.helpers import Publisher, wait_for
from tests.notify.serve import Serve

MIN = 60_000
LIVE = 14  # minutes of readings published
COMMUNITY = Path(__file__).resolve().parents[2] / "community" / "tianxin.toml"
KITCHEN = ("f-rest-01", "rest-shuwei")  # 蜀味小馆: over the fume limit all along
KTV = ("n-ktv-01", "ktv-huanchang")  # 欢唱KTV: over the noise limit all along
SPIKE = ("n-hj-05", "hj-b3")  # its last minute over the limit: "over", no case (yet)
SILENT = ("n-tc-08", "tc-b6")  # says nothing: offline


@pytest.fixture
def demo(
    tmp_path: Path, mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str
) -> Iterator[tuple[Serve, Publisher]]:
    """`linli serve` on the demo's community file, its channels on the demo's stand-ins."""
    stand_ins = start_standins(load_community(COMMUNITY))
    serve = Serve(
        tmp_path,
        COMMUNITY,
        mqtt_url=mqtt_url,
        influx_url=influx_url,
        influx_db=influx_db,
        topic_prefix=topic_prefix,
        env=stand_ins.environ,
    )
    serve.env["LINLI_PUBLIC_URL"] = f"http://127.0.0.1:{serve.port}"
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    try:
        yield serve.start(), pub
    finally:
        serve.close()
        pub.close()
        stand_ins.stop()


def readings(sensor: str, kind: SensorKind, now_ms: int, spike_db: float) -> list[dict[str, Any]]:
    """The last LIVE minutes of one sensor, varying (a stuck sensor opens a device case)."""
    out = []
    for i in range(LIVE):
        ts = now_ms - (LIVE - i) * MIN
        wobble = math.sin(i) * 1.5
        if kind is SensorKind.FUME:
            level = 2.7 if sensor == KITCHEN[0] else 0.6
            metrics: dict[str, Any] = {
                "oil_fume": round(level + wobble / 20, 2),
                "pm": round(level * 1.4, 2),
                "nmhc": round(level * 2.1, 2),
                "fan_on": True,
                "purifier_on": True,
                "purifier_current": 2.0,
            }
        else:
            laeq = 80.0 if sensor == KTV[0] else 40.0
            if sensor == SPIKE[0] and i == LIVE - 1:
                laeq = spike_db
            laeq = round(laeq + wobble, 1)
            metrics = {"laeq": laeq, "lamax": laeq + 6, "lamin": laeq - 6, "l90": laeq - 4}
        out.append({"ts": ts, "seq": i + 1, "period_s": 60, "metrics": metrics})
    return out


def full_page_png(browser: WebDriver) -> bytes:
    """The whole page at the phone's width (Chromium's own capture)."""
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])


def test_the_demo_community_on_the_board_overview_list_and_case_page(
    demo: tuple[Serve, Publisher],
    browser: WebDriver,
    influx_url: str,
    influx_db: str,
    topic_prefix: str,
    shots: Path | None,
) -> None:
    serve, pub = demo
    community = load_community(COMMUNITY)
    now_ms = time.time_ns() // 1_000_000 // MIN * MIN
    # the building's spike: 2 dB over the limit in force at its minute (the last one sent,
    # a minute before now: at 22:01 still the day's), too short to open a case
    policy = load_policy(Settings(), COMMUNITY)
    (site,) = [s for s in community.site_records() if s.id == SPIKE[1]]
    spike_ms = now_ms - MIN  # readings(): the last minute's reading
    limit = policy.site_limits(site).noise_in_force(policy.calendar, spike_ms, 60).value
    influx = InfluxClient(influx_url, influx_db)
    # a staff member signs in once with a token
    r = serve.http.post("/tokens", json={"role": "staff", "note": "screenshots"})
    assert r.status_code == 201, r.text
    base = f"http://127.0.0.1:{serve.port}"
    browser.get(f"{base}/board/login")
    one(browser, "input[name='token']").send_keys(r.json()["token"])
    one(browser, "form button[type='submit']").click()
    wait_for(lambda: browser.current_url == f"{base}/board/overview")

    def statuses() -> dict[str | None, str | None]:
        browser.get(f"{base}/board/overview")
        return {
            li.get_attribute("data-site"): li.get_attribute("data-status")
            for li in browser.find_elements(By.CSS_SELECTOR, "section.grid li.site")
        }

    # as devices send them live, a reading a minute: the first one until the engine has
    # saved what it knows of every sensor (its memory, which the overview reads), the rest
    sent = [
        (sensor.id, readings(sensor.id, sensor.kind, now_ms, limit + 2))
        for sensor in community.sensor_records()
        if sensor.id != SILENT[0]
    ]
    pub.send_many((f"{topic_prefix}/{sensor}/telemetry", minutes[0]) for sensor, minutes in sent)
    store = Database(serve.env["LINLI_DB_URL"])

    def known() -> int:
        with store.cases() as tx:
            return len(tx.load_states())

    wait_for(lambda: known() == len(sent), every_s=0.5)
    store.close()
    for i in range(1, LIVE):
        pub.send_many(
            (f"{topic_prefix}/{sensor}/telemetry", minutes[i]) for sensor, minutes in sent
        )
    cases = wait_for(lambda: _open_cases(serve, {KITCHEN[1], KTV[1]}), every_s=0.2)
    assert {c["site"] for c in cases} == {KITCHEN[1], KTV[1]}
    kitchen_case = next(c for c in cases if c["site"] == KITCHEN[1])
    # the overview: every grid, every site, each in its state (the engine saves what it
    # knows of each sensor every few seconds: the spike shows then)
    expected = dict.fromkeys((s.id for s in community.site_records()), "ok")
    expected |= {KITCHEN[1]: "open_case", KTV[1]: "open_case", SPIKE[1]: "over"}
    unmonitored = {s.id for s in community.site_records()} - {
        s.site for s in community.sensor_records()
    }
    expected |= dict.fromkeys({SILENT[1], *unmonitored}, "offline")  # silent, or no sensor
    try:
        wait_for(lambda: statuses() == expected, every_s=1)
    finally:
        assert statuses() == expected, "the overview's states"
    grids = [
        g.get_attribute("data-grid") or ""
        for g in browser.find_elements(By.CSS_SELECTOR, "section.grid")
    ]
    assert sorted(grids) == sorted(g.id for g in community.grid_records())
    pages = {"overview": full_page_png(browser)}

    # the case list: both cases, open first, the counts by grid a staff member sees
    browser.get(f"{base}/board/cases")
    listed = [
        li.get_attribute("data-id") or ""
        for li in browser.find_elements(By.CSS_SELECTOR, "ul#cases li.case")
    ]
    assert sorted(listed) == sorted(str(c["id"]) for c in cases)
    one(browser, "table#grid-counts")
    pages["cases"] = full_page_png(browser)

    # the kitchen's case: the chart with its fan and purifier lanes
    browser.get(f"{base}/board/cases/{kitchen_case['id']}")
    assert "蜀味小馆" in one(browser, "h1#case-title").text
    chart = one(browser, "svg#case-chart")
    for lane in ("风机", "净化器"):
        assert one(chart, f"g.lane[data-lane='{lane}']").find_elements(By.CSS_SELECTOR, "rect.on")
    one(chart, "rect.breach-window")
    pages["case"] = full_page_png(browser)

    for name, data in pages.items():
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        width = int.from_bytes(data[16:20], "big")
        assert width == 390 * 2, (name, width)  # the phone's width at its pixel ratio
        if shots is not None:
            (shots / f"{name}.png").write_bytes(data)
    influx.close()


def _sensors_stored(influx: InfluxClient) -> set[str]:
    found: set[str] = set()
    for measurement, field in (("noise", "laeq"), ("fume", "oil_fume")):
        for s in influx.query(f'SELECT last("{field}") FROM "{measurement}" GROUP BY "sensor"'):
            found.add(s.tags.get("sensor", ""))
    return found


def _open_cases(serve: Serve, sites: set[str]) -> list[dict[str, Any]] | None:
    found = [c for c in serve.cases() if c["state"] == "open" and c["kind"] == "breach"]
    return found if {c["site"] for c in found} >= sites else None
