"""HTTP bodies for cases and rules (CONTRACT §5)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linli.rules.case import HUMAN_ACTIONS, Action, Case, CaseKind, CaseState, Level
from linli.rules.complaint import Priority, priority

NOTE_CHARS: Final = 4000  # a comment or an action's note (a 10 MB comment is refused)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CaseOut(_Out):
    """A case (工单) as listed."""

    id: int
    site: str
    grid: str
    rule: str
    kind: CaseKind
    sensor: str | None
    title: str
    state: CaseState
    level: Level
    opened_ms: int
    updated_ms: int
    acknowledged_ms: int | None
    resolved_ms: int | None
    closed_ms: int | None
    late: bool = Field(description="opened from data that arrived late")
    occurrences: int
    complaints: int = Field(default=0, description="residents' complaints on the case")
    priority: Priority = Field(default=Priority.NORMAL, description="rises with complaints")
    sign_by_ms: int | None = Field(default=None, description="a complaint's: sign for by")
    handle_by_ms: int | None = Field(default=None, description="a complaint's: handle by")

    @model_validator(mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        if isinstance(value, Case):
            doc = {f: getattr(value, f) for f in value.__slots__}
            doc["priority"] = priority(value.complaints)
            return doc
        return value


class CasePage(BaseModel):
    """One page of cases, newest first."""

    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class OccurrenceOut(_Out):
    """One more breach on a case."""

    id: int
    at_ms: int
    sensor: str
    start_ms: int
    end_ms: int
    measured: float
    late: bool


class EvidenceOut(_Out):
    """What proves an occurrence: window, measured value, limit, clause, readings."""

    id: int
    occurrence_id: int
    sensor: str
    rule: str
    start_ms: int
    end_ms: int
    measured: float
    unit: str
    limit_value: float | None
    limit_metric: str | None
    standard: str | None
    clause_zh: str | None
    clause_en: str | None
    summary: str
    late: bool
    snapshot: list[dict[str, Any]]


class TimelineOut(_Out):
    """One change of a case."""

    at_ms: int
    actor: str
    action: Action
    from_state: CaseState
    to_state: CaseState
    level: Level
    note: str


class CaseDetailOut(CaseOut):
    """A case with its evidence, occurrences and timeline."""

    occurrences_list: list[OccurrenceOut]
    evidence: list[EvidenceOut]
    timeline: list[TimelineOut]


def _people_only(schema: dict[str, Any]) -> None:
    schema["properties"]["action"] = {
        "type": "string",
        "enum": [a.value for a in Action if a in HUMAN_ACTIONS],
        "title": "Action",
    }


class ActionIn(BaseModel):
    """POST /cases/{id}/actions (CONTRACT §5): the actions people take (`open` is linli's)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_people_only)

    action: Action

    @field_validator("action")
    @classmethod
    def _by_people(cls, action: Action) -> Action:
        if action not in HUMAN_ACTIONS:
            people = ", ".join(a.value for a in Action if a in HUMAN_ACTIONS)
            raise ValueError(f"{action.value!r} is linli's own; people may {people}")
        return action

    note: str = Field(default="", max_length=NOTE_CHARS, description="at most 4,000 characters")


class LimitOut(_Out):
    """A limit in force, with its standard and clause."""

    metric: str
    value: float
    unit: str
    standard: str
    clause_zh: str
    clause_en: str


class SiteRulesOut(BaseModel):
    """The rules and limits in force at one site."""

    site: str
    rules: list[str]
    noise_standard: str | None
    fume_standard: str | None
    limits: list[LimitOut]


class WouldOpen(BaseModel):
    """A case a backtest would have opened (none is opened)."""

    site: str
    rule: str
    sensor: str
    first_ms: int
    occurrences: int
    measured: float
    limit_value: float | None
    clause_zh: str | None
    summary: str
