"""Grids, sites and sensors: round trips, the rules entries keep, the registry version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, Zone
from linli.store import Database, Duplicate, GridRecord, Invalid, NotFound, StoreError
from tests.store.conftest import FUME, GRID, HOME, NOISE, SITE


def test_entries_round_trip_with_contacts_merchant_and_heads(filled: Database) -> None:
    assert filled.grids() == [GRID]
    assert filled.sites() == [HOME, SITE]
    assert filled.sensors() == [FUME, NOISE]
    assert filled.grid("g1") == GRID
    assert filled.site("rest-1") == SITE
    assert filled.sensor("n-hj-01") == NOISE


CREATE_ERRORS: list[Any] = [
    pytest.param(
        lambda db: db.create_site(replace(HOME, id="hj-b9", grid="g9")),
        Invalid,
        "site 'hj-b9': grid 'g9' does not exist",
        id="site in an unknown grid → Invalid",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("n-hj-09", SensorKind.NOISE, "nowhere")),
        Invalid,
        "sensor 'n-hj-09': site 'nowhere' does not exist",
        id="sensor at an unknown site → Invalid",
    ),
    pytest.param(
        lambda db: db.create_grid(replace(GRID, name="another")),
        Duplicate,
        "grid 'g1' already exists",
        id="duplicate grid id → Duplicate",
    ),
    pytest.param(
        lambda db: db.create_site(HOME),
        Duplicate,
        "site 'hj-b1' already exists",
        id="duplicate site id → Duplicate",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("n-hj-01", SensorKind.FUME, "rest-1")),
        Duplicate,
        "sensor 'n-hj-01' already exists",
        id="duplicate sensor id → Duplicate",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("N-HJ-09", SensorKind.NOISE, "hj-b1")),
        Invalid,
        "sensor id 'N-HJ-09' does not match [a-z0-9][a-z0-9-]{2,63}",
        id="sensor id in capitals → Invalid",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("n1", SensorKind.NOISE, "hj-b1")),
        Invalid,
        "sensor id 'n1' does not match [a-z0-9][a-z0-9-]{2,63}",
        id="sensor id under 3 characters → Invalid",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("n_hj_09", SensorKind.NOISE, "hj-b1")),
        Invalid,
        "sensor id 'n_hj_09' does not match [a-z0-9][a-z0-9-]{2,63}",
        id="sensor id with underscores → Invalid",
    ),
    pytest.param(
        lambda db: db.create_sensor(Sensor("n" * 65, SensorKind.NOISE, "hj-b1")),
        Invalid,
        f"sensor id {'n' * 65!r} does not match [a-z0-9][a-z0-9-]{{2,63}}",
        id="sensor id over 64 characters → Invalid",
    ),
    pytest.param(
        lambda db: db.create_grid(GridRecord("g 2", "西网格")),
        Invalid,
        "grid id 'g 2' does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
        id="grid id with a space → Invalid",
    ),
    pytest.param(
        lambda db: db.create_grid(GridRecord("g2", "  ")),
        Invalid,
        "grid 'g2': name is empty",
        id="blank grid name → Invalid",
    ),
    pytest.param(
        lambda db: db.create_site(replace(SITE, id="rest-2", cooking_heads=-1.0)),
        Invalid,
        "site 'rest-2': cooking_heads -1.0 is negative",
        id="negative cooking heads → Invalid",
    ),
]


@pytest.mark.parametrize(("action", "error", "message"), CREATE_ERRORS)
def test_create_refuses_with_a_clear_error_and_changes_nothing(
    filled: Database,
    action: Callable[[Database], object],
    error: type[StoreError],
    message: str,
) -> None:
    before = filled.registry_version()
    with pytest.raises(error) as caught:
        action(filled)
    assert str(caught.value) == message
    assert filled.registry_version() == before
    assert len(filled.sensors()) == 2
    assert len(filled.sites()) == 2


PATCH_ERRORS: list[Any] = [
    pytest.param(
        lambda db: db.patch_site("nowhere", {"name": "x"}),
        NotFound,
        "site 'nowhere' does not exist",
        id="patch an unknown site → NotFound",
    ),
    pytest.param(
        lambda db: db.patch_grid("g9", {"name": "x"}),
        NotFound,
        "grid 'g9' does not exist",
        id="patch an unknown grid → NotFound",
    ),
    pytest.param(
        lambda db: db.patch_sensor("n-hj-99", {"site": "hj-b1"}),
        NotFound,
        "sensor 'n-hj-99' does not exist",
        id="patch an unknown sensor → NotFound",
    ),
    pytest.param(
        lambda db: db.patch_site("hj-b1", {"grid": "g9"}),
        Invalid,
        "site 'hj-b1': grid 'g9' does not exist",
        id="move a site to an unknown grid → Invalid",
    ),
    pytest.param(
        lambda db: db.patch_sensor("n-hj-01", {"site": "nowhere"}),
        Invalid,
        "sensor 'n-hj-01': site 'nowhere' does not exist",
        id="move a sensor to an unknown site → Invalid",
    ),
    pytest.param(
        lambda db: db.patch_site("hj-b1", {"id": "hj-b2"}),
        Invalid,
        "site 'hj-b1': an id cannot be changed",
        id="change an id → Invalid",
    ),
    pytest.param(
        lambda db: db.patch_sensor("n-hj-01", {"colour": "red"}),
        Invalid,
        "sensor 'n-hj-01': Sensor.__init__() got an unexpected keyword argument 'colour'",
        id="an unknown field → Invalid",
    ),
]


@pytest.mark.parametrize(("action", "error", "message"), PATCH_ERRORS)
def test_patch_refuses_with_a_clear_error_and_changes_nothing(
    filled: Database,
    action: Callable[[Database], object],
    error: type[StoreError],
    message: str,
) -> None:
    before = filled.load_registry()
    with pytest.raises(error) as caught:
        action(filled)
    assert str(caught.value) == message
    after = filled.load_registry()
    assert (after.version, after.sites, after.sensors) == (
        before.version,
        before.sites,
        before.sensors,
    )


def test_patch_changes_the_fields_given_and_bumps_the_version_once(filled: Database) -> None:
    merchant = Merchant("新老板", (Contact("李四", "139-0000-0999"),))
    changed = filled.patch_site("rest-1", {"zone": Zone.Z2, "merchant": merchant})
    assert changed == replace(SITE, zone=Zone.Z2, merchant=merchant)
    assert filled.site("rest-1") == changed
    assert filled.registry_version() == 6


def test_patch_to_the_same_values_keeps_the_version(filled: Database) -> None:
    assert filled.patch_site("rest-1", {"zone": Zone.Z4A, "name": "蜀味小馆"}) == SITE
    assert filled.patch_grid("g1", {}) == GRID
    assert filled.registry_version() == 5


def test_patch_can_move_a_sensor_and_clear_a_merchant(filled: Database) -> None:
    assert filled.patch_sensor("n-hj-01", {"site": "rest-1"}) == replace(NOISE, site="rest-1")
    assert filled.patch_site("rest-1", {"merchant": None, "cooking_heads": None}) == replace(
        SITE, merchant=None, cooking_heads=None
    )
    assert filled.load_registry().tags["n-hj-01"].zone is Zone.Z4A
    assert filled.registry_version() == 7


def test_apply_registry_inserts_overwrites_and_bumps_once(filled: Database) -> None:
    new_site = replace(HOME, id="hj-b2", name="红街公寓2幢")
    renamed = replace(GRID, name="东网格")
    assert filled.apply_registry(
        [renamed], [new_site], [Sensor("n-hj-02", SensorKind.NOISE, "hj-b2")]
    )
    assert filled.registry_version() == 6
    assert filled.grid("g1") == renamed
    assert [s.id for s in filled.sites()] == ["hj-b1", "hj-b2", "rest-1"]
    assert filled.apply_registry([renamed], [new_site], []) is False
    assert filled.registry_version() == 6


def test_apply_registry_is_all_or_nothing(filled: Database) -> None:
    bad = Sensor("n-hj-03", SensorKind.NOISE, "nowhere")
    with pytest.raises(Invalid):
        filled.apply_registry([replace(GRID, name="东网格")], [], [bad])
    assert filled.grid("g1") == GRID
    assert filled.registry_version() == 5
