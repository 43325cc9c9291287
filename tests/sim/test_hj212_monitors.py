"""The simulator's HJ 212 monitors against a plain asyncio TCP server (real TCP), and
its own HJ 212 encoder checked against linli's (two implementations, one standard)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from linli.rules.hj212 import Frame, Framer, Session, crc_text, decode
from linli.rules.hj212_profile import CrcMode, Hj212Device, Hj212Profile, Stream
from linli.rules.hj212_profile import Stamp as LinliStamp
from linli.rules.reading import SensorKind
from linli.sim import cli
from linli.sim.device import Kind, SensorSpec
from linli.sim.hj212 import Crc, Model, Replies, Stamp, crc16, frame
from linli.sim.monitors import Hj212Fleet, MonitorOptions, MonitorSpec
from linli.sim.scenario import parse_scenario

from .test_fleet_mqtt import Recorder

TZ = ZoneInfo("Asia/Shanghai")
WAIT_S = 60.0  # the most any wait may take on a loaded machine
# the standard's own example (docs/hj212.md)
EXAMPLE = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&"
)
LAMPBLACK = Model(
    "lampblack-v1",
    Crc.MODBUS,
    Stamp.END,
    60,
    300,
    {"oil_fume": "LAMPBLACK", "pm": "PM", "nmhc": "NMHC", "purifier_current": "PURIFYAD"},
    {"fan_on": "FANSTATUS", "purifier_on": "SB2"},
)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(Crc.HJ212, "1C80"), (Crc.MODBUS, "0759"), (Crc.MODBUS_LE, "5907")],
    ids=["the standard's CRC: its example's 1C80", "CRC-16/MODBUS", "MODBUS bytes swapped"],
)
def test_the_standard_s_example(mode, expected):
    assert len(EXAMPLE) == 101
    assert crc16(EXAMPLE, mode) == expected


def test_the_simulator_s_crc_is_linli_s_for_any_segment():
    rng = random.Random(7)
    for _ in range(300):
        segment = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        for mode in Crc:
            assert crc16(segment, mode).encode() == crc_text(segment, CrcMode(mode.value))


@dataclass
class Platform:
    """A plain asyncio TCP server: keeps every frame, answers 9014 unless told not to."""

    answer: Callable[[dict[str, str]], bool] = lambda _frame: True
    frames: list[dict[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    port: int = 0
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None

    def start(self) -> Platform:
        threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True).start()
        assert self._ready.wait(WAIT_S)
        return self

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            with contextlib.suppress(asyncio.CancelledError):
                await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer, replies = Framer(), Replies()
        while data := await reader.read(4096):
            for item in framer.feed(data):  # linli's framer: the frames are whole
                self.raw.append(getattr(item, "raw", b""))
            for fields in replies.feed(data):
                self.frames.append(fields)
                if self.answer(fields):
                    answer = (
                        f"QN={fields['QN']};ST=91;CN=9014;PW={fields['PW']};MN={fields['MN']};"
                        "Flag=4;CP=&&&&"
                    )
                    writer.write(b"##0000junk" + frame(answer, Crc.HJ212))  # junk is skipped
                    writer.write(frame("QN=1;ST=91;CN=1012;PW=1;MN=x;Flag=4;CP=&&&&", Crc.HJ212))
        writer.close()

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)

    def wait_for(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            assert time.monotonic() < deadline, f"gave up waiting; frames: {self.frames[-5:]}"
            time.sleep(0.05)


@pytest.fixture
def platform() -> Iterator[Platform]:
    server = Platform().start()
    yield server
    server.stop()


NOON = int(time.time()) // 86_400 * 86_400 - 8 * 3600 + 12 * 3600  # a Shanghai noon
START = NOON - 86_400 if time.time() - 600 < NOON else NOON


def fleet(port: int, monitors: list[MonitorSpec], duration_s: int, **kw: object) -> Hj212Fleet:
    options = MonitorOptions(
        port=port,
        speed=600.0,
        start_s=START,
        duration_s=duration_s,
        **kw,  # type: ignore[arg-type]
    )
    return Hj212Fleet(monitors, options)


FUME = MonitorSpec(
    SensorSpec("f-rest-01", Kind.FUME, "restaurant"), "2019081903100008", "123456", LAMPBLACK
)
NOISE = MonitorSpec(SensorSpec("n-hj-01", Kind.NOISE, "residential"), "NS0001", "654321")


def test_monitors_send_2011_every_rtd_period_and_2051_every_min_period(platform):
    counters = fleet(platform.port, [FUME, NOISE], 600).run(report_every_real_s=60)
    fume = [f for f in platform.frames if f["MN"] == FUME.mn]
    noise = [f for f in platform.frames if f["MN"] == NOISE.mn]
    assert [f["CN"] for f in fume].count("2011") == 10 and [f["CN"] for f in fume].count(
        "2051"
    ) == 2
    assert [f["CN"] for f in noise].count("2011") == 10 and [f["CN"] for f in noise].count(
        "2051"
    ) == 1
    assert counters.frames == counters.sent == counters.answered == 23
    assert counters.retries == counters.backlog == 0
    assert {(f["ST"], f["PW"], f["Flag"]) for f in fume} == {("31", "123456", "5")}
    assert {(f["ST"], f["PW"], f["Flag"]) for f in noise} == {("23", "654321", "5")}
    # the stamping: the lampblack model stamps the period's end, the station its start
    first_min = next(f for f in fume if f["CN"] == "2051")
    assert f"DataTime={_local(START + 300)}" in first_min["CP"]
    first_noise = next(f for f in noise if f["CN"] == "2051")
    assert f"DataTime={_local(START)}" in first_noise["CP"]
    assert "LAMPBLACK-Avg=" in first_min["CP"] and "LAMPBLACK-Flag=N" in first_min["CP"]
    assert "SB2-RS=" in first_min["CP"] and "FANSTATUS-Avg=" in first_min["CP"]
    assert "Leq-Data=" in first_noise["CP"] and "LMx-Data=" in first_noise["CP"]
    assert "LAMPBLACK-Rtd=" in next(f for f in fume if f["CN"] == "2011")["CP"]


def _local(epoch_s: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch_s + 8 * 3600))


def test_each_model_s_crc_is_linli_s(platform):
    """The lampblack model's logger sends CRC-16/MODBUS, the station the standard's."""
    fleet(platform.port, [FUME, NOISE], 120).run(report_every_real_s=60)
    assert len(platform.raw) == 4
    for raw in platform.raw:
        size = int(raw[2:6])
        segment, crc = raw[6 : 6 + size], raw[6 + size : 10 + size]
        mode = CrcMode.MODBUS if FUME.mn.encode() in segment else CrcMode.HJ212
        assert crc == crc_text(segment, mode)


class Monitors:
    """linli's registry of the two monitors, for its codec."""

    def device(self, mn: str) -> Hj212Device | None:
        if mn == FUME.mn:
            profile = Hj212Profile(
                "lampblack-v1", CrcMode.MODBUS, LinliStamp.END, 60, 300,
                {"LAMPBLACK": "oil_fume", "PM": "pm", "NMHC": "nmhc", "PURIFYAD": "purifier_current"},
                {"FANSTATUS": "fan_on", "SB2": "purifier_on"},
            )  # fmt: skip
            return Hj212Device("f-rest-01", SensorKind.FUME, mn, "123456", profile)
        if mn == NOISE.mn:
            station = Hj212Profile("gb-noise-rtd", readings=Stream.RTD)  # its 2011 are readings
            return Hj212Device("n-hj-01", SensorKind.NOISE, mn, "654321", station)
        return None


