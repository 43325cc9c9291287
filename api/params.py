"""Query and path parameters the routers share, each bounded (issue 12: never a 500).

Times are RFC 3339 or epoch ms within 1970–2100, durations at most a year; offsets,
ids and free-text parameters have limits, so that no value reaches SQLite or InfluxDB
out of what they can hold.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final

from fastapi import HTTPException, Path, Query, status

from linli.store.tables import ID_LEN

MIN_TIME_MS: Final = 0  # 1970-01-01T00:00:00Z
MAX_TIME_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MAX_DURATION_MS: Final = 366 * 86_400_000
MAX_OFFSET: Final = 1_000_000
MAX_ROW_ID: Final = 2**63 - 1  # SQLite's and PostgreSQL's bigint
_TIME_CHARS: Final = 40

_DURATION = re.compile(r"(\d{1,12})(ms|s|m|h|d)")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

# an id in a query (site, grid, sensor, rule): a name of the registry's length
IdQuery = Annotated[str | None, Query(max_length=ID_LEN)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=1000)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
TimeQuery = Annotated[str | None, Query(max_length=_TIME_CHARS)]


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def parse_time_ms(name: str, value: str) -> int:
    """Epoch milliseconds from epoch milliseconds or an RFC 3339 time with an offset."""
    text = value.strip()
    shown = value if len(value) <= _TIME_CHARS else f"{value[:_TIME_CHARS]}…"
    if len(text) > _TIME_CHARS:
        raise _invalid(f"{name}: {shown!r} is longer than {_TIME_CHARS} characters")
    if re.fullmatch(r"-?\d+", text):
        ms = int(text)
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise _invalid(
                f"{name}: {shown!r} is neither epoch milliseconds nor an RFC 3339 time with an "
                "offset"
            )
        ms = round(parsed.timestamp() * 1000)
    if not MIN_TIME_MS <= ms < MAX_TIME_MS:
        raise _invalid(f"{name}: {shown!r} is not between 1970 and 2100")
    return ms


def parse_duration_ms(name: str, value: str) -> int:
    """Milliseconds from a duration like `90s`, `5m`, `1h` or `1d`, at most 366 days."""
    match = _DURATION.fullmatch(value.strip())
    shown = value if len(value) <= _TIME_CHARS else f"{value[:_TIME_CHARS]}…"
    if match is None or int(match[1]) == 0:
        raise _invalid(f"{name}: {shown!r} is not a positive duration like 90s, 5m, 1h or 1d")
    ms = int(match[1]) * _UNIT_MS[match[2]]
    if ms > MAX_DURATION_MS:
        raise _invalid(f"{name}: {shown!r} is longer than 366 days")
    return ms
