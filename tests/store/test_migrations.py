"""Alembic: the migrations arrive at the schema in tables.py; an issue-2 store is adopted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from linli.store import Database
from linli.store.connect import open_engine
from linli.store.migrate import alembic_config
from linli.store.tables import cases, metadata, occurrences


def test_migrations_arrive_at_the_declared_schema(tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path}/a.db").close()
    engine = create_engine(f"sqlite:///{tmp_path}/a.db")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_store_from_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    old = MetaData()
    for name in ("grids", "sites", "sensors", "meta", "rejections", "tokens"):
        metadata.tables[name].to_metadata(old)
    old.create_all(create_engine(url))  # what issue 2's Database did
    Database(url).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0005",)]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"cases", "timeline", "evidence", "deliveries"} <= names


def _occurrence(case_id: int, start_ms: int, end_ms: int) -> dict[str, object]:
    return {"case_id": case_id, "at_ms": end_ms, "sensor": "n-01", "start_ms": start_ms,
            "end_ms": end_ms, "measured": 55.0, "late": False}  # fmt: skip


def _migrate(url: str, revision: str) -> None:
    engine = open_engine(url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        if revision < "0004":
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
    engine.dispose()


def test_0004_makes_an_occurrence_one_per_window_start(store_url: str) -> None:
    """Issue 9: an occurrence is an episode, found again by (case, sensor, window start)."""
    Database(store_url).close()
    _migrate(store_url, "0003")
    engine = open_engine(store_url)
    with engine.begin() as conn:
        case = {"site": "hj-b1", "grid": "g1", "rule": "noise_leq", "kind": "breach",
                "sensor": "n-01", "state": "open", "level": "grid_worker",
                "first_level": "grid_worker", "title": "t", "opened_ms": 1, "updated_ms": 1,
                "late": False, "occurrences": 2, "open_key": "hj-b1/noise_leq"}  # fmt: skip
        case_id = conn.execute(insert(cases), case).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(occurrences), [_occurrence(case_id, 100, 200), _occurrence(case_id, 150, 300)]
        )
    engine.dispose()
    _migrate(store_url, "0004")
    engine = open_engine(store_url)
    with engine.begin() as conn:  # kept as they were
        rows = conn.execute(select(occurrences.c.start_ms, occurrences.c.end_ms)).fetchall()
        assert sorted(tuple(r) for r in rows) == [(100, 200), (150, 300)]
        conn.execute(insert(occurrences), _occurrence(case_id, 160, 300))  # same end: allowed
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(occurrences), _occurrence(case_id, 100, 400))  # same start: not
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"1 set\(s\) share \(case_id, sensor, end_ms\)"):
        _migrate(store_url, "0003")  # back to one per end: the two ending at 300 are refused
