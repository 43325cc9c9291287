"""The wire parser: every contract reason code, both payload forms, both timestamp forms."""

from __future__ import annotations

import orjson
import pytest

from linli.rules.parse import parse_message
from linli.rules.rejection import AFTER_PARSE, HJ212_ONLY, ReasonCode
from tests.helpers import small_registry

NOW = 1_764_209_700_000
P = "linli/v1"
REG = small_registry()


def _noise(**over):
    doc = {
        "ts": NOW,
        "seq": 1,
        "period_s": 60,
        "metrics": {
            "laeq": 58.3,
            "lamax": 71.2,
            "lamin": 44.0,
            "l10": 61.0,
            "l50": 56.2,
            "l90": 49.8,
        },
    }
    doc.update(over)
    return orjson.dumps(doc)


REJECTS = [
    pytest.param(
        f"{P}/n-01/telemetri",
        _noise(),
        ReasonCode.BAD_TOPIC,
        "topic 'linli/v1/n-01/telemetri' is not",
        id="unknown channel → bad_topic",
    ),
    pytest.param(
        f"{P}/N_01/telemetry",
        _noise(),
        ReasonCode.BAD_TOPIC,
        "is not linli/v1/{sensor}",
        id="sensor id breaks the pattern → bad_topic",
    ),
    pytest.param(
        "other/n-01/telemetry",
        _noise(),
        ReasonCode.BAD_TOPIC,
        "is not linli/v1/",
        id="wrong prefix → bad_topic",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        b"{not json",
        ReasonCode.NOT_JSON,
        "payload is not UTF-8 JSON",
        id="broken JSON → not_json",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        b"\xff\xfe",
        ReasonCode.NOT_JSON,
        "payload is not UTF-8 JSON",
        id="not UTF-8 → not_json",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        b'{"a":"' + b"x" * 262_144 + b'"}',
        ReasonCode.TOO_LARGE,
        "over the 262144-byte limit",
        id="over 256 KiB → too_large",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        orjson.dumps({"batch": [orjson.loads(_noise(seq=i)) for i in range(1001)]}),
        ReasonCode.TOO_LARGE,
        "batch of 1001 readings",
        id="1001-reading batch → too_large",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        b"[1,2]",
        ReasonCode.SCHEMA,
        "JSON list, not an object",
        id="a list → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(seq=-1),
        ReasonCode.SCHEMA,
        '"seq" must be a non-negative integer',
        id="negative seq → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(ts="yesterday"),
        ReasonCode.SCHEMA,
        "is not an RFC 3339 time",
        id="ts not a time → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(ts="2025-11-27T10:15:00"),
        ReasonCode.SCHEMA,
        "with an offset",
        id="ts without offset → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"lamax": 60.0}),
        ReasonCode.SCHEMA,
        "must carry 'laeq'",
        id="noise without laeq → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": "loud"}),
        ReasonCode.SCHEMA,
        "laeq must be a number",
        id="string metric → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": 50, "dba": 3}),
        ReasonCode.SCHEMA,
        "unknown metric 'dba'",
        id="unknown metric → schema",
    ),
    pytest.param(
        f"{P}/n-99/telemetry",
        _noise(),
        ReasonCode.UNKNOWN_SENSOR,
        "sensor 'n-99' is not in the registry",
        id="unregistered sensor → unknown_sensor",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": 50, "oil_fume": 1.0}),
        ReasonCode.KIND_MISMATCH,
        "is a noise sensor but sent fume metric 'oil_fume'",
        id="fume metric from a noise sensor → kind_mismatch",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": 171.2}),
        ReasonCode.OUT_OF_RANGE,
        "sensor 'n-01': laeq 171.2 outside 20–140",
        id="laeq 171.2 → out_of_range",
    ),
    pytest.param(
        f"{P}/f-01/telemetry",
        orjson.dumps({"ts": NOW, "seq": 1, "period_s": 60, "metrics": {"oil_fume": 50.1}}),
        ReasonCode.OUT_OF_RANGE,
        "oil_fume 50.1 outside 0–50",
        id="oil fume 50.1 → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(seq=2**64 - 1),
        ReasonCode.OUT_OF_RANGE,
        "sensor 'n-01': seq 18446744073709551615 outside 0–9223372036854775807",
        id="seq 2^64−1 (InfluxDB refuses it) → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/health",
        b'{"ts": %d, "uptime_s": 1e300}' % NOW,
        ReasonCode.OUT_OF_RANGE,
        "sensor 'n-01': health uptime_s 1e+300 outside 0–9.22337e+18",
        id="health uptime_s 1e300 (no int64) → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/health",
        b'{"ts": %d, "battery_v": 1e300}' % NOW,
        ReasonCode.OUT_OF_RANGE,
        "sensor 'n-01': health battery_v 1e+300 outside 0–60",
        id="health battery_v 1e300 → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/health",
        b'{"ts": %d, "temp_c": -300}' % NOW,
        ReasonCode.OUT_OF_RANGE,
        "sensor 'n-01': health temp_c -300 outside -80–200",
        id="health temp_c −300 → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/status",
        b'{"online": true, "fw": "%s"}' % (b"1" * 129),
        ReasonCode.SCHEMA,
        'status "fw" must be a string of at most 128 characters',
        id="status fw of 129 characters → schema",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(period_s=0),
        ReasonCode.OUT_OF_RANGE,
        "period_s 0 outside 1–3600",
        id="period 0 s → out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": 50, "l90": 60, "l10": 55}),
        ReasonCode.INCONSISTENT,
        "l10 55 is below l90 60",
        id="l10 below l90 → inconsistent",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(metrics={"laeq": 80, "lamax": 75}),
        ReasonCode.INCONSISTENT,
        "laeq 80 is not between",
        id="laeq above lamax → inconsistent",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(ts=NOW - 8 * 86_400_000),
        ReasonCode.TS_OUT_OF_RANGE,
        "outside the accepted window",
        id="8 days old → ts_out_of_range",
    ),
    pytest.param(
        f"{P}/n-01/telemetry",
        _noise(ts=NOW + 6 * 60_000),
        ReasonCode.TS_OUT_OF_RANGE,
        "outside the accepted window",
        id="6 minutes ahead → ts_out_of_range",
    ),
]


