"""A Database on a fresh SQLite file, and a small registry to fill it with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.store import Database, GridRecord, SiteRecord

GRID = GridRecord(
    "g1",
    "红街公寓东网格",
    (Contact("王丽", "138-0000-0001", {"sms": "13800000001", "dingtalk": "wangli"}),),
    name_en="Hongjie East grid",
)
SITE = SiteRecord(
    id="rest-1",
    name="蜀味小馆",
    kind=SiteKind.SHOP,
    zone=Zone.Z4A,
    grid="g1",
    address="天城路101号",
    category="restaurant",
    merchant=Merchant("周老板", (Contact("周强", "139-0000-0101", {"sms": "13900000101"}),)),
    cooking_heads=2.0,
    name_en="Shuwei Sichuan Bistro",
)
HOME = SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1")
FUME = Sensor("f-rest-01", SensorKind.FUME, "rest-1")
NOISE = Sensor("n-hj-01", SensorKind.NOISE, "hj-b1")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/var/linli.db")
    yield database
    database.close()


@pytest.fixture
def filled(db: Database) -> Database:
    """One grid, a restaurant and a building, a fume and a noise sensor."""
    db.create_grid(GRID)
    db.create_site(SITE)
    db.create_site(HOME)
    db.create_sensor(FUME)
    db.create_sensor(NOISE)
    return db
