"""Cases, occurrences, evidence, timeline and the rules' memory in the relational store.

`CaseTx` is one transaction: the engine judges a batch and writes every case change and
the rules' new state together, so a restart never sees one without the other. It is the
engine's `CaseTx` port (rules/ports.py) on SQLAlchemy, with the API's reads beside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, insert, select, update

from linli.rules.case import Action, Case, CaseKind, CaseState, Level, TimelineEntry
from linli.rules.checkpoint import Claim
from linli.rules.delivery import Delivery
from linli.rules.disclosure import Resident
from linli.rules.events import Breach
from linli.rules.judge import SensorState
from linli.rules.ports import PendingSnapshot, Proof
from linli.rules.reading import Reading
from linli.store import board, partitions
from linli.store.errors import NotFound
from linli.store.outbox import OutboxTx
from linli.store.rulestate import newest_state_of, state_doc, state_of
from linli.store.snapshots import snapshot_doc, snapshot_readings
from linli.store.tables import cases, complaints, evidence, occurrences, rule_state, timeline


@dataclass(frozen=True, slots=True)
class Evidence:
    """What proves one occurrence: the window, the measured value, the limit, the readings."""

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


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One more breach on a case."""

    id: int
    at_ms: int
    sensor: str
    start_ms: int
    end_ms: int
    measured: float
    late: bool


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """A case with everything it carries."""

    case: Case
    occurrences: list[Occurrence]
    evidence: list[Evidence]
    timeline: list[TimelineEntry]


# The engine's statements, built once: executing one then only binds its parameters.
# Building a statement per call (`insert(t).values(...)`) costs several times more in
# SQLAlchemy than SQLite takes to run it, and one round can open hundreds of occurrences.
_ACTIVE_CASE: Final = select(cases).where(cases.c.open_key == bindparam("open_key_"))
_INSERT_CASE: Final = insert(cases)
_UPDATE_CASE: Final = update(cases).where(cases.c.id == bindparam("id_"))
_INSERT_TIMELINE: Final = insert(timeline)
_INSERT_OCCURRENCE: Final = insert(occurrences)
_INSERT_EVIDENCE: Final = insert(evidence)
_EPISODE: Final = select(occurrences.c.id).where(  # an occurrence by its identity
    occurrences.c.case_id == bindparam("case_id_"),
    occurrences.c.sensor == bindparam("sensor_"),
    occurrences.c.start_ms == bindparam("start_ms_"),
)
_EVIDENCE_OF: Final = select(evidence.c.id).where(
    evidence.c.occurrence_id == bindparam("occurrence_id_")
)
_GROW_OCCURRENCE: Final = (
    update(occurrences)
    .where(occurrences.c.id == bindparam("id_"))
    .values(end_ms=bindparam("end_ms_"), measured=bindparam("measured_"))
)
_GROW_EVIDENCE: Final = (
    update(evidence)
    .where(evidence.c.id == bindparam("id_"))
    .values(
        end_ms=bindparam("end_ms_"),
        measured=bindparam("measured_"),
        summary=bindparam("summary_"),
        snapshot_until_ms=bindparam("until_ms_"),
        snapshot_done=False,
    )
)


def _open_key(case: Case) -> str | None:
    return None if case.state is CaseState.CLOSED else f"{case.site}/{case.rule}"


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "site": case.site,
        "grid": case.grid,
        "rule": case.rule,
        "kind": case.kind.value,
        "sensor": case.sensor,
        "state": case.state.value,
        "level": case.level.value,
        "first_level": case.first_level.value,
        "title": case.title,
        "opened_ms": case.opened_ms,
        "updated_ms": case.updated_ms,
        "acknowledged_ms": case.acknowledged_ms,
        "resolved_ms": case.resolved_ms,
        "closed_ms": case.closed_ms,
        "late": case.late,
        "occurrences": case.occurrences,
        "complaints": case.complaints,
        "sign_by_ms": case.sign_by_ms,
        "handle_by_ms": case.handle_by_ms,
        "open_key": _open_key(case),
    }


