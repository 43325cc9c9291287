"""InfluxDB line protocol: escaping, formatting and reading one point back.

Escaping per the line protocol reference: measurement names escape commas and
spaces; tag keys, tag values and field keys escape commas, equals signs and
spaces; string field values escape double quotes and backslashes. NaN and ±inf
cannot be written (InfluxDB rejects them), so they are dropped here as a last
guard behind rules/parse.py, which already rejects them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_STRING = str.maketrans({'"': r"\"", "\\": r"\\", "\n": r"\n"})


def escape_measurement(name: str) -> str:
    """Escape a measurement name."""
    return name.translate(_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    return text.translate(_TAG)


def quote_string(text: str) -> str:
    """A string field value, quoted and escaped."""
    return '"' + text.translate(_STRING) + '"'


def format_value(value: object) -> str | None:
    """One field value: bool, integer (`i`), float or string; None for NaN/inf."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return quote_string(value)
    raise TypeError(f"cannot write a {type(value).__name__} field")


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, object], ts_ms: int
) -> str | None:
    """One point; tags sorted as InfluxDB prefers; None when no field is writable."""
    head = escape_measurement(measurement) + "".join(
        f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v != ""
    )
    return finish(head, fields.items(), ts_ms)


def finish(head: str, fields: Iterable[tuple[str, object]], ts_ms: int) -> str | None:
    parts = []
    for key, value in fields:
        text = format_value(value)
        if text is not None:
            parts.append(f"{escape_tag(key)}={text}")
    if not parts:
        return None
    return f"{head} {','.join(parts)} {ts_ms}"


class Point(NamedTuple):
    """One line read back: measurement, tags, fields (typed as written), time."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, object]
    ts: int


def parse_line(text: str) -> Point | None:
    """One line as `line` wrote it; None for a line without a timestamp."""
    head, fields, ts = [*_split(text, " "), "", ""][:3]
    if not ts:
        return None
    key = _split(head, ",")
    tags = {k: _unescape(v) for k, v in map(_pair, key[1:])}
    values = {}
    for field in _split(fields, ","):
        name, raw = _pair(field)
        values[name] = _field_value(raw)
    return Point(key[0], tags, values, int(ts))


def _split(text: str, sep: str) -> list[str]:
    """Split at `sep` outside backslash escapes and double-quoted strings."""
    parts, start, quoted, i = [], 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ").replace("\\\\", "\\")


def _pair(text: str) -> tuple[str, str]:
    """`key=value` split at the first unescaped `=`; the key unescaped."""
    key, *rest = _split(text, "=")
    return _unescape(key), "=".join(rest)


def _field_value(text: str) -> object:
    if text in ("true", "t", "T", "True", "TRUE"):
        return True
    if text in ("false", "f", "F", "False", "FALSE"):
        return False
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.endswith(("i", "u")):
        return int(text[:-1])
    return float(text)
