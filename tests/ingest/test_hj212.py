"""The HJ 212 listener on real TCP, real mosquitto and real InfluxDB, in this process:
framing, answers only after storage, refusals as rejected records, sessions per MN."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from linli.influx.client import InfluxClient
from linli.ingest.memory import MemoryMonitors, MemoryStore
from linli.ingestion import Ingest
from linli.rules.hj212 import Frame, Framer, Packet, encode, parse_segment
from linli.rules.hj212_profile import DEFAULT_PROFILE, CrcMode, Hj212Device, Hj212Profile, Stream
from linli.rules.reading import SensorKind
from linli.rules.rejection import ReasonCode
from tests.helpers import WAIT_S, count, settings_for, small_registry, wait_for

TZ = ZoneInfo("Asia/Shanghai")
LAMPBLACK = Hj212Profile(
    id="lampblack-v1",
    codes={"LAMPBLACK": "oil_fume", "PM": "pm"},
    states={"FANSTATUS": "fan_on", "PURIFYSTATUS": "purifier_on"},
    readings=Stream.RTD,  # the frames here are real-time data
)
FUME = Hj212Device("f-01", SensorKind.FUME, "2019081903100008", "123456", LAMPBLACK)
NOISE = Hj212Device("n-01", SensorKind.NOISE, "010000A8900016F000169DC0", "100000", DEFAULT_PROFILE)
# a noise station sending real-time and 10-minute data; its profile keeps 2051 (the default)
STATION = Hj212Device(
    "n-02", SensorKind.NOISE, "010000A8900016F000169DC2", "100002", DEFAULT_PROFILE
)


@pytest.fixture
def listener(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path):
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, hj212_idle_s=3600.0
    ).model_copy(update={"hj212_addr": "127.0.0.1:0"})
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx, hj212=MemoryMonitors(FUME, NOISE, STATION))
    ingest.start(wait_subscribed_s=WAIT_S)
    assert ingest.hj212 is not None
    yield ingest, influx, store
    ingest.stop()
    influx.close()


class Monitor:
    """A monitor's data logger: one TCP connection, frames out, answers in."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        self.framer = Framer()
        self.frames: list[Frame] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> Packet:
        """The next frame linli sends."""
        while not self.frames:
            data = self.sock.recv(65536)
            assert data, "linli closed the connection"
            self.frames += [f for f in self.framer.feed(data) if isinstance(f, Frame)]
        return parse_segment(self.frames.pop(0).segment)

    def closed_by_linli(self) -> bool:
        """Waits until linli closes the connection (reading and dropping what it sends)."""
        while True:
            try:
                if not self.sock.recv(65536):
                    return True
            except ConnectionResetError:
                return True

    def close(self) -> None:
        self.sock.close()


def minute_ago(minutes: int) -> str:
    now = datetime.now(TZ).replace(second=0, microsecond=0)
    return (now - timedelta(minutes=minutes)).strftime("%Y%m%d%H%M%S")


def upload(
    device: Hj212Device,
    cp: str,
    qn: str,
    *,
    cn: str = "2011",
    flag: str = "5",
    pw: str | None = None,
    crc: CrcMode | None = None,
) -> bytes:
    return encode(
        [
            ("QN", qn),
            ("ST", "22"),
            ("CN", cn),
            ("PW", device.pw if pw is None else pw),
            ("MN", device.mn),
            ("Flag", flag),
            ("CP", cp),
        ],
        crc or device.profile.crc,
    )


def fume(minutes: int, value: float, qn: str, **kw) -> bytes:
    cp = f"DataTime={minute_ago(minutes)};LAMPBLACK-Rtd={value},LAMPBLACK-Flag=N;FANSTATUS-Rtd=1"
    return upload(FUME, cp, qn, **kw)


def stored(influx: InfluxClient) -> int:
    return count(influx, "fume", "oil_fume")