def _case(m: Any) -> Case:
    return Case(
        site=m["site"],
        grid=m["grid"],
        rule=m["rule"],
        kind=CaseKind(m["kind"]),
        sensor=m["sensor"],
        title=m["title"],
        opened_ms=int(m["opened_ms"]),
        level=Level(m["level"]),
        first_level=Level(m["first_level"]),
        state=CaseState(m["state"]),
        updated_ms=int(m["updated_ms"]),
        acknowledged_ms=m["acknowledged_ms"],
        resolved_ms=m["resolved_ms"],
        closed_ms=m["closed_ms"],
        late=bool(m["late"]),
        occurrences=int(m["occurrences"]),
        id=int(m["id"]),
        complaints=int(m["complaints"] or 0),
        sign_by_ms=m["sign_by_ms"],
        handle_by_ms=m["handle_by_ms"],
    )


class CaseTx:
    """The case store inside one transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active_case(self, site: str, rule: str) -> Case | None:
        """The one case not closed for (site, rule), if any."""
        row = self.conn.execute(_ACTIVE_CASE, {"open_key_": f"{site}/{rule}"}).first()
        return None if row is None else _case(row._mapping)

    def get(self, case_id: int) -> Case:
        """One case; raises NotFound."""
        row = self.conn.execute(select(cases).where(cases.c.id == case_id)).first()
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        return _case(row._mapping)

    def get_locked(self, case_id: int) -> Case:
        """One case, its row locked until the transaction ends (PostgreSQL; SQLite has one
        writer at a time): a change computed from it (a complaint counted) is not lost to
        another transaction's; raises NotFound."""
        row = self.conn.execute(
            select(cases).where(cases.c.id == case_id).with_for_update(key_share=True)
        ).first()
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        return _case(row._mapping)

    def insert_case(self, case: Case) -> Case:
        """Keep a new case; returns it with its id."""
        result = self.conn.execute(_INSERT_CASE, _case_row(case))
        key = result.inserted_primary_key
        assert key is not None
        return dataclasses.replace(case, id=int(key[0]))

    def update_case(self, case: Case, entry: TimelineEntry) -> None:
        """Write a changed case and its timeline entry."""
        assert case.id is not None
        self.conn.execute(_UPDATE_CASE, {**_case_row(case), "id_": case.id})
        self.add_timeline(case.id, entry)

    def add_timeline(self, case_id: int, entry: TimelineEntry) -> None:
        """Append a timeline entry."""
        self.conn.execute(
            _INSERT_TIMELINE,
            {
                "case_id": case_id,
                "at_ms": entry.at_ms,
                "actor": entry.actor,
                "action": entry.action.value,
                "from_state": entry.from_state.value,
                "to_state": entry.to_state.value,
                "level": entry.level.value,
                "note": entry.note,
            },
        )

    def add_occurrence(
        self,
        case_id: int,
        breach: Breach,
        at_ms: int,
        snapshot: Sequence[Reading],
        until_ms: int,
    ) -> int:
        """Record one episode on a case with its evidence; returns the evidence id."""
        occ = self.conn.execute(
            _INSERT_OCCURRENCE,
            {
                "case_id": case_id,
                "at_ms": at_ms,
                "sensor": breach.sensor,
                "start_ms": breach.start_ms,
                "end_ms": breach.end_ms,
                "measured": breach.measured,
                "late": breach.late,
            },
        ).inserted_primary_key
        assert occ is not None
        limit = breach.limit
        ev = self.conn.execute(
            _INSERT_EVIDENCE,
            {
                "case_id": case_id,
                "occurrence_id": int(occ[0]),
                "sensor": breach.sensor,
                "rule": breach.rule.value,
                "start_ms": breach.start_ms,
                "end_ms": breach.end_ms,
                "measured": breach.measured,
                "unit": breach.unit,
                "limit_value": None if limit is None else limit.value,
                "limit_metric": None if limit is None else limit.metric,
                "standard": None if limit is None else limit.standard,
                "clause_zh": None if limit is None else limit.clause_zh,
                "clause_en": None if limit is None else limit.clause_en,
                "summary": breach.summary,
                "late": breach.late,
                "snapshot": snapshot_doc(breach.sensor, snapshot),
                "snapshot_until_ms": until_ms,
                "snapshot_done": False,
            },
        ).inserted_primary_key
        assert ev is not None
        return int(ev[0])

    def has_occurrence(self, case_id: int, sensor: str, start_ms: int) -> bool:
        """Whether this episode (by its window's start) is on the case already."""
        params = {"case_id_": case_id, "sensor_": sensor, "start_ms_": start_ms}
        return self.conn.execute(_EPISODE, params).first() is not None

    def grow_occurrence(self, case_id: int, breach: Breach, until_ms: int) -> int | None:
        """Give an episode's occurrence (by its window's start) its window's new end, its
        worst value and summary, and its snapshot a new end (open again); returns the
        evidence id, or None when the case holds no such occurrence."""
        params = {"case_id_": case_id, "sensor_": breach.sensor, "start_ms_": breach.start_ms}
        occurrence_id = self.conn.execute(_EPISODE, params).scalar()
        if occurrence_id is None:
            return None
        evidence_id = self.conn.execute(_EVIDENCE_OF, {"occurrence_id_": occurrence_id}).scalar()
        assert evidence_id is not None  # kept together (add_occurrence)
        grown = {"end_ms_": breach.end_ms, "measured_": breach.measured}
        self.conn.execute(_GROW_OCCURRENCE, {**grown, "id_": occurrence_id})
        self.conn.execute(
            _GROW_EVIDENCE,
            {**grown, "id_": evidence_id, "summary_": breach.summary, "until_ms_": until_ms},
        )
        return int(evidence_id)

    def pending_snapshots(self) -> list[PendingSnapshot]:
        """The evidence snapshots still collecting readings."""
        rows = self.conn.execute(
            select(
                evidence.c.id,
                evidence.c.sensor,
                evidence.c.start_ms,
                evidence.c.snapshot_until_ms,
                occurrences.c.at_ms,
            )
            .join(occurrences, occurrences.c.id == evidence.c.occurrence_id)
            .where(evidence.c.snapshot_done.is_(False))
        )
        return [
            PendingSnapshot(
                int(r.id), r.sensor, int(r.start_ms), int(r.snapshot_until_ms), int(r.at_ms)
            )
            for r in rows
        ]

    def set_snapshot(
        self, pending: PendingSnapshot, readings: Iterable[Reading] | None, done: bool
    ) -> None:
        """Replace an evidence snapshot with these readings (None: keep it); `done` closes it."""
        evidence_id = pending.evidence_id
        values: dict[str, Any] = {"snapshot_done": done}
        if readings is not None:
            ordered = sorted(readings, key=lambda r: r.ts_ms)
            values["snapshot"] = snapshot_doc(pending.sensor, ordered)
        self.conn.execute(update(evidence).where(evidence.c.id == evidence_id).values(**values))

    def not_closed(self) -> list[Case]:
        """Every case not closed, for the tick."""
        rows = self.conn.execute(select(cases).where(cases.c.open_key.is_not(None)))
        return [_case(r._mapping) for r in rows]

    # -- the rules' memory --------------------------------------------------------------

    def load_states(
        self, *, newest_only: bool = False, sensors: Collection[str] | None = None
    ) -> dict[str, SensorState]:
        """Every sensor's saved rules' memory (a JSON document each: store/rulestate.py), or
        only these `sensors`' (an engine owning a share); `newest_only`: its faults and
        newest reading alone, for the board's overviews."""
        read = newest_state_of if newest_only else state_of
        query = select(rule_state)
        if sensors is not None:
            query = query.where(rule_state.c.sensor.in_(list(sensors)))
        return {r.sensor: read(r.sensor, r.doc) for r in self.conn.execute(query)}

    def save_states(self, states: Mapping[str, SensorState], now_ms: int) -> None:
        """Replace these sensors' saved rules' memory."""
        if not states:
            return
        self.conn.execute(delete(rule_state).where(rule_state.c.sensor.in_(list(states))))
        self.conn.execute(
            insert(rule_state),
            [{"sensor": s, "doc": state_doc(st), "updated_ms": now_ms} for s, st in states.items()],
        )

    # -- reads for the API --------------------------------------------------------------

    def list_cases(
        self,
        *,
        state: CaseState | None = None,
        site: str | None = None,
        grid: str | None = None,
        kind: CaseKind | None = None,
        rule: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        sites: Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Case], int]:
        """Cases, newest first, and how many match in all."""
        where: list[ColumnElement[bool]] = []
        for column, value in (
            (cases.c.state, state),
            (cases.c.site, site),
            (cases.c.grid, grid),
            (cases.c.kind, kind),
            (cases.c.rule, rule),
        ):
            if value is not None:
                where.append(column == str(value))
        if since_ms is not None:
            where.append(cases.c.opened_ms >= since_ms)
        if until_ms is not None:
            where.append(cases.c.opened_ms < until_ms)
        if sites is not None:
            where.append(cases.c.site.in_(list(sites)))
        total = self.conn.execute(select(func.count()).select_from(cases).where(*where)).scalar()
        rows = self.conn.execute(
            select(cases)
            .where(*where)
            .order_by(cases.c.opened_ms.desc(), cases.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_case(r._mapping) for r in rows], int(total or 0)

    def detail(self, case_id: int) -> CaseDetail:
        """A case with its occurrences, evidence and timeline; raises NotFound."""
        case = self.get(case_id)
        occ = [
            Occurrence(
                int(r.id),
                int(r.at_ms),
                r.sensor,
                int(r.start_ms),
                int(r.end_ms),
                float(r.measured),
                bool(r.late),
            )
            for r in self.conn.execute(
                select(occurrences)
                .where(occurrences.c.case_id == case_id)
                .order_by(occurrences.c.id)
            )
        ]
        ev = [
            Evidence(
                int(m["id"]),
                int(m["occurrence_id"]),
                m["sensor"],
                m["rule"],
                int(m["start_ms"]),
                int(m["end_ms"]),
                float(m["measured"]),
                m["unit"],
                m["limit_value"],
                m["limit_metric"],
                m["standard"],
                m["clause_zh"],
                m["clause_en"],
                m["summary"],
                bool(m["late"]),
                snapshot_readings(m["snapshot"]),
            )
            for m in (
                r._mapping
                for r in self.conn.execute(
                    select(evidence).where(evidence.c.case_id == case_id).order_by(evidence.c.id)
                )
            )
        ]
        tl = [
            TimelineEntry(
                int(r.at_ms),
                r.actor,
                Action(r.action),
                CaseState(r.from_state),
                CaseState(r.to_state),
                Level(r.level),
                r.note,
            )
            for r in self.conn.execute(
                select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.id)
            )
        ]
        return CaseDetail(case, occ, ev, tl)

    # -- telling (rules/engine/telling.py) ---------------------------------------------

    def residents(self, case_id: int) -> list[Resident]:
        """What names the residents of the case's complaints (rules/disclosure.py)."""
        rows = self.conn.execute(
            select(
                complaints.c.text,
                complaints.c.reference,
                complaints.c.external_id,
                complaints.c.address,
                complaints.c.contact,
                complaints.c.followup_note,
            ).where(complaints.c.case_id == case_id)
        )
        return [
            Resident(
                r.text,
                r.reference or "",
                r.external_id,
                r.address,
                r.contact if isinstance(r.contact, dict) else None,
                r.followup_note,
            )
            for r in rows
        ]

    def latest_evidence(self, case_id: int) -> Proof | None:
        """The case's newest evidence, as a message states it."""
        row = self.conn.execute(
            select(
                evidence.c.measured,
                evidence.c.unit,
                evidence.c.limit_value,
                evidence.c.standard,
                evidence.c.clause_zh,
                evidence.c.start_ms,
                evidence.c.end_ms,
            )
            .where(evidence.c.case_id == case_id)
            .order_by(evidence.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return Proof(
            float(row.measured),
            row.unit,
            row.limit_value,
            row.standard,
            row.clause_zh,
            int(row.start_ms),
            int(row.end_ms),
        )

    def advance(self, claim: Claim, to_seq: int) -> Claim:
        """A partition's checkpoint moved in this transaction (store/partitions.py); raises
        `StaleOwner` when the claim no longer holds."""
        return partitions.advance(self.conn, claim, to_seq)

    def add_deliveries(self, items: Sequence[Delivery]) -> None:
        """Keep deliveries in this transaction (the outbox)."""
        OutboxTx(self.conn).add(items)

    # -- the case board ----------------------------------------------------------------

    def use_nonce(self, nonce: str, case_id: int, at_ms: int) -> bool:
        """Record a board form's nonce; False when that form was applied already."""
        return board.use_nonce(self.conn, nonce, case_id, at_ms)

    def add_photo(
        self, case_id: int, at_ms: int, actor: str, content_type: str, data: bytes
    ) -> int:
        """Keep a photo of a fix with its case; returns its id."""
        return board.add_photo(self.conn, case_id, at_ms, actor, content_type, data)

    def photos_of(self, case_id: int) -> list[board.PhotoInfo]:
        """A case's photos, oldest first, without their bytes."""
        return board.photos_of(self.conn, case_id)

    def photo(self, photo_id: int) -> board.Photo:
        """One photo with its bytes; raises NotFound."""
        return board.photo(self.conn, photo_id)
