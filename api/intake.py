"""Taking a resident's complaint in, judging it on the sensors, putting it on its case.

One service beside the routers (STYLE §16): `/api/v1/complaints` and Open311's
`requests.json` both call `receive`; `followup` closes the loop with the resident;
`rejudge` judges again complaints whose window came before its (late) readings. The
deciding is the core's (rules/complaint.py, rules/corroboration.py); this module reads
the window's readings (influx/history.py), and writes the complaint, its case's change and
what that tells (the outbox) in one transaction, as a person's action on a case does
(api/routers/cases.py `act`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from linli.api import acting, disclosure
from linli.api.scope import Scope
from linli.api.services import Services
from linli.influx.history import InfluxHistory
from linli.rules.case import Action, Case, CaseKind, CaseState, apply, open_case
from linli.rules.complaint import (
    WindowError,
    complaint_case,
    complaint_rule,
    nuisance_order,
    pick_case,
    related_sites,
    rules_of,
    window_of,
)
from linli.rules.corroboration import Corroboration, Verdict, corroborate
from linli.rules.disclosure import Reader, complaint_note, quote
from linli.rules.engine.decide import CaseChange
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Registry, Sensor, Site
from linli.store import Duplicate, Invalid, NotFound, Role, StateConflict
from linli.store.complaints import ComplaintRecord, ComplaintTx, NewComplaint

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Intake:
    """A complaint as received, checked for shape by its edge (HTTP body, Open311 form)."""

    kind: SensorKind
    text: str
    source: str
    site: str | None = None
    address: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    external_id: str | None = None
    contact: dict[str, Any] | None = None
    # a board form's nonce: the same form sent twice is one complaint, whatever the clock
    request_id: str | None = None


def now_ms() -> int:
    """Wall time, epoch ms."""
    return time.time_ns() // 1_000_000


def require_creator(scope: Scope) -> None:
    """CONTRACT §5: complaints are created by grid workers, staff and admins, not merchants."""
    from fastapi import HTTPException, status

    if scope.grant.role is Role.MERCHANT:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "role merchant may not create or rate complaints; admin, grid_worker, staff may "
            "(CONTRACT §5)",
        )


def partition(scope: Scope, site: Site | None) -> str:
    """Whose complaints a request is matched among (its identity, its order id): those of
    the site's grid, which everyone who may file at the site sees (CONTRACT §5); at no
    site, the whole community's (seen by admin and staff only) or, filed by a grid
    worker, its own token's. So a match never reaches a complaint the caller cannot see."""
    if site is not None:
        return f"grid:{site.grid}"
    if scope.whole:
        return "community"
    if scope.grant.communities is not None:  # a community's staff (CONTRACT §9): its own
        return "communities:" + ",".join(sorted(scope.grant.communities))
    if scope.grant.id is None:  # a board session from a signed link: its grids
        return "grids:" + ",".join(sorted(scope.grant.grids))
    return f"token:{scope.grant.id}"


def fingerprint(intake: Intake, part: str, from_ms: int, to_ms: int) -> str:
    """The request's identity in its partition: the same body about the same window is
    one complaint (a unique column). A "now" complaint's window is whole minutes
    (rules/complaint.py `window_of`): the same words again a minute later are a
    complaint of their own, unless they carry an order's id (CONTRACT §7: the same
    `external_id` again is the same complaint), whose window is the one given. A board
    form's complaint is its form (`request_id`): sent twice, it is kept once."""
    if intake.request_id is not None:
        return hashlib.sha256(f"board-form|{part}|{intake.request_id}".encode()).hexdigest()
    doc = dataclasses.asdict(intake)
    del doc["request_id"]
    if intake.external_id is None:
        doc.update(from_ms=from_ms, to_ms=to_ms)
    doc.update(kind=intake.kind.value, partition=part)
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def external_key(part: str, source: str, external_id: str) -> str:
    """The unique key of an order's first complaint: its source and id in a partition."""
    return hashlib.sha256(f"{part}|{source}|{external_id}".encode()).hexdigest()


def _site_of(scope: Scope, intake: Intake) -> Site | None:
    from linli.rules.complaint import match_site

    if intake.site is not None:
        return scope.site(intake.site)  # 404 for an unknown site or one outside the scope
    assert intake.address is not None
    return match_site(intake.address, scope.sites())


def _sensors(
    registry: Registry, site: Site, kind: SensorKind, services: Services
) -> list[tuple[Sensor, Site]]:
    related = related_sites(site, registry.sites, services.complaint_rules)
    order = {s.id: i for i, s in enumerate(related)}
    by_site = {s.id: s for s in related}
    found = [s for s in registry.sensors.values() if s.kind is kind and s.site in by_site]
    # the complaint's own site first: what the resident hears (rules/corroboration.py)
    found.sort(key=lambda s: (order[s.site], s.id))
    return [(sensor, by_site[sensor.site]) for sensor in found]


