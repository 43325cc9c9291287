"""An HJ 212 monitor's fume data open the same case an MQTT sensor's would (CONTRACT §8).

`linli serve` on the test broker and InfluxDB, a community of identical restaurants: an
hour of 10-minute fume data over the limit is published once by an MQTT fume sensor and
sent once over real TCP as HJ 212 frames by a monitor at the second restaurant (which,
like real loggers, also sends its real-time data: answered, not kept). Both open a
`fume_conc` case at the same level, with the same measured value and limit. A third
restaurant's monitor sends the same hour flagged `M` (maintenance): it opens no case.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from linli.localservers import free_port, spawn_logged
from linli.rules.hj212 import Frame, Framer, encode, parse_segment
from linli.rules.hj212_profile import CrcMode
from linli.store import Database
from tests.helpers import WAIT_S, Publisher, wait_for

TZ = ZoneInfo("Asia/Shanghai")
TEN_MIN = 600
HJ = {"f-hj": ("2019081903100021", "100021"), "f-mt": ("2019081903100022", "100022")}


def _restaurant(site: str, name: str) -> str:
    return f"""
[[site]]
id = "{site}"
name = "{name}"
kind = "shop"
category = "restaurant"
profile = "restaurant"
zone = "2"
grid = "g1"
cooking_heads = 2
merchant = {{ name = "{name} 老板" }}
"""


COMMUNITY = (
    """
[community]
name = "测试社区"

[[grid]]
id = "g1"
name = "一网格"
"""
    + _restaurant("rest-mq", "面馆甲")
    + _restaurant("rest-hj", "面馆乙")
    + _restaurant("rest-mt", "面馆丙")
    + f"""
[[hj212_profile]]
id = "lampblack-10"  # keeps its 10-minute data (readings = "2051", the default)
min_period_s = 600
codes = {{ LAMPBLACK = "oil_fume", PURIFYAD = "purifier_current" }}
states = {{ FANSTATUS = "fan_on", PURIFYSTATUS = "purifier_on" }}

[[sensor]]
id = "f-mq"
kind = "fume"
site = "rest-mq"

[[sensor]]
id = "f-hj"
kind = "fume"
site = "rest-hj"
hj212 = {{ mn = "{HJ["f-hj"][0]}", pw = "{HJ["f-hj"][1]}", profile = "lampblack-10" }}

[[sensor]]
id = "f-mt"
kind = "fume"
site = "rest-mt"
hj212 = {{ mn = "{HJ["f-mt"][0]}", pw = "{HJ["f-mt"][1]}", profile = "lampblack-10" }}
"""
)
# an hour of 10-minute means, every one over GB 18483's 2.0 mg/m³ (small: 2 heads)
HOUR = [2.4, 2.6, 2.7, 2.5, 2.8, 2.3]


class Logger:
    """A monitor's data logger: one connection; each upload waits for its 9014."""

    def __init__(self, port: int, sensor: str) -> None:
        self.mn, self.pw = HJ[sensor]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        self.framer = Framer()
        self.qn = 0

    def upload(self, cn: str, cp: str) -> None:
        self.qn += 1
        qn = f"20990101000{self.qn:06d}"
        fields = [("QN", qn), ("ST", "22"), ("CN", cn), ("PW", self.pw), ("MN", self.mn)]
        self.sock.sendall(encode([*fields, ("Flag", "5"), ("CP", cp)], CrcMode.HJ212))
        while True:  # linli answers only once stored
            data = self.sock.recv(65536)
            assert data, "linli closed the connection"
            answers = [parse_segment(f.segment) for f in self.framer.feed(data)
                       if isinstance(f, Frame)]  # fmt: skip
            if any(a.get("CN") == "9014" and a.get("QN") == qn for a in answers):
                return

    def hour(self, start_s: int, values: list[float], flag: str = "N") -> None:
        """Real-time data each minute (not kept) and the 10-minute data, as loggers send."""
        for k, value in enumerate(values):
            begin = start_s + k * TEN_MIN
            for m in range(10):  # real-time values far above the means: kept, they would show
                cp = f"DataTime={_local(begin + 60 * m)};LAMPBLACK-Rtd=9.5,LAMPBLACK-Flag={flag}"
                self.upload("2011", cp + ";FANSTATUS-Rtd=1;PURIFYSTATUS-Rtd=1")
            cp = (
                f"DataTime={_local(begin)};LAMPBLACK-Avg={value},LAMPBLACK-Flag={flag};"
                "PURIFYAD-Avg=2.0;FANSTATUS-Avg=1;PURIFYSTATUS-Avg=1"
            )
            self.upload("2051", cp)

    def close(self) -> None:
        self.sock.close()


