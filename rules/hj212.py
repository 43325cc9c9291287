"""HJ 212 frames → readings, rejections and answers: the pure codec (CONTRACT §8).

docs/hj212.md says how the monitors speak. This module has no sockets and reads no
clock: bytes, the registry and the time come in; frames, readings, rejections and the
bytes to answer go out. Every reason code an HJ 212 frame is refused with is decided
here: `bad_frame`, `bad_crc`, `unknown_device`, `bad_password`, and `schema`,
`out_of_range`, `ts_out_of_range` (and `kind_mismatch`, `inconsistent`) through the
very checks an MQTT reading passes (rules/parse.py's `check_reading`).

- `Framer`: one per connection; finds frames in a TCP byte stream (split, glued, with
  garbage between), in bounded memory.
- `Session`: one per connection; reassembles split packets (PNUM/PNO) and remembers a
  facility's last running state (CN 2021) for the readings that follow.
- `decode`: one frame → `Decoded` (readings, rejections, answers).
- `encode`: fields → a frame, for answers, tests and the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Final

from linli.rules.hj212_profile import CrcMode, Hj212Device, Hj212Profile, Hj212Registry, Stamp
from linli.rules.parse import check_reading
from linli.rules.reading import Reading, SensorKind
from linli.rules.rejection import ReasonCode, Rejection

# -- the frame ---------------------------------------------------------------------------

HEADER: Final = b"##"
TRAILER: Final = b"\r\n"
MAX_SEGMENT: Final = 1024  # bytes of a data segment (HJ 212-2017 §6.3.1)
_OVERHEAD: Final = 2 + 4 + 4 + 2  # ## + length + CRC + \r\n
MAX_FRAME: Final = MAX_SEGMENT + _OVERHEAD
# A run of junk is reported (and its bytes kept) in pieces of at most this many bytes.
JUNK_KEEP: Final = 4096
# A rejected record keeps at most this much of its frame (CONTRACT §3: 64 KiB).
TOPIC_PREFIX: Final = "hj212/"
UNKNOWN_TOPIC: Final = "hj212/-"

# Split packets (PNUM/PNO): at most this many packets to one message and this many
# messages being put together per connection; beyond, the oldest is dropped unanswered
# (the device sends it again).
MAX_PNUM: Final = 64
MAX_PENDING_SPLITS: Final = 4

# CN commands (docs/hj212.md)
CN_RTD: Final = "2011"
CN_MINUTE: Final = "2051"
CN_HOUR: Final = "2061"
CN_DAY: Final = "2031"
CN_STATE: Final = "2021"
CN_ASK_TIME: Final = "1013"
CN_SET_TIME: Final = "1012"
CN_DATA_ANSWER: Final = "9014"
CN_NOTIFY_ANSWER: Final = "9013"
HOUR_S: Final = 3600
UPLOADS: Final = frozenset({CN_RTD, CN_MINUTE, CN_HOUR, CN_DAY, CN_STATE, "9015"})
# The data CNs a profile's `readings` chooses among (Stream); the day's (2031) is not kept.
DATA_CNS: Final = frozenset({CN_RTD, CN_MINUTE, CN_HOUR})

FLAG_A: Final = 0b01  # the device wants an answer
FLAG_D: Final = 0b10  # a split packet: PNUM/PNO present


# -- CRC (docs/hj212.md, Appendix A) -----------------------------------------------------


def _table(poly: int) -> tuple[int, ...]:
    out = []
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_A001: Final = _table(0xA001)


def crc_hj212(data: bytes) -> int:
    """The standard's CRC: crc = (crc >> 8) ^ byte, then eight shifts by 0xA001."""
    crc = 0xFFFF
    table = _A001
    for b in data:
        crc = (crc >> 8) ^ b
        crc = (crc >> 8) ^ table[crc & 0xFF]
    return crc


