"""Opening the store: the SQLite file, WAL, the version row, and the registry snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from linli.rules.reading import SensorKind
from linli.rules.registry import SensorTags, Zone
from linli.store import Database
from tests.store.conftest import FUME, GRID, HOME, NOISE, SITE


def test_open_creates_the_folder_and_switches_sqlite_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "linli.db"
    db = Database(f"sqlite:///{path}")
    db.ping()
    db.close()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "alembic_version",
        "communities",
        "grids",
        "sites",
        "sensors",
        "meta",
        "rejected_messages",
        "rejections",
        "rejections_evicted",
        "tokens",
        "cases",
        "occurrences",
        "evidence",
        "timeline",
        "rule_state",
        "deliveries",
        "board_secrets",
        "case_photos",
        "board_nonces",
        "complaints",
        "sqlite_sequence",  # SQLite's own: the largest token id ever given (AUTOINCREMENT)
        "hj212_profiles",
        "partition_checkpoints",
    }


def test_a_new_store_is_at_version_0_and_empty(db: Database) -> None:
    assert db.registry_version() == 0
    registry = db.load_registry()
    assert (registry.grids, registry.sites, registry.sensors, registry.version) == ({}, {}, {}, 0)


def test_reopening_keeps_entries_and_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/linli.db"
    first = Database(url)
    first.create_grid(GRID)
    first.close()
    second = Database(url)
    assert second.registry_version() == 1
    assert second.grids() == [GRID]
    second.close()


def test_load_registry_gives_the_snapshot_with_tags(filled: Database) -> None:
    registry = filled.load_registry()
    assert registry.version == 5
    assert registry.grids == {"g1": GRID}
    assert registry.sites == {"hj-b1": HOME, "rest-1": SITE}
    assert registry.sensors == {"f-rest-01": FUME, "n-hj-01": NOISE}
    assert registry.tags == {
        "f-rest-01": SensorTags("f-rest-01", SensorKind.FUME, "rest-1", "g1", Zone.Z4A),
        "n-hj-01": SensorTags("n-hj-01", SensorKind.NOISE, "hj-b1", "g1", Zone.Z2),
    }


def test_two_processes_applying_one_file_to_a_new_store_at_once_both_start(tmp_path: Path) -> None:
    """`linli api` and `linli ingest` started together on a new store (found by the
    benchmark: the one losing the race on the inserts stopped with a conflict)."""
    import threading

    from linli.rules.registry import Sensor
    from linli.store import GridRecord, SiteRecord

    grids = [GridRecord(f"g{i}", f"网格{i}") for i in range(20)]
    sites = [SiteRecord(f"s{i}", f"楼{i}", SITE.kind, SITE.zone, f"g{i % 20}") for i in range(200)]
    sensors = [Sensor(f"n-{i:04d}", SensorKind.NOISE, f"s{i % 200}") for i in range(400)]
    for run in range(5):
        url = f"sqlite:///{tmp_path}/race-{run}.db"
        Database(url).close()  # migrated; the registry empty
        stores = [Database(url), Database(url)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def apply(db: Database, start: threading.Barrier = start, errors: list = errors) -> None:
            start.wait()
            try:
                db.apply_registry(grids, sites, sensors)
            except BaseException as err:  # the test reports what either one raised
                errors.append(err)

        threads = [threading.Thread(target=apply, args=(db,)) for db in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert len(stores[0].load_registry().sensors) == 400
        for db in stores:
            db.close()


def test_two_processes_opening_a_new_store_at_once_migrate_it_one_after_the_other(
    tmp_path: Path,
) -> None:
    """Found by the benchmark: `linli api` and `linli ingest` started together on a new
    SQLite file both created `alembic_version`, and one stopped."""
    import subprocess
    import sys

    from alembic.script import ScriptDirectory

    from linli.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    for run in range(3):
        url = f"sqlite:///{tmp_path}/new-{run}.db"
        code = f"from linli.store import Database; Database({url!r}).close()"
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        with sqlite3.connect(tmp_path / f"new-{run}.db") as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
