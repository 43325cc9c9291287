"""The partition checkpoints (CONTRACT §12): a claim bumps the fencing epoch; a stale owner
commits nothing of its transaction; of two racing owners exactly one commits."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from linli.rules.case import Case, CaseKind, Level
from linli.rules.delivery import Delivery
from linli.rules.judge import SensorState
from linli.store import Database
from linli.store.partitions import Claim, StaleOwner, advance, checkpoint_of, claim
from linli.store.tables import cases, deliveries, rule_state
from tests.pg import Postgres

STREAM = "sites"


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.close()


def counts(db: Database) -> tuple[int, int, int]:
    """Cases, saved rule states and outbox rows committed."""
    with db.cases() as tx:
        return tuple(  # type: ignore[return-value]
            tx.conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (cases, rule_state, deliveries)
        )


def commit_work(db: Database, owner: Claim, to_seq: int) -> Claim:
    """What an engine's round writes in one transaction: the partition's checkpoint first
    (its row lock makes a racing owner wait, then fail its condition, before it writes
    anything), a case, a sensor's rule state, an outbox row."""
    with db.cases() as tx:
        moved = tx.advance(owner, to_seq)
        case = tx.insert_case(
            Case(
                f"site-{uuid.uuid4().hex[:8]}",
                "g1",
                "noise_leq",
                CaseKind.BREACH,
                "n-01",
                "吵",
                1000,
            )
        )
        assert case.id is not None
        tx.save_states({"n-01": SensorState("n-01", watermark_ms=to_seq)}, 1000)
        tx.add_deliveries(
            [Delivery(f"k{to_seq}", case.id, "case.opened", "ding", (), (Level.GRID_WORKER,),
                      "东网格 网格员", "t", "x", "", 1000)]
        )  # fmt: skip
        return moved


def test_a_claim_bumps_the_epoch_and_keeps_the_committed_seq(db: Database) -> None:
    first = claim(db, STREAM, 3, "engine-a")
    assert first == Claim(STREAM, 3, 1, 0)
    assert claim(db, STREAM, 4, "engine-a") == Claim(STREAM, 4, 1, 0)  # each partition its own
    moved = commit_work(db, first, 17)
    assert moved == Claim(STREAM, 3, 1, 17) and first.seq == 0
    assert claim(db, STREAM, 3, "engine-b") == Claim(STREAM, 3, 2, 17)
    with db.partitions() as conn:
        assert checkpoint_of(conn, STREAM, 3) == Claim(STREAM, 3, 2, 17)
        assert checkpoint_of(conn, "readings", 3) is None


def test_a_stale_owner_commits_nothing_of_its_transaction(db: Database) -> None:
    a = claim(db, STREAM, 0, "engine-a")
    a = commit_work(db, a, 5)
    assert counts(db) == (1, 1, 1)
    b = claim(db, STREAM, 0, "engine-b")  # b takes the partition while a still works
    with pytest.raises(StaleOwner, match="partition sites/0: epoch 1 at seq 5"):
        commit_work(db, a, 9)
    assert counts(db) == (1, 1, 1)  # a's case, rule state and outbox row: rolled back
    with db.cases() as tx:
        assert tx.load_states()["n-01"].watermark_ms == 5
    b = commit_work(db, b, 9)
    assert counts(db) == (2, 1, 2) and b == Claim(STREAM, 0, 2, 9)
    # a claim is also stale once its own seq was overtaken (a commit it did not make)
    with pytest.raises(StaleOwner):
        commit_work(db, Claim(STREAM, 0, 2, 5), 12)
    assert counts(db) == (2, 1, 2)


def test_advance_checks_the_row_in_the_callers_connection(db: Database) -> None:
    a = claim(db, STREAM, 1, "engine-a")
    with db.partitions() as conn:
        assert advance(conn, a, 0) == a  # unchanged: the claim still holds
    claim(db, STREAM, 1, "engine-b")
    with pytest.raises(StaleOwner), db.partitions() as conn:
        advance(conn, a, 0)


def race(
    start: threading.Barrier,
    name: str,
    db: Database,
    held: Claim,
    to_seq: int,
    won: list[str],
    lost: list[str],
) -> None:
    """One owner's commit at the barrier: into `won`, or `lost` on StaleOwner."""
    start.wait()
    try:
        commit_work(db, held, to_seq)
        won.append(name)
    except StaleOwner:
        lost.append(name)


def test_two_owners_racing_on_postgresql_exactly_one_commits(postgres: Postgres) -> None:
    """Each round: two owners hold the same claim (one of them stale without knowing it)
    and commit at once from two threads, each on its own connection pool. (SQLite has one
    writer at a time: there is no race there to lose.)"""
    rounds = 20
    url = postgres.create_db(f"race_{uuid.uuid4().hex[:8]}")
    db, other = Database(url), Database(url)
    try:
        held = claim(db, STREAM, 7, "engine-a")
        for r in range(rounds):
            start = threading.Barrier(2)
            won: list[str] = []
            lost: list[str] = []
            threads = [
                threading.Thread(target=race, args=(start, name, database, held, to_seq, won, lost))
                for name, database, to_seq in (("a", db, held.seq + 1), ("b", other, held.seq + 2))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert len(won) == 1 and len(lost) == 1, (r, won, lost)
            with db.partitions() as conn:
                now = checkpoint_of(conn, STREAM, 7)
            assert now == Claim(STREAM, 7, 1, held.seq + (1 if won == ["a"] else 2))
            held = now
        assert counts(db) == (rounds, 1, rounds)  # one case and outbox row per round
    finally:
        other.close()
        db.close()
