"""Residents' complaints in the relational store, beside the cases they join (CONTRACT §7).

`ComplaintTx` is a `CaseTx` (store/cases.py) that also keeps complaints, so a complaint,
the case it opens or joins, that case's timeline and its deliveries (the outbox) commit
in one transaction. The same request twice is refused by the schema's unique
`fingerprint` and `external_key` (store/tables.py), raised as `Duplicate`: the intake
tries again and finds what the other request kept (api/intake.py `receive`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update

from linli.rules.corroboration import Corroboration, Verdict
from linli.rules.reading import Reading
from linli.store.cases import CaseTx
from linli.store.errors import NotFound
from linli.store.snapshots import snapshot_doc, snapshot_readings
from linli.store.tables import complaints, evidence, occurrences, timeline


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    """One complaint as kept: what the resident said, where, when, and the verdict."""

    id: int
    reference: str
    site: str | None
    grid: str | None
    address: str
    kind: str
    source: str
    external_id: str | None
    from_ms: int
    to_ms: int
    text: str
    contact: dict[str, Any] | None
    received_ms: int
    actor: str
    case_id: int | None
    merged_into: int | None
    verdict: Verdict
    corroboration: dict[str, Any]
    readings: list[dict[str, Any]]
    judged_ms: int
    followup_satisfied: bool | None
    followup_note: str | None
    followup_ms: int | None


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint to keep (its id, reference and case come from the store)."""

    site: str | None
    grid: str | None
    address: str
    kind: str
    source: str
    external_id: str | None
    from_ms: int
    to_ms: int
    text: str
    contact: dict[str, Any] | None
    received_ms: int
    actor: str
    fingerprint: str
    # the unique key of an order's first complaint (api/intake.py `external_key`)
    external_key: str | None = None


def corroboration_doc(c: Corroboration) -> dict[str, Any]:
    """The verdict's numbers as stored and given out (CONTRACT §7), without the readings."""
    return {
        "verdict": c.verdict.value,
        "sensor": c.sensor,
        "site": c.site,
        "from_ms": c.from_ms,
        "to_ms": c.to_ms,
        "metric": c.metric,
        "measured": c.measured,
        "unit": c.unit,
        "limit": c.limit,
        "standard": c.standard,
        "clause": c.clause,
        "coverage": None if c.coverage is None else round(c.coverage, 4),
        "summary": c.summary,
        "on_site_check": c.on_site_check,
    }


def _readings_doc(c: Corroboration) -> dict[str, Any]:
    return snapshot_doc(c.sensor or "", c.readings)


def _record(m: Any) -> ComplaintRecord:
    return ComplaintRecord(
        id=int(m["id"]),
        reference=m["reference"] or "",
        site=m["site"],
        grid=m["grid"],
        address=m["address"],
        kind=m["kind"],
        source=m["source"],
        external_id=m["external_id"],
        from_ms=int(m["from_ms"]),
        to_ms=int(m["to_ms"]),
        text=m["text"],
        contact=m["contact"],
        received_ms=int(m["received_ms"]),
        actor=m["actor"],
        case_id=None if m["case_id"] is None else int(m["case_id"]),
        merged_into=None if m["merged_into"] is None else int(m["merged_into"]),
        verdict=Verdict(m["verdict"]),
        corroboration=m["corroboration"],
        readings=snapshot_readings(m["readings"]),
        judged_ms=int(m["judged_ms"]),
        followup_satisfied=m["followup_satisfied"],
        followup_note=m["followup_note"],
        followup_ms=m["followup_ms"],
    )


