"""Query parameters the routers share: times (RFC 3339 or epoch ms) and durations."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from fastapi import HTTPException, status

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def parse_time_ms(name: str, value: str) -> int:
    """Epoch milliseconds from epoch milliseconds or an RFC 3339 time with an offset."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _invalid(
            f"{name}: {value!r} is neither epoch milliseconds nor an RFC 3339 time with an offset"
        )
    return round(parsed.timestamp() * 1000)


def parse_duration_ms(name: str, value: str) -> int:
    """Milliseconds from a duration like `90s`, `5m`, `1h` or `1d`."""
    match = _DURATION.fullmatch(value.strip())
    if match is None or int(match[1]) == 0:
        raise _invalid(f"{name}: {value!r} is not a positive duration like 90s, 5m, 1h or 1d")
    return int(match[1]) * _UNIT_MS[match[2]]