@pytest.mark.parametrize(("topic", "payload", "reason", "sentence"), REJECTS)
def test_rejected_with_reason_and_sentence(topic, payload, reason, sentence):
    parsed = parse_message(topic, payload, NOW, REG, P)
    assert parsed.readings == []
    assert [r.reason for r in parsed.rejections] == [reason]
    rejection = parsed.rejections[0]
    assert sentence in rejection.detail
    assert rejection.payload == payload and rejection.topic == topic
    assert rejection.received_ms == NOW


def test_every_reason_code_of_the_wire_has_a_row():
    # conflict and not_storable are decided after parsing (tests/rules/test_identity.py,
    # tests/ingest/test_refusal.py)
    assert {p.values[2] for p in REJECTS} == set(ReasonCode) - AFTER_PARSE - HJ212_ONLY


ACCEPTED = [
    pytest.param(_noise(), NOW, id="epoch ms"),
    pytest.param(_noise(ts="2025-11-27T10:15:00+08:00"), 1764209700000, id="RFC 3339 +08:00"),
    pytest.param(_noise(ts="2025-11-27T02:15:00Z"), 1764209700000, id="RFC 3339 Z"),
    pytest.param(
        _noise(ts=NOW - 7 * 86_400_000 + 1), NOW - 7 * 86_400_000 + 1, id="just inside 7 days"
    ),
    pytest.param(_noise(ts=NOW + 5 * 60_000), NOW + 5 * 60_000, id="exactly 5 minutes ahead"),
    pytest.param(_noise(seq=2**63 - 1), NOW, id="seq 2^63−1, the largest int64, is accepted"),
    pytest.param(
        _noise(metrics={"laeq": 20, "lamin": 20, "lamax": 20}), NOW, id="all equal is consistent"
    ),
]


@pytest.mark.parametrize(("payload", "ts_ms"), ACCEPTED)
def test_accepted(payload, ts_ms):
    parsed = parse_message(f"{P}/n-01/telemetry", payload, NOW, REG, P)
    assert parsed.rejections == []
    [reading] = parsed.readings
    seq = orjson.loads(payload)["seq"]
    assert (reading.sensor, reading.ts_ms, reading.seq, reading.period_s) == (
        "n-01",
        ts_ms,
        seq,
        60,
    )


def test_batch_is_judged_reading_by_reading():
    good = orjson.loads(_noise())
    batch = [good, {**good, "seq": 2, "metrics": {"laeq": 200}}, "x", {**good, "seq": 3}]
    parsed = parse_message(f"{P}/n-01/telemetry", orjson.dumps({"batch": batch}), NOW, REG, P)
    assert [r.seq for r in parsed.readings] == [1, 3]
    assert parsed.indexes == [0, 3]
    assert [(r.index, r.reason) for r in parsed.rejections] == [
        (1, ReasonCode.OUT_OF_RANGE),
        (2, ReasonCode.SCHEMA),
    ]
    assert parsed.rejections[0].detail.startswith("batch[1]: sensor 'n-01': laeq 200 outside")


def test_status_health_and_config():
    status = parse_message(f"{P}/n-01/status", b'{"online": false}', NOW, REG, P)
    assert status.status is not None and status.status.online is False
    assert status.status.ts_ms == NOW
    health = parse_message(
        f"{P}/f-01/health", b'{"ts": %d, "battery_v": 3.9, "uptime_s": 86400}' % NOW, NOW, REG, P
    )
    assert health.health is not None and health.health.values == {
        "battery_v": 3.9,
        "uptime_s": 86400,
    }
    config = parse_message(f"{P}/n-01/config", b'{"period_s": 60}', NOW, REG, P)
    assert config.ignored and not config.rejections
