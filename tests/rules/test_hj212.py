"""The HJ 212 codec: CRC, framing, segments, readings, answers, every reason code."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from linli.rules.hj212 import (
    MAX_SEGMENT,
    Decoded,
    Frame,
    Framer,
    Junk,
    Session,
    cp_items,
    crc_text,
    decode,
    encode,
    parse_segment,
)
from linli.rules.hj212_profile import (
    DEFAULT_PROFILE,
    CrcMode,
    Hj212Device,
    Hj212Profile,
    Stamp,
    Stream,
)
from linli.rules.reading import SensorKind
from linli.rules.rejection import HJ212_ONLY, ReasonCode

TZ = ZoneInfo("Asia/Shanghai")
# 2025-11-27 10:15:00 +08:00
NOW = 1_764_209_700_000
FUME_MN = "2019081903100008"
NOISE_MN = "010000A8900016F000169DC0"

LAMPBLACK = Hj212Profile(
    id="lampblack-v1",
    crc=CrcMode.HJ212,
    stamp=Stamp.START,
    rtd_period_s=60,
    min_period_s=600,
    codes={"LAMPBLACK": "oil_fume", "PM": "pm", "NMHC": "nmhc", "PURIFYAD": "purifier_current"},
    states={
        "FANSTATUS": "fan_on",
        "PURIFYSTATUS": "purifier_on",
        "SB1": "fan_on",
        "SB2": "purifier_on",
    },
    readings=Stream.RTD,  # most frames here are real-time data
)
MODBUS_END = Hj212Profile(
    id="modbus-end", crc=CrcMode.MODBUS_LE, stamp=Stamp.END, codes={"CONC": "oil_fume"}
)


class Devices:
    """A registry of monitors in memory (the store-backed one is store/'s)."""

    def __init__(self, *devices: Hj212Device) -> None:
        self.by_mn = {d.mn: d for d in devices}

    def device(self, mn: str) -> Hj212Device | None:
        return self.by_mn.get(mn)


FUME = Hj212Device("f-zhiwei-01", SensorKind.FUME, FUME_MN, "123456", LAMPBLACK)
NOISE = Hj212Device("n-hj-01", SensorKind.NOISE, NOISE_MN, "100000", DEFAULT_PROFILE)
LE = Hj212Device("f-le-01", SensorKind.FUME, "88888888000001", "654321", MODBUS_END)
HOURLY = Hj212Device(
    "n-hj-02",
    SensorKind.NOISE,
    "010000A8900016F000169DC1",
    "100001",
    Hj212Profile(id="gb-noise-hourly", readings=Stream.HOUR),
)
REG = Devices(FUME, NOISE, LE, HOURLY)


def frame(
    cp: str,
    *,
    cn: str = "2011",
    device: Hj212Device = FUME,
    flag: str = "5",
    qn: str = "20251127101400000",
    pw: str | None = None,
    crc: CrcMode | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    fields = [
        ("QN", qn),
        ("ST", "22"),
        ("CN", cn),
        ("PW", device.pw if pw is None else pw),
        ("MN", device.mn),
        ("Flag", flag),
        *extra,
        ("CP", cp),
    ]
    return encode(fields, device.profile.crc if crc is None else crc)


def one(raw: bytes, session: Session | None = None, received_ms: int = NOW) -> Decoded:
    items = Framer().feed(raw)
    assert len(items) == 1 and isinstance(items[0], Frame), items
    return decode(items[0], REG, session or Session(), received_ms, TZ)


# -- CRC ---------------------------------------------------------------------------------

STANDARD = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
)


def test_the_standards_example_has_crc_1c80():
    assert len(STANDARD) == 101
    assert crc_text(STANDARD, CrcMode.HJ212) == b"1C80"


def test_modbus_crc_and_its_byte_swap():
    # CRC-16/MODBUS check value of "123456789" is 0x4B37
    assert crc_text(b"123456789", CrcMode.MODBUS) == b"4B37"
    assert crc_text(b"123456789", CrcMode.MODBUS_LE) == b"374B"


def test_encode_writes_the_standards_frame():
    fields = [
        ("QN", "20160801085857223"),
        ("ST", "32"),
        ("CN", "1062"),
        ("PW", "100000"),
        ("MN", "010000A8900016F000169DC0"),
        ("Flag", "5"),
        ("CP", "RtdInterval=30"),
    ]
    assert encode(fields, CrcMode.HJ212) == b"##0101" + STANDARD + b"1C80\r\n"


# -- framing -----------------------------------------------------------------------------

A = frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2,LAMPBLACK-Flag=N")
B = frame("DataTime=20251127101400;LAMPBLACK-Rtd=1.3,LAMPBLACK-Flag=N", qn="20251127101500000")


def frames_of(items):
    return [i.raw for i in items if isinstance(i, Frame)]


def junk_of(items):
    return [i for i in items if isinstance(i, Junk)]


def feed_all(chunks):
    framer = Framer()
    items = []
    for c in chunks:
        items += framer.feed(c)
    return items + framer.close(), framer


FRAMING = [
    pytest.param([A + B], [A, B], 0, id="two frames glued in one read"),
    pytest.param([bytes([b]) for b in A + B], [A, B], 0, id="split byte by byte"),
    pytest.param([A[:7], A[7:50], A[50:] + B[:3], B[3:]], [A, B], 0, id="split anywhere"),
    pytest.param([b"garbage\x00\xff" + A + b"##xx" + B], [A, B], 2, id="garbage between"),
    pytest.param([b"#" + A], [A], 1, id="a lone # before ##"),
    pytest.param([b"##0999" + A], [A], 1, id="a wrong length before a good frame"),
    pytest.param([A[:-2] + B], [B], 1, id="a frame without its \\r\\n, then a good one"),
    pytest.param([A[:40] + B], [B], 1, id="a frame cut short, then a good one"),
    pytest.param([b"##1025" + b"x" * 1040 + A], [A], 1, id="a length over 1024"),
    pytest.param([A + b"tail"], [A], 1, id="junk at the end of the connection"),
]


@pytest.mark.parametrize(("chunks", "want", "junk_runs"), FRAMING)
def test_framing(chunks, want, junk_runs):
    items, _ = feed_all(chunks)
    assert frames_of(items) == want
    junk = junk_of(items)
    assert len(junk) == junk_runs
    assert all("no frame" in j.detail for j in junk)


def test_a_wrong_length_waits_no_longer_than_the_next_frames_end():
    """A good frame right after a bogus `##0999` is found as soon as it is whole."""
    framer = Framer()
    assert frames_of(framer.feed(b"##0999abc")) == []
    assert frames_of(framer.feed(A)) == [A]


def test_garbage_claiming_to_end_where_a_good_frame_ends_does_not_swallow_it():
    garbage = b"xy"
    claimed = len(garbage) + len(A) - 6  # from its `##`, the span ends at A's `\r\n`
    stream = b"##%04d" % claimed + garbage + A
    items, _ = feed_all([stream])
    assert frames_of(items) == [A]
    assert sum(j.size for j in junk_of(items)) == 6 + len(garbage)


def test_utf8_length_is_counted_in_bytes():
    raw = frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2;Note=厨房")
    segment = raw[6:-6]
    assert int(raw[2:6]) == len(segment) != len(segment.decode())
    assert frames_of(Framer().feed(raw)) == [raw]


def test_memory_is_bounded_whatever_is_fed():
    framer = Framer()
    junk = 0
    for _ in range(400):  # 100 MB of bytes without `##`
        items = framer.feed(b"x" * 262_144)
        junk += sum(j.size for j in junk_of(items))
        assert framer.buffered <= 4096 + MAX_SEGMENT + 12
    assert framer.junk_bytes == 400 * 262_144
    junk += sum(j.size for j in junk_of(framer.close()))
    assert junk == 400 * 262_144
    assert frames_of(framer.feed(A)) == [A] and framer.junk_bytes == 0


# -- segments ----------------------------------------------------------------------------


def test_fields_in_any_order_and_case():
    p = parse_segment(b"mn=123;CP=&&DataTime=20251127101300;a-Rtd=1,a-Flag=N&&;Flag=5;cn=2011;QN=1")
    assert (p.get("MN"), p.get("CN"), p.get("QN"), p.flag) == ("123", "2011", "1", 5)
    assert p.cp == "DataTime=20251127101300;a-Rtd=1,a-Flag=N"
    assert cp_items(p.cp) == {"DataTime": "20251127101300", "a-Rtd": "1", "a-Flag": "N"}


@pytest.mark.parametrize(
    ("flag", "version", "answer"),
    [("0", 0, False), ("1", 0, True), ("4", 1, False), ("5", 1, True), ("9", 2, True)],
    ids=["2005", "2005 answer", "2017", "2017 answer", "2025 answer"],
)
def test_flag_bits(flag, version, answer):
    p = parse_segment(f"CN=2011;Flag={flag};CP=&&&&".encode())
    assert (p.version, p.wants_answer) == (version, answer)


# -- readings ----------------------------------------------------------------------------


def test_rtd_of_a_fume_monitor_is_a_reading_ending_a_minute_after_datatime():
    d = one(
        frame(
            "DataTime=20251127101300;LAMPBLACK-Rtd=1.2,LAMPBLACK-Flag=N;pm-Rtd=0.4;"
            "FANSTATUS-Rtd=1;PURIFYSTATUS-Rtd=0;WIND-Rtd=3"
        )
    )
    assert d.rejections == []
    (r,) = d.readings
    # 10:13:00 Beijing is the start; the reading ends at 10:14:00 Beijing = 02:14:00 UTC
    assert r.ts_ms == NOW - 60_000 and r.period_s == 60
    assert r.metrics == {"oil_fume": 1.2, "pm": 0.4, "fan_on": True, "purifier_on": False}
    assert r.sensor == "f-zhiwei-01" and r.kind is SensorKind.FUME and r.flag is None
    assert r.seq == r.ts_ms // 1000


def test_minute_data_of_a_noise_station_in_lower_case():
    cp = "DataTime=20251127100000;la-Data=58.3;lmx-Data=71.2;lmn-Data=44.0;l90-Data=49.8;a34004-Avg=9"
    d = one(frame(cp, cn="2051", device=NOISE))
    (r,) = d.readings
    assert r.ts_ms == NOW - 5 * 60_000 and r.period_s == 600
    assert r.metrics == {"laeq": 58.3, "lamax": 71.2, "lamin": 44.0, "l90": 49.8}


def test_hourly_data_ends_an_hour_after_its_start():
    d = one(frame("DataTime=20251127090000;Leq-Avg=55", cn="2061", device=HOURLY))
    (r,) = d.readings
    assert r.ts_ms == NOW - 15 * 60_000 and r.period_s == 3600


# One monitor's 2011 ending at 10:14 and its 2051 of 10:04–10:14 end at the same moment:
# only the profile's `readings` CN is stored; the others are answered, counted, not stored.
_RTD = ("2011", "DataTime=20251127101300;LAMPBLACK-Rtd=1.2;WIND-Rtd=3")
_MIN = ("2051", "DataTime=20251127100400;LAMPBLACK-Avg=1.1;WIND-Avg=3")
_HOUR = ("2061", "DataTime=20251127091400;LAMPBLACK-Avg=1.0;WIND-Avg=3")


def _monitor(readings: Stream | None) -> Hj212Device:
    kwargs = {} if readings is None else {"readings": readings}
    profile = Hj212Profile(id="both", codes={"LAMPBLACK": "oil_fume"}, **kwargs)  # type: ignore[arg-type]
    return Hj212Device("f-both-01", SensorKind.FUME, "2019081903100099", "100099", profile)


@pytest.mark.parametrize(
    ("readings", "upload", "stored"),
    [
        (None, _RTD, None),  # the default: 2051, period data
        (None, _MIN, (600, 1.1)),
        (None, _HOUR, None),
        (Stream.RTD, _RTD, (60, 1.2)),
        (Stream.RTD, _MIN, None),
        (Stream.RTD, _HOUR, None),
        (Stream.MINUTE, _RTD, None),
        (Stream.MINUTE, _MIN, (600, 1.1)),
        (Stream.HOUR, _MIN, None),
        (Stream.HOUR, _HOUR, (3600, 1.0)),
    ],
)
def test_only_the_profile_s_readings_cn_becomes_readings(readings, upload, stored):
    device = _monitor(readings)
    cn, cp = upload
    items = Framer().feed(frame(cp, cn=cn, device=device))
    assert isinstance(items[0], Frame)
    d = decode(items[0], Devices(device), Session(), NOW, TZ)
    assert d.rejections == [] and len(d.answers) == 1  # answered either way: not sent again
    if stored is None:
        assert d.readings == [] and d.other_stream
    else:
        (r,) = d.readings
        assert (r.period_s, r.metrics["oil_fume"]) == stored and not d.other_stream
        assert r.ts_ms == NOW - 60_000  # each of the three ends at 10:14


def test_an_other_stream_upload_is_not_checked_so_never_refused():
    device = _monitor(Stream.MINUTE)
    # a 2011 with a value out of range and no DataTime: not judged, only answered
    items = Framer().feed(frame("LAMPBLACK-Rtd=99999", cn="2011", device=device))
    assert isinstance(items[0], Frame)
    d = decode(items[0], Devices(device), Session(), NOW, TZ)
    assert (d.readings, d.rejections, d.other_stream, len(d.answers)) == ([], [], True, 1)


def test_a_day_s_data_and_states_are_not_an_other_stream():
    device = _monitor(None)
    for cn in ("2031", "2021"):
        items = Framer().feed(
            frame("DataTime=20251127000000;LAMPBLACK-Avg=1", cn=cn, device=device)
        )
        assert isinstance(items[0], Frame)
        d = decode(items[0], Devices(device), Session(), NOW, TZ)
        assert not d.other_stream and d.readings == [] and d.rejections == [], cn


def test_a_profile_stamping_the_end_and_a_byte_swapped_modbus_crc():
    d = one(frame("DataTime=20251127101000;CONC-Avg=2.5", cn="2051", device=LE))
    assert d.rejections == []
    (r,) = d.readings
    assert r.ts_ms == NOW - 5 * 60_000 and r.period_s == 600


def test_a_flag_other_than_n_is_carried():
    d = one(frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2,LAMPBLACK-Flag=D"))
    (r,) = d.readings
    assert r.flag == "D"


def test_a_facility_state_applies_to_the_readings_that_follow():
    session = Session()
    state = one(frame("DataTime=20251127101300;SB1-RS=1;SB2-RS=2", cn="2021"), session)
    assert state.readings == [] and state.rejections == [] and len(state.answers) == 1
    d = one(frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2"), session)
    assert d.readings[0].metrics == {"oil_fume": 1.2, "fan_on": True, "purifier_on": False}


def test_same_frame_twice_is_the_same_reading():
    raw = frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2")
    assert one(raw).readings == one(raw, received_ms=NOW + 30_000).readings


# -- answers -----------------------------------------------------------------------------


def test_an_upload_wanting_an_answer_gets_9014():
    d = one(frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2", qn="20251127101400123"))
    assert d.answers == [
        encode(
            [
                ("QN", "20251127101400123"),
                ("ST", "91"),
                ("CN", "9014"),
                ("PW", "123456"),
                ("MN", FUME_MN),
                ("Flag", "4"),
                ("CP", ""),
            ],
            CrcMode.HJ212,
        )
    ]
    assert d.answers[0].endswith(b";Flag=4;CP=&&&&" + d.answers[0][-6:])
    assert d.replies == []


def test_no_answer_without_flag_a():
    d = one(frame("DataTime=20251127101300;LAMPBLACK-Rtd=1.2", flag="4"))
    assert len(d.readings) == 1 and d.answers == []


def test_a_time_request_is_answered_9013_then_1012_with_local_time():
    d = one(frame("", cn="1013", qn="20251127101458000"))
    assert d.answers == [] and len(d.replies) == 2
    notice, set_time = (parse_segment(r[6:-6]) for r in d.replies)
    assert (notice.get("CN"), notice.get("QN"), notice.get("ST")) == (
        "9013",
        "20251127101458000",
        "91",
    )
    assert set_time.get("CN") == "1012" and set_time.cp == "SystemTime=20251127101500"


def test_split_packets_are_one_reading_answered_once_whole():
    session = Session()
    split = "7"  # 2017, answer wanted, split

    def part(no, cp):
        return frame(cp, flag=split, extra=(("PNUM", "2"), ("PNO", str(no))))

    first = one(part(1, "DataTime=20251127101300;LAMPBLACK-Rtd=1.2"), session)
    assert first.readings == [] and first.answers == [] and first.rejections == []
    assert session.pending_splits() == 1
    second = one(part(2, "PM-Rtd=0.4"), session)
    assert second.readings[0].metrics == {"oil_fume": 1.2, "pm": 0.4}
    assert len(second.answers) == 1 and session.pending_splits() == 0


def test_split_packets_out_of_order():
    session = Session()

    def part(no, cp):
        return frame(cp, flag="7", extra=(("PNUM", "3"), ("PNO", str(no))))

    assert one(part(3, "NMHC-Rtd=3"), session).readings == []
    assert one(part(1, "DataTime=20251127101300;LAMPBLACK-Rtd=1.2"), session).readings == []
    (r,) = one(part(2, "PM-Rtd=0.4"), session).readings
    assert r.metrics == {"oil_fume": 1.2, "pm": 0.4, "nmhc": 3.0}


# -- refusals: every reason code of an HJ 212 frame ---------------------------------------

GOOD = "DataTime=20251127101300;LAMPBLACK-Rtd=1.2"
REFUSALS = [
    pytest.param(
        frame(GOOD, crc=CrcMode.MODBUS), ReasonCode.BAD_CRC, f"hj212/{FUME_MN}", id="bad crc"
    ),
    pytest.param(
        frame(GOOD, device=Hj212Device("x", SensorKind.FUME, "999", "1", LAMPBLACK)),
        ReasonCode.UNKNOWN_DEVICE,
        "hj212/999",
        id="unknown MN",
    ),
    pytest.param(
        encode([("QN", "1"), ("CN", "2011"), ("CP", GOOD)], CrcMode.HJ212),
        ReasonCode.BAD_FRAME,
        "hj212/-",
        id="no MN",
    ),
    pytest.param(frame(GOOD, pw="000000"), ReasonCode.BAD_PASSWORD, f"hj212/{FUME_MN}", id="pw"),
    pytest.param(
        frame("DataTime=2025112710;LAMPBLACK-Rtd=1.2"), ReasonCode.SCHEMA, None, id="datatime"
    ),
    pytest.param(frame("LAMPBLACK-Rtd=1.2"), ReasonCode.SCHEMA, None, id="no datatime"),
    pytest.param(
        frame("DataTime=20251127101300;LAMPBLACK-Rtd=abc"), ReasonCode.SCHEMA, None, id="nan"
    ),
    pytest.param(
        frame("DataTime=20251127101300;LAMPBLACK-Rtd=51"),
        ReasonCode.OUT_OF_RANGE,
        None,
        id="over 50 mg/m3",
    ),
    pytest.param(
        frame("DataTime=20251120101300;LAMPBLACK-Rtd=1.2"),
        ReasonCode.TS_OUT_OF_RANGE,
        None,
        id="a week old",
    ),
    pytest.param(
        frame("DataTime=20251127101300;PM-Rtd=1.2"), ReasonCode.SCHEMA, None, id="no oil_fume"
    ),
]


@pytest.mark.parametrize(("raw", "reason", "topic"), REFUSALS)
def test_refused_frames_are_rejected_records_and_not_answered(raw, reason, topic):
    d = one(raw)
    assert d.readings == [] and d.answers == [] and d.replies == []
    (rej,) = d.rejections
    assert rej.reason is reason
    assert rej.topic == (topic or f"hj212/{FUME_MN}")
    assert rej.payload == raw
    assert rej.received_ms == NOW and rej.detail


def test_every_hj212_reason_code_is_produced_here():
    items, _ = feed_all([b"noise"])
    produced: set[object] = {ReasonCode.BAD_FRAME} if junk_of(items) else set()
    produced |= {p.values[1] for p in REFUSALS}
    assert HJ212_ONLY | {ReasonCode.SCHEMA, ReasonCode.OUT_OF_RANGE} <= produced
    assert ReasonCode.TS_OUT_OF_RANGE in produced


def test_a_bad_crc_says_which_mode_it_matches():
    (rej,) = one(frame(GOOD, crc=CrcMode.MODBUS)).rejections
    assert "modbus" in rej.detail and "lampblack-v1" in rej.detail
