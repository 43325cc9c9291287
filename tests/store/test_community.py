"""The community file: the bundled Tianxin demo, applying it at every start, clear errors."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from linli.community import CommunityError, apply_community, load_community
from linli.rules.constants import SENSOR_ID_PATTERN
from linli.rules.reading import SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.store import Database
from tests.store.conftest import HOME

TIANXIN = Path(__file__).parents[2] / "community" / "tianxin.toml"


def test_tianxin_loads_with_its_counts() -> None:
    community = load_community(TIANXIN)
    assert community.community.name == "天新社区"
    assert community.community.tz == "Asia/Shanghai"
    assert (len(community.grid), len(community.site), len(community.sensor)) == (4, 25, 40)
    assert Counter(s.kind for s in community.sensor) == {SensorKind.NOISE: 30, SensorKind.FUME: 10}
    assert Counter(s.kind for s in community.site) == {SiteKind.SHOP: 15, SiteKind.RESIDENTIAL: 10}
    residential_zones = Counter(s.zone for s in community.site if s.kind is SiteKind.RESIDENTIAL)
    assert residential_zones == {Zone.Z2: 6, Zone.Z4A: 4}
    assert all(re.fullmatch(SENSOR_ID_PATTERN, s.id) for s in community.sensor)
    assert all(s.name_en for s in community.site) and all(g.name_en for g in community.grid)


def test_tianxin_applied_every_reference_resolves(db: Database) -> None:
    apply_community(db, load_community(TIANXIN))
    registry = db.load_registry()
    assert (len(registry.grids), len(registry.sites), len(registry.sensors)) == (4, 25, 40)
    assert all(s.site in registry.sites for s in registry.sensors.values())
    assert all(s.grid in registry.grids for s in registry.sites.values())
    assert len(registry.tags) == 40


def test_tianxin_every_kitchen_has_a_fume_sensor_and_its_heads(db: Database) -> None:
    apply_community(db, load_community(TIANXIN))
    registry = db.load_registry()
    fumed = {s.site for s in registry.sensors.values() if s.kind is SensorKind.FUME}
    kitchens = {
        s.id
        for s in registry.sites.values()
        if s.category in ("restaurant", "bbq", "noodle", "hotpot")
    }
    assert fumed == kitchens
    assert len(kitchens) == 9
    assert all(registry.sites[k].cooking_heads for k in kitchens)
    heads = sorted(registry.sites[k].cooking_heads or 0 for k in kitchens)
    assert heads == [1, 1.5, 2, 2, 3, 3, 4, 5, 8]
    assert registry.sites["rest-tiancheng"].merchant is not None
    assert registry.grids["g-hj-east"].workers[0].phone == "138-0000-0001"


def test_reapplying_changes_nothing(db: Database) -> None:
    community = load_community(TIANXIN)
    apply_community(db, community)
    version = db.registry_version()
    apply_community(db, load_community(TIANXIN))
    assert db.registry_version() == version


def test_entries_made_through_the_api_survive_a_restart(db: Database) -> None:
    community = load_community(TIANXIN)
    apply_community(db, community)
    db.create_site(replace(HOME, id="hj-b9", grid="g-hj-east"))
    db.create_sensor(Sensor("n-hj-99", SensorKind.NOISE, "hj-b9"))
    version = db.registry_version()
    apply_community(db, community)
    assert db.registry_version() == version
    assert db.sensor("n-hj-99").site == "hj-b9"


def test_an_edited_file_overwrites_its_entries_and_bumps_once(db: Database, tmp_path: Path) -> None:
    apply_community(db, load_community(TIANXIN))
    version = db.registry_version()
    edited = tmp_path / "edited.toml"
    text = TIANXIN.read_text(encoding="utf-8")
    edited.write_text(text.replace('name = "欢唱KTV"', 'name = "欢乐KTV"'), encoding="utf-8")
    apply_community(db, load_community(edited))
    assert db.site("ktv-huanchang").name == "欢乐KTV"
    assert db.registry_version() == version + 1


MINIMAL = """\
[community]
name = "测试社区"

[[grid]]
id = "g1"
name = "一网格"

[[site]]
id = "s1"
name = "一幢"
kind = "residential"
zone = "2"
grid = "g1"