def reference_of(complaint_id: int, received_ms: int, tz: str) -> str:
    """The reference a resident is told: TS-<local date>-<id>."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    day = datetime.fromtimestamp(received_ms / 1000, ZoneInfo(tz)).strftime("%Y%m%d")
    return f"TS-{day}-{complaint_id:05d}"


class ComplaintTx(CaseTx):
    """Complaints and cases inside one transaction."""

    __slots__ = ()

    def insert_complaint(
        self,
        new: NewComplaint,
        judged: Corroboration,
        judged_ms: int,
        tz: str,
        *,
        primary: bool,
        merged_into: int | None = None,
    ) -> ComplaintRecord:
        """Keep a complaint; `primary`: the first of its outside id (external_key set).
        Raises Duplicate (through the transaction) when the same request is kept already."""
        row = {
            **dataclasses.asdict(new),
            "external_key": new.external_key if primary else None,
            "merged_into": merged_into,
            "verdict": judged.verdict.value,
            "corroboration": corroboration_doc(judged),
            "readings": _readings_doc(judged),
            "judged_ms": judged_ms,
        }
        result = self.conn.execute(insert(complaints), row)
        inserted = result.inserted_primary_key
        assert inserted is not None
        complaint_id = int(inserted[0])
        self.conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id)
            .values(reference=reference_of(complaint_id, new.received_ms, tz))
        )
        return self.complaint(complaint_id)

    def complaint(self, complaint_id: int) -> ComplaintRecord:
        """One complaint; raises NotFound."""
        row = self.conn.execute(select(complaints).where(complaints.c.id == complaint_id)).first()
        if row is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        return _record(row._mapping)

    def by_fingerprint(self, fingerprint: str) -> ComplaintRecord | None:
        """The complaint kept for a request (its `fingerprint`), if any."""
        row = self.conn.execute(
            select(complaints).where(complaints.c.fingerprint == fingerprint)
        ).first()
        return None if row is None else _record(row._mapping)

    def by_external(self, key: str) -> ComplaintRecord | None:
        """The first complaint of an outside id, by its `external_key`, if any."""
        row = self.conn.execute(select(complaints).where(complaints.c.external_key == key)).first()
        return None if row is None else _record(row._mapping)

    def first_on_case(self, case_id: int, site: str | None, kind: str) -> ComplaintRecord | None:
        """The case's first complaint of this site and kind (a repeat is merged into it)."""
        row = self.conn.execute(
            select(complaints)
            .where(
                complaints.c.case_id == case_id,
                complaints.c.kind == kind,
                complaints.c.merged_into.is_(None),
                complaints.c.site == site if site is not None else complaints.c.site.is_(None),
            )
            .order_by(complaints.c.id)
            .limit(1)
        ).first()
        return None if row is None else _record(row._mapping)

    def resolution(self, case_id: int) -> tuple[str, int] | None:
        """The note and time of the case's latest resolution (resolve, close, verify)."""
        row = self.conn.execute(
            select(timeline.c.note, timeline.c.at_ms)
            .where(
                timeline.c.case_id == case_id,
                timeline.c.action.in_(("resolve", "close", "verify")),
            )
            .order_by(timeline.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.note, int(row.at_ms))

    def set_case(self, complaint_id: int, case_id: int) -> None:
        """Put a complaint on a case."""
        self.conn.execute(
            update(complaints).where(complaints.c.id == complaint_id).values(case_id=case_id)
        )

    def set_verdict(self, complaint_id: int, judged: Corroboration, judged_ms: int) -> None:
        """A complaint judged again (late readings arrived)."""
        self.conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id)
            .values(
                verdict=judged.verdict.value,
                corroboration=corroboration_doc(judged),
                readings=_readings_doc(judged),
                judged_ms=judged_ms,
            )
        )

    def set_followup(self, complaint_id: int, satisfied: bool, note: str, at_ms: int) -> None:
        """The follow-up call's rating (回访)."""
        self.conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id)
            .values(followup_satisfied=satisfied, followup_note=note, followup_ms=at_ms)
        )

    def to_rejudge(self, since_ms: int, limit: int = 200) -> list[ComplaintRecord]:
        """data_gap complaints whose window ended at or after `since_ms`, oldest first."""
        rows = self.conn.execute(
            select(complaints)
            .where(complaints.c.verdict == Verdict.DATA_GAP.value, complaints.c.to_ms >= since_ms)
            .order_by(complaints.c.to_ms)
            .limit(limit)
        )
        return [_record(r._mapping) for r in rows]

    def list_complaints(
        self,
        *,
        site: str | None = None,
        case_id: int | None = None,
        verdict: Verdict | None = None,
        sites: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ComplaintRecord], int]:
        """Complaints, newest first, and how many match in all; `sites` limits the scope
        (a complaint at no site is seen by the whole community's tokens only)."""
        where: list[ColumnElement[bool]] = []
        if site is not None:
            where.append(complaints.c.site == site)
        if case_id is not None:
            where.append(complaints.c.case_id == case_id)
        if verdict is not None:
            where.append(complaints.c.verdict == verdict.value)
        if sites is not None:
            where.append(complaints.c.site.in_(list(sites)))
        total = self.conn.execute(
            select(func.count()).select_from(complaints).where(*where)
        ).scalar()
        rows = self.conn.execute(
            select(complaints)
            .where(*where)
            .order_by(complaints.c.received_ms.desc(), complaints.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_record(r._mapping) for r in rows], int(total or 0)

    def add_complaint_evidence(
        self, case_id: int, judged: Corroboration, rule: str, at_ms: int
    ) -> None:
        """The corroboration as the case's evidence (an occurrence of the complaint case),
        when it has a measured value; its readings are the snapshot, complete at once."""
        if judged.measured is None or judged.sensor is None:
            return
        if self.has_occurrence(case_id, judged.sensor, judged.from_ms):
            return  # a repeat of the same window: the evidence is there
        occ = self.conn.execute(
            insert(occurrences),
            {
                "case_id": case_id,
                "at_ms": at_ms,
                "sensor": judged.sensor,
                "start_ms": judged.from_ms,
                "end_ms": judged.to_ms,
                "measured": judged.measured,
                "late": False,
            },
        ).inserted_primary_key
        assert occ is not None
        self.conn.execute(
            insert(evidence),
            {
                "case_id": case_id,
                "occurrence_id": int(occ[0]),
                "sensor": judged.sensor,
                "rule": rule,
                "start_ms": judged.from_ms,
                "end_ms": judged.to_ms,
                "measured": judged.measured,
                "unit": judged.unit,
                "limit_value": judged.limit,
                "limit_metric": judged.metric,
                "standard": judged.standard,
                "clause_zh": judged.clause,
                "clause_en": None,
                "summary": judged.summary,
                "late": False,
                "snapshot": snapshot_doc(judged.sensor, _sorted(judged.readings)),
                "snapshot_until_ms": judged.to_ms,
                "snapshot_done": True,
            },
        )


def _sorted(readings: Sequence[Reading]) -> list[Reading]:
    return sorted(readings, key=lambda r: r.ts_ms)