def test_linli_reads_what_the_simulator_sends(platform):
    """Interop: each upload is one reading of linli's, ending where the simulator meant."""
    fleet(platform.port, [FUME, NOISE], 300).run(report_every_real_s=60)
    session, now_ms = Session(), (START + 3600) * 1000
    readings, other = [], 0
    for raw in platform.raw:
        for item in Framer().feed(raw):
            assert isinstance(item, Frame)
            decoded = decode(item, Monitors(), session, now_ms, TZ)
            assert decoded.rejections == [] and len(decoded.answers) == 1
            readings += decoded.readings
            other += decoded.other_stream
    assert len(platform.raw) == 5 + 1 + 5  # 5 + 5 rtd, the fume 2051
    # the fume profile keeps 2051 (its 2011 answered, not stored); the station's keeps 2011
    assert (len(readings), other) == (1 + 5, 5)
    fume_min = next(r for r in readings if r.sensor == "f-rest-01" and r.period_s == 300)
    assert fume_min.ts_ms == (START + 300) * 1000  # stamped at the end, read as the end
    assert set(fume_min.metrics) == {
        "oil_fume", "pm", "nmhc", "purifier_current", "fan_on", "purifier_on"
    }  # fmt: skip
    noise_rtd = [r for r in readings if r.sensor == "n-hj-01"]
    assert [r.ts_ms for r in noise_rtd] == [(START + 60 * i) * 1000 for i in range(1, 6)]
    assert set(noise_rtd[0].metrics) == {"laeq", "lamax", "lamin", "l10", "l50", "l90"}
    assert all(r.flag is None for r in readings)


