"""The API on a tmp SQLite store and the session's real influxd, with tokens for each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.settings import Settings
from linli.store import Database, GridRecord, Role, SiteRecord
from linli.wiring import api_config

ADMIN_TOKEN = "test-admin-token"

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


ADMIN: Headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/linli.db")
    yield database
    database.close()


@pytest.fixture
def influx(influx_url: str, influx_db: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influx_url, influx_db)
    client.ensure_database("INF")
    yield client
    client.close()


@pytest.fixture
def settings(influx_url: str, influx_db: str, tmp_path: Path) -> Settings:
    return Settings(
        influx_url=influx_url,
        influx_db=influx_db,
        db_url=f"sqlite:///{tmp_path}/linli.db",
        admin_token=ADMIN_TOKEN,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture
def make_client(
    settings: Settings, db: Database, influx: InfluxClient
) -> Callable[..., TestClient]:
    """A TestClient on a fresh app; keywords override the influx client or create_app's."""

    def make(
        influx_client: InfluxClient | None = None,
        broker_status: Callable[[], bool] = lambda: True,
        **options: Any,
    ) -> TestClient:
        app = create_app(
            api_config(settings), db, influx_client or influx, broker_status, **options
        )
        return TestClient(app)

    return make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def registry(db: Database) -> Database:
    """Two grids; g1 holds a restaurant and a building, g2 a KTV; four sensors."""
    db.create_grid(GridRecord("g1", "东网格", (Contact("王丽", "138-0000-0001"),), name_en="East"))
    db.create_grid(GridRecord("g2", "西网格", name_en="West"))
    db.create_site(
        SiteRecord(
            id="rest-1",
            name="蜀味小馆",
            kind=SiteKind.SHOP,
            zone=Zone.Z4A,
            grid="g1",
            address="天城路101号",
            category="restaurant",
            merchant=Merchant("周老板", (Contact("周强", "139-0000-0101", {"sms": "1390"}),)),
            cooking_heads=2,
            name_en="Shuwei Bistro",
        )
    )
    db.create_site(SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_site(SiteRecord("ktv-1", "欢唱KTV", SiteKind.SHOP, Zone.Z2, "g2", category="ktv"))
    db.create_sensor(Sensor("f-rest-01", SensorKind.FUME, "rest-1"))
    db.create_sensor(Sensor("n-rest-01", SensorKind.NOISE, "rest-1"))
    db.create_sensor(Sensor("n-hj-01", SensorKind.NOISE, "hj-b1"))
    db.create_sensor(Sensor("n-ktv-01", SensorKind.NOISE, "ktv-1"))
    return db


@pytest.fixture
def tokens(registry: Database) -> dict[str, Headers]:
    """Headers for admin, staff, the g1 grid worker and rest-1's merchant."""
    staff, _ = registry.create_token(Role.STAFF)
    worker, _ = registry.create_token(Role.GRID_WORKER, grids=["g1"])
    merchant, _ = registry.create_token(Role.MERCHANT, site="rest-1")
    return {
        "admin": bearer(ADMIN_TOKEN),
        "staff": bearer(staff),
        "grid_worker": bearer(worker),
        "merchant": bearer(merchant),
    }
