"""The engine on a real case store (SQLite and PostgreSQL): cases, evidence, lifecycle, restart."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from linli.influx.annotations import case_event_line
from linli.rules.case import Action, CaseState, Level, TimelineEntry, apply
from linli.rules.engine.decide import CaseChange
from linli.rules.engine.engine import Engine
from linli.rules.policy import Escalation, RulePolicy
from linli.rules.ports import CaseTx
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Merchant, Sensor, SiteKind, Zone
from linli.store import Database, GridRecord, SiteRecord
from tests.fakes import MemoryHistory
from tests.rules.conftest import local_ms

MIN = 60_000
H = 60 * MIN


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.create_grid(GridRecord("g1", "东网格"))
    database.create_site(SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    database.create_site(
        SiteRecord("rest-1", "面馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=Merchant("周"))
    )
    database.create_sensor(Sensor("n-01", SensorKind.NOISE, "hj-b1"))
    database.create_sensor(Sensor("f-01", SensorKind.FUME, "rest-1"))
    yield database
    database.close()


def night(start: str, n: int, laeq: float, first_seq: int = 0, **metrics: float) -> list[Reading]:
    t0 = local_ms(start)
    return [
        Reading(
            "n-01",
            SensorKind.NOISE,
            t0 + i * MIN,
            first_seq + i,
            60,
            {"laeq": laeq, "l90": 30 + (first_seq + i) % 7 * 0.1, **metrics},
        )
        for i in range(n)
    ]


@pytest.fixture
def history() -> MemoryHistory:
    """What ingest stored (InfluxDB in production): the engine reads evidence back from it."""
    return MemoryHistory()


def feed(engine: Engine, readings: list[Reading], late_ms: int = 0) -> None:
    """Store the readings, then hand each to the engine as ingest does."""
    for r in readings:
        if isinstance(engine.history, MemoryHistory):
            engine.history.add([r])
        engine.process([r], r.ts_ms + late_ms)


def only_case(db: Database):
    with db.cases() as tx:
        found, total = tx.list_cases()
        assert total == 1, found
        return tx.detail(found[0].id)  # type: ignore[arg-type]


def test_night_nuisance_opens_one_case_with_its_evidence(
    db: Database, history: MemoryHistory
) -> None:
    told: list[CaseChange] = []
    engine = Engine(db, RulePolicy(offline_periods=1000), tell=told.extend, history=history)
    feed(engine, night("22:10", 8, 55.0))
    (ev,) = only_case(db).evidence
    # at once: the readings in memory, up to the breach
    assert [s["ts"] for s in ev.snapshot] == [local_ms("22:10") + i * MIN for i in range(8)]
    feed(engine, night("22:18", 12, 55.0, first_seq=8))
    d = only_case(db)
    c = d.case
    assert (c.site, c.rule, c.kind, c.state, c.level, c.occurrences, c.late) == (
        "hj-b1", "noise_leq", "breach", CaseState.OPEN, Level.GRID_WORKER, 1, False,
    )  # fmt: skip
    assert c.title == "红街公寓1幢: 噪声超标 noise over the limit"
    (ev,) = d.evidence
    assert (ev.sensor, ev.measured, ev.unit, ev.limit_value, ev.standard) == (
        "n-01", 55.0, "dB(A)", 50.0, "GB 3096-2008",
    )  # fmt: skip
    assert ev.clause_zh == "GB 3096-2008 表1 2类 夜间 50 dB(A)"
    # the episode: judged over from 22:17 (its window from 22:09), told again 10 min on
    assert (ev.start_ms, ev.end_ms) == (local_ms("22:09"), local_ms("22:27"))
    assert ev.summary == ("LAeq over 10 min 55.0 dB(A) > 50 dB(A) (night) at worst, 18 min in all")
    (occ,) = d.occurrences
    assert (occ.start_ms, occ.end_ms, occ.measured) == (local_ms("22:09"), local_ms("22:27"), 55.0)
    assert [(e.action, e.to_state) for e in d.timeline] == [(Action.OPEN, CaseState.OPEN)]
    assert [case_event_line(t) for t in told] == [
        f'case_event,grid=g1,kind=breach,rule=noise_leq,site=hj-b1 case_id={c.id}i,state="open",'
        f'title="红街公寓1幢: 噪声超标 noise over the limit",action="open" {local_ms("22:17")}'
    ]
    # once late data has had its time (30 min after the snapshot's end, 22:57, which
    # grew with the episode), the snapshot is read back: the 20 readings of 22:10–22:29
    engine.tick(local_ms("23:27"))
    assert len(only_case(db).evidence[0].snapshot) == 8
    engine.tick(local_ms("23:27") + 1)
    (ev,) = only_case(db).evidence
    assert [s["ts"] for s in ev.snapshot] == [local_ms("22:10") + i * MIN for i in range(20)]


def test_a_breach_running_from_day_into_night_is_a_new_occurrence_at_the_night_limit(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(), history=history)
    feed(engine, night("21:40", 40, 62.0))
    d = only_case(db)
    # the day's episode ends with the day (its last reading measured 21:59–22:00); the
    # night's first reading measured 22:00–22:01, its window covered enough at 22:08
    assert [(e.clause_zh, e.start_ms, e.end_ms) for e in d.evidence] == [
        ("GB 3096-2008 表1 2类 昼间 60 dB(A)", local_ms("21:39"), local_ms("22:00")),
        ("GB 3096-2008 表1 2类 夜间 50 dB(A)", local_ms("22:00"), local_ms("22:18")),
    ]


def test_late_data_is_judged_by_night_limits_and_the_case_says_so(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(), history=history)
    feed(engine, night("22:10", 10, 55.0), late_ms=24 * H)
    c = only_case(db).case
    assert c.late is True
    assert c.title.endswith("[迟到数据 late data]")
    assert only_case(db).evidence[0].clause_zh == "GB 3096-2008 表1 2类 夜间 50 dB(A)"


def test_restart_mid_breach_changes_nothing(
    db: Database, store_url: str, history: MemoryHistory
) -> None:
    readings = night("22:10", 30, 55.0)
    # the state is saved with the case (the 8th reading), not after each reading: a crash
    # then loses the 4 judged since, which the restarted engine judges again from InfluxDB
    first = Engine(db, RulePolicy(), history=history, checkpoint_s=3600)
    feed(first, readings[:12])
    again = Database(store_url)
    restarted = Engine(again, RulePolicy(), history=history)
    assert restarted.replay(readings[11].ts_ms) == 4
    feed(restarted, readings[12:])
    d = only_case(again)
    assert (d.case.occurrences, len(d.evidence), len(d.timeline)) == (1, 1, 1)
    # one episode, grown across the restart: told at 22:17, 22:27 and 22:37
    (occ,) = d.occurrences
    assert (occ.start_ms, occ.end_ms, occ.measured) == (local_ms("22:09"), local_ms("22:37"), 55.0)
    again.close()


def test_a_new_episode_is_an_occurrence_and_recurrence_after_resolve_reopens(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(), history=history)
    feed(engine, night("22:10", 10, 55.0))
    feed(engine, night("22:20", 20, 45.0, first_seq=10))  # ended: below 48 for 10 min
    feed(engine, night("22:40", 10, 55.0, first_seq=30))  # second episode
    d = only_case(db)
    assert (d.case.state, d.case.occurrences, len(d.evidence)) == (CaseState.OPEN, 2, 2)
    with db.cases() as tx:
        case, entry = apply(d.case, Action.RESOLVE, local_ms("22:55"), "王丽", "talked to them")
        tx.update_case(case, entry)
    feed(engine, night("22:50", 20, 45.0, first_seq=40))
    feed(engine, night("23:10", 10, 55.0, first_seq=60))
    d = only_case(db)
    assert (d.case.state, d.case.occurrences) == (CaseState.REOPENED, 3)
    assert [e.action for e in d.timeline] == [
        Action.OPEN, Action.OCCUR, Action.RESOLVE, Action.OCCUR,
    ]  # fmt: skip


def test_an_episode_going_on_after_the_case_was_resolved_reopens_it(
    db: Database, history: MemoryHistory
) -> None:
    # resolved at 22:35 while the neighbour is still loud: the episode grows past it
    engine = Engine(db, RulePolicy(), history=history)
    feed(engine, night("22:10", 20, 55.0))
    with db.cases() as tx:
        (case,), _ = tx.list_cases()
        resolved, entry = apply(case, Action.RESOLVE, local_ms("22:35"), "王丽", "talked to them")
        tx.update_case(resolved, entry)
    feed(engine, night("22:30", 30, 55.0, first_seq=20))  # one episode all along, to 23:00
    d = only_case(db)
    assert (d.case.state, d.case.occurrences) == (CaseState.REOPENED, 1)
    assert [e.action for e in d.timeline] == [Action.OPEN, Action.RESOLVE, Action.REOPEN]
    assert d.timeline[-1].note.startswith("still over the limit after it was resolved")
    assert d.occurrences[0].end_ms > local_ms("22:45")


def test_verification_window_closes_a_quiet_resolved_case(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(verification_s=24 * 3600), history=history)
    feed(engine, night("22:10", 10, 55.0))
    with db.cases() as tx:
        (case,), _ = tx.list_cases()
        case, entry = apply(case, Action.RESOLVE, 1_000, "王丽")
        tx.update_case(case, entry)
    engine.tick(1_000 + 24 * H - 1)
    assert only_case(db).case.state is CaseState.RESOLVED
    engine.tick(1_000 + 24 * H)
    assert only_case(db).case.state is CaseState.CLOSED


def test_stuck_sensor_at_night_opens_a_device_case_and_no_noise_case(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(), history=history)
    t0 = local_ms("02:00")
    stuck = [
        Reading("n-01", SensorKind.NOISE, t0 + i * MIN, i, 60, {"laeq": 65.0, "lamin": 65.0, "lamax": 65.0})
        for i in range(15)
    ]  # fmt: skip
    feed(engine, stuck)
    d = only_case(db)
    assert (d.case.rule, d.case.kind, d.case.state) == ("device_stuck", "device", CaseState.OPEN)
    feed(engine, night("02:15", 1, 45.0, first_seq=15))
    d = only_case(db)
    assert d.case.state is CaseState.CLOSED
    assert [e.action for e in d.timeline] == [Action.OPEN, Action.RECOVER]


def test_offline_sensor_opens_a_device_case_closed_when_it_is_back(
    db: Database, history: MemoryHistory
) -> None:
    engine = Engine(db, RulePolicy(offline_periods=5), history=history)
    (r,) = night("14:00", 1, 50.0)
    engine.process([r], 0)
    engine.tick(5 * MIN)
    with db.cases() as tx:
        assert tx.list_cases()[1] == 0
    engine.tick(5 * MIN + 1)
    assert only_case(db).case.rule == "device_offline"
    (back,) = night("14:10", 1, 50.0, first_seq=1)
    engine.process([back], 10 * MIN)
    assert only_case(db).case.state is CaseState.CLOSED


def test_escalation_follows_the_schedule(db: Database, history: MemoryHistory) -> None:
    policy = RulePolicy(
        escalation=Escalation(unacknowledged_s=1800, unresolved_s=(7200,)), offline_periods=1000
    )
    engine = Engine(db, policy, history=history)
    fume = [
        Reading("f-01", SensorKind.FUME, local_ms("12:00") + i * MIN, i, 60,
                {"oil_fume": 3.0 + i * 0.01, "fan_on": True})
        for i in range(10)
    ]  # fmt: skip
    for r in fume:
        engine.process([r], 0)
    assert only_case(db).case.level is Level.MERCHANT
    engine.tick(30 * MIN)
    assert only_case(db).case.level is Level.GRID_WORKER
    engine.tick(120 * MIN)
    d = only_case(db)
    assert d.case.level is Level.COMMUNITY
    assert [(e.action, e.level) for e in d.timeline] == [
        (Action.OPEN, Level.MERCHANT),
        (Action.ESCALATE, Level.GRID_WORKER),
        (Action.ESCALATE, Level.COMMUNITY),
    ]


def seconds(start_ms: int, n: int, first_seq: int, laeq: float, lamax: float) -> list[Reading]:
    """n 1-s readings of n-01, the first measured from `start_ms`; LAeq wanders a little."""
    return [
        Reading(
            "n-01",
            SensorKind.NOISE,
            start_ms + (k + 1) * 1000,
            first_seq + k,
            1,
            {"laeq": laeq + (first_seq + k) % 3 * 0.1 - 0.1, "lamax": lamax},
        )
        for k in range(n)
    ]


def test_a_ktv_night_is_one_occurrence_per_episode_and_rule(
    db: Database, history: MemoryHistory
) -> None:
    """A 1-s sensor beside a loud KTV: 22:30–01:30 over both night limits (LAeq 64 and LAmax
    88 from 23:00 to 23:10), 20 quiet minutes, 01:50–02:05 loud again, quiet after."""
    told: list[CaseChange] = []
    engine = Engine(db, RulePolicy(offline_periods=1000), tell=told.extend, history=history)
    m = 60
    loud = [(local_ms("22:30"), 30 * m, 58.0, 75.0), (local_ms("23:00"), 10 * m, 64.0, 88.0)]
    loud += [(local_ms("23:10"), 140 * m, 58.0, 75.0), (local_ms("01:30", 27), 20 * m, 40.0, 50.0)]
    loud += [
        (local_ms("01:50", 27), 15 * m, 60.0, 80.0),
        (local_ms("02:05", 27), 20 * m, 40.0, 50.0),
    ]
    readings: list[Reading] = []
    for start, n, laeq, lamax in loud:
        readings += seconds(start, n, len(readings), laeq, lamax)
    for i in range(0, len(readings), 600):  # rounds of 10 minutes of readings
        chunk = readings[i : i + 600]
        history.add(chunk)
        engine.process(chunk, chunk[-1].ts_ms)
    with db.cases() as tx:
        cases, total = tx.list_cases()
        details = {c.rule: tx.detail(c.id) for c in cases}  # type: ignore[arg-type]
    assert total == 2
    episodes = {
        rule: [(o.start_ms, o.end_ms, o.measured) for o in d.occurrences]
        for rule, d in details.items()
    }
    s = 1000
    assert episodes == {
        "noise_night_max": [
            (local_ms("22:30"), local_ms("01:30", 27), 88.0),
            (local_ms("01:50", 27), local_ms("02:05", 27), 80.0),
        ],
        # the rolling 10-min LAeq: over from the 450th second (the window from 22:30) and
        # on until the quiet seconds bring it to 50 − 2; the second one is 50.1 once its
        # window holds 56 loud seconds, so the window starts 9 min 4 s before them
        "noise_leq": [
            (local_ms("22:30"), local_ms("01:39", 27) + 8 * s, 64.0),
            (local_ms("01:41", 27) - 4 * s, local_ms("02:14", 27) + 27 * s, 60.0),
        ],
    }
    for d in details.values():  # the evidence says what the occurrence says
        assert [(e.start_ms, e.end_ms, e.measured) for e in d.evidence] == [
            (o.start_ms, o.end_ms, o.measured) for o in d.occurrences
        ]
        assert [e.action for e in d.timeline] == [Action.OPEN, Action.OCCUR]
    # two opens and two occurrences told, nothing of the episodes growing
    assert sorted(t.entry.action.value for t in told) == ["occur", "occur", "open", "open"]
    # the tick reads the first night-peak episode's readings back, 30 min before to 30
    # after (22:00–02:00: 12,000 of 1 s), capped to its first and last 2,000
    engine.tick(readings[-1].ts_ms)
    with db.cases() as tx:
        (ev, _) = tx.detail(details["noise_night_max"].case.id).evidence  # type: ignore[arg-type]
    assert len(ev.snapshot) == 4000
    assert (ev.snapshot[0]["ts"], ev.snapshot[1999]["ts"]) == (
        local_ms("22:30") + s, local_ms("22:30") + 2000 * s,
    )  # fmt: skip
    assert ev.snapshot[-1]["ts"] == local_ms("02:00", 27)


class TimelineTeller:
    """An in-transaction teller as an outbox is one: it records what it is told and writes
    a row per change through the transaction (here a timeline comment on the case)."""

    def __init__(self) -> None:
        self.told: list[list[tuple[Action, int | None]]] = []

    def tell(self, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
        self.told.append([(c.entry.action, c.case.id) for c in changes])
        for c in changes:
            assert c.case.id is not None
            entry = c.entry
            tx.add_timeline(
                c.case.id,
                TimelineEntry(entry.at_ms, "outbox", Action.COMMENT, entry.to_state,
                              entry.to_state, entry.level, f"told {entry.action}"),
            )  # fmt: skip


class FailingTeller:
    """A teller told after the outbox that fails while `fail`: the transaction with it."""

    fail = False

    def tell(self, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
        if self.fail:
            raise RuntimeError("outbox full")


def test_an_in_transaction_teller_sees_the_transactions_changes_and_rolls_back_with_them(
    db: Database, history: MemoryHistory
) -> None:
    outbox, failing = TimelineTeller(), FailingTeller()
    after: list[CaseChange] = []
    engine = Engine(db, RulePolicy(), tell=after.extend, tellers=[outbox, failing], history=history)
    loud = night("22:10", 10, 55.0)
    feed(engine, loud[:7])  # not yet over for the window: no change, nobody told
    assert (outbox.told, after) == ([], [])
    # the 8th reading opens the case; the transaction fails after the outbox wrote its row
    failing.fail = True
    with pytest.raises(RuntimeError, match="outbox full"):
        feed(engine, loud[7:8])
    ((opened,),) = outbox.told
    assert opened[0] is Action.OPEN and opened[1] is not None  # told the case with its id
    with db.cases() as tx:
        assert tx.list_cases() == ([], 0)  # the case and the outbox's row: rolled back
        assert tx.load_states() == {}
    assert after == []  # nothing committed, nothing told after the commit
    # the round again (as the engine's loop retries it), the outbox working: one case,
    # one row of the outbox, told once more in the transaction and once after it
    failing.fail = False
    feed(engine, loud[7:8])
    d = only_case(db)
    assert outbox.told == [[(Action.OPEN, opened[1])], [(Action.OPEN, d.case.id)]]
    assert [(e.actor, e.action, e.note) for e in d.timeline] == [
        ("linli", Action.OPEN, d.timeline[0].note),
        ("outbox", Action.COMMENT, "told open"),
    ]
    assert [(c.entry.action, c.case.id) for c in after] == [(Action.OPEN, d.case.id)]
    # each transaction's own changes: a quiet spell (the episode's CLEAR changes no case)
    # tells nobody, the next episode is one occurrence told alone
    feed(engine, loud[8:])
    feed(engine, night("22:20", 20, 45.0, first_seq=10))
    feed(engine, night("22:40", 10, 55.0, first_seq=30))
    assert outbox.told[2:] == [[(Action.OCCUR, d.case.id)]]
    d = only_case(db)
    assert [e.note for e in d.timeline if e.actor == "outbox"] == ["told open", "told occur"]
