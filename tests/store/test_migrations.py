"""Alembic: the migrations arrive at the schema in tables.py; an issue-2 store is adopted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from linli.store import Database
from linli.store.tables import metadata


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
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"cases", "timeline", "evidence"} <= names
