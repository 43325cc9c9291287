"""HJ 212 as a monitor's data logger speaks it: frames, CRCs, uploads and the answers.

A second implementation beside linli's own (rules/hj212.py), written from the standard
(docs/hj212.md) and sharing nothing with it, so that each checks the other. A frame is
`##` + 4-digit length + data segment + 4 hex digits of CRC + `\\r\\n`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

FLAG_ANSWER: Final = 1  # bit A: the logger wants a 9014
VERSION_2017: Final = 4  # bits 2–7 = 1: HJ 212-2017
ST_FUME: Final = "31"  # no ST is cooking fume's: fume loggers send 22, 31, 51 or 99
ST_NOISE: Final = "23"
CN_RTD: Final = "2011"
CN_MINUTE: Final = "2051"
CN_DATA_ANSWER: Final = "9014"
MAX_FRAME_BYTES: Final = 1024 + 12


class Crc(StrEnum):
    """The checksum a logger model puts on its frames."""

    HJ212 = "hj212"  # the standard's Appendix A
    MODBUS = "modbus"  # CRC-16/MODBUS, high byte first
    MODBUS_LE = "modbus_le"  # CRC-16/MODBUS, bytes swapped


class Stamp(StrEnum):
    """Which end of its period a value's DataTime names."""

    START = "start"
    END = "end"


def crc16(segment: bytes, mode: Crc) -> str:
    """The four upper-case hex digits that follow `segment` in a frame of `mode`."""
    crc = 0xFFFF
    for byte in segment:
        if mode is Crc.HJ212:  # the standard: the register's high byte meets the data
            crc = (crc >> 8) ^ byte
        else:
            crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    if mode is Crc.MODBUS_LE:
        crc = ((crc & 0xFF) << 8) | (crc >> 8)
    return f"{crc:04X}"


def frame(segment: str, mode: Crc) -> bytes:
    """A whole frame around a data segment (its length counted in UTF-8 bytes)."""
    data = segment.encode()
    return b"##%04d%s%s\r\n" % (len(data), data, crc16(data, mode).encode())


def stamp(epoch_s: float, tz: ZoneInfo) -> str:
    """`YYYYMMDDhhmmss` in local time (HJ 212 DataTime: Beijing time, no zone)."""
    return datetime.fromtimestamp(epoch_s, tz).strftime("%Y%m%d%H%M%S")


def request_id(epoch_ms: int, tz: ZoneInfo) -> str:
    """A QN, `YYYYMMDDhhmmsszzz` (the milliseconds the request was made)."""
    return stamp(epoch_ms / 1000, tz) + f"{epoch_ms % 1000:03d}"


def upload(qn: str, st: str, cn: str, pw: str, mn: str, cp: str) -> str:
    """The data segment of an upload that asks for an answer (2017, Flag=5)."""
    flag = VERSION_2017 | FLAG_ANSWER
    return f"QN={qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&{cp}&&"


@dataclass(frozen=True, slots=True)
class Model:
    """A monitor model: how its logger frames, stamps and names what it measures."""

    id: str = "gb-noise"
    crc: Crc = Crc.HJ212
    stamp: Stamp = Stamp.START
    rtd_period_s: int = 60
    min_period_s: int = 600
    codes: Mapping[str, str] = field(default_factory=dict)  # metric -> device code
    states: Mapping[str, str] = field(default_factory=dict)  # fan_on/purifier_on -> code


# The GB noise codes (HJ 212-2017 Table B.3) a noise station sends.
NOISE_CODES: Final = {
    "laeq": "Leq", "lamax": "LMx", "lamin": "LMn", "l10": "L10", "l50": "L50", "l90": "L90",
}  # fmt: skip


def data_cp(
    model: Model, cn: str, datatime: str, values: Mapping[str, float], states: Mapping[str, bool]
) -> str:
    """The CP of a 2011 (`-Rtd`) or 2051 (`-Avg`; noise `-Data`) upload, every value flagged N."""
    items = [f"DataTime={datatime}"]
    noise = any(m in NOISE_CODES for m in values)
    suffix = "Rtd" if cn == CN_RTD else ("Data" if noise else "Avg")
    for metric, value in values.items():
        code = model.codes.get(metric) or NOISE_CODES.get(metric)
        if code is not None:
            items.append(f"{code}-{suffix}={value:.2f},{code}-Flag=N")
    for metric, on in states.items():
        code = model.states.get(metric)
        if code is not None:
            key = f"{code}-RS" if code.upper().startswith("SB") else f"{code}-{suffix}"
            items.append(f"{key}={int(on)}")
    return ";".join(items)


@dataclass(slots=True)
class Replies:
    """The platform's frames in the bytes a connection reads: split, checked, opened."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> Iterator[dict[str, str]]:
        """Each whole frame's header fields (QN, CN, …); junk and bad frames skipped."""
        buf = self._buffer
        buf += data
        while True:
            start = buf.find(b"##")
            if start < 0:
                del buf[: max(0, len(buf) - 1)]
                return
            del buf[:start]
            if len(buf) < 6:
                return
            digits = bytes(buf[2:6])
            if not digits.isdigit():
                del buf[:2]
                continue
            size = int(digits)
            end = 6 + size + 6
            if end > MAX_FRAME_BYTES:
                del buf[:2]
                continue
            if len(buf) < end:
                return
            whole = bytes(buf[:end])
            segment, crc = (
                whole[6 : 6 + size],
                whole[6 + size : 6 + size + 4].decode("ascii", "replace"),
            )
            if whole[-2:] != b"\r\n" or crc.upper() not in {crc16(segment, m) for m in Crc}:
                del buf[:2]
                continue
            del buf[:end]
            yield _fields(segment.decode("utf-8", "replace"))


def _fields(segment: str) -> dict[str, str]:
    head, _, cp = segment.partition("CP=&&")
    out = dict(p.split("=", 1) for p in head.split(";") if "=" in p)
    out["CP"] = cp.removesuffix("&&")
    return out
