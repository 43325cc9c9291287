"""No missed case after kill -9: the engine replays from InfluxDB what it had not judged.

A batch is acknowledged once durable, before the engine judges it. A subprocess killed
with SIGKILL cannot be made to die deterministically inside that window (it lasts
microseconds to milliseconds), so the crash is simulated exactly where it would hit:
the readings are stored and acknowledged, and what the writer hands to the engine is
dropped (`lost`), as a killed process loses its engine queue. A new engine on the same
store must then judge them from InfluxDB, and judging them again (the broker's
redelivery of what was written but not acknowledged, or lost rule memory) adds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linli.influx.history import InfluxHistory
from linli.ingestion import Ingest
from linli.rules.engine.engine import Engine
from linli.rules.reading import DeviceStatus, Reading
from linli.store import Database
from linli.store.tables import rule_state
from tests.helpers import WAIT_S, Publisher, wait_for
from tests.test_cases_e2e import MIN, NIGHT, POLICY, on_test_servers, yesterday

DAYS = 3 * 86_400
H = 60 * MIN


def summary(db: Database) -> list[tuple[Any, ...]]:
    with db.cases() as tx:
        found, _ = tx.list_cases()
        out = []
        for c in found:
            assert c.id is not None
            d = tx.detail(c.id)
            ends = [o.end_ms for o in d.occurrences]
            out.append((c.site, c.rule, c.state.value, c.occurrences, ends, len(d.timeline)))
        return out


def test_readings_acknowledged_but_not_judged_are_replayed_once(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings, db, influx = on_test_servers(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    topic = f"{topic_prefix}/n-01/telemetry"
    now = NIGHT[-1]["ts"] + MIN
    try:
        # 1. linli judges the first 5 readings (no breach yet: 75 % of 10 min is 8)
        engine = Engine(db, POLICY, clock=lambda: now).start()
        ingest = Ingest(settings, db, db, influx, on_stored=engine.submit)
        ingest.start(wait_subscribed_s=WAIT_S)
        pub.send(topic, {"batch": NIGHT[:5]})
        wait_for(lambda: engine.judged == 5)
        ingest.stop()
        engine.stop()
        # 2. the next 10 (the breach opens at the 8th) are stored and acknowledged, then
        #    linli dies before judging them: its engine queue is gone
        lost: list[Reading | DeviceStatus] = []
        ingest = Ingest(settings, db, db, influx, on_stored=lost.extend)
        ingest.start(wait_subscribed_s=WAIT_S)
        pub.send(topic, {"batch": NIGHT[5:15]})
        wait_for(lambda: len(lost) == 10 and ingest.source.acked == 1)
        ingest.stop()
        assert summary(db) == []
        # 3. restarted: the engine replays the 10 from InfluxDB before anything else
        history = InfluxHistory(influx)
        engine = Engine(db, POLICY, clock=lambda: now, history=history, replay_s=DAYS)
        assert engine.replay(now) == 10
        expected = [("hj-b1", "noise_leq", "open", 1, [yesterday("22:08")], 1)]
        assert summary(db) == expected
        with db.cases() as tx:
            (case,), _ = tx.list_cases()
            assert case.id is not None
            (ev,) = tx.detail(case.id).evidence
        assert (ev.measured, ev.limit_value) == (56.0, 50.0)
        assert [s["seq"] for s in ev.snapshot] == list(range(6, 16))  # in memory at once
        # 4. the broker redelivers what was written but not acknowledged: judged once
        engine.process(lost, now)
        assert summary(db) == expected
        # 5. a second restart replays nothing: the watermark moved with the rule state
        assert Engine(db, POLICY, history=history, replay_s=DAYS).replay(now) == 0
        # 6. even with the rules' memory lost, the same breach window adds nothing
        with db.cases() as tx:
            tx.conn.execute(rule_state.delete())
        assert Engine(db, POLICY, history=history, replay_s=DAYS).replay(now) == 15
        assert summary(db) == expected
        # 7. once late data has had its time, the evidence span is read back from InfluxDB
        engine.tick(now + 2 * H)
        with db.cases() as tx:
            (ev,) = tx.detail(case.id).evidence
        assert [s["seq"] for s in ev.snapshot] == list(range(1, 16))
    finally:
        pub.close()
        db.close()
        influx.close()
