"""HJ 212 monitors in the registry (CONTRACT §8): profiles, a sensor's block, one MN per
sensor, and the listener's registry that knows a monitor added a moment ago."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from linli.rules.hj212_profile import (
    DEFAULT_PROFILE,
    CrcMode,
    Hj212Link,
    Hj212Profile,
    Stamp,
    Stream,
)
from linli.rules.reading import SensorKind
from linli.rules.registry import Sensor
from linli.store import Dangling, Database, Duplicate, Invalid
from linli.store.hj212 import StoreHj212Registry
from linli.store.tables import hj212_profiles
from tests.store.conftest import GRID, HOME, SITE

LAMPBLACK = Hj212Profile(
    "lampblack-v1",
    CrcMode.MODBUS,
    Stamp.END,
    60,
    300,
    {"LAMPBLACK": "oil_fume", "PURIFYAD": "purifier_current"},
    {"FANSTATUS": "fan_on", "SB2": "purifier_on"},
    Stream.RTD,
)
MN = "2019081903100008"
FUME = Sensor("f-rest-01", SensorKind.FUME, "rest-1", Hj212Link(MN, "123456", LAMPBLACK.id))
NOISE = Sensor("n-hj-01", SensorKind.NOISE, "hj-b1", Hj212Link("NS0001", "654321"))


@pytest.fixture
def hj(store_url: str) -> Iterator[Database]:
    """A store with a grid, two sites and the lampblack profile (as a community file gives)."""
    db = Database(store_url)
    db.apply_registry([GRID], [SITE, HOME], [], [LAMPBLACK])
    yield db
    db.close()


def test_a_monitor_and_its_profile_round_trip(hj: Database) -> None:
    hj.create_sensor(FUME)
    hj.create_sensor(NOISE)
    assert hj.sensor(FUME.id) == FUME
    assert hj.hj212_profiles() == [LAMPBLACK]
    registry = hj.load_registry()
    fume, noise = registry.devices[MN], registry.devices["NS0001"]
    assert (fume.sensor, fume.kind, fume.pw, fume.profile) == (
        FUME.id, SensorKind.FUME, "123456", LAMPBLACK
    )  # fmt: skip
    assert fume.profile.metric("lampblack") == "oil_fume"
    assert (noise.sensor, noise.profile) == (NOISE.id, DEFAULT_PROFILE)  # built in, not stored


def test_a_profile_stored_before_readings_existed_keeps_2051(hj: Database) -> None:
    doc = {"crc": "modbus", "stamp": "end", "rtd_period_s": 60, "min_period_s": 300}
    with hj._engine.begin() as conn:
        conn.execute(update(hj212_profiles).values(doc=doc))
    (profile,) = hj.hj212_profiles()
    assert profile.readings is Stream.MINUTE and profile.stamp is Stamp.END


@pytest.mark.parametrize(
    ("sensor", "error", "message"),
    [
        pytest.param(
            Sensor("f-rest-02", SensorKind.FUME, "rest-1", Hj212Link("X1", "1", "nope")),
            Dangling,
            "sensor 'f-rest-02': hj212 profile 'nope' does not exist",
            id="unknown profile → Dangling",
        ),
        pytest.param(
            Sensor("f-rest-02", SensorKind.FUME, "rest-1", Hj212Link(MN, "1", LAMPBLACK.id)),
            Duplicate,
            f"sensor 'f-rest-02': hj212 mn '{MN}' is another sensor's",
            id="an MN another sensor has → Duplicate, the other not named",
        ),
        pytest.param(
            Sensor("f-rest-02", SensorKind.FUME, "rest-1", Hj212Link("MN;ST=91", "1")),
            Invalid,
            "sensor 'f-rest-02': hj212 mn 'MN;ST=91' does not match [A-Za-z0-9_.-]{1,64}",
            id="an MN that would break a frame → Invalid",
        ),
        pytest.param(
            Sensor("f-rest-02", SensorKind.FUME, "rest-1", Hj212Link("X2", "12;3")),
            Invalid,
            "sensor 'f-rest-02': hj212 pw must be 1 to 64 printable ASCII characters "
            "without ; , = &",
            id="a password that would break a frame → Invalid",
        ),
    ],
)
def test_a_monitor_keeps_the_registry_s_rules(hj: Database, sensor, error, message) -> None:
    hj.create_sensor(FUME)
    with pytest.raises(error) as caught:
        hj.create_sensor(sensor)
    assert str(caught.value) == message
    assert [s.id for s in hj.sensors()] == [FUME.id]


def test_a_patch_sets_changes_and_removes_the_block(hj: Database) -> None:
    hj.create_sensor(replace_link(FUME, None))
    version = hj.registry_version()
    assert hj.patch_sensor(FUME.id, {"hj212": FUME.hj212}) == FUME
    assert hj.load_registry().devices[MN].sensor == FUME.id
    changed = Hj212Link(MN, "000000", LAMPBLACK.id)
    hj.patch_sensor(FUME.id, {"hj212": changed})
    assert hj.load_registry().devices[MN].pw == "000000"
    hj.patch_sensor(FUME.id, {"hj212": None})
    assert hj.load_registry().devices == {}
    assert hj.registry_version() == version + 3
    hj.create_sensor(NOISE)
    with pytest.raises(Duplicate):  # the other sensor's MN
        hj.patch_sensor(FUME.id, {"hj212": Hj212Link("NS0001", "1")})


def replace_link(sensor: Sensor, link: Hj212Link | None) -> Sensor:
    return Sensor(sensor.id, sensor.kind, sensor.site, link)


def test_the_built_in_profile_cannot_be_redefined(hj: Database) -> None:
    with pytest.raises(Invalid, match="'gb-noise' is built in"):
        hj.apply_registry([], [], [], [Hj212Profile("gb-noise", CrcMode.MODBUS)])


def test_a_file_may_move_an_mn_from_one_of_its_sensors_to_another(hj: Database) -> None:
    """A logger moved to the next kitchen: the file's two sensors swap in one apply."""
    other = Sensor("f-rest-02", SensorKind.FUME, "rest-1")
    hj.apply_registry([], [], [FUME, other], [LAMPBLACK])
    moved = [replace_link(FUME, None), replace_link(other, FUME.hj212)]
    assert hj.apply_registry([], [], moved, [LAMPBLACK]) is True
    assert hj.load_registry().devices[MN].sensor == "f-rest-02"
    assert hj.sensor(FUME.id).hj212 is None


