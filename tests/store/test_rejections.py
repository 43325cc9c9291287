"""Rejected records (CONTRACT §3): kept with their raw head, listed newest first, counted."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from linli.rules.constants import REJECT_RAW_KEEP_BYTES
from linli.rules.rejection import ReasonCode, Rejection
from linli.store import Database, RejectionCount, StoredRejection

T0 = 1_764_201_600_000  # 2025-11-27T00:00:00Z

BATCH = [
    Rejection(
        "linli/v1/n-hj-01/telemetry", b"{bad", T0, ReasonCode.NOT_JSON, "not JSON", "n-hj-01"
    ),
    Rejection(
        "linli/v1/n-hj-01/telemetry",
        b'{"batch": [1]}',
        T0 + 1000,
        ReasonCode.SCHEMA,
        "reading 0 is not an object",
        "n-hj-01",
        0,
    ),
    Rejection("linli/v1/x/telemetry", b"{}", T0 + 2000, ReasonCode.BAD_TOPIC, "bad topic"),
    Rejection(
        "linli/v1/f-rest-01/telemetry",
        b'{"ts": 1}',
        T0 + 3000,
        ReasonCode.TS_OUT_OF_RANGE,
        "too old",
        "f-rest-01",
    ),
    Rejection(
        "linli/v1/n-hj-01/telemetry", b"\xff\xfe", T0 + 4000, ReasonCode.NOT_JSON, "bin", "n-hj-01"
    ),
]


def test_a_batch_is_kept_whole_and_listed_newest_first(db: Database) -> None:
    db.add_rejections(BATCH)
    found = db.list_rejections()
    assert [r.received_ms - T0 for r in found] == [4000, 3000, 2000, 1000, 0]
    assert found[3] == StoredRejection(
        id=2,
        topic="linli/v1/n-hj-01/telemetry",
        sensor="n-hj-01",
        received_ms=T0 + 1000,
        reason=ReasonCode.SCHEMA,
        detail="reading 0 is not an object",
        index=0,
        payload=b'{"batch": [1]}',
        payload_size=14,
    )
    assert found[2].sensor is None and found[2].index is None


@pytest.mark.parametrize(
    ("filters", "ages_s"),
    [
        pytest.param({"sensor": "n-hj-01"}, [4, 1, 0], id="by sensor"),
        pytest.param({"reason": ReasonCode.NOT_JSON}, [4, 0], id="by reason"),
        pytest.param(
            {"sensor": "n-hj-01", "reason": ReasonCode.SCHEMA}, [1], id="by sensor and reason"
        ),
        pytest.param({"since_ms": T0 + 2000}, [4, 3, 2], id="since is inclusive"),
        pytest.param({"until_ms": T0 + 2000}, [1, 0], id="until is exclusive"),
        pytest.param({"limit": 2, "offset": 1}, [3, 2], id="limit and offset page"),
        pytest.param({"sensors": {"f-rest-01"}}, [3], id="a scope's sensors only"),
        pytest.param({"sensors": set()}, [], id="an empty scope sees nothing"),
    ],
)
def test_filters(db: Database, filters: dict[str, Any], ages_s: list[int]) -> None:
    db.add_rejections(BATCH)
    assert [(r.received_ms - T0) // 1000 for r in db.list_rejections(**filters)] == ages_s


def test_only_the_first_64_kib_are_kept_but_the_size_is(db: Database) -> None:
    payload = b"x" * (REJECT_RAW_KEEP_BYTES + 10)
    db.add_rejections([Rejection("t", payload, T0, ReasonCode.TOO_LARGE, "too large", "n-1x")])
    (kept,) = db.list_rejections()
    assert len(kept.payload) == 65536
    assert kept.payload_size == 65546
    assert kept.truncated is True


def test_counts_per_sensor_and_reason(db: Database) -> None:
    db.add_rejections(BATCH)
    assert db.rejection_counts() == [
        RejectionCount("n-hj-01", ReasonCode.NOT_JSON, 2),
        RejectionCount(None, ReasonCode.BAD_TOPIC, 1),
        RejectionCount("f-rest-01", ReasonCode.TS_OUT_OF_RANGE, 1),
        RejectionCount("n-hj-01", ReasonCode.SCHEMA, 1),
    ]
    assert db.rejection_counts(sensors={"f-rest-01"}) == [
        RejectionCount("f-rest-01", ReasonCode.TS_OUT_OF_RANGE, 1)
    ]


def test_an_empty_batch_stores_nothing(db: Database) -> None:
    db.add_rejections([])
    assert db.list_rejections() == []


def test_ten_thousand_rejections_go_in_one_transaction(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/linli.db")
    batch = [
        Rejection(
            "linli/v1/n-hj-01/telemetry", b"{}" * 100, T0 + i, ReasonCode.SCHEMA, "s", "n-hj-01", i
        )
        for i in range(10_000)
    ]
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    event.listen(Engine, "commit", count)
    try:
        db.add_rejections(batch)
    finally:
        event.remove(Engine, "commit", count)
    db.close()
    with sqlite3.connect(tmp_path / "linli.db") as conn:
        assert conn.execute("SELECT count(*), max(batch_index) FROM rejections").fetchone() == (
            10_000,
            9_999,
        )
    assert len(commits) == 1  # one transaction, not one per record (how fast: bench/)


def _store_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("linli.db*"))


def _bad_batch(elements: int, size: int) -> bytes:
    """A batch of `size` bytes whose every element is rejected (its ts is out of range)."""
    item = b'{"ts": 1, "seq": 1, "period_s": 60, "metrics": {"laeq": 999.0}, "x": "'
    body = b",".join([item + b'"}'] * elements)
    doc = b'{"batch": [' + body + b"]}"
    return doc + b" " * (size - len(doc))


def test_twenty_bad_256_kib_messages_grow_the_store_by_a_few_mb(tmp_path: Path) -> None:
    """Not a 64 KiB copy per element (which made 20 messages 1.35 GB plus WAL)."""
    from linli.rules.parse import parse_message
    from tests.helpers import small_registry

    db = Database(f"sqlite:///{tmp_path}/linli.db")
    db.ping()
    before = _store_bytes(tmp_path)
    registry = small_registry()
    elements = 1000  # the most a batch may hold (rules/constants.py)
    payload = _bad_batch(elements, 256 * 1024)
    assert len(payload) == 262_144
    for i in range(20):
        parsed = parse_message("linli/v1/n-01/telemetry", payload, T0 + i, registry, "linli/v1")
        assert len(parsed.rejections) == elements
        db.add_rejections(parsed.rejections)
        # the WAL is at most ~4 MB before SQLite checkpoints it (wal_autocheckpoint)
        assert _store_bytes(tmp_path) - before < 12 << 20, f"after message {i + 1}"
    counts = db.rejection_counts()
    assert sum(c.count for c in counts) == 20 * elements  # every element counted
    kept = db.list_rejections(limit=1000)
    assert [r.index for r in kept[:2]] == [999, 998]
    assert kept[0].payload == payload[:65536] and kept[0].payload_size == 262_144
    db.close()  # checkpoints the WAL into the file
    # 20 heads of 64 KiB (1.3 MB) and 20,000 records of a 130-character sentence each
    assert _store_bytes(tmp_path) - before < 7 << 20


def _message(i: int, elements: int = 3) -> list[Rejection]:
    payload = b"p" * 1000 + str(i).encode()
    return [
        Rejection(
            "linli/v1/n-01/telemetry",
            payload,
            T0 + i * 1000,
            ReasonCode.SCHEMA,
            "s",
            "n-01" if i % 2 else "n-02",
            k,
        )
        for k in range(elements)
    ]


def test_the_size_cap_evicts_the_oldest_messages_and_counts_them(tmp_path: Path) -> None:
    from linli.store import RejectLimits

    one = 1000 + 2 + len("linli/v1/n-01/telemetry") + 64 + 3 * (1 + 64)
    db = Database(
        f"sqlite:///{tmp_path}/linli.db",
        reject_limits=RejectLimits(retention_ms=None, max_bytes=10 * one),
    )
    for i in range(25):
        db.add_rejections(_message(i))
        assert db.rejected_bytes() <= 10 * one
    kept = db.list_rejections(limit=1000)
    assert len(kept) == 30 and {r.payload[1000:] for r in kept} == {
        str(i).encode() for i in range(15, 25)
    }
    assert db.rejected_bytes() == 10 * one
    assert db.rejection_counts() == [
        RejectionCount("n-02", ReasonCode.SCHEMA, 39, 24),
        RejectionCount("n-01", ReasonCode.SCHEMA, 36, 21),
    ]
    assert db.rejection_counts(sensors={"n-01"}) == [
        RejectionCount("n-01", ReasonCode.SCHEMA, 36, 21)
    ]
    db.close()


def test_the_retention_evicts_what_is_older_and_counts_it(tmp_path: Path) -> None:
    from linli.store import RejectLimits

    db = Database(
        f"sqlite:///{tmp_path}/linli.db",
        reject_limits=RejectLimits(retention_ms=5000, max_bytes=None),
    )
    for i in range(10):
        db.add_rejections(_message(i, elements=1))
    kept = db.list_rejections()
    # the newest at T0 + 9 s: what was received before T0 + 4 s is gone
    assert [(r.received_ms - T0) // 1000 for r in kept] == [9, 8, 7, 6, 5, 4]
    assert sum(c.count for c in db.rejection_counts()) == 10
    assert sum(c.evicted for c in db.rejection_counts()) == 4
    db.close()