def test_an_answer_comes_only_once_the_reading_is_stored(listener):
    ingest, influx, store = listener
    monitor = Monitor(ingest.hj212.port)
    monitor.send(fume(3, 1.25, "20990101000000001"))
    answer = monitor.answer()
    # the 9014 is written after the writer made the batch durable: it is in InfluxDB now
    assert stored(influx) == 1
    assert (answer.get("CN"), answer.get("QN"), answer.get("ST")) == (
        "9014",
        "20990101000000001",
        "91",
    )
    assert (answer.get("PW"), answer.get("MN"), answer.get("Flag"), answer.cp) == (
        FUME.pw,
        FUME.mn,
        "4",
        "",
    )
    rows = influx.query('SELECT oil_fume, fan_on, period_s FROM "fume"')[0].values
    assert [r[1:] for r in rows] == [[1.25, True, 60]]
    assert store.rejections == []
    monitor.close()


def test_framing_over_tcp_glued_split_garbage_and_wrong_length(listener):
    ingest, influx, store = listener
    monitor = Monitor(ingest.hj212.port)
    a, b, c, d = (fume(10 + i, 1.0 + i, f"2099010100000000{i}") for i in range(4))
    monitor.send(a + b)  # glued
    for byte in c:  # split byte by byte
        monitor.send(bytes([byte]))
    monitor.send(b"\x00garbage##0999" + d[:30] + b"##12" + d)  # garbage, a wrong length
    qns = {monitor.answer().get("QN") for _ in range(4)}
    assert qns == {f"2099010100000000{i}" for i in range(4)}
    assert stored(influx) == 4
    bad = [r for r in store.rejections if r.reason is ReasonCode.BAD_FRAME]
    assert bad and all(r.topic == f"hj212/{FUME.mn}" and r.sensor == "f-01" for r in bad)
    monitor.close()


def test_a_frame_sent_again_is_answered_again_and_stored_once(listener):
    ingest, influx, _ = listener
    monitor = Monitor(ingest.hj212.port)
    frame = fume(5, 2.0, "20990101000000009")
    monitor.send(frame)
    monitor.answer()
    monitor.send(frame)
    assert monitor.answer().get("QN") == "20990101000000009"
    assert stored(influx) == 1
    assert ingest.pipeline.stats.duplicates == 1
    monitor.close()


def test_real_time_and_minute_data_ending_together_store_the_profile_s_stream_only(listener):
    """CONTRACT §8: the 2011 ending at the moment its 2051 ends is answered, counted and
    not stored: no `conflict`, no second reading for the rules to count twice."""
    ingest, influx, store = listener
    monitor = Monitor(ingest.hj212.port)
    rtd = f"DataTime={minute_ago(2)};Leq-Rtd=61.5,Leq-Flag=N"
    minute = f"DataTime={minute_ago(11)};Leq-Avg=58.0,Leq-Flag=N"  # 10 minutes, same end
    for n, (cn, cp) in enumerate([("2011", rtd), ("2051", minute), ("2011", rtd)]):
        monitor.send(upload(STATION, cp, f"2099010100000030{n}", cn=cn))
        assert monitor.answer().get("QN") == f"2099010100000030{n}"  # each answered
    series = influx.query('SELECT "laeq", "period_s" FROM "noise" WHERE "sensor" = \'n-02\'')
    assert [v[1:] for v in series[0].values] == [[58.0, 600]]
    assert store.rejections == [] and ingest.writer.stats.conflicts == 0
    stats = ingest.hj212.stats
    assert (stats.other_stream, stats.other_stream_by_sensor) == (2, {"n-02": 2})
    monitor.close()