[[sensor]]
id = "n-s1-01"
kind = "noise"
site = "s1"
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'zone = "2"',
            'zone = "5"',
            "[[site]] #1 's1' field 'zone': Input should be '0', '1', '2', '3', '4a' or '4b'",
            id="zone outside GB 3096's classes",
        ),
        pytest.param(
            'zone = "2"\n',
            "",
            "[[site]] #1 's1' field 'zone': Field required",
            id="a site without zone",
        ),
        pytest.param(
            'id = "n-s1-01"',
            'id = "N_S1"',
            "[[sensor]] #1 'N_S1' field 'id': String should match pattern "
            "'^[a-z0-9][a-z0-9-]{2,63}$'",
            id="a sensor id off the pattern",
        ),
        pytest.param(
            'kind = "noise"',
            'kind = "smell"',
            "[[sensor]] #1 'n-s1-01' field 'kind': Input should be 'noise' or 'fume'",
            id="a sensor kind that is neither noise nor fume",
        ),
        pytest.param(
            'grid = "g1"',
            'grid = "g2"',
            "[[site]] #1 's1' field 'grid': 'g2' is not a [[grid]] id",
            id="a site in a grid the file lacks",
        ),
        pytest.param(
            'site = "s1"',
            'site = "s2"',
            "[[sensor]] #1 'n-s1-01' field 'site': 's2' is not a [[site]] id",
            id="a sensor at a site the file lacks",
        ),
        pytest.param(
            '[community]\nname = "测试社区"',
            '[community]\nname = "测试社区"\ntz = "Mars/Olympus"',
            "[community] field 'tz': Value error, 'Mars/Olympus' is not an IANA time zone",
            id="an unknown time zone",
        ),
        pytest.param(
            '[community]\nname = "测试社区"\n',
            "",
            "[community]: Field required",
            id="no [community] table",
        ),
        pytest.param(
            'name = "一幢"',
            'name = "一幢"\ncolour = "red"',
            "[[site]] #1 's1' field 'colour': Extra inputs are not permitted",
            id="an unknown key",
        ),
        pytest.param(
            "[[sensor]]",
            '[[sensor]]\nid = "n-s1-01"\nkind = "noise"\nsite = "s1"\n\n[[sensor]]',
            "[[sensor]] #2 field 'id': 'n-s1-01' appears twice",
            id="an id twice",
        ),
    ],
)
def test_errors_name_the_file_the_table_and_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "community.toml"
    assert old in MINIMAL
    path.write_text(MINIMAL.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CommunityError) as caught:
        load_community(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[community\n", encoding="utf-8")
    with pytest.raises(CommunityError) as caught:
        load_community(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML: ")


def test_the_minimal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "community.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    community = load_community(path)
    assert community.sensor_records() == [Sensor("n-s1-01", SensorKind.NOISE, "s1")]
    assert community.community.tz is None  # LINLI_TZ decides


def test_rules_table_overrides_the_defaults(tmp_path):
    from linli.rules.limits import FumeStandard, NoiseStandard
    from linli.rules.localtime import Window

    path = tmp_path / "c.toml"
    path.write_text(
        '[community]\nname = "x"\n\n[rules]\nnight = "23:00-07:00"\n'
        'business_hours = ["10:00-14:00", "17:00-24:00"]\n'
        'fume_standard = "DB11/1488-2018"\nfume_limit_mg = { oil_fume = 1.5 }\n'
        'site_noise_standard = { "ktv-1" = "GB 3096-2008" }\nleq_window_s = 300\n',
        encoding="utf-8",
    )
    policy = load_community(path).rules.policy("Asia/Shanghai")
    assert (policy.calendar.night_start_min, policy.calendar.night_end_min) == (1380, 420)
    assert policy.calendar.business_hours == (Window(600, 840), Window(1020, 1440))
    assert policy.fume_standard is FumeStandard.DB11_1488
    assert policy.fume_limit_mg == {"oil_fume": 1.5}
    assert policy.site_noise_standard == {"ktv-1": NoiseStandard.GB3096}
    assert policy.leq_window_s == 300


def test_rules_table_refuses_four_business_windows(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[community]\nname = "x"\n\n[rules]\n'
        'business_hours = ["06:00-08:00", "10:00-14:00", "17:00-20:00", "21:00-23:00"]\n',
        encoding="utf-8",
    )
    with pytest.raises(CommunityError, match=r"\[rules\] field 'business_hours'"):
        load_community(path)


@pytest.mark.parametrize("night", ["06:00-06:00", "00:00-24:00"])
def test_rules_table_refuses_a_night_that_leaves_no_day(tmp_path, night):
    path = tmp_path / "c.toml"
    path.write_text(f'[community]\nname = "x"\n\n[rules]\nnight = "{night}"\n', encoding="utf-8")
    with pytest.raises(CommunityError, match=r"\[rules\] field 'night'.*leaves no day"):
        load_community(path)


def test_a_community_zone_other_than_linli_tz_stops_the_start(tmp_path):
    from linli.settings import Settings
    from linli.wiring import StartupError, load_policy

    path = tmp_path / "c.toml"
    path.write_text('[community]\nname = "测试社区"\ntz = "Europe/Berlin"\n', encoding="utf-8")
    with pytest.raises(StartupError, match="tz = 'Europe/Berlin' but LINLI_TZ is 'Asia/Shanghai'"):
        load_policy(Settings(tz="Asia/Shanghai"), path)
    assert load_policy(Settings(tz="Europe/Berlin"), path).calendar.tz == "Europe/Berlin"
    path.write_text('[community]\nname = "测试社区"\n', encoding="utf-8")  # no tz: LINLI_TZ
    assert load_policy(Settings(tz="Europe/Berlin"), path).calendar.tz == "Europe/Berlin"


def test_linli_says_in_one_line_what_is_wrong_with_the_community_file(
    tmp_path, capsys, monkeypatch
):
    from linli.cli import main

    monkeypatch.setenv("LINLI_DB_URL", f"sqlite:///{tmp_path}/linli.db")
    path = tmp_path / "c.toml"
    path.write_text('[community]\nname = "测试社区"\n\n[[site]]\nid = "s1"\n', encoding="utf-8")
    assert main(["ingest", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"linli: {path}: ") and "Traceback" not in err
    assert not (tmp_path / "linli.db").exists()  # checked before anything was opened


HJ212 = (
    MINIMAL
    + """
[[hj212_profile]]
id = "lampblack-v1"
crc = "modbus"
stamp = "end"
codes = { LAMPBLACK = "oil_fume", PM = "pm" }
states = { FANSTATUS = "fan_on", SB2 = "purifier_on" }

[[sensor]]
id = "f-s1-01"
kind = "fume"
site = "s1"
hj212 = { mn = "2019081903100008", pw = "123456", profile = "lampblack-v1" }

[[sensor]]
id = "n-s1-02"
kind = "noise"
site = "s1"
hj212 = { mn = "NS0001", pw = "654321" }
"""
)


def test_hj212_monitors_and_profiles_load_and_apply(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "community.toml"
    path.write_text(HJ212, encoding="utf-8")
    apply_community(db, load_community(path))
    devices = db.load_registry().devices
    fume, noise = devices["2019081903100008"], devices["NS0001"]
    assert (fume.sensor, fume.pw, fume.profile.id, fume.profile.stamp) == (
        "f-s1-01", "123456", "lampblack-v1", "end"
    )  # fmt: skip
    assert fume.profile.metric("Lampblack") == "oil_fume"
    assert fume.profile.state("sb2") == "purifier_on"
    assert (noise.sensor, noise.profile.id) == ("n-s1-02", "gb-noise")
    assert db.sensor("n-s1-01").hj212 is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'profile = "lampblack-v1"',
            'profile = "lampblack-v2"',
            "[[sensor]] #2 'f-s1-01' field 'hj212': profile 'lampblack-v2' is not a "
            "[[hj212_profile]] id (nor the built-in 'gb-noise')",
            id="a monitor of an unknown profile",
        ),
        pytest.param(
            'mn = "NS0001"',
            'mn = "2019081903100008"',
            "[[sensor]] #3 'n-s1-02' field 'hj212': mn '2019081903100008' is sensor "
            "'f-s1-01''s already",
            id="one MN on two sensors",
        ),
        pytest.param(
            'id = "lampblack-v1"',
            'id = "gb-noise"',
            "[[hj212_profile]] #1 field 'id': 'gb-noise' is built in (GB noise codes, the "
            "standard's CRC): give yours another id\n"
            "{path}: [[sensor]] #2 'f-s1-01' field 'hj212': profile 'lampblack-v1' is not a "
            "[[hj212_profile]] id (nor the built-in 'gb-noise')",
            id="the built-in profile redefined",
        ),
        pytest.param(
            'stamp = "end"',
            'stamp = "end"\n\n[[hj212_profile]]\nid = "lampblack-v1"',
            "[[hj212_profile]] #2 field 'id': 'lampblack-v1' appears twice",
            id="a profile id twice",
        ),
        pytest.param(
            'PM = "pm"',
            'PM = "smoke"',
            "[[hj212_profile]] #1 'lampblack-v1': Value error, profile 'lampblack-v1': code "
            "'PM' maps to 'smoke', which is not a measured metric of CONTRACT §2",
            id="a code to no metric",
        ),
        pytest.param(
            'SB2 = "purifier_on"',
            'SB2 = "oil_fume"',
            "[[hj212_profile]] #1 'lampblack-v1': Value error, profile 'lampblack-v1': state "
            "'SB2' maps to 'oil_fume', not one of fan_on, purifier_on",
            id="a state to a measured metric",
        ),
        pytest.param(
            'crc = "modbus"',
            'crc = "crc32"',
            "[[hj212_profile]] #1 'lampblack-v1' field 'crc': Input should be 'hj212', "
            "'modbus' or 'modbus_le'",
            id="an unknown CRC",
        ),
        pytest.param(
            'pw = "654321"',
            'pw = "65;321"',
            "[[sensor]] #3 'n-s1-02' field 'hj212': Value error, pw must be 1 to 64 printable "
            "ASCII characters without ; , = &",
            id="a password that would break a frame",
        ),
        pytest.param(
            'pw = "654321" }',
            "}",
            "[[sensor]] #3 'n-s1-02' field 'hj212.pw': Field required",
            id="a monitor without its password",
        ),
    ],
)
def test_hj212_errors_name_the_table_and_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "community.toml"
    assert old in HJ212
    text = HJ212.replace(old, new, 1)
    if new == "}":
        text = text.replace(", }", " }")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommunityError) as caught:
        load_community(path)
    assert str(caught.value) == f"{path}: " + message.replace("{path}", str(path))
