"""HJ 212 monitors against `linli serve` on real TCP, mosquitto and influxd (CONTRACT §8):
a 9014 only once stored — linli killed with -9 mid-burst loses no answered frame, and
the burst sent again after the restart is stored once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from linli.influx.client import InfluxClient
from linli.localservers import free_port, influxd, mosquitto, spawn_logged
from linli.rules.hj212 import Frame, Framer, encode, parse_segment
from linli.rules.hj212_profile import CrcMode
from tests.helpers import WAIT_S, wait_for

TZ = ZoneInfo("Asia/Shanghai")
MN = "2019081903100008"
PW = "123456"
COMMUNITY = """
[community]
name = "测试社区"

[[grid]]
id = "g1"
name = "一网格"

[[site]]
id = "rest-1"
name = "老杭州面馆"
kind = "shop"
category = "restaurant"
profile = "restaurant"
zone = "2"
grid = "g1"
cooking_heads = 2

[[hj212_profile]]
id = "lampblack-v1"
crc = "hj212"
stamp = "start"
rtd_period_s = 60
readings = "2011"  # its real-time data are the readings
codes = { LAMPBLACK = "oil_fume" }
states = { SB1 = "fan_on" }

[[sensor]]
id = "f-01"
kind = "fume"
site = "rest-1"
hj212 = { mn = "2019081903100008", pw = "123456", profile = "lampblack-v1" }
"""
BURST = 300


def frames(count: int) -> list[tuple[str, bytes]]:
    """(QN, frame) of `count` one-minute readings, the oldest first, ending a while ago."""
    start = datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(minutes=count + 30)
    out = []
    for k in range(count):
        stamp = (start + timedelta(minutes=k)).strftime("%Y%m%d%H%M%S")
        qn = f"{stamp}{k % 1000:03d}"
        cp = f"DataTime={stamp};LAMPBLACK-Rtd={0.5 + k % 10 / 10},LAMPBLACK-Flag=N;SB1-RS=1"
        fields = [("QN", qn), ("ST", "22"), ("CN", "2011"), ("PW", PW), ("MN", MN)]
        out.append((qn, encode([*fields, ("Flag", "5"), ("CP", cp)], CrcMode.HJ212)))
    return out


class Logger:
    """The monitor: sends a burst on one connection and records the QNs answered 9014."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        self.answered: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        framer = Framer()
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for item in framer.feed(data):
                if isinstance(item, Frame):
                    packet = parse_segment(item.segment)
                    if packet.get("CN") == "9014":
                        self.answered.append(packet.get("QN") or "")

    def send(self, burst: list[tuple[str, bytes]], gap_s: float = 0.0) -> None:
        """Send the burst, `gap_s` between frames (a logger's pace; 0: at once)."""
        try:
            for _, raw in burst:
                self.sock.sendall(raw)
                if gap_s:
                    time.sleep(gap_s)
        except OSError:
            pass  # linli died mid-burst: the unanswered are sent again

    def gone(self) -> bool:
        self._reader.join(WAIT_S)
        return not self._reader.is_alive()

    def close(self) -> None:
        self.sock.close()


def _serve(env: dict[str, str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    return spawn_logged([sys.executable, "-m", "linli", "serve", "--config", str(config)], log, env)


def _stored_qns(influx: InfluxClient) -> int:
    rows = influx.query("SELECT count(oil_fume) FROM fume WHERE sensor = 'f-01'")
    return int(rows[0].values[0][1]) if rows else 0


def test_kill_9_mid_burst_loses_no_answered_frame_and_stores_the_resend_once(tmp_path: Path):
    broker = mosquitto(tmp_path / "mosquitto").start()
    db_server = influxd(tmp_path / "influxd").start()
    influx_url = f"http://127.0.0.1:{db_server.port}"
    config = tmp_path / "community.toml"
    config.write_text(COMMUNITY)
    port = free_port()
    env = {
        **os.environ,
        "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": "hj212",
        "LINLI_DB_URL": f"sqlite:///{tmp_path}/linli.db",
        "LINLI_SPOOL_DIR": str(tmp_path / "spool"),
        "LINLI_API_ADDR": f"127.0.0.1:{free_port()}",
        "LINLI_HJ212_ADDR": f"127.0.0.1:{port}",
    }
    log = tmp_path / "linli.log"
    linli = _serve(env, config, log)
    influx = InfluxClient(influx_url, "hj212")
    burst = frames(BURST)
    try:
        wait_for(lambda: "HJ 212 monitors on" in log.read_text())
        first = Logger(port)
        # paced (300 frames take 6 s or more), so the kill lands mid-burst however fast
        # linli answers
        sender = threading.Thread(target=first.send, args=(burst, 0.02))
        sender.start()
        wait_for(lambda: len(first.answered) >= 20, every_s=0.001)
        os.kill(linli.pid, signal.SIGKILL)  # a crash, mid-burst
        linli.wait()
        sender.join()
        assert first.gone()
        answered = set(first.answered)
        assert 20 <= len(answered) < BURST  # killed mid-burst
        first.close()

        linli = _serve(env, config, log)
        wait_for(lambda: log.read_text().count("HJ 212 monitors on") == 2)
        # every frame answered before the kill is stored (in InfluxDB, or spooled and replayed)
        wait_for(lambda: _stored_qns(influx) >= len(answered), every_s=0.5)
        # the logger sends again what was not answered; this one sends the whole burst again
        again = Logger(port)
        again.send(burst)
        wait_for(lambda: len(again.answered) == BURST, every_s=0.2)
        wait_for(lambda: _stored_qns(influx) == BURST, every_s=0.5)
        rows = influx.query("SELECT oil_fume, fan_on FROM fume WHERE sensor = 'f-01'")
        assert len(rows[0].values) == BURST
        assert all(r[2] is True for r in rows[0].values)
        again.close()
    finally:
        linli.terminate()
        linli.wait(30)
        influx.close()
        db_server.stop()
        broker.stop()