def test_the_listener_knows_a_monitor_registered_through_this_process_at_once(
    hj: Database,
) -> None:
    """`linli serve`: the API and the listener share the Database; no wait, no poll."""
    registry = StoreHj212Registry(hj, refresh_ms=3_600_000, unknown_check_ms=3_600_000)
    assert registry.device("NS0001") is None  # the one unknown check of the hour spent
    hj.create_sensor(NOISE)
    found = registry.device("NS0001")
    assert found is not None and found.sensor == NOISE.id


def test_the_listener_knows_a_monitor_another_process_registered(
    hj: Database, store_url: str
) -> None:
    """`linli api` apart from `linli ingest`: an unknown MN makes the listener look again."""
    registry = StoreHj212Registry(hj, refresh_ms=3_600_000, unknown_check_ms=0)
    api = Database(store_url)
    try:
        api.create_sensor(FUME)
        found = registry.device(MN)
        assert found is not None and (found.sensor, found.pw) == (FUME.id, "123456")
        api.patch_sensor(FUME.id, {"hj212": Hj212Link(MN, "999999", LAMPBLACK.id)})
        assert registry.device(MN).pw == "123456"  # type: ignore[union-attr]  # until refresh
        fresh = StoreHj212Registry(hj, refresh_ms=0)
        assert fresh.device(MN).pw == "999999"  # type: ignore[union-attr]
        api.patch_sensor(FUME.id, {"hj212": None})
        assert fresh.device(MN) is None
    finally:
        api.close()