def judge(
    services: Services, site: Site | None, kind: SensorKind, from_ms: int, to_ms: int
) -> Corroboration:
    """Corroborate a window: only these sensors' readings of only this window are read."""
    if site is None:
        return corroborate(kind, from_ms, to_ms, [], {}, services.policy)
    registry = services.db.load_registry()
    sensors = _sensors(registry, site, kind, services)
    history = InfluxHistory(services.influx)
    readings: dict[str, Sequence[Reading]] = {
        sensor.id: history.readings_after(sensor.id, from_ms, to_ms) for sensor, _ in sensors
    }
    return corroborate(
        kind,
        from_ms,
        to_ms,
        sensors,
        readings,
        services.policy,
        services.complaint_rules.min_coverage,
    )


@dataclass(frozen=True, slots=True)
class Filed:
    """A complaint received: kept now (`new`), or the same request's kept before."""

    record: ComplaintRecord
    new: bool


# a request that lost a race on a unique key (the same order, the same site's case) is
# tried again: the second time it finds what the winner kept
_ATTEMPTS: Final = 3


def receive(services: Services, scope: Scope, intake: Intake) -> Filed:
    """Keep a complaint, judged, on its case (joined or opened, and told); the same
    request again is the complaint kept for it; 422 for a window linli cannot judge, 404
    for an unknown site."""
    require_creator(scope)
    received, from_ms, to_ms = _checked(services, intake)
    site = _site_of(scope, intake)
    return _file(
        services,
        intake,
        site,
        partition(scope, site),
        acting.actor(scope.grant),
        received,
        from_ms,
        to_ms,
    )


PUBLIC_ACTOR: Final = "public"  # a resident's own report from a site's public page


def receive_public(services: Services, site: Site, intake: Intake) -> Filed:
    """A resident's own report from the site's public page (CONTRACT §11): the same intake
    as every complaint (judged, joined or opened, told), matched among the complaints of
    the site's grid; `intake.request_id` says which reports are the same one (the same
    phone about the same night: api/public/report.py)."""
    received, from_ms, to_ms = _checked(services, intake)
    return _file(
        services, intake, site, f"grid:{site.grid}", PUBLIC_ACTOR, received, from_ms, to_ms
    )


def _checked(services: Services, intake: Intake) -> tuple[int, int, int]:
    """(received, from, to) of a complaint whose shape is right; Invalid (422) if not."""
    if not intake.text.strip():
        raise Invalid("text: a complaint needs its text (what the resident said)")
    if intake.site is None and not (intake.address or "").strip():
        raise Invalid("a complaint names a site or an address")
    received = services.clock()
    try:
        from_ms, to_ms = window_of(
            intake.from_ms, intake.to_ms, received, services.complaint_rules.window_s
        )
    except WindowError as err:
        raise Invalid(f"window: {err}") from err
    return received, from_ms, to_ms


def _file(
    services: Services,
    intake: Intake,
    site: Site | None,
    part: str,
    actor: str,
    received: int,
    from_ms: int,
    to_ms: int,
) -> Filed:
    judged = judge(services, site, intake.kind, from_ms, to_ms)
    new = NewComplaint(
        site=None if site is None else site.id,
        grid=None if site is None else site.grid,
        address=intake.address or (site.address if site is not None else ""),
        kind=intake.kind.value,
        source=intake.source,
        external_id=intake.external_id,
        from_ms=from_ms,
        to_ms=to_ms,
        text=intake.text,
        contact=intake.contact,
        received_ms=received,
        actor=actor,
        fingerprint=fingerprint(intake, part, from_ms, to_ms),
        external_key=None
        if intake.external_id is None
        else external_key(part, intake.source, intake.external_id),
    )
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with services.db.complaints() as tx:
                return _keep(services, tx, new, part, site, judged)
        except Duplicate:
            if attempt == _ATTEMPTS:
                raise
            log.info("complaint %s: kept meanwhile by another request; again", new.external_id)
    raise AssertionError("unreachable")


def _first_of_order(tx: ComplaintTx, new: NewComplaint, part: str) -> ComplaintRecord | None:
    """The first complaint of the request's order in its partition, if any (also one kept
    before keys had partitions: its key was "source/external_id", its partition its grid)."""
    assert new.external_key is not None and new.external_id is not None
    first = tx.by_external(new.external_key)
    if first is None:
        legacy = tx.by_external(f"{new.source}/{new.external_id}")
        if legacy is not None and legacy.grid is not None and f"grid:{legacy.grid}" == part:
            first = legacy
    return first


