"""HTTP bodies for residents' complaints (CONTRACT §7)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from linli.api.params import TIME_PATTERN
from linli.rules.complaint import MAX_ADDRESS_CHARS, MAX_TEXT_CHARS, Priority, Source
from linli.rules.corroboration import Verdict
from linli.rules.reading import SensorKind
from linli.store.tables import ID_LEN

_TIME_CHARS: Final = 40
# CONTRACT §7: the resident's identity stays with the authority (rules/disclosure.py)
_WITHHELD: Final = (
    "null to a merchant: the resident's, shown to admin, staff and the grid's workers"
)


class ContactIn(BaseModel):
    """Who complained, for the follow-up call (回访)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)


class ComplaintIn(BaseModel):
    """`POST /api/v1/complaints`: a site or an address, the kind, the time, the words."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    site: str | None = Field(default=None, max_length=ID_LEN)
    address: str | None = Field(default=None, max_length=MAX_ADDRESS_CHARS)
    kind: SensorKind
    from_: str | None = Field(
        default=None,
        alias="from",
        max_length=_TIME_CHARS,
        json_schema_extra={"pattern": TIME_PATTERN},
        description="RFC 3339 or epoch ms; none: now",
    )
    to: str | None = Field(
        default=None,
        max_length=_TIME_CHARS,
        json_schema_extra={"pattern": TIME_PATTERN},
        description="RFC 3339 or epoch ms | null",
    )
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source: Source
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    contact: ContactIn | None = None


class FollowupIn(BaseModel):
    """The follow-up call's rating (回访评价)."""

    model_config = ConfigDict(extra="forbid")

    satisfied: bool
    note: str = Field(default="", max_length=MAX_TEXT_CHARS)


class CorroborationOut(BaseModel):
    """CONTRACT §7's corroboration: the verdict with its numbers."""

    verdict: Verdict
    sensor: str | None
    site: str | None
    from_: str = Field(alias="from")
    to: str
    metric: str | None
    measured: float | None
    unit: str
    limit: float | None
    standard: str | None
    clause: str | None
    coverage: float | None
    summary: str
    on_site_check: bool

    model_config = ConfigDict(populate_by_name=True)


class ResolutionOut(BaseModel):
    """The case's outcome, written back to the complaint."""

    state: str
    note: str
    at: str | None


class FollowupOut(BaseModel):
    """The resident's rating."""

    satisfied: bool
    note: str | None = Field(description=_WITHHELD)
    at: str


class ComplaintOut(BaseModel):
    """A complaint as listed and as POST answers it (201)."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    reference: str | None = Field(description=_WITHHELD)
    site: str | None
    grid: str | None
    address: str | None = Field(description=_WITHHELD)
    kind: SensorKind
    source: str
    external_id: str | None = Field(description=_WITHHELD)
    from_: str = Field(alias="from")
    to: str
    text: str | None = Field(description=_WITHHELD)
    contact: dict[str, Any] | None = Field(description=_WITHHELD)
    received: str
    case_id: int | None
    case_state: str | None
    case_complaints: int | None
    priority: Priority | None
    expected: str | None = Field(description="the case's next deadline (sign for, handle)")
    merged_into: int | None
    verdict: Verdict
    corroboration: CorroborationOut
    resolution: ResolutionOut | None
    followup: FollowupOut | None


class ComplaintDetailOut(ComplaintOut):
    """A complaint with the readings that judged it (the evidence)."""

    readings: list[dict[str, Any]]


class ComplaintPage(BaseModel):
    """One page of complaints, newest first."""

    items: list[ComplaintOut]
    total: int
    limit: int
    offset: int
