"""Schema migrations with Alembic, run at every start (`upgrade head`).

A store created before migrations existed (issue 2's `metadata.create_all`) has the
tables of revision 0001 but no `alembic_version`: it is stamped 0001 first, then
upgraded like any other.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

SCRIPTS: Final = Path(__file__).resolve().parent / "alembic"
BASELINE: Final = "0001"

log = logging.getLogger(__name__)


def alembic_config() -> Config:
    """The Alembic configuration of linli's store, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the store's schema to the newest revision, in one transaction."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "grids" in tables:
            command.stamp(config, BASELINE)
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(config, "head")
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("case store schema migrated from %s to %s", before or "empty", after)
