"""Sensors from a community file or made up, and the CLI that picks between them."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pytest

from linli.sim import cli
from linli.sim.device import Kind, SensorSpec
from linli.sim.options import SHARED
from linli.sim.sensors import CommunityError, community_sensors, load_community, synthetic_sensors

COMMUNITY = Path(__file__).resolve().parents[2] / "community" / "tianxin.toml"


def test_demo_community() -> None:
    sensors = load_community(COMMUNITY)
    assert len(sensors) == 40
    assert Counter(s.kind for s in sensors) == {Kind.NOISE: 30, Kind.FUME: 10}
    by_id = {s.id: s for s in sensors}
    assert by_id["n-ktv-01"] == SensorSpec("n-ktv-01", Kind.NOISE, "ktv", "ktv-huanchang")
    assert by_id["f-rest-01"].profile == "restaurant"
    assert by_id["n-hj-01"].profile == "traffic"


def test_community_profile_defaults_by_site_kind() -> None:
    data = {
        "site": [{"id": "b1", "kind": "residential"}, {"id": "s1", "kind": "shop", "extra": 1}],
        "sensor": [
            {"id": "n-b1", "kind": "noise", "site": "b1"},
            {"id": "n-s1", "kind": "noise", "site": "s1"},
        ],
        "grid": [{"id": "g1"}],
    }
    assert [s.profile for s in community_sensors(data)] == ["residential", "convenience"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"site": [{"id": "s", "profile": "disco"}], "sensor": []},
            "profile 'disco'",
            id="unknown profile",
        ),
        pytest.param(
            {"site": [{"id": "s"}], "sensor": [{"id": "n-01", "kind": "noise", "site": "x"}]},
            "site 'x' is not",
            id="unknown site",
        ),
        pytest.param(
            {"site": [{"id": "s"}], "sensor": [{"id": "n-01", "kind": "light", "site": "s"}]},
            "kind 'light'",
            id="unknown kind",
        ),
        pytest.param(
            {"site": [{"id": "s"}], "sensor": [{"id": "n-01", "kind": "noise", "site": "s"}] * 2},
            "repeated id",
            id="repeated id",
        ),
        pytest.param(
            {"site": [{"id": "s"}], "sensor": [{"id": "N!", "kind": "noise", "site": "s"}]},
            "is not [a-z0-9]",
            id="bad id",
        ),
        pytest.param({"site": [{"id": "s"}]}, "no [[sensor]]", id="no sensors"),
        pytest.param(
            {"site": {"id": "s"}, "sensor": []}, "array of tables", id="site not an array"
        ),
    ],
)
def test_community_refusals(data: dict[str, object], message: str) -> None:
    with pytest.raises(CommunityError, match="community") as caught:
        community_sensors(data)
    assert message in str(caught.value)


def test_synthetic_sensors() -> None:
    sensors = synthetic_sensors(10_000)
    assert len({s.id for s in sensors}) == 10_000
    assert sensors[0] == SensorSpec("sim-n-00001", Kind.NOISE, "residential")
    assert sensors[7499].id == "sim-n-07500" and sensors[7500] == SensorSpec(
        "sim-f-00001", Kind.FUME, "restaurant"
    )
    assert Counter(s.kind for s in sensors) == {Kind.NOISE: 7500, Kind.FUME: 2500}
    assert [s.profile for s in sensors[:6]] == [
        "residential",
        "restaurant",
        "ktv",
        "bbq",
        "convenience",
        "traffic",
    ]
    assert [s.id for s in synthetic_sensors(3, fume_share=0)] == [
        "sim-n-00001",
        "sim-n-00002",
        "sim-n-00003",
    ]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_MQTT_URL", "mqtts://u:p@broker:8883")
    args = parse("--sensors", "5")
    assert (args.mqtt_url, args.prefix, args.period, args.speed, args.start) == (
        "mqtts://u:p@broker:8883", "linli/v1", 60, 1.0, "now",
    )  # fmt: skip
    assert (args.connections, args.duration, args.scenario, args.seed) == (
        "per-device",
        None,
        None,
        0,
    )


def test_cli_builds_options() -> None:
    args = parse(
        "--community", str(COMMUNITY), "--scenario", "tianxin", "--speed", "60", "--start=-3h",
        "--duration", "1h", "--period", "10", "--connections", "shared", "--links", "2", "--prefix", "x/v1/",
    )  # fmt: skip
    options, sensors, scenario = cli._build(args)
    assert len(sensors) == 40 and scenario is not None and scenario.name == "tianxin"
    assert (options.speed, options.duration_s, options.period_s) == (60.0, 3600, 10)
    assert (options.connections, options.shared_links, options.prefix) == (SHARED, 2, "x/v1")
    assert options.start_s is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "give --community FILE or --sensors N", id="no sensors"),
        pytest.param(
            ["--sensors", "3", "--period", "0"], "--period 0 outside 1-3600", id="bad period"
        ),
        pytest.param(["--sensors", "3", "--start=-8d"], "more than 7 days ago", id="start too old"),
        pytest.param(["--sensors", "3", "--mqtt-url", "http://x"], "scheme", id="not an MQTT URL"),
    ],
)
def test_cli_refusals(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(parse(*argv)) == 2
    assert message in capsys.readouterr().err
