"""The rule engine in its own process: what crosses the pipe, cases opened, a killed child."""

from __future__ import annotations

import os
import pickle
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from linli.engineproc import (
    READING_FIELDS,
    STATUS_FIELDS,
    EngineProcess,
    PipeMismatch,
    decode,
    encode,
)
from linli.ingestion import Ingest
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.store import Database
from tests.helpers import WAIT_S, Publisher, wait_for
from tests.test_cases_e2e import FUME, MIN, NIGHT, POLICY, TZ, on_test_servers


def test_readings_and_statuses_cross_the_pipe_unchanged():
    items: list[Reading | DeviceStatus] = [
        Reading("n-01", SensorKind.NOISE, 1_000, 7, 60, {"laeq": 55.5, "lamax": 70.1}),
        DeviceStatus("n-01", 2_000, False),
        Reading("f-01", SensorKind.FUME, 3_000, 8, 60, {"oil_fume": 2.5, "fan_on": True}),
        DeviceStatus("f-01", 4_000, True, "1.2.0"),
    ]
    assert decode(encode(items)) == items


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([], id="an empty batch"),
        pytest.param([DeviceStatus("n-01", 1, False), DeviceStatus("n-02", 2, True, "1.0")],
                     id="statuses only"),
        pytest.param([Reading("n-01", SensorKind.NOISE, 1, 1, 60, {"laeq": 50.0})] * 3,
                     id="readings only"),
    ],
)  # fmt: skip
def test_each_row_says_what_it_is(items):
    assert decode(encode(items)) == items


def test_a_batch_of_other_fields_is_refused_not_misread():
    # a child started after the code changed on disk: its Reading is not the parent's
    other = ((*READING_FIELDS, "quality"), STATUS_FIELDS)
    data = pickle.dumps((other, [], [("n-01", SensorKind.NOISE, 1, 1, 60, {}, 0)]))
    with pytest.raises(PipeMismatch, match="quality"):
        decode(data)


def cases(db: Database) -> list[tuple[Any, ...]]:
    with db.cases() as tx:
        found, _ = tx.list_cases()
    return sorted((c.site, c.rule, c.occurrences) for c in found)


def moved(readings: list[dict[str, Any]], start_ms: int) -> list[dict[str, Any]]:
    """The readings moved in time to start at `start_ms`, one after the other as before."""
    delta = start_ms - readings[0]["ts"]
    return [{**r, "ts": r["ts"] + delta} for r in readings]


def recent_night_hour(now_ms: int) -> int:
    """The start of the latest local night hour (22:00–06:00) whose first 21 minutes are
    over before `now_ms`: within the engine's day of replay at any time of day.
    (Yesterday's 22:00 is more than a day old from 22:00 on: then a child started meanwhile
    replays the newer part of a batch it is about to be handed, and the rest comes late.)"""
    hour = now_ms // 3_600_000 * 3_600_000
    while True:
        local = datetime.fromtimestamp(hour / 1000, TZ).hour
        if (local >= 22 or local < 6) and hour + 22 * MIN <= now_ms:
            return hour
        hour -= 3_600_000


def test_the_engine_process_opens_cases_and_a_killed_one_is_replaced(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings, db, influx = on_test_servers(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    engine = EngineProcess(settings, POLICY).start()
    ingest = Ingest(settings, db, db, influx, policy=POLICY, on_stored=engine.submit)
    ingest.start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    now_ms = time.time_ns() // 1_000_000
    night = moved(NIGHT, recent_night_hour(now_ms) + MIN)  # as NIGHT: from hh:01 on
    fume = moved(FUME, now_ms - (len(FUME) + 1) * MIN)  # fume limits hold at any hour
    try:
        pub.send(f"{topic_prefix}/n-01/telemetry", {"batch": night})
        wait_for(lambda: cases(db) == [("hj-b1", "noise_leq", 1)])
        # kill -9 the engine: the next batch finds the pipe broken and starts a new one
        assert engine._proc is not None
        os.kill(engine._proc.pid, signal.SIGKILL)
        engine._proc.join(10)
        pub.send(f"{topic_prefix}/f-01/telemetry", {"batch": fume})
        expected = [("hj-b1", "noise_leq", 1), ("rest-1", "fume_conc", 1)]
        wait_for(lambda: cases(db) == expected)
        assert engine.restarts == 1 and engine.alive()
    finally:
        pub.close()
        ingest.stop()
        engine.stop()
        assert not engine.alive()
        db.close()
        influx.close()