def test_an_unanswered_upload_is_sent_three_times_then_back_filled(platform):
    """The platform ignores the first upload: three tries with one QN, then on with the
    next; once answers come, the first is sent again and answered."""
    refused: set[str] = set()

    def answer(fields: dict[str, str]) -> bool:
        if not refused or (fields["QN"] in refused and len(platform.frames) <= 3):
            refused.add(fields["QN"])
            return False
        return True

    platform.answer = answer
    counters = fleet(platform.port, [NOISE], 180, answer_timeout_real_s=0.3).run(60)
    qns = [f["QN"] for f in platform.frames]
    first = qns[0]
    assert qns[:3] == [first] * 3  # the standard's three tries
    assert qns.count(first) == 4 and qns[3] != first and qns[4] == first  # back-filled
    assert (counters.retries, counters.backfilled, counters.backlog) == (2, 1, 0)
    assert counters.answered == 3 == counters.frames


def test_a_scenario_s_offline_window_holds_the_uploads_then_back_fills(platform):
    scenario = parse_scenario(
        {"name": "t", "event": [{"sensor": "n-hj-01", "type": "offline", "at": "2m", "for": "3m"}]}
    )
    options = MonitorOptions(port=platform.port, speed=600.0, start_s=START, duration_s=600)
    counters = Hj212Fleet([NOISE], options, scenario.events).run(60)
    assert counters.frames == counters.answered == 11  # 10 rtd + one 2051, none lost
    assert counters.connected == 0 and counters.errors == 0
    assert len({f["QN"] for f in platform.frames}) == 11


COMMUNITY = """
[community]
name = "t"

[[grid]]
id = "g1"
name = "g"

[[site]]
id = "s1"
name = "s"
kind = "shop"
zone = "2"
grid = "g1"
profile = "restaurant"

[[hj212_profile]]
id = "lampblack-v1"
crc = "modbus"
stamp = "end"
min_period_s = 300
codes = { LAMPBLACK = "oil_fume" }

[[sensor]]
id = "f-s1-01"
kind = "fume"
site = "s1"
hj212 = { mn = "MN0001", pw = "123456", profile = "lampblack-v1" }

[[sensor]]
id = "n-s1-01"
kind = "noise"
site = "s1"
"""


def test_a_fleet_mixes_hj212_monitors_with_mqtt_sensors(platform, mqtt_url, tmp_path: Path):
    """`linli sim --hj212-addr`: the sensor with an hj212 block dials it, the other MQTT."""
    path = tmp_path / "community.toml"
    path.write_text(COMMUNITY, encoding="utf-8")
    parser = cli.argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        ["--mqtt-url", mqtt_url, "--prefix", "hjmix/v1", "--community", str(path),
         "--speed", "600", f"--start={datetime.fromtimestamp(START, TZ).isoformat()}", "--duration", "300",
         "--hj212-addr", f"127.0.0.1:{platform.port}"]
    )  # fmt: skip
    recorder = Recorder(mqtt_url, "hjmix/v1/#", "hjmix-recorder")
    try:
        assert cli.run(args) == 0
        recorder.wait_for(lambda r: len(r.by_sensor("telemetry").get("n-s1-01", [])) >= 1)
        assert set(recorder.by_sensor("telemetry")) == {"n-s1-01"}  # the monitor: not MQTT
    finally:
        recorder.stop()
    assert {f["MN"] for f in platform.frames} == {"MN0001"}
    assert [f["CN"] for f in platform.frames].count("2011") == 5
    monitors = cli._monitors(args, cli.load_community(str(path)))
    assert [(m.sensor.id, m.model.crc, m.model.codes) for m in monitors] == [
        ("f-s1-01", Crc.MODBUS, {"oil_fume": "LAMPBLACK"})
    ]
