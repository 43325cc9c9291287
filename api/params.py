"""Query and path parameters the routers share, each bounded (422 with a sentence, never a
500).

Times are RFC 3339 or epoch ms within 1970–2100 (where a period is asked for in days, a
plain local date too), months YYYY-MM, durations at most a year; offsets, ids and
free-text parameters have limits, so that no value reaches SQLite or InfluxDB out of what
they can hold.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Path, Query, status

from linli.rules.month import Month, parse_month
from linli.rules.monthly import month_bounds
from linli.store.tables import ID_LEN

# 1970–2100 as written in any offset: a day more either side in UTC
MIN_TIME_MS: Final = -86_400_000  # 1969-12-31T00:00:00Z
MAX_TIME_MS: Final = 4_102_531_200_000  # 2100-01-02T00:00:00Z
MAX_DURATION_MS: Final = 366 * 86_400_000
MAX_OFFSET: Final = 1_000_000
MAX_ROW_ID: Final = 2**63 - 1  # SQLite's and PostgreSQL's bigint
_TIME_CHARS: Final = 40

# What a time parameter may look like (documented as its pattern, checked the same way):
# epoch milliseconds, or RFC 3339 with seconds optional and an offset. Whether the date
# exists and lies in 1970–2100 is checked after (422 with its own sentence).
TIME_PATTERN: Final = (
    r"^([0-9]{1,12}|[1-3][0-9]{12}|40[0-9]{11}"  # epoch ms, up to 2099-12-04
    r"|(19[7-9][0-9]|20[0-9][0-9])-"  # RFC 3339 in 1970–2099, on a day that exists
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"  # (a leap day is accepted, beyond the pattern)
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
)
# ...or, where the API asks for a period in days (the statistics), a plain date: the
# day's start in the deployment's time zone
DATE_PATTERN: Final = r"(19[7-9][0-9]|20[0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
TIME_OR_DATE_PATTERN: Final = f"{TIME_PATTERN[:-2]}|{DATE_PATTERN})$"
DURATION_PATTERN: Final = r"^([0-9]{1,12})(ms|s|m|h|d)$"
FIRST_YEAR: Final = 1970  # of a month
LAST_YEAR: Final = 2099
_TIME = re.compile(TIME_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_DURATION = re.compile(DURATION_PATTERN)
# The keywords of a time's Query(): its length and its pattern in the OpenAPI document.
TIME: Final[dict[str, Any]] = {
    "max_length": _TIME_CHARS,
    "json_schema_extra": {"pattern": TIME_PATTERN},
}
TIME_OR_DATE: Final[dict[str, Any]] = {
    "max_length": _TIME_CHARS,
    "json_schema_extra": {"pattern": TIME_OR_DATE_PATTERN},
}
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

# an id in a query (site, grid, sensor, rule): a name of the registry's length
IdQuery = Annotated[str | None, Query(max_length=ID_LEN)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=1000)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# a row's id in a query (a complaint's case, say): the same bounds
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
TimeQuery = Annotated[str | None, Query(**TIME)]


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


_TIME_FORMS: Final = "epoch milliseconds nor an RFC 3339 time with an offset"


def parse_time_ms(name: str, value: str, forms: str = _TIME_FORMS) -> int:
    """Epoch milliseconds from epoch milliseconds or an RFC 3339 time with an offset;
    `forms` is what a 422 says was expected ("neither …")."""
    shown = value if len(value) <= _TIME_CHARS else f"{value[:_TIME_CHARS]}…"
    if len(value) > _TIME_CHARS:
        raise _invalid(f"{name}: {shown!r} is longer than {_TIME_CHARS} characters")
    if _TIME.fullmatch(value) is None:
        if (value.isascii() and value.isdigit()) or _outside_years(value):
            raise _invalid(f"{name}: {shown!r} is not between 1970 and 2100")
        raise _invalid(f"{name}: {shown!r} is neither {forms}")
    if value.isdigit():  # the pattern let only ASCII digits through
        ms = int(value)
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(f"{name}: {shown!r} is not a date and time that exists") from None
        ms = round(parsed.timestamp() * 1000)
    if not MIN_TIME_MS <= ms < MAX_TIME_MS:
        raise _invalid(f"{name}: {shown!r} is not between 1970 and 2100")
    return ms


def parse_time_or_date_ms(name: str, value: str, tz: ZoneInfo) -> int:
    """Epoch milliseconds from a time as `parse_time_ms` takes it, or from a plain date
    `YYYY-MM-DD`: that day's 00:00 in `tz`."""
    if _DATE.fullmatch(value) is None:
        return parse_time_ms(name, value, f"a date (YYYY-MM-DD), {_TIME_FORMS}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{name}: {value!r} is not a date that exists") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def month_param(text: str, name: str = "month") -> Month:
    """`?month=` as a Month; 422 with one sentence when it is not one in 1970–2099."""
    try:
        month = parse_month(text)
    except ValueError as err:
        raise _invalid(str(err)) from None
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise _invalid(f"{name} {text!r} lies outside {FIRST_YEAR}–{LAST_YEAR}")
    return month


def month_bounds_ms(month: Month, tz: ZoneInfo) -> tuple[int, int]:
    """`[its first day 00:00, the next month's first day 00:00)` in `tz`, epoch ms."""
    return month_bounds(str(month), tz)


def _outside_years(value: str) -> bool:
    """Whether `value` is a time with an offset, but one outside 1970–2100."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None and not 1970 <= parsed.year < 2100


def parse_duration_ms(name: str, value: str) -> int:
    """Milliseconds from a duration like `90s`, `5m`, `1h` or `1d`, at most 366 days."""
    match = _DURATION.fullmatch(value)
    shown = value if len(value) <= _TIME_CHARS else f"{value[:_TIME_CHARS]}…"
    if match is None or int(match[1]) == 0:
        raise _invalid(f"{name}: {shown!r} is not a positive duration like 90s, 5m, 1h or 1d")
    ms = int(match[1]) * _UNIT_MS[match[2]]
    if ms > MAX_DURATION_MS:
        raise _invalid(f"{name}: {shown!r} is longer than 366 days")
    return ms