REFUSED = [
    pytest.param(
        lambda: upload(
            Hj212Device("x", SensorKind.FUME, "77777777", "1", LAMPBLACK),
            f"DataTime={minute_ago(2)};LAMPBLACK-Rtd=1",
            "20990101000000100",
        ),
        ReasonCode.UNKNOWN_DEVICE,
        "hj212/77777777",
        None,
        id="unknown MN",
    ),
    pytest.param(
        lambda: fume(2, 1.0, "20990101000000101", pw="000000"),
        ReasonCode.BAD_PASSWORD,
        f"hj212/{FUME.mn}",
        "f-01",
        id="wrong password",
    ),
    pytest.param(
        lambda: fume(2, 1.0, "20990101000000102", crc=CrcMode.MODBUS),
        ReasonCode.BAD_CRC,
        f"hj212/{FUME.mn}",
        "f-01",
        id="bad CRC",
    ),
    pytest.param(
        lambda: fume(2, 99.0, "20990101000000103"),
        ReasonCode.OUT_OF_RANGE,
        f"hj212/{FUME.mn}",
        "f-01",
        id="out of range",
    ),
]


@pytest.mark.parametrize(("make", "reason", "topic", "sensor"), REFUSED)
def test_a_refused_frame_is_a_rejected_record_and_gets_no_answer(
    listener, make, reason, topic, sensor
):
    ingest, influx, store = listener
    monitor = Monitor(ingest.hj212.port)
    bad = make()
    monitor.send(bad)
    monitor.send(fume(1, 1.5, "20990101000000200"))
    # the first answer linli sends is the good frame's: the refused one has none
    assert monitor.answer().get("QN") == "20990101000000200"
    (rejection,) = [r for r in store.rejections if r.reason is reason]
    assert (rejection.topic, rejection.payload, rejection.sensor) == (topic, bad, sensor)
    assert stored(influx) == 1
    # counted per device and reason, as MQTT's rejections (the Devices dashboard, /health)
    wait_for(lambda: influx.query(f"SELECT sum(count) FROM rejected WHERE reason = '{reason}'"))
    monitor.close()


def test_a_new_connection_for_an_mn_replaces_the_old(listener):
    ingest, _, _ = listener
    old = Monitor(ingest.hj212.port)
    old.send(fume(4, 1.0, "20990101000000300"))
    old.answer()
    new = Monitor(ingest.hj212.port)
    new.send(fume(3, 1.1, "20990101000000301"))
    assert new.answer().get("QN") == "20990101000000301"
    assert old.closed_by_linli()
    assert ingest.hj212.stats.replaced == 1
    new.close()


def test_time_request_is_answered_9013_then_1012(listener):
    ingest, _, _ = listener
    monitor = Monitor(ingest.hj212.port)
    monitor.send(upload(NOISE, "", "20990101000000400", cn="1013"))
    notice, set_time = monitor.answer(), monitor.answer()
    assert (notice.get("CN"), notice.get("QN")) == ("9013", "20990101000000400")
    assert set_time.get("CN") == "1012" and set_time.cp.startswith("SystemTime=")
    local = datetime.strptime(set_time.cp.removeprefix("SystemTime="), "%Y%m%d%H%M%S")
    assert abs(local.replace(tzinfo=TZ) - datetime.now(TZ)) < timedelta(minutes=5)
    monitor.close()


def test_a_connection_sending_only_junk_is_cut_and_the_listener_goes_on(listener):
    ingest, _, _ = listener
    flood = Monitor(ingest.hj212.port)
    try:
        for _ in range(64):
            flood.send(b"x" * 4096)
    except (BrokenPipeError, ConnectionResetError):
        pass  # cut while sending: what the test wants
    assert flood.closed_by_linli()
    monitor = Monitor(ingest.hj212.port)
    monitor.send(fume(2, 1.0, "20990101000000500"))
    assert monitor.answer().get("QN") == "20990101000000500"
    monitor.close()


def test_an_idle_connection_is_closed(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path):
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, hj212_idle_s=0.5
    ).model_copy(update={"hj212_addr": "127.0.0.1:0"})
    influx = InfluxClient(influx_url, influx_db)
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx, hj212=MemoryMonitors(FUME))
    ingest.start(wait_subscribed_s=WAIT_S)
    try:
        assert ingest.hj212 is not None
        monitor = Monitor(ingest.hj212.port)
        assert monitor.closed_by_linli()
        assert ingest.hj212.stats.idle_closed == 1
    finally:
        ingest.stop()
        influx.close()
