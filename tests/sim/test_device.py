"""A device's payloads, offline buffer, batches, config and scripted misbehaviour."""

from __future__ import annotations

import orjson
import pytest

from linli.sim.device import (
    MAX_MESSAGE_BYTES,
    ConfigError,
    Device,
    Kind,
    SensorSpec,
    Topics,
    fume_metrics,
    noise_metrics,
    parse_config,
)
from linli.sim.scenario import BadVariant

from .contract import assert_valid_reading

TS = 1_764_209_700_000
NOISE = noise_metrics((58.3, 71.2, 44.0, 61.0, 56.2, 49.8))
FUME = fume_metrics(0.82, 1.3, 6.25, True, True, 2.97)


def device(kind: Kind = Kind.NOISE, period_s: int = 60, buffer_max: int = 100_000) -> Device:
    spec = SensorSpec("n-hj-01" if kind is Kind.NOISE else "f-rest-01", kind, "restaurant")
    return Device(spec, "linli/v1", period_s, buffer_max)


def test_noise_reading_is_exactly_the_contract_example() -> None:
    payload = device().reading(TS, NOISE)
    assert payload == (
        b'{"ts":1764209700000,"seq":0,"period_s":60,"metrics":{"laeq":58.3,"lamax":71.2,'
        b'"lamin":44.0,"l10":61.0,"l50":56.2,"l90":49.8}}'
    )
    assert_valid_reading(orjson.loads(payload), "noise")


def test_fume_reading() -> None:
    reading = orjson.loads(device(Kind.FUME, 180).reading(TS, FUME))
    assert reading == {
        "ts": TS,
        "seq": 0,
        "period_s": 180,
        "metrics": {
            "oil_fume": 0.82,
            "pm": 1.3,
            "nmhc": 6.25,
            "fan_on": True,
            "purifier_on": True,
            "purifier_current": 2.97,
        },
    }
    assert_valid_reading(reading, "fume")


def test_seq_rises_from_zero() -> None:
    d = device()
    seqs = [orjson.loads(d.reading(TS + i * 60_000, NOISE))["seq"] for i in range(5)]
    assert seqs == [0, 1, 2, 3, 4] and d.seq == 5


def test_topics() -> None:
    assert Topics.of("linli/v1", "n-07") == Topics(
        "linli/v1/n-07/telemetry",
        "linli/v1/n-07/status",
        "linli/v1/n-07/health",
        "linli/v1/n-07/config",
    )


@pytest.mark.parametrize(
    "sensor_id",
    [
        pytest.param("N-01", id="upper case"),
        pytest.param("n1", id="too short"),
        pytest.param("-n-01", id="leading dash"),
        pytest.param("n" * 65, id="too long"),
    ],
)
def test_sensor_ids_follow_the_contract(sensor_id: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        SensorSpec(sensor_id, Kind.NOISE, "residential")


def test_status_and_will() -> None:
    d = device()
    assert orjson.loads(d.status(True, TS)) == {"online": True, "fw": "1.4.2", "ts": TS}
    assert orjson.loads(d.status(False, TS)) == {"online": False, "ts": TS}
    assert orjson.loads(Device.will()) == {"online": False}


def test_health() -> None:
    health = orjson.loads(device().health(TS, 3.9, -71, 31.5, 86400))
    assert health == {
        "ts": TS,
        "battery_v": 3.9,
        "rssi_dbm": -71,
        "temp_c": 31.5,
        "uptime_s": 86400,
    }


@pytest.mark.parametrize(
    ("buffered", "sizes"),
    [
        pytest.param(1, [1], id="one reading: one batch"),
        pytest.param(1000, [1000], id="1000 readings fit one batch"),
        pytest.param(1001, [1000, 1], id="1001 readings: two batches"),
        pytest.param(2500, [1000, 1000, 500], id="2500 readings: 1000 + 1000 + 500"),
    ],
)
def test_offline_buffer_backfills_in_batches_of_at_most_1000(
    buffered: int, sizes: list[int]
) -> None:
    d = device()
    d.reading(TS - 60_000, NOISE)  # seq 0 went out before the outage
    for i in range(buffered):
        d.keep(d.reading(TS + i * 60_000, NOISE))
    batches = d.take_batches()
    readings = [orjson.loads(b)["batch"] for b in batches]
    assert [len(r) for r in readings] == sizes
    assert all(len(b) <= MAX_MESSAGE_BYTES for b in batches)
    flat = [r for batch in readings for r in batch]
    assert [r["seq"] for r in flat] == list(range(1, buffered + 1))
    assert [r["ts"] for r in flat] == [TS + i * 60_000 for i in range(buffered)]
    assert len(d.buffer) == 0 and d.take_batches() == []
    assert orjson.loads(d.reading(TS + buffered * 60_000, NOISE))["seq"] == buffered + 1


def test_batches_also_respect_the_byte_limit() -> None:
    d = device()
    for i in range(10):
        d.keep(d.reading(TS + i, NOISE))
    one = len(d.buffer[0])
    batches = d.take_batches(max_bytes=12 + 3 * (one + 1))
    assert [len(orjson.loads(b)["batch"]) for b in batches] == [3, 3, 3, 1]


def test_a_full_buffer_forgets_the_oldest_and_counts_them() -> None:
    d = device(buffer_max=5)
    for i in range(8):
        d.keep(d.reading(TS + i, NOISE))
    assert d.dropped == 3
    (batch,) = d.take_batches()
    assert [r["seq"] for r in orjson.loads(batch)["batch"]] == [3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("payload", "period"),
    [
        pytest.param(b'{"period_s": 60}', 60, id="one minute"),
        pytest.param(b'{"period_s": 1}', 1, id="the shortest"),
        pytest.param(
            b'{"period_s": 3600, "other": "ignored"}', 3600, id="the longest, extra keys ignored"
        ),
    ],
)
def test_config_is_obeyed(payload: bytes, period: int) -> None:
    d = device(period_s=5)
    assert d.obey(payload) == period
    assert orjson.loads(d.reading(TS, NOISE))["period_s"] == period


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(b"{nope", "not JSON", id="not JSON"),
        pytest.param(b'{"period_s": 0}', "outside 1-3600", id="zero"),
        pytest.param(b'{"period_s": 3601}', "outside 1-3600", id="over an hour"),
        pytest.param(b'{"period_s": 1.5}', "not an integer", id="fraction"),
        pytest.param(b'{"period_s": true}', "not an integer", id="boolean"),
        pytest.param(b"[60]", "not an integer", id="not an object"),
    ],
)
def test_bad_config_is_refused_and_the_period_kept(payload: bytes, message: str) -> None:
    d = device(period_s=5)
    with pytest.raises(ConfigError, match=message):
        d.obey(payload)
    assert d.period_s == 5
    with pytest.raises(ConfigError):
        parse_config(payload)