def _keep(
    services: Services,
    tx: ComplaintTx,
    new: NewComplaint,
    part: str,
    site: Site | None,
    judged: Corroboration,
) -> Filed:
    tz = services.config.tz
    same = tx.by_fingerprint(new.fingerprint)
    if same is not None:  # the same request again (a retry, a form sent twice)
        return Filed(same, new=False)
    if new.external_key is not None:
        first = _first_of_order(tx, new, part)
        if first is not None:  # the same outside id with new words: merged (并单)
            kept = tx.insert_complaint(
                new, judged, new.received_ms, tz, primary=False, merged_into=first.id
            )
            if first.case_id is not None:
                _join(services, tx, tx.get(first.case_id), kept, judged)
            return Filed(tx.complaint(kept.id), new=True)
    if site is None:  # an address linli does not know: kept, for the community office
        return Filed(tx.insert_complaint(new, judged, new.received_ms, tz, primary=True), True)
    kind = SensorKind(new.kind)
    registry = services.db.load_registry()
    related = related_sites(site, registry.sites, services.complaint_rules)
    open_cases = [
        case
        for s in related
        for rule in rules_of(kind)
        if (case := tx.active_case(s.id, rule)) is not None
    ]
    corroborating = judged.site if judged.verdict is Verdict.CORROBORATED else None
    case = pick_case(open_cases, nuisance_order(related, corroborating), judged.metric)
    if case is not None:
        assert case.id is not None
        first_here = tx.first_on_case(case.id, site.id, kind.value)
        kept = tx.insert_complaint(
            new,
            judged,
            new.received_ms,
            tz,
            primary=True,
            merged_into=None if first_here is None else first_here.id,
        )
        _join(services, tx, case, kept, judged)
        return Filed(tx.complaint(kept.id), new=True)
    kept = tx.insert_complaint(new, judged, new.received_ms, tz, primary=True)
    opened = _open(services, tx, site, kind, judged, kept, new.received_ms)
    tx.set_case(kept.id, opened)
    return Filed(tx.complaint(kept.id), new=True)


def _note(kept: ComplaintRecord, judged: Corroboration) -> str:
    return complaint_note(
        kept.reference,
        kept.source,
        kept.text,
        judged.verdict.value,
        judged.summary,
        judged.on_site_check,
    )


def _open(
    services: Services,
    tx: ComplaintTx,
    site: Site,
    kind: SensorKind,
    judged: Corroboration,
    kept: ComplaintRecord,
    at_ms: int,
) -> int:
    """A `complaint` case at the grid worker, the corroboration its evidence, told."""
    rules = services.complaint_rules
    case = complaint_case(
        site,
        kind,
        judged.sensor,
        at_ms,
        rules.deadline(kept.source),
        services.config.tz,
    )
    opened, entry = open_case(case, "linli", _note(kept, judged))
    opened = dataclasses.replace(opened, complaints=1)
    stored = tx.insert_case(opened)
    assert stored.id is not None
    tx.add_timeline(stored.id, entry)
    tx.add_complaint_evidence(stored.id, judged, stored.rule, at_ms)
    acting.tell(services, tx, [CaseChange(stored, entry)])
    return stored.id


def _join(
    services: Services,
    tx: ComplaintTx,
    case: Case,
    kept: ComplaintRecord,
    judged: Corroboration,
) -> None:
    """A complaint on an open case: counted (its priority rises), on its timeline; a
    corroborated one reopens a case resolved but not yet verified (the fix did not hold)."""
    case_id = case.id
    assert case_id is not None
    case = tx.get_locked(case_id)  # as it is now: complaints joining at once each count
    tx.set_case(kept.id, case_id)
    counted = dataclasses.replace(case, complaints=case.complaints + 1)
    action = Action.COMMENT
    if case.state is CaseState.RESOLVED and judged.verdict is Verdict.CORROBORATED:
        action = Action.REOPEN
    moved, entry = apply(counted, action, kept.received_ms, "linli", "并单 " + _note(kept, judged))
    tx.update_case(moved, entry)
    if case.kind is CaseKind.COMPLAINT:
        tx.add_complaint_evidence(case_id, judged, case.rule, kept.received_ms)
    acting.tell(services, tx, [CaseChange(moved, entry)])


# -- closing the loop ---------------------------------------------------------------------


def in_scope(scope: Scope, record: ComplaintRecord) -> None:
    """404 for a complaint outside the token's scope (CONTRACT §5)."""
    if scope.whole:
        return
    if record.site is None or record.site not in {s.id for s in scope.sites()}:
        raise NotFound(f"complaint {record.id} does not exist")


