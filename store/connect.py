"""Opening the store: an SQLAlchemy engine with SQLite made fit for several processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# SQLite is shared by the ingest workers and the API: WAL lets readers run beside the
# one writer, and a writer waits this long for the lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns (evidence snapshots, rule state) through orjson: several times faster than
# the json module, and the engine writes them on its hot path.
JSON_ARGS: Final[dict[str, Any]] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


def open_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and WAL switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **JSON_ARGS)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **JSON_ARGS
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
