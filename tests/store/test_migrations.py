"""Alembic: the migrations arrive at the schema in tables.py; an issue-2 store is adopted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError

from linli.rules.rejection import ReasonCode, Rejection
from linli.store import Database, Role
from linli.store.connect import open_engine
from linli.store.migrate import alembic_config
from linli.store.tables import cases, metadata, occurrences, tokens

TIANXIN = Path(__file__).resolve().parents[2] / "community" / "tianxin.toml"


def test_migrations_arrive_at_the_declared_schema(tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path}/a.db").close()
    engine = create_engine(f"sqlite:///{tmp_path}/a.db")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


# rejections before 0006: each record with its own payload
OLD_REJECTIONS = Table(
    "rejections",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("sensor", String(64), nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("batch_index", Integer, nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("payload_size", Integer, nullable=False),
)


# tokens before 0007: no expiry
OLD_TOKENS = Table(
    "tokens",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("grids", JSON, nullable=False),
    Column("site", String(64), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
)


# grids before 0012: of no community
OLD_GRIDS = Table(
    "grids",
    MetaData(),
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False, default=""),
    Column("workers", JSON, nullable=False),
)


# sensors before 0011: no HJ 212 block
OLD_SENSORS = Table(
    "sensors",
    MetaData(),
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("site", String(64), ForeignKey("sites.id"), nullable=False, index=True),
)


def test_a_store_from_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    old = MetaData()
    OLD_GRIDS.to_metadata(old)
    for name in ("sites", "meta"):
        metadata.tables[name].to_metadata(old)
    OLD_SENSORS.to_metadata(old)
    OLD_REJECTIONS.to_metadata(old)
    OLD_TOKENS.to_metadata(old)
    old.create_all(create_engine(url))  # what the Database did before migrations
    Database(url).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert version == (ScriptDirectory.from_config(alembic_config()).get_current_head(),)
    with sqlite3.connect(tmp_path / "old.db") as conn:
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
    """An occurrence is an episode, found again by (case, sensor, window start)."""
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


def _alembic(url: str, verb: str, revision: str) -> None:
    engine = open_engine(url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, verb)(config, revision)
    engine.dispose()


def test_0006_keeps_each_record_with_its_payload_as_a_message(store_url: str) -> None:
    """The records of before become a message each, payload and size unchanged."""
    Database(store_url).close()
    _alembic(store_url, "downgrade", "0005")
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            OLD_REJECTIONS.insert(),
            [
                {
                    "topic": "linli/v1/n-01/telemetry",
                    "sensor": "n-01",
                    "received_ms": 1000 + i,
                    "reason": "schema",
                    "detail": f"batch[{i}]: bad",
                    "batch_index": i,
                    "payload": b"x" * 100,
                    "payload_size": 300,
                }
                for i in range(3)
            ],
        )
    engine.dispose()
    db = Database(store_url)  # upgrades to head
    kept = db.list_rejections()
    assert [(r.id, r.index, r.payload, r.payload_size) for r in kept] == [
        (3, 2, b"x" * 100, 300),
        (2, 1, b"x" * 100, 300),
        (1, 0, b"x" * 100, 300),
    ]
    assert db.rejected_bytes() == 3 * (100 + 23 + 13 + 128)
    db.add_rejections([Rejection("t", b"{", 5000, ReasonCode.NOT_JSON, "not JSON", "n-01")])
    assert db.list_rejections(limit=1)[0].id == 4  # the ids go on after the moved ones
    db.close()
    _alembic(store_url, "downgrade", "0005")  # and back: each record with its payload again
    engine = open_engine(store_url)
    with engine.connect() as conn:
        back = conn.execute(select(OLD_REJECTIONS.c.id, OLD_REJECTIONS.c.payload)).fetchall()
    engine.dispose()
    assert sorted(tuple(r) for r in back) == [
        (1, b"x" * 100), (2, b"x" * 100), (3, b"x" * 100), (4, b"{")
    ]  # fmt: skip


def test_0010_keeps_the_tokens_and_never_gives_a_revoked_id_again(store_url: str) -> None:
    """Before 0010 a revoked token's row was deleted and SQLite gave its id to the next
    token: the tokens are kept as they were, and from then on an id is never reused."""
    Database(store_url).close()
    _alembic(store_url, "downgrade", "0009")
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            OLD_TOKENS.insert(),
            [
                {
                    "token_hash": f"{i:064x}",
                    "role": "staff",
                    "grids": [],
                    "site": None,
                    "note": f"t{i}",
                    "created_ms": i,
                }
                for i in (1, 2, 3)
            ],
        )
    engine.dispose()
    db = Database(store_url)  # upgrades to head
    engine = open_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(select(tokens.c.id, tokens.c.note, tokens.c.revoked_ms)).fetchall()
    engine.dispose()
    assert sorted(tuple(r) for r in rows) == [(1, "t1", None), (2, "t2", None), (3, "t3", None)]
    if store_url.startswith("sqlite"):  # rebuilt: SQLite keeps the largest id ever given
        path = store_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as lite:
            (sql,) = lite.execute("SELECT sql FROM sqlite_master WHERE name='tokens'").fetchone()
        assert "AUTOINCREMENT" in sql
    db.revoke_token(3)
    _, issued = db.create_token(Role.STAFF)
    assert issued.id == 4  # not 3 again
    db.close()
    _alembic(store_url, "downgrade", "0009")  # and back: the revoked one deleted, as it was
    engine = open_engine(store_url)
    with engine.connect() as conn:
        back = conn.execute(select(OLD_TOKENS.c.id)).scalars().all()
    engine.dispose()
    assert sorted(back) == [1, 2, 4]


def test_0011_gives_sensors_an_hj212_block_one_mn_each(store_url: str) -> None:
    """Sensors of before are kept, without a block; an MN is one sensor's; and back."""
    Database(store_url).close()
    _alembic(store_url, "downgrade", "0010")
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(OLD_GRIDS.insert(), {"id": "g1", "name": "g", "name_en": "",
                                          "workers": []})  # fmt: skip
        conn.execute(insert(metadata.tables["sites"]), {
            "id": "s1", "name": "s", "name_en": "", "kind": "shop", "zone": "2", "grid": "g1",
            "address": "", "category": "", "merchant": None, "cooking_heads": None,
        })  # fmt: skip
        conn.execute(OLD_SENSORS.insert(), [{"id": "f-01", "kind": "fume", "site": "s1"},
                                            {"id": "f-02", "kind": "fume", "site": "s1"}])  # fmt: skip
    engine.dispose()
    db = Database(store_url)  # upgrades to head
    assert [(s.id, s.hj212) for s in db.sensors()] == [("f-01", None), ("f-02", None)]
    db.close()
    engine = open_engine(store_url)
    sensors = metadata.tables["sensors"]
    with engine.begin() as conn:
        conn.execute(sensors.update().where(sensors.c.id == "f-01").values(
            hj212_mn="2019081903100008", hj212_pw="123456", hj212_profile="gb-noise"))  # fmt: skip
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(sensors.update().where(sensors.c.id == "f-02").values(
            hj212_mn="2019081903100008", hj212_pw="654321", hj212_profile="gb-noise"))  # fmt: skip
    engine.dispose()
    _alembic(store_url, "downgrade", "0010")
    engine = open_engine(store_url)
    with engine.connect() as conn:
        back = conn.execute(select(OLD_SENSORS)).fetchall()
        columns = {c["name"] for c in inspect(conn).get_columns("sensors")}
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert sorted(tuple(r) for r in back) == [("f-01", "fume", "s1"), ("f-02", "fume", "s1")]
    assert columns == {"id", "kind", "site"} and "hj212_profiles" not in tables