def test_stuck_device_repeats_its_last_metrics() -> None:
    d = device()
    d.reading(TS, NOISE)
    d.start_stuck()
    other = noise_metrics((60.0, 70.0, 50.0, 65.0, 59.0, 52.0))
    stuck = [orjson.loads(d.reading(TS + i * 60_000, other)) for i in (1, 2)]
    assert [r["metrics"]["laeq"] for r in stuck] == [58.3, 58.3]
    assert [r["seq"] for r in stuck] == [1, 2] and stuck[0]["ts"] != stuck[1]["ts"]
    d.end_stuck()
    assert orjson.loads(d.reading(TS + 180_000, other))["metrics"]["laeq"] == 60.0


@pytest.mark.parametrize(
    ("kind", "variant", "expected"),
    [
        pytest.param(
            Kind.NOISE,
            BadVariant.SCHEMA,
            {"ts": TS, "seq": -1, "period_s": 0, "metrics": "loud"},
            id="schema",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.OUT_OF_RANGE,
            {"ts": TS, "seq": 1, "period_s": 60, "metrics": {"laeq": 171.2}},
            id="noise out of range",
        ),
        pytest.param(
            Kind.FUME,
            BadVariant.OUT_OF_RANGE,
            {"ts": TS, "seq": 1, "period_s": 60, "metrics": {"oil_fume": 75.0}},
            id="fume out of range",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.INCONSISTENT,
            {
                "ts": TS,
                "seq": 1,
                "period_s": 60,
                "metrics": {"laeq": 60.0, "lamax": 55.0, "lamin": 65.0},
            },
            id="lamin above lamax",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.KIND_MISMATCH,
            {"ts": TS, "seq": 1, "period_s": 60, "metrics": {"oil_fume": 0.8}},
            id="noise sensor sends fume",
        ),
        pytest.param(
            Kind.FUME,
            BadVariant.KIND_MISMATCH,
            {"ts": TS, "seq": 1, "period_s": 60, "metrics": {"laeq": 55.0}},
            id="fume sensor sends noise",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.TS_OUT_OF_RANGE,
            {"ts": TS - 30 * 86_400_000, "seq": 1, "period_s": 60, "metrics": {"laeq": 55.0}},
            id="30 days old",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.SEQ_OVERFLOW,
            {"ts": TS, "seq": 2**64 - 1, "period_s": 60, "metrics": {"laeq": 55.0}},
            id="seq beyond int64",
        ),
        pytest.param(
            Kind.NOISE,
            BadVariant.CONFLICT,
            {"ts": TS - 60_000, "seq": 0, "period_s": 60, "metrics": {"laeq": 95.0}},
            id="the last reading's ts and seq with other values",
        ),
        pytest.param(
            Kind.FUME,
            BadVariant.CONFLICT,
            {"ts": TS - 60_000, "seq": 0, "period_s": 60, "metrics": {"oil_fume": 9.0}},
            id="a fume reading rewritten",
        ),
    ],
)
def test_bad_payloads_break_one_rule_and_take_no_seq(
    kind: Kind, variant: BadVariant, expected: object
) -> None:
    d = device(kind)
    d.reading(TS - 60_000, NOISE if kind is Kind.NOISE else FUME)
    assert orjson.loads(d.bad_payload(variant, TS)) == expected
    assert d.seq == 1


def test_not_json_bad_payload() -> None:
    d = device()
    payload = d.bad_payload(BadVariant.NOT_JSON, TS)
    assert payload == b'{"ts":1764209700000,"seq":0,"period_s":60,"metrics":{"laeq":58.3}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(payload)