def crc_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001), as its value."""
    crc = 0xFFFF
    table = _A001
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def crc_text(segment: bytes, mode: CrcMode) -> bytes:
    """The four upper-case hex digits a frame in `mode` carries after `segment`."""
    if mode is CrcMode.HJ212:
        value = crc_hj212(segment)
    else:
        value = crc_modbus(segment)
        if mode is CrcMode.MODBUS_LE:
            value = ((value & 0xFF) << 8) | (value >> 8)
    return b"%04X" % value


def encode(fields: Mapping[str, str] | Iterable[tuple[str, str]], crc: CrcMode) -> bytes:
    """A frame of these header fields in order, `CP` among them as its inside
    (`"DataTime=...;a-Rtd=1"`, written between `&&`)."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    segment = ";".join(f"{k}=&&{v}&&" if k == "CP" else f"{k}={v}" for k, v in items).encode()
    return b"##%04d%s%s\r\n" % (len(segment), segment, crc_text(segment, crc))


# -- framing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """Bytes shaped like a frame: `##`, the length, the segment, four characters, `\\r\\n`."""

    raw: bytes
    segment: bytes
    crc: bytes


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes that are no frame (reason `bad_frame`): at most `JUNK_KEEP` kept, `size` seen."""

    raw: bytes
    size: int
    detail: str


class Framer:
    """Finds frames in one connection's byte stream (docs/hj212.md, "The conversation").

    Looks for `##`, four decimal digits (at most 1024), waits for the whole frame and
    checks its `\\r\\n`; on any error it drops one byte and looks again, so a good frame
    after garbage, a wrong length or a cut frame is never lost. A claimed length whose
    span holds a `\\r\\n` before its end is wrong at once: no frame holds one. It keeps
    at most one frame's bytes and `JUNK_KEEP` bytes of junk whatever it is fed.
    `junk_bytes` counts junk since the last good frame, for the server to cut a
    connection that sends nothing else.
    """

    __slots__ = ("_buf", "_junk", "_junk_size", "_junk_why", "junk_bytes")

    def __init__(self) -> None:
        self._buf = b""
        self._junk = bytearray()
        self._junk_size = 0
        self._junk_why = ""
        self.junk_bytes = 0

    def feed(self, data: bytes) -> list[Frame | Junk]:
        """The frames (and junk) completed by `data`, in stream order."""
        buf = self._buf + data if self._buf else data
        out: list[Frame | Junk] = []
        pos = 0
        end = len(buf)
        while pos < end:
            at = buf.find(HEADER, pos)
            if at < 0:
                # keep a last '#': it may begin the next frame's `##`
                stop = end - 1 if buf[end - 1 : end] == b"#" else end
                self._skip(buf, pos, stop, out, "no `##` frame start")
                pos = stop
                break
            if at > pos:
                self._skip(buf, pos, at, out, "bytes before `##`")
                pos = at
            if end - pos < 6:
                break  # wait for the length
            digits = buf[pos + 2 : pos + 6]
            if not digits.isdigit() or not digits.isascii():
                self._skip(buf, pos, pos + 1, out, f"`##` not followed by 4 digits: {digits!r}")
                pos += 1
                continue
            size = int(digits)
            if size > MAX_SEGMENT:
                self._skip(buf, pos, pos + 1, out, f"length {size} over {MAX_SEGMENT}")
                pos += 1
                continue
            total = size + _OVERHEAD
            stop = pos + total
            early = buf.find(TRAILER, pos + 6, min(stop - 2, end))
            if early >= 0:
                self._skip(buf, pos, pos + 1, out, f"`\\r\\n` inside the {size}-byte length")
                pos += 1
                continue
            if end < stop:
                break  # wait for the rest
            if buf[stop - 2 : stop] != TRAILER:
                self._skip(buf, pos, pos + 1, out, f"no `\\r\\n` after the {size}-byte length")
                pos += 1
                continue
            raw = buf[pos:stop]
            segment, crc = raw[6 : 6 + size], raw[6 + size : 6 + size + 4]
            if HEADER in segment and crc.upper() not in _any_crc(segment):
                # a `##` and length in garbage may claim to end where a good frame ends:
                # not a frame unless its CRC says so, and the frame inside is found
                self._skip(buf, pos, pos + 1, out, "a `##` whose frame has no valid CRC")
                pos += 1
                continue
            self._report(out)
            self.junk_bytes = 0
            out.append(Frame(raw, segment, crc))
            pos = stop
        self._buf = buf[pos:]
        if len(self._junk) >= JUNK_KEEP:
            self._report(out)
        return out

    def close(self) -> list[Frame | Junk]:
        """The connection ended: what is left is junk."""
        out: list[Frame | Junk] = []
        if self._buf:
            self._skip(self._buf, 0, len(self._buf), out, "cut off by the end of the connection")
            self._buf = b""
        self._report(out)
        return out

    @property
    def buffered(self) -> int:
        """Bytes held: a partial frame and the junk kept to report."""
        return len(self._buf) + len(self._junk)

    def _skip(self, buf: bytes, start: int, stop: int, out: list[Frame | Junk], why: str) -> None:
        n = stop - start
        if n <= 0:
            return
        if not self._junk_size:
            self._junk_why = why
        room = JUNK_KEEP - len(self._junk)
        if room > 0:
            self._junk += buf[start : start + min(n, room)]
        self._junk_size += n
        self.junk_bytes += n
        if len(self._junk) >= JUNK_KEEP:
            self._report(out)

    def _report(self, out: list[Frame | Junk]) -> None:
        if not self._junk_size:
            return
        size = self._junk_size
        why = self._junk_why
        out.append(Junk(bytes(self._junk), size, f"{size} bytes that are no frame ({why})"))
        self._junk.clear()
        self._junk_size = 0


# -- the data segment --------------------------------------------------------------------

_CP_RE: Final = re.compile(r"(?i)(?:^|;)CP=&&")


@dataclass(frozen=True, slots=True)
class Packet:
    """A data segment's fields (keys as the standard spells them) and its CP items."""

    fields: Mapping[str, str]
    cp: str

    def get(self, key: str) -> str | None:
        """A header field (QN, ST, CN, PW, MN, Flag, PNUM, PNO)."""
        return self.fields.get(key)

    @property
    def flag(self) -> int:
        """The Flag field as a number (0 when absent; 2005 devices may omit it)."""
        text = self.fields.get("Flag", "")
        return int(text) if text.isdigit() else 0

    @property
    def version(self) -> int:
        """0 = HJ/T 212-2005, 1 = HJ 212-2017, 2 = HJ 212-2025 (Flag bits 2–7)."""
        return self.flag >> 2

    @property
    def wants_answer(self) -> bool:
        """Flag bit A."""
        return bool(self.flag & FLAG_A)