def followup(
    services: Services,
    scope: Scope,
    complaint_id: int,
    satisfied: bool,
    note: str,
    nonce: str | None = None,
) -> ComplaintRecord:
    """The follow-up call's rating (回访) once the case is resolved; "not satisfied"
    reopens the case (a closed one cannot be: a new complaint case takes the complaint).
    A board form's `nonce` is kept with it: the same form again raises Duplicate."""
    require_creator(scope)
    return _followup(
        services, complaint_id, satisfied, note, nonce, acting.actor(scope.grant), scope
    )


def followup_public(
    services: Services, complaint_id: int, satisfied: bool, words: str, nonce: str
) -> ComplaintRecord:
    """The resident's own rating from their private follow link (CONTRACT §11): the same
    follow-up record staff keep after a call, by `public`; `words` the choice (基本满意)."""
    return _followup(services, complaint_id, satisfied, words, nonce, PUBLIC_ACTOR, None)


def _followup(
    services: Services,
    complaint_id: int,
    satisfied: bool,
    note: str,
    nonce: str | None,
    actor: str,
    scope: Scope | None,
) -> ComplaintRecord:
    at = services.clock()
    with services.db.complaints() as tx:
        record = tx.complaint(complaint_id)
        if scope is not None:
            in_scope(scope, record)
        if record.case_id is None:
            raise StateConflict(f"complaint {complaint_id} is on no case: there is nothing to rate")
        case = tx.get(record.case_id)
        if nonce is not None and not tx.use_nonce(nonce, record.case_id, at):
            raise Duplicate(f"this follow-up form was applied already ({record.reference})")
        if case.state not in (CaseState.RESOLVED, CaseState.CLOSED):
            raise StateConflict(
                f"complaint {complaint_id}: its case {case.id} is {case.state}; the follow-up "
                "comes after it is resolved"
            )
        tx.set_followup(complaint_id, satisfied, note, at)
        words = "满意 satisfied" if satisfied else "不满意 not satisfied"
        # the reference and the call's record are the resident's (CONTRACT §7): quoted
        text = f"回访 {quote(record.reference)}: {words}." + (f" {quote(note)}" if note else "")
        if satisfied or case.state is CaseState.RESOLVED:
            action = Action.COMMENT if satisfied else Action.REOPEN
            acting.act(services, tx, case, action, at, actor, text)
        else:
            _reopen_closed(services, tx, case, record, text, at)
        return tx.complaint(complaint_id)


def _reopen_closed(
    services: Services,
    tx: ComplaintTx,
    case: Case,
    record: ComplaintRecord,
    text: str,
    at: int,
) -> None:
    assert case.id is not None and record.site is not None
    registry = services.db.load_registry()
    site = registry.sites.get(record.site)
    if site is None:
        raise NotFound(f"site {record.site!r} does not exist")
    kind = SensorKind(record.kind)
    again = tx.active_case(site.id, complaint_rule(kind))
    if again is not None:
        judged = _stored_corroboration(record)
        _join(services, tx, again, record, judged)
        new_id = again.id
    else:
        judged = _stored_corroboration(record)
        new_id = _open(services, tx, site, kind, judged, record, at)
        tx.set_case(record.id, new_id)
    moved, entry = apply(case, Action.COMMENT, at, "linli", f"{text} → 重新立案 case {new_id}")
    tx.update_case(moved, entry)


def _stored_corroboration(record: ComplaintRecord) -> Corroboration:
    c = record.corroboration
    return Corroboration(
        Verdict(c["verdict"]),
        int(c["from_ms"]),
        int(c["to_ms"]),
        c["summary"],
        sensor=c.get("sensor"),
        site=c.get("site"),
        metric=c.get("metric"),
        measured=c.get("measured"),
        unit=c.get("unit") or "",
        limit=c.get("limit"),
        standard=c.get("standard"),
        clause=c.get("clause"),
        coverage=c.get("coverage"),
    )


# -- judging again --------------------------------------------------------------------------


