"""CONTRACT §3: an accepted reading is never lost — InfluxDB down, then linli killed with -9.

A steady stream is published at QoS 1 while influxd is killed for ten seconds (readings
go to the spool) and then the linli process is killed with SIGKILL and started again
(the broker redelivers what was not acknowledged). At the end every published reading
is in InfluxDB exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from linli.influx.client import InfluxClient
from linli.localservers import influxd, mosquitto, spawn_logged
from tests.helpers import Publisher, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"
SENSORS = [f"n-{i:02d}" for i in range(1, 21)]


def _linli(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn_logged(
        [sys.executable, "-m", "linli", "ingest", "--config", str(CONFIG), "--log-level", "DEBUG"],
        log,
        env,
    )


def test_influx_outage_and_kill_9_lose_nothing(tmp_path: Path):
    broker = mosquitto(tmp_path / "mosquitto").start()
    db_server = influxd(tmp_path / "influxd").start()
    influx_url = f"http://127.0.0.1:{db_server.port}"
    env = {
        **os.environ,
        "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": "lost",
        "LINLI_DB_URL": f"sqlite:///{tmp_path}/linli.db",
        "LINLI_SPOOL_DIR": str(tmp_path / "spool"),
        "LINLI_INFLUX_TIMEOUT_S": "1",
    }
    log = tmp_path / "linli.log"
    linli = _linli(env, log)
    influx = InfluxClient(influx_url, "lost")
    pub = Publisher(f"mqtt://127.0.0.1:{broker.port}", "never-lost-pub")
    published: dict[str, int] = dict.fromkeys(SENSORS, 0)
    base = int(time.time() * 1000) - 3_600_000
    done = threading.Event()

    def stream() -> None:
        seq = 0
        while not done.is_set():
            items = []
            for sensor in SENSORS:
                doc = {
                    "ts": base + seq * 1000,
                    "seq": seq,
                    "period_s": 1,
                    "metrics": {"laeq": 50 + seq % 30, "lamax": 90.0},
                }
                items.append((f"linli/v1/{sensor}/telemetry", orjson.dumps(doc)))
            pub.send_many(items)
            for sensor in SENSORS:
                published[sensor] += 1
            seq += 1
            time.sleep(0.02)

    try:
        wait_for(lambda: "subscribed to" in log.read_text())
        streamer = threading.Thread(target=stream)
        streamer.start()
        time.sleep(2)
        db_server.kill()  # InfluxDB gone for ten seconds: linli spools
        time.sleep(10)
        spooled = sorted((tmp_path / "spool").glob("*.lp"))
        db_server.start()
        time.sleep(2)
        os.kill(linli.pid, signal.SIGKILL)  # a crash, mid-stream
        linli.wait()
        time.sleep(1)
        linli = _linli(env, log)
        time.sleep(3)
        done.set()
        streamer.join()
        total = sum(published.values())
        assert spooled, "InfluxDB was down for ten seconds but nothing was spooled"
        assert total > 10 * len(SENSORS)
        try:
            wait_for(lambda: _count(influx) == total, every_s=0.5)
        except AssertionError:
            for sensor in SENSORS[:3]:  # which readings are missing, for the log of a failure
                rows = influx.query(f"SELECT seq FROM noise WHERE sensor = '{sensor}'")
                got = {r[1] for r in rows[0].values} if rows else set()
                missing = sorted(set(range(published[sensor])) - got)
                print("missing", sensor, published[sensor], missing[:50], "log:", log)
            raise
        for sensor in SENSORS:
            rows = influx.query(
                f"SELECT count(laeq), min(seq), max(seq) FROM noise WHERE sensor = '{sensor}'"
            )
            assert rows[0].values[0][1:] == [published[sensor], 0, published[sensor] - 1], sensor
        wait_for(lambda: not list((tmp_path / "spool").glob("*.lp")))
    finally:
        done.set()
        pub.close()
        linli.terminate()
        linli.wait(30)
        db_server.stop()
        broker.stop()


def _count(influx: InfluxClient) -> int:
    rows = influx.query("SELECT count(laeq) FROM noise")
    return int(rows[0].values[0][1]) if rows else 0