_KEYS: Final = {k.casefold(): k for k in ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")}


class _Refused(Exception):
    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_segment(segment: bytes) -> Packet:
    """Key=value pairs in any order; `CP=&&...&&` anywhere among them."""
    try:
        text = segment.decode()
    except UnicodeDecodeError:
        raise _Refused(ReasonCode.BAD_FRAME, "data segment is not UTF-8") from None
    cp = ""
    m = _CP_RE.search(text)
    if m is not None:
        start = m.end()
        close = text.find("&&", start)
        if close < 0:
            raise _Refused(ReasonCode.BAD_FRAME, "CP=&& is not closed by &&")
        cp = text[start:close]
        text = text[: m.start()] + ";" + text[close + 2 :]
    fields: dict[str, str] = {}
    for part in text.split(";"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise _Refused(ReasonCode.BAD_FRAME, f"{part[:40]!r} is not key=value")
        fields[_KEYS.get(key.strip().casefold(), key.strip())] = value.strip()
    return Packet(fields, cp)


def cp_items(cp: str) -> dict[str, str]:
    """CP's `name=value` pairs (`;` between items, `,` within), keys as sent."""
    out: dict[str, str] = {}
    for item in cp.split(";"):
        for pair in item.split(","):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            out[key.strip()] = value.strip()
    return out


# -- time --------------------------------------------------------------------------------


def parse_datatime(text: str, tz: tzinfo) -> int:
    """`YYYYMMDDhhmmss` (local time, `tz`) as epoch ms."""
    if len(text) != 14 or not text.isdigit():
        raise _Refused(ReasonCode.SCHEMA, f"DataTime {text!r} is not YYYYMMDDhhmmss")
    try:
        local = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            tzinfo=tz,
        )
    except ValueError:
        raise _Refused(ReasonCode.SCHEMA, f"DataTime {text!r} is not a time") from None
    return int(local.timestamp()) * 1000


def local_stamp(now_ms: int, tz: tzinfo, *, millis: bool = False) -> str:
    """`YYYYMMDDhhmmss` (or a QN, with milliseconds) of `now_ms` in `tz`."""
    local = datetime.fromtimestamp(now_ms / 1000, tz)
    text = local.strftime("%Y%m%d%H%M%S")
    return f"{text}{now_ms % 1000:03d}" if millis else text


# -- a connection's state ----------------------------------------------------------------


@dataclass(slots=True)
class _Split:
    pnum: int
    parts: dict[int, tuple[Packet, Frame]] = field(default_factory=dict)


class Session:
    """What one connection remembers between frames: split packets being put together,
    and the facility's last running state (CN 2021) for the device's next readings."""

    __slots__ = ("_splits", "states")

    def __init__(self) -> None:
        self._splits: dict[tuple[str, str, str], _Split] | None = None
        # sensor -> {fan_on/purifier_on: on}
        self.states: dict[str, dict[str, bool]] | None = None

    def pending_splits(self) -> int:
        """Messages whose packets are not all here."""
        return len(self._splits) if self._splits else 0

    def join(
        self, device: Hj212Device, packet: Packet, frame: Frame
    ) -> tuple[Packet, list[tuple[Packet, Frame]]] | None:
        """A split packet: the whole message once every packet is here, else None."""
        pnum_text, pno_text = packet.get("PNUM") or "", packet.get("PNO") or ""
        if not (pnum_text.isdigit() and pno_text.isdigit()):
            raise _Refused(ReasonCode.SCHEMA, "a split packet (Flag bit D) needs PNUM and PNO")
        pnum, pno = int(pnum_text), int(pno_text)
        if not 1 <= pno <= pnum <= MAX_PNUM:
            raise _Refused(ReasonCode.SCHEMA, f"PNO {pno} of PNUM {pnum} (at most {MAX_PNUM})")
        if pnum == 1:
            return packet, [(packet, frame)]
        splits = self._splits
        if splits is None:
            splits = self._splits = {}
        key = (device.mn, packet.get("QN") or "", packet.get("CN") or "")
        split = splits.get(key)
        if split is None or split.pnum != pnum:
            while len(splits) >= MAX_PENDING_SPLITS:
                del splits[next(iter(splits))]  # the oldest: never answered, sent again
            split = splits[key] = _Split(pnum)
        split.parts[pno] = (packet, frame)
        if len(split.parts) < pnum:
            return None
        del splits[key]
        ordered = [split.parts[i] for i in range(1, pnum + 1)]
        cp = ";".join(p.cp for p, _ in ordered if p.cp)
        return Packet(ordered[0][0].fields, cp), ordered


# -- decoding a frame --------------------------------------------------------------------


@dataclass(slots=True)
class Decoded:
    """What one frame turned into.

    `answers` go to the device once `readings` and `rejections` are durable (9014);
    `replies` at once (9013 and 1012 for a time request). A refused frame has neither.
    `other_stream`: an upload of a data CN other than the profile's `readings`, answered
    and not stored (CONTRACT §8).
    """

    mn: str | None = None
    sensor: str | None = None
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    other_stream: bool = False


def junk_rejection(junk: Junk, received_ms: int, mn: str | None, sensor: str | None) -> Rejection:
    """Bytes that are no frame, on a connection of device `mn` if known."""
    topic = TOPIC_PREFIX + mn if mn else UNKNOWN_TOPIC
    return Rejection(topic, junk.raw, received_ms, ReasonCode.BAD_FRAME, junk.detail, sensor=sensor)


def unregistered(reading: Reading, mn: str, frame: bytes, received_ms: int) -> Rejection:
    """A reading whose sensor the MQTT path's registry does not (yet) know."""
    return Rejection(
        TOPIC_PREFIX + mn,
        frame,
        received_ms,
        ReasonCode.UNKNOWN_DEVICE,
        f"MN {mn} is sensor {reading.sensor!r}, which is not in the registry",
        sensor=None,
    )


def decode(
    frame: Frame,
    registry: Hj212Registry,
    session: Session,
    received_ms: int,
    tz: tzinfo,
) -> Decoded:
    """Judge one frame: who sent it, whether it is whole and theirs, what it says."""
    out = Decoded()
    try:
        packet = parse_segment(frame.segment)
        mn = out.mn = packet.get("MN") or None
        if mn is None:
            raise _Refused(ReasonCode.BAD_FRAME, "no MN in the data segment")
        device = registry.device(mn)
        if device is None:
            if not _crc_matches_any(frame):
                raise _Refused(ReasonCode.BAD_CRC, f"CRC {frame.crc!r} matches no CRC mode")
            raise _Refused(ReasonCode.UNKNOWN_DEVICE, f"MN {mn} is not registered")
        out.sensor = device.sensor
        want = crc_text(frame.segment, device.profile.crc)
        if frame.crc.upper() != want:
            raise _Refused(ReasonCode.BAD_CRC, _crc_detail(frame, device.profile, want))
        if packet.get("PW") != device.pw:
            raise _Refused(ReasonCode.BAD_PASSWORD, f"wrong password for MN {mn}")
        _packet(out, device, packet, frame, session, received_ms, tz)
    except _Refused as bad:
        topic = TOPIC_PREFIX + out.mn if out.mn else UNKNOWN_TOPIC
        out.readings.clear()
        out.answers.clear()
        out.replies.clear()
        out.rejections.append(
            Rejection(topic, frame.raw, received_ms, bad.reason, bad.detail, sensor=out.sensor)
        )
    return out


def _any_crc(segment: bytes) -> set[bytes]:
    return {crc_text(segment, m) for m in CrcMode}


def _crc_matches_any(frame: Frame) -> bool:
    return frame.crc.upper() in _any_crc(frame.segment)


def _crc_detail(frame: Frame, profile: Hj212Profile, want: bytes) -> str:
    other = [m for m in CrcMode if m is not profile.crc and crc_text(frame.segment, m) == frame.crc]
    hint = f"; it is the {other[0].value} CRC" if other else ""
    return (
        f"CRC {frame.crc.decode(errors='replace')} is not {want.decode()} "
        f"({profile.crc.value}, profile {profile.id!r}){hint}"
    )


def _packet(
    out: Decoded,
    device: Hj212Device,
    packet: Packet,
    frame: Frame,
    session: Session,
    received_ms: int,
    tz: tzinfo,
) -> None:
    cn = packet.get("CN")
    if not cn:
        raise _Refused(ReasonCode.SCHEMA, "no CN in the data segment")
    frames = [(packet, frame)]
    if packet.flag & FLAG_D:
        joined = session.join(device, packet, frame)
        if joined is None:
            return  # answered with the rest, once the whole message is durable
        packet, frames = joined
    if cn == CN_ASK_TIME:
        out.replies.append(_answer(device, packet, CN_NOTIFY_ANSWER))
        out.replies.append(_set_time(device, packet, received_ms, tz))
        return
    if cn == device.profile.readings:
        reading = _reading(device, packet, cn, session, received_ms, tz)
        if reading is not None:
            out.readings.append(reading)
    elif cn in DATA_CNS:
        # the profile's other streams end at the same moments as its readings: answered
        # so the device stops sending them, counted, never stored nor refused
        out.other_stream = True
    elif cn == CN_STATE:
        _remember_states(device, packet, session)
    if cn in UPLOADS:
        for part, _ in frames:
            if part.wants_answer:
                answer = _answer(device, part, CN_DATA_ANSWER)
                if answer not in out.answers:
                    out.answers.append(answer)


def _answer(device: Hj212Device, packet: Packet, cn: str) -> bytes:
    """9014 (data) or 9013 (notice): same QN, ST=91, the device's PW and MN, Flag=4."""
    fields = [
        ("QN", packet.get("QN") or ""),
        ("ST", "91"),
        ("CN", cn),
        ("PW", device.pw),
        ("MN", device.mn),
        ("Flag", "4"),
        ("CP", ""),
    ]
    return encode(fields, device.profile.crc)


def _set_time(device: Hj212Device, packet: Packet, now_ms: int, tz: tzinfo) -> bytes:
    """1012: the platform sets the device's clock to its local time."""
    fields = [
        ("QN", local_stamp(now_ms, tz, millis=True)),
        ("ST", packet.get("ST") or "91"),
        ("CN", CN_SET_TIME),
        ("PW", device.pw),
        ("MN", device.mn),
        ("Flag", "5"),
        ("CP", f"SystemTime={local_stamp(now_ms, tz)}"),
    ]
    return encode(fields, device.profile.crc)


# The value a CN's factors carry, in order of preference (docs/hj212.md, "The data segment").
_SUFFIXES: Final = {
    CN_RTD: ("Rtd", "Data"),
    CN_MINUTE: ("Avg", "Data"),
    CN_HOUR: ("Avg", "Data"),
}
_STATE_SUFFIXES: Final = ("RS", "Rtd", "Avg", "Data", "")


def _period_s(profile: Hj212Profile, cn: str) -> int:
    if cn == CN_RTD:
        return profile.rtd_period_s
    if cn == CN_MINUTE:
        return profile.min_period_s
    return HOUR_S


def _reading(
    device: Hj212Device,
    packet: Packet,
    cn: str,
    session: Session,
    received_ms: int,
    tz: tzinfo,
) -> Reading | None:
    items = cp_items(packet.cp)
    stamp = items.get("DataTime")
    if stamp is None:
        raise _Refused(ReasonCode.SCHEMA, f"CN {cn} without DataTime")
    profile = device.profile
    period_s = _period_s(profile, cn)
    ts_ms = parse_datatime(stamp, tz)
    if profile.stamp is Stamp.START:
        ts_ms += period_s * 1000
    metrics: dict[str, float | bool] = {}
    flags: dict[str, str] = {}
    suffixes = _SUFFIXES[cn]
    values: dict[str, dict[str, str]] = {}
    for key, value in items.items():
        code, dash, suffix = key.rpartition("-")
        if not dash:
            code, suffix = key, ""
        values.setdefault(code, {})[suffix] = value
    for code, by_suffix in values.items():
        state = profile.state(code)
        if state is not None:
            text = next((by_suffix[s] for s in _STATE_SUFFIXES if s in by_suffix), None)
            if text is not None:
                metrics[state] = _number(code, text) == 1
            continue
        if code.upper().startswith("SB") and "RS" in by_suffix:
            continue  # a facility the profile does not name
        metric = profile.metric(code)
        if metric is None:
            continue  # a factor linli does not keep (CONTRACT §8: ignored)
        text = next((by_suffix[s] for s in suffixes if s in by_suffix), None)
        if text is None:
            continue
        metrics[metric] = _number(code, text)
        flag = by_suffix.get("Flag", "N").strip().upper() or "N"
        if flag != "N":
            flags[metric] = flag
    remembered = session.states.get(device.sensor) if session.states else None
    if remembered and device.kind is SensorKind.FUME:
        for name, on in remembered.items():
            metrics.setdefault(name, on)
    if not metrics:
        return None  # nothing linli keeps (a station's wind beside its noise)
    # seq: the period's end in seconds, so a frame sent again is the same reading
    checked = check_reading(
        device.sensor, device.kind, ts_ms, ts_ms // 1000, period_s, metrics, received_ms
    )
    if not isinstance(checked, Reading):
        raise _Refused(*checked)
    if flags:
        return checked._replace(flag="".join(sorted(set(flags.values()))))
    return checked


def _remember_states(device: Hj212Device, packet: Packet, session: Session) -> None:
    """CN 2021: `SBxxx-RS` and the profile's state codes, for the readings that follow."""
    found: dict[str, bool] = {}
    for key, value in cp_items(packet.cp).items():
        code, _, _suffix = key.rpartition("-")
        state = device.profile.state(code or key)
        if state is not None:
            found[state] = _number(code or key, value) == 1
    if found:
        if session.states is None:
            session.states = {}
        session.states.setdefault(device.sensor, {}).update(found)


def _number(code: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Refused(ReasonCode.SCHEMA, f"{code}: {text[:40]!r} is not a number") from None
    return value
