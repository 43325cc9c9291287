"""Line protocol: the limit in force written with each noise reading, and rejection counts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from linli.ingest.lineprotocol import LineBuilder, parse_stored
from linli.rules.limits import NoiseStandard
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from linli.rules.reading import METRICS, DeviceStatus, Reading, SensorKind
from linli.rules.registry import SensorTags, SiteKind, Zone
from linli.rules.rejection import ReasonCode, Rejection
from tests.helpers import builder_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _ms(local: str) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).timestamp() * 1000)


def _fields(line: str) -> dict[str, str]:
    return dict(kv.split("=") for kv in line.split(" ")[1].split(","))


# fmt: off
LIMIT_CASES = [
    pytest.param(Zone.Z2, "2026-11-20 21:59:59", 58.0, "60.0", "0i", "21i", id="zone 2, 21:58:59–21:59:59 → day limit 60"),
    pytest.param(Zone.Z2, "2026-11-20 22:00:00", 58.0, "60.0", "0i", "21i", id="zone 2, stamped 22:00 measured 21:59–22:00 → day limit 60"),
    pytest.param(Zone.Z2, "2026-11-20 22:01:00", 58.0, "50.0", "60i", "22i", id="zone 2, 22:00–22:01 → night limit 50, exceeded"),
    pytest.param(Zone.Z2, "2026-11-21 06:00:00", 50.0, "50.0", "0i", "5i", id="stamped 06:00 measured 05:59–06:00 → night; equal is not over"),
    pytest.param(Zone.Z2, "2026-11-21 06:01:00", 60.1, "60.0", "60i", "6i", id="zone 2, 06:00–06:01 → day limit 60"),
    pytest.param(Zone.Z0, "2026-11-20 12:00:00", 50.5, "50.0", "60i", "11i", id="zone 0 day 50"),
    pytest.param(Zone.Z1, "2026-11-20 23:00:00", 45.0, "45.0", "0i", "22i", id="zone 1 night 45"),
    pytest.param(Zone.Z3, "2026-11-20 03:00:00", 56.0, "55.0", "60i", "2i", id="zone 3 night 55"),
    pytest.param(Zone.Z4A, "2026-11-20 10:00:00", 69.0, "70.0", "0i", "9i", id="zone 4a day 70"),
    pytest.param(Zone.Z4A, "2026-11-20 22:30:00", 56.0, "55.0", "60i", "22i", id="zone 4a night 55"),
    pytest.param(Zone.Z4B, "2026-11-20 22:30:00", 56.0, "60.0", "0i", "22i", id="zone 4b night 60 (GB 3096)"),
]
# fmt: on


def _tags(zone: Zone, sensor: str = "n-01") -> SensorTags:
    return SensorTags(sensor, SensorKind.NOISE, "s1", "g1", zone)


@pytest.mark.parametrize(("zone", "local", "laeq", "limit", "exceed_s", "hour"), LIMIT_CASES)
def test_noise_reading_carries_the_limit_in_force(zone, local, laeq, limit, exceed_s, hour):
    tags = _tags(zone)
    builder = builder_for(tags, policy=RulePolicy(calendar=Calendar("Asia/Shanghai")))
    reading = Reading("n-01", SensorKind.NOISE, _ms(local), 3, 60, {"laeq": laeq})
    fields = _fields(builder.reading(reading, tags))
    assert (fields["limit_db"], fields["exceed_s"], fields["hour_local"]) == (limit, exceed_s, hour)
    assert float(fields["laeq_es"]) == pytest.approx(10 ** (laeq / 10) * 60, rel=1e-12)


# fmt: off
PERIOD_CASES = [
    pytest.param("2026-11-20 22:00:00", 1, "60.0", "21i", id="1 s stamped 22:00:00 measured 21:59:59–22:00 → day"),
    pytest.param("2026-11-20 22:00:01", 1, "50.0", "22i", id="1 s stamped 22:00:01 measured 22:00:00–22:00:01 → night"),
    pytest.param("2026-11-20 22:04:59", 600, "60.0", "21i", id="600 s 21:54:59–22:04:59: mostly day → day"),
    pytest.param("2026-11-20 22:05:00", 600, "50.0", "22i", id="600 s 21:55–22:05: half and half → the later period, night"),
    pytest.param("2026-11-21 06:05:00", 600, "60.0", "6i", id="600 s 05:55–06:05: half and half → the later period, day"),
    pytest.param("2026-11-21 06:04:59", 600, "50.0", "5i", id="600 s 05:54:59–06:04:59: mostly night → night"),
]
# fmt: on


@pytest.mark.parametrize(("local", "period_s", "limit", "hour"), PERIOD_CASES)
def test_a_reading_belongs_to_the_period_it_measured(local, period_s, limit, hour):
    tags = _tags(Zone.Z2)
    builder = builder_for(tags)
    reading = Reading("n-01", SensorKind.NOISE, _ms(local), 3, period_s, {"laeq": 40.0})
    fields = _fields(builder.reading(reading, tags))
    assert (fields["limit_db"], fields["hour_local"]) == (limit, hour)


# fmt: off
STANDARD_CASES = [
    pytest.param(SiteKind.SHOP, Zone.Z4B, {}, "55.0", id="a zone 4b shop at night: GB 22337 class 4 → 55"),
    pytest.param(SiteKind.RESIDENTIAL, Zone.Z4B, {}, "60.0", id="a zone 4b building at night: GB 3096 4b → 60"),
    pytest.param(SiteKind.RESIDENTIAL, Zone.Z4B, {"s1": NoiseStandard.GB22337}, "55.0", id="site_noise_standard overrides: GB 22337 → 55"),
]
# fmt: on


@pytest.mark.parametrize(("kind", "zone", "override", "limit"), STANDARD_CASES)
def test_the_limit_written_is_the_standard_the_site_is_judged_by(kind, zone, override, limit):
    tags = _tags(zone)
    policy = RulePolicy(site_noise_standard=override)
    builder = builder_for(tags, policy=policy, kind=kind)
    reading = Reading("n-01", SensorKind.NOISE, _ms("2026-11-20 23:30:00"), 3, 60, {"laeq": 58.0})
    fields = _fields(builder.reading(reading, tags))
    assert fields["limit_db"] == limit
    assert fields["exceed_s"] == ("60i" if float(limit) < 58.0 else "0i")


# fmt: off
NIGHT_23_07 = [
    pytest.param("2026-11-20 06:30:00", "50.0", "6i", id="night 23–07: 06:30 → night limit 50"),
    pytest.param("2026-11-20 07:00:00", "50.0", "6i", id="night 23–07: 06:59–07:00 → night limit 50"),
    pytest.param("2026-11-20 07:01:00", "60.0", "7i", id="night 23–07: 07:00–07:01 → day limit 60"),
    pytest.param("2026-11-20 22:30:00", "60.0", "22i", id="night 23–07: 22:30 → day limit 60"),
    pytest.param("2026-11-20 23:00:00", "60.0", "22i", id="night 23–07: 22:59–23:00 → day limit 60"),
    pytest.param("2026-11-20 23:01:00", "50.0", "23i", id="night 23–07: 23:00–23:01 → night limit 50"),
    pytest.param("2026-11-21 00:30:00", "50.0", "0i", id="night 23–07: 00:30 → night limit 50"),
]
# fmt: on


@pytest.mark.parametrize(("local", "limit", "hour"), NIGHT_23_07)
def test_the_community_calendar_decides_the_limit(local, limit, hour):
    # the calendar the engine judges by: a community's [rules] night = "23:00-07:00"
    tags = _tags(Zone.Z2)
    calendar = Calendar("Asia/Shanghai", night_start_min=23 * 60, night_end_min=7 * 60)
    builder = builder_for(tags, policy=RulePolicy(calendar=calendar))
    reading = Reading("n-01", SensorKind.NOISE, _ms(local), 1, 60, {"laeq": 40.0})
    fields = _fields(builder.reading(reading, tags))
    assert (fields["limit_db"], fields["hour_local"]) == (limit, hour)


def test_night_boundaries_to_the_minute_are_obeyed():
    # Calendar has minute precision: ingest follows it (only the dashboards need whole hours)
    tags = _tags(Zone.Z2)
    calendar = Calendar("Asia/Shanghai", night_start_min=22 * 60 + 30)
    builder = builder_for(tags, policy=RulePolicy(calendar=calendar))
    limits = [
        _fields(
            builder.reading(Reading("n-01", SensorKind.NOISE, _ms(t), 1, 60, {"laeq": 40.0}), tags)
        )["limit_db"]
        for t in ("2026-11-20 22:30:00", "2026-11-20 22:31:00")
    ]
    assert limits == ["60.0", "50.0"]


def test_fume_reading_has_no_noise_limit_fields():
    tags = SensorTags("f-01", SensorKind.FUME, "r1", "g1", Zone.Z2)
    builder = builder_for(tags)
    line = builder.reading(
        Reading("f-01", SensorKind.FUME, 1_000, 1, 60, {"oil_fume": 2.5, "fan_on": True}), tags
    )
    assert (
        line == "fume,grid=g1,sensor=f-01,site=r1 oil_fume=2.5,fan_on=true,period_s=60i,seq=1i 1000"
    )


def test_rejections_are_counted_per_sensor_and_reason_and_never_overwrite():
    builder = LineBuilder()
    registered = {"n-01": SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)}

    def rej(sensor: str | None, reason: ReasonCode, ms: int) -> Rejection:
        return Rejection("t", b"", ms, reason, "why", sensor=sensor)

    first = builder.rejected(
        [
            rej("n-01", ReasonCode.SCHEMA, 100),
            rej("n-01", ReasonCode.SCHEMA, 105),
            rej("n-01", ReasonCode.OUT_OF_RANGE, 101),
            rej("n-99", ReasonCode.UNKNOWN_SENSOR, 102),
            rej(None, ReasonCode.BAD_TOPIC, 103),
        ],
        registered,
    )
    assert first == [
        "rejected,reason=schema,sensor=n-01 count=2i 105",
        "rejected,reason=out_of_range,sensor=n-01 count=1i 101",
        "rejected,reason=unknown_sensor,sensor=_unregistered count=1i 102",
        "rejected,reason=bad_topic,sensor=_unregistered count=1i 103",
    ]
    # the next batch's rejection received in the same millisecond gets the next one
    assert builder.rejected([rej("n-01", ReasonCode.SCHEMA, 105)], registered) == [
        "rejected,reason=schema,sensor=n-01 count=1i 106"
    ]


def test_a_written_batch_reads_back_as_the_same_readings_and_statuses():
    noise = Reading("n 01,x=y", SensorKind.NOISE, 1_000, 7, 60, {"laeq": 55.5, "lamax": 70.0})
    fume = Reading(
        "f-01",
        SensorKind.FUME,
        2_000,
        8,
        30,
        {"oil_fume": 2.5, "fan_on": True, "purifier_on": False},
    )
    noise_tags = SensorTags(noise.sensor, noise.kind, "s 1", "g=1", Zone.Z2)
    fume_tags = SensorTags("f-01", SensorKind.FUME, "s1", "g1", Zone.Z2)
    builder = builder_for(noise_tags, fume_tags)
    back_online = builder.status(DeviceStatus("n 01,x=y", 4_000, True, None), noise_tags)
    assert back_online is not None
    body = "\n".join(
        [
            builder.reading(noise, noise_tags),
            builder.reading(fume, fume_tags),
            'device,sensor=f-01 online=false,fw="1.0 \\"b\\"" 3000',  # a status, in its place
            "device,sensor=f-01 battery_v=3.7 3500",  # health: not for the engine
            "device,sensor=f-01 seq_gaps=1i,duplicates=0i 3600",  # accounting: neither
            back_online,
        ]
    ).encode()
    assert parse_stored(body) == [
        noise,
        fume,
        DeviceStatus("f-01", 3_000, False, '1.0 "b"'),
        DeviceStatus("n 01,x=y", 4_000, True, None),
    ]


def _all_metrics(kind: SensorKind, i: int) -> dict[str, float | bool]:
    """Every metric of `kind`, a different value for each reading (booleans both ways)."""
    return {
        name: (i % 2 == (n % 2)) if spec.boolean else round(spec.low or 0.0) + 10.25 + i + n
        for n, (name, spec) in enumerate(METRICS.items())
        if spec.kind is kind
    }


def test_readings_of_both_kinds_with_every_metric_and_statuses_round_trip_in_order():
    noise_tags = SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    fume_tags = SensorTags("f 01", SensorKind.FUME, "s2", "g1", Zone.Z2)
    tags = {t.sensor: t for t in (noise_tags, fume_tags)}
    builder = builder_for(noise_tags, fume_tags)
    items: list[Reading | DeviceStatus] = []
    for i in range(4):
        for t, period_s in ((noise_tags, 1), (fume_tags, 60)):
            items.append(
                Reading(t.sensor, t.kind, 1_000 * i + 1, i * 1_000_003, period_s,
                        _all_metrics(t.kind, i))
            )  # fmt: skip
        items.append(DeviceStatus("f 01", 1_000 * i + 2, i % 2 == 0, None if i < 2 else f"2.{i}"))
    assert {name for r in items if isinstance(r, Reading) for name in r.metrics} == set(METRICS)
    lines = []
    for item in items:
        if isinstance(item, Reading):
            lines.append(builder.reading(item, tags[item.sensor]))
        else:
            line = builder.status(item, tags[item.sensor])
            assert line is not None
            lines.append(line)
    assert parse_stored("\n".join(lines).encode()) == items


def test_every_point_of_a_sensor_carries_its_grids_community():
    """CONTRACT §9: noise, fume and device points are tagged with the site's community;
    a grid of no community writes no tag (an empty tag value is not line protocol)."""
    from linli.influx.lineprotocol import parse_line
    from linli.ingest.lineprotocol import LineBuilder
    from linli.rules.reading import DeviceHealth
    from linli.rules.registry import Grid, Registry, Sensor, Site

    registry = Registry(
        grids=[Grid("g-e", "东网格", community="tianxin"), Grid("g-0", "旧网格")],
        sites=[
            Site("s1", "1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g-e"),
            Site("r1", "面馆", SiteKind.SHOP, Zone.Z2, "g-e", cooking_heads=1),
            Site("old", "老楼", SiteKind.RESIDENTIAL, Zone.Z2, "g-0"),
        ],
        sensors=[
            Sensor("n-01", SensorKind.NOISE, "s1"),
            Sensor("f-01", SensorKind.FUME, "r1"),
            Sensor("n-00", SensorKind.NOISE, "old"),
        ],
    )
    builder = LineBuilder(registry=registry)
    noise, fume, old = (registry.tags[s] for s in ("n-01", "f-01", "n-00"))
    lines = [
        builder.reading(Reading("n-01", SensorKind.NOISE, 60_000, 1, 60, {"laeq": 50.0}), noise),
        builder.reading(Reading("f-01", SensorKind.FUME, 60_000, 1, 60, {"oil_fume": 1.0}), fume),
        builder.status(DeviceStatus("n-01", 61_000, True, None), noise),
        builder.health(DeviceHealth("f-01", 62_000, {"battery_v": 3.7}), fume),
        builder.accounting(noise, 1, 0, 63_000),
    ]
    points = [parse_line(line) for line in lines if line is not None]
    assert len(points) == 5
    assert [p.tags.get("community") for p in points if p is not None] == ["tianxin"] * 5
    unclaimed = parse_line(
        builder.reading(Reading("n-00", SensorKind.NOISE, 60_000, 1, 60, {"laeq": 50.0}), old)
    )
    assert unclaimed is not None and "community" not in unclaimed.tags
