"""The ladder across a street's communities (CONTRACT §9), end to end: two community
files in one directory given to `linli serve --config DIR` (a subprocess: ingest, the
engine's process, the API and the delivery worker) on a real mosquitto, influxd and a
case store on SQLite and on PostgreSQL. A building's noise case in each community, left
unacknowledged, climbs from the grid worker to ITS community's office, then to the
street's enforcement team; neither office hears of the other community's case.

What is asserted is what the robots' stand-ins recorded and GET /cases/{id}/deliveries.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from linli.influx.client import InfluxClient
from linli.standins import DingTalkStandIn, FeishuStandIn
from tests.helpers import Publisher, wait_for
from tests.notify.serve import Serve

MIN = 60_000
TO_OFFICE_S = 5  # unacknowledged this long: the community office
TO_STREET_S = 12  # unresolved this long: the street


def community_file(cid: str, name: str, grid: str, site: str, robot: str, street: str) -> str:
    """A community with one grid, one residential building and its noise sensor; its
    office's group robot; `street` is the [street] table and its channel, or ""."""
    return f"""
[community]
id = "{cid}"
name = "{name}"
notify = ["{cid}-office"]

[rules]
escalate_unacknowledged_s = {TO_OFFICE_S}
escalate_unresolved_s = [{TO_STREET_S}, 86400]
remind_unacknowledged_s = 0

[[channel]]
id = "{cid}-office"
type = "dingtalk"
url = "{robot}"
secret = "env:E2E_OFFICE_SECRET"

[[grid]]
id = "{grid}"
name = "{name}一网格"

[[site]]
id = "{site}"
name = "{name}1幢"
kind = "residential"
zone = "2"
grid = "{grid}"

[[sensor]]
id = "n-{site}"
kind = "noise"
site = "{site}"
{street}
"""


def street_table(url: str) -> str:
    return f"""
[street]
name = "笕桥街道 执法队"
notify = ["street"]

[[channel]]
id = "street"
type = "feishu"
url = "{url}"
secret = "env:E2E_STREET_SECRET"
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def loud(now: int, n: int = 14) -> dict[str, Any]:
    """A building over any GB 3096 class 2 limit for the last `n` minutes (varying: a
    sensor stuck on one value is a fault, not a breach)."""
    return {
        "batch": [
            {
                "ts": now - (n - i) * MIN,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {"laeq": 78.0 + i % 3 * 0.3, "l90": 60.0 + i % 4 * 0.2},
            }
            for i in range(n)
        ]
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


def test_each_communitys_case_climbs_to_its_own_office_then_to_the_street(
    tmp_path: Path,
    store_url: str,
    mqtt_url: str,
    influx_url: str,
    influx_db: str,
    topic_prefix: str,
    influx: InfluxClient,
    pub: Publisher,
):
    secret = "SEC-office-e2e"
    with (
        DingTalkStandIn(token="tianxin", secret=secret) as tianxin,
        DingTalkStandIn(token="hongjie", secret=secret) as hongjie,
        FeishuStandIn(token="street", secret="street-s3cret") as street,
    ):
        files = tmp_path / "street"
        files.mkdir()
        (files / "hongjie.toml").write_text(
            community_file("hongjie", "红街社区", "g-hj", "hj-1", hongjie.url, ""),
            encoding="utf-8",
        )
        (files / "tianxin.toml").write_text(
            community_file(
                "tianxin", "天新社区", "g-tx", "tx-1", tianxin.url, street_table(street.url)
            ),
            encoding="utf-8",
        )
        env = {
            "LINLI_DB_URL": store_url,
            "E2E_OFFICE_SECRET": secret,
            "E2E_STREET_SECRET": "street-s3cret",
            "LINLI_NOTIFY_GROUP_WAIT_S": "0",
        }
        serve = Serve(
            tmp_path,
            files,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_db=influx_db,
            topic_prefix=topic_prefix,
            env=env,
        )
        try:
            serve.start()
            assert sorted(serve.get("/health")["channels"]) == [
                "hongjie-office",
                "street",
                "tianxin-office",
            ]
            serve.ingesting(pub, "n-tx-1", influx)
            now = now_ms()
            pub.send(f"{topic_prefix}/n-tx-1/telemetry", loud(now))
            pub.send(f"{topic_prefix}/n-hj-1/telemetry", loud(now))

            def both() -> dict[str, dict[str, Any]] | None:
                found = {c["site"]: c for c in serve.cases() if c["rule"] == "noise_leq"}
                return found if set(found) == {"tx-1", "hj-1"} else None

            cases = wait_for(both)
            assert {c["level"] for c in cases.values()} == {"grid_worker"}

            def at_street() -> bool:
                return all(
                    serve.get(f"/cases/{c['id']}")["level"] == "street_enforcement"
                    for c in cases.values()
                )

            wait_for(at_street, timeout_s=TO_STREET_S + 30)

            def told(site: str) -> list[tuple[str, str, str]] | None:
                found = serve.deliveries(cases[site]["id"])
                if len(found) < 2 or any(d["state"] != "delivered" for d in found):
                    return None
                return [(d["event"], d["channel"], d["who"]) for d in found]

            for site, office, name in (
                ("tx-1", "tianxin-office", "天新社区"),
                ("hj-1", "hongjie-office", "红街社区"),
            ):
                assert wait_for(functools.partial(told, site)) == [
                    ("case.escalated", office, name),
                    ("case.escalated", "street", "笕桥街道 执法队"),
                ]
            # what each robot received: its own community's building, never the other's
            tx_texts = [c.reply.text for c in tianxin.accepted()]
            hj_texts = [c.reply.text for c in hongjie.accepted()]
            assert len(tx_texts) == 1 and "天新社区1幢" in tx_texts[0], tx_texts
            assert len(hj_texts) == 1 and "红街社区1幢" in hj_texts[0], hj_texts

            # the street hears of both (one message each, or one digest of the two)
            def street_heard() -> str | None:
                text = "\n".join(c.reply.text for c in street.accepted())
                return text if "天新社区1幢" in text and "红街社区1幢" in text else None

            assert "工单升级" in wait_for(street_heard)
        finally:
            serve.close()