def _local(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, TZ).strftime("%Y%m%d%H%M%S")


def _judged(db: Database) -> dict[str, Any] | None:
    """site -> (case, its evidence), once the three restaurants' cases are open and the
    MQTT sensor's and the monitor's hours are judged to their end."""
    with db.cases() as tx:
        found, _ = tx.list_cases()
        out = {c.site: (c, tx.detail(c.id).evidence[0]) for c in found}  # type: ignore[arg-type]
    if not {"rest-mq", "rest-hj", "rest-mt"} <= out.keys():
        return None
    mq, hj = out["rest-mq"][1], out["rest-hj"][1]
    return out if mq.measured == max(HOUR) and hj.end_ms >= mq.end_ms else None


def test_an_hj212_monitor_s_fume_hour_opens_the_case_an_mqtt_sensor_s_does(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    config = tmp_path / "community.toml"
    config.write_text(COMMUNITY)
    port = free_port()
    db_url = f"sqlite:///{tmp_path}/linli.db"
    env = {
        **os.environ,
        "LINLI_MQTT_URL": mqtt_url,
        "LINLI_TOPIC_PREFIX": topic_prefix,
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": influx_db,
        "LINLI_DB_URL": db_url,
        "LINLI_SPOOL_DIR": str(tmp_path / "spool"),
        "LINLI_API_ADDR": f"127.0.0.1:{free_port()}",
        "LINLI_HJ212_ADDR": f"127.0.0.1:{port}",
    }
    log = tmp_path / "linli.log"
    argv = [sys.executable, "-m", "linli", "serve", "--config", str(config)]
    linli: subprocess.Popen[bytes] = spawn_logged(argv, log, env)
    # the hour before the last 10-minute boundary but one: over, and then one more period
    start_s = (int(datetime.now(TZ).timestamp()) // TEN_MIN - 1) * TEN_MIN - len(HOUR) * TEN_MIN
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    db: Database | None = None
    try:
        wait_for(lambda: "HJ 212 monitors on" in log.read_text())
        wait_for(lambda: "subscribed" in log.read_text().lower())
        for k, value in enumerate(HOUR):  # the MQTT sensor: one message per 10 minutes
            reading = {
                "ts": (start_s + (k + 1) * TEN_MIN) * 1000,
                "seq": k + 1,
                "period_s": TEN_MIN,
                "metrics": {
                    "oil_fume": value,
                    "purifier_current": 2.0,
                    "fan_on": True,
                    "purifier_on": True,
                },
            }
            pub.send(f"{topic_prefix}/f-mq/telemetry", reading)
        monitor = Logger(port, "f-hj")
        monitor.hour(start_s, HOUR)
        monitor.close()
        # the third monitor: the same hour in maintenance (flag M), then one more period
        # over the limit unflagged, whose case shows the flagged hour was judged and not
        # counted: it starts with that period, at that period's mean
        maintained = Logger(port, "f-mt")
        maintained.hour(start_s, [5.0] * len(HOUR), flag="M")
        maintained.hour(start_s + len(HOUR) * TEN_MIN, [2.6])
        maintained.close()

        db = Database(db_url)
        cases = wait_for(lambda: _judged(db), WAIT_S)
        mq_case, mq = cases["rest-mq"]
        hj_case, hj = cases["rest-hj"]
        assert (mq.sensor, hj.sensor) == ("f-mq", "f-hj")
        same = [
            (c.rule, c.kind, c.level, c.state, c.late, e.rule, e.measured, e.unit,
             e.limit_value, e.limit_metric, e.standard, e.clause_zh, e.start_ms, e.end_ms)
            for c, e in ((mq_case, mq), (hj_case, hj))
        ]  # fmt: skip
        assert same[0] == same[1]
        assert (mq_case.rule, mq.measured, mq.limit_value, mq.limit_metric) == (
            "fume_conc",
            max(HOUR),
            2.0,
            "oil_fume",
        )  # fmt: skip  (the episode's worst 10-minute mean)
        assert (mq.start_ms, mq.end_ms) == (start_s * 1000, (start_s + 3600) * 1000)
        mt_case, mt = cases["rest-mt"]
        assert (mt_case.rule, mt.measured, mt.limit_value) == ("fume_conc", 2.6, 2.0)
        assert mt.start_ms == (start_s + len(HOUR) * TEN_MIN) * 1000  # not the flagged hour
        with db.cases() as tx:
            found, total = tx.list_cases()
        assert total == 3 and sorted(c.site for c in found) == ["rest-hj", "rest-mq", "rest-mt"]
    finally:
        pub.close()
        if db is not None:
            db.close()
        linli.terminate()
        linli.wait(30)
