"""Schema migrations with Alembic, run at every start (`upgrade head`).

A store created before migrations existed (by `metadata.create_all`) has the
tables of revision 0001 but no `alembic_version`: it is stamped 0001 first, then
upgraded like any other.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

SCRIPTS: Final = Path(__file__).resolve().parent / "alembic"
BASELINE: Final = "0001"
MIGRATION_LOCK: Final = 0x6C696E6C69  # "linli": PostgreSQL's advisory lock for migrating

log = logging.getLogger(__name__)


def alembic_config() -> Config:
    """The Alembic configuration of linli's store, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """Processes starting together on one store (`linli api` beside `linli ingest`) migrate
    it one after the other: a lock file beside a SQLite file (PostgreSQL takes an advisory
    lock in the transaction itself, `upgrade`)."""
    database = engine.url.database or ""
    if engine.url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        yield
        return
    if database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Bring the store's schema to the newest revision, in one transaction."""
    config = alembic_config()
    with _one_at_a_time(engine), engine.begin() as conn:
        if engine.url.get_backend_name() == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "grids" in tables:
            command.stamp(config, BASELINE)
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(config, "head")
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("case store schema migrated from %s to %s", before or "empty", after)