def rejudge_one(services: Services, record: ComplaintRecord) -> ComplaintRecord:
    """A `data_gap` complaint judged again on what InfluxDB holds now (late readings); a new
    verdict is written, and told on its case's timeline."""
    if record.verdict is not Verdict.DATA_GAP or record.site is None:
        return record
    if now_ms() - record.to_ms > services.complaint_rules.rejudge_s * 1000:
        return record
    registry = services.db.load_registry()
    site = registry.sites.get(record.site)
    if site is None:
        return record
    judged = judge(services, site, SensorKind(record.kind), record.from_ms, record.to_ms)
    if judged.verdict is Verdict.DATA_GAP:
        return record
    at = now_ms()
    with services.db.complaints() as tx:
        current = tx.complaint(record.id)
        if current.verdict is not Verdict.DATA_GAP:
            return current  # judged meanwhile
        tx.set_verdict(record.id, judged, at)
        if current.case_id is not None:
            case = tx.get(current.case_id)
            note = (
                f"迟到数据重新判定 {quote(current.reference)}: "
                f"{judged.verdict.value}: {judged.summary}"
            )
            moved, entry = apply(case, Action.COMMENT, at, "linli", note)
            tx.update_case(moved, entry)
            if case.kind is CaseKind.COMPLAINT:
                tx.add_complaint_evidence(case.id, judged, case.rule, at)  # type: ignore[arg-type]
        return tx.complaint(record.id)


def rejudge(services: Services) -> int:
    """Every `data_gap` complaint of the last `rejudge_s` judged again; how many changed."""
    since = now_ms() - services.complaint_rules.rejudge_s * 1000
    with services.db.complaints() as tx:
        pending = tx.to_rejudge(since)
    changed = 0
    for record in pending:
        try:
            if rejudge_one(services, record).verdict is not Verdict.DATA_GAP:
                changed += 1
        except Exception:  # one complaint's failure never stops the others
            log.exception("complaint %d: judging again failed", record.id)
    return changed


class Rejudging:
    """A thread judging `data_gap` complaints again every `every_s` (linli/service.py)."""

    def __init__(self, services: Services, every_s: float = 60.0) -> None:
        self._services = services
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="linli-rejudge", daemon=True)

    def start(self) -> Rejudging:
        """Begin; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """End and wait for the thread."""
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                changed = rejudge(self._services)
                if changed:
                    log.info("%d complaint(s) judged again on late readings", changed)
            except Exception:  # the store or InfluxDB down: next time
                log.exception("judging complaints again failed")


# -- what the API shows ----------------------------------------------------------------------


def view(
    services: Services,
    tx: ComplaintTx,
    record: ComplaintRecord,
    reader: Reader,
    readings: bool = False,
) -> dict[str, Any]:
    """A complaint as GET shows it to `reader`: its verdict, its case's state, priority and
    next deadline, the case's resolution written back, the follow-up rating; the
    resident's name, phone, words, address and numbers only to the authority
    (CONTRACT §7, api/disclosure.py)."""
    from linli.rules.complaint import next_deadline, priority
    from linli.rules.localtime import rfc3339

    case = None if record.case_id is None else tx.get(record.case_id)
    resolution = None
    if case is not None and case.state in (CaseState.RESOLVED, CaseState.CLOSED):
        found = tx.resolution(case.id)  # type: ignore[arg-type]
        note, at = found if found is not None else ("", case.updated_ms)
        resolution = {"state": case.state.value, "note": note, "at": rfc3339(at)}
    deadline = (
        None
        if case is None
        else next_deadline(case, services.policy_of(case.site).escalation, now_ms())
    )
    c = record.corroboration
    out: dict[str, Any] = {
        "id": record.id,
        "reference": record.reference,
        "site": record.site,
        "grid": record.grid,
        "address": record.address,
        "kind": record.kind,
        "source": record.source,
        "external_id": record.external_id,
        "from": rfc3339(record.from_ms),
        "to": rfc3339(record.to_ms),
        "text": record.text,
        "contact": record.contact,
        "received": rfc3339(record.received_ms),
        "case_id": record.case_id,
        "case_state": None if case is None else case.state.value,
        "case_complaints": None if case is None else case.complaints,
        "priority": None if case is None else priority(case.complaints).value,
        "expected": None if deadline is None else rfc3339(deadline),
        "merged_into": record.merged_into,
        "verdict": record.verdict.value,
        "corroboration": {
            **{k: c.get(k) for k in ("verdict", "sensor", "site", "metric", "measured")},
            **{k: c.get(k) for k in ("limit", "standard", "clause", "coverage", "summary")},
            "unit": c.get("unit") or "",
            "on_site_check": bool(c.get("on_site_check")),
            "from": rfc3339(int(c["from_ms"])),
            "to": rfc3339(int(c["to_ms"])),
        },
        "resolution": resolution,
        "followup": None
        if record.followup_satisfied is None
        else {
            "satisfied": record.followup_satisfied,
            "note": record.followup_note or "",
            "at": rfc3339(record.followup_ms or 0),
        },
    }
    if readings:
        out["readings"] = record.readings
    return disclosure.complaint_view(reader, out)