def test_0012_gives_the_grids_of_before_their_one_community(store_url: str) -> None:
    """A store of one community from before communities keeps working: its grids (and the
    tokens) stay, and starting with its one community file makes the grids its own."""
    from linli.community import apply_street, load_street

    Database(store_url).close()
    _alembic(store_url, "downgrade", "0011")
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(OLD_GRIDS.insert(), [{"id": "g-api", "name": "网格", "name_en": "",
                                          "workers": []}])  # fmt: skip
        conn.execute(
            OLD_TOKENS.insert(),
            [{"token_hash": "0" * 64, "role": "staff", "grids": [], "site": None, "note": "old",
              "created_ms": 1}],
        )  # fmt: skip
    engine.dispose()
    db = Database(store_url)  # upgrades to head
    assert db.grid("g-api").community == ""
    assert db.communities() == []
    apply_street(db, load_street(TIANXIN))
    assert db.grid("g-api").community == "tianxin"  # created through the API, not in the file
    assert {g.community for g in db.grids()} == {"tianxin"}
    assert [(c.id, c.name) for c in db.communities()] == [("tianxin", "天新社区")]
    engine = open_engine(store_url)
    with engine.connect() as conn:
        (communities,) = conn.execute(select(tokens.c.communities)).one()
    engine.dispose()
    assert communities is None  # a token of before is the street's: every community
    db.close()
    _alembic(store_url, "downgrade", "0011")  # and back
    engine = open_engine(store_url)
    with engine.connect() as conn:
        back = conn.execute(select(OLD_GRIDS.c.id)).scalars().all()
    engine.dispose()
    assert "g-api" in back
