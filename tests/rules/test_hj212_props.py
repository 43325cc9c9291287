"""Properties of the HJ 212 codec: what it builds it parses back; no byte string makes
it raise or lose the good frame that follows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linli.rules.hj212 import (
    MAX_SEGMENT,
    Frame,
    Framer,
    Junk,
    Session,
    crc_text,
    decode,
    encode,
    parse_segment,
)
from linli.rules.hj212_profile import CrcMode, Hj212Device, Hj212Profile, Stream
from linli.rules.reading import SensorKind

TZ = ZoneInfo("Asia/Shanghai")
NOW = 1_764_209_700_000
NOISE = Hj212Device(
    "n-hj-01",
    SensorKind.NOISE,
    "010000A8900016F000169DC0",
    "100000",
    Hj212Profile(id="gb-noise-rtd", readings=Stream.RTD),  # its real-time data are readings
)

GOOD = encode(
    [
        ("QN", "20251127101400000"),
        ("ST", "23"),
        ("CN", "2011"),
        ("PW", NOISE.pw),
        ("MN", NOISE.mn),
        ("Flag", "5"),
        ("CP", "DataTime=20251127101300;LA-Rtd=58.3,LA-Flag=N"),
    ],
    CrcMode.HJ212,
)


class One:
    def device(self, mn: str) -> Hj212Device | None:
        return NOISE if mn == NOISE.mn else None


# a value: printable text without the separators of the segment (and some Chinese)
VALUE = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters=";=&,\r\n", exclude_categories=("Cs", "Cc")
    ),
    max_size=20,
).map(str.strip)
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,7}", fullmatch=True).filter(
    lambda k: k.casefold() != "cp"
)
CP = st.lists(st.tuples(KEY.map(lambda k: k + "-Rtd"), VALUE), max_size=12)
MODE = st.sampled_from(list(CrcMode))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.dictionaries(KEY, VALUE, max_size=8),
    cp=CP,
    mode=MODE,
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
)
def test_any_frame_it_builds_it_parses_back(header, cp, mode, cuts):
    cp_text = ";".join(f"{k}={v}" for k, v in cp)
    raw = encode([*header.items(), ("CP", cp_text)], mode)
    segment = raw[6:-6]
    if len(segment) > MAX_SEGMENT:
        return  # not a frame: longer data is split into packets
    framer = Framer()
    found = [item for chunk in split(raw, cuts) for item in framer.feed(chunk)]
    assert found == [Frame(raw, segment, crc_text(segment, mode))]
    packet = parse_segment(segment)
    assert packet.cp == cp_text
    for key, value in header.items():
        canonical = {"qn": "QN", "st": "ST", "cn": "CN", "pw": "PW", "mn": "MN", "flag": "Flag"}
        assert packet.get(canonical.get(key.casefold(), key)) == value or any(
            k.casefold() == key.casefold() and k != key for k in header
        )


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    garbage=st.one_of(
        st.binary(max_size=3000),
        # garbage made of frame-like pieces: the hard cases
        st.lists(
            st.sampled_from(
                [b"##", b"#", b"\r\n", b"\r", b"0", b"0101", b"1024", b"9999", GOOD[:40], b"x"]
            ),
            max_size=60,
        ).map(b"".join),
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=10),
)
def test_no_byte_string_raises_or_loses_the_good_frame_after_it(garbage, cuts):
    framer = Framer()
    stream = garbage + GOOD
    items: list[Frame | Junk] = []
    for chunk in split(stream, cuts):
        items += framer.feed(chunk)
        assert framer.buffered <= 4096 + MAX_SEGMENT + 12
    items += framer.close()
    frames = [i for i in items if isinstance(i, Frame)]
    assert frames and frames[-1].raw == GOOD
    # every byte is accounted for: in a frame or in junk
    assert sum(len(f.raw) for f in frames) + sum(
        j.size for j in items if isinstance(j, Junk)
    ) == len(stream)
    # and whatever frames it found, judging them never raises
    session = Session()
    for f in frames:
        decode(f, One(), session, NOW, TZ)
    assert decode(frames[-1], One(), Session(), NOW, TZ).readings


@settings(max_examples=300)
@given(segment=st.binary(max_size=1100), mode=MODE)
def test_any_segment_is_judged_without_raising(segment, mode):
    raw = b"##%04d" % len(segment) + segment + crc_text(segment, mode) + b"\r\n"
    for item in Framer().feed(raw):
        if isinstance(item, Frame):
            decoded = decode(item, One(), Session(), NOW, TZ)
            if decoded.rejections:  # a refused frame is not answered (CONTRACT §8)
                assert not (decoded.readings or decoded.answers or decoded.replies)
