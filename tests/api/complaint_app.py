"""The API app (with the board and Open311) on one case store, SQLite or PostgreSQL, the
session's real influxd and real tokens: what the complaint tests file through.

No ingest or engine: the complaints here are judged on what InfluxDB holds (nothing, or
what a test writes), which is all the intake reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.settings import Settings
from linli.store import Database, Role
from linli.wiring import api_config
from tests.api.conftest import ADMIN_TOKEN, bearer
from tests.api.test_complaints import POLICY, RULES, fill


@dataclass
class App:
    """The app, its store, and a token for each role (two grid workers: g1 and g2)."""

    db: Database
    influx: InfluxClient
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        """The Authorization header of `who`."""
        return bearer(self.tokens[who])

    def complain(self, who: str = "grid_worker", **body: Any) -> Any:
        """`POST /api/v1/complaints` as `who`: a 12345 noise complaint unless told."""
        doc = {"kind": "noise", "text": "楼下KTV太吵，睡不着", "source": "12345", **body}
        return self.client.post("/api/v1/complaints", json=doc, headers=self.h(who))


def start(influx_url: str, influx_db: str, tmp: Path, store_url: str) -> App:
    """The app on `store_url`, filled as tests/api/test_complaints.py fills it."""
    settings = Settings(
        influx_url=influx_url,
        influx_db=influx_db,
        db_url=store_url,
        admin_token=ADMIN_TOKEN,
        spool_dir=tmp / "spool",
    )
    db = Database(store_url)
    fill(db)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    app = create_app(
        api_config(settings), db, influx, lambda: True, policy=POLICY, complaint_rules=RULES
    )
    staff, _ = db.create_token(Role.STAFF, note="社区办 徐主任")
    worker, _ = db.create_token(Role.GRID_WORKER, grids=["g1"], note="王丽")
    west, _ = db.create_token(Role.GRID_WORKER, grids=["g2"], note="赵强")
    merchant, _ = db.create_token(Role.MERCHANT, site="ktv-1")
    tokens = {
        "admin": ADMIN_TOKEN,
        "staff": staff,
        "grid_worker": worker,
        "west_worker": west,
        "merchant": merchant,
    }
    return App(db, influx, TestClient(app), tokens)


@pytest.fixture(name="app")
def app_fixture(influx_url: str, influx_db: str, tmp_path: Path, store_url: str) -> Iterator[App]:
    """The app on SQLite and on PostgreSQL (tests/conftest.py `store_url`)."""
    running = start(influx_url, influx_db, tmp_path, store_url)
    yield running
    running.client.close()
    running.db.close()
    running.influx.close()
