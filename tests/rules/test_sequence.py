"""seq accounting: duplicates, gaps confirmed after the grace period, late fills, restarts."""

from __future__ import annotations

import pytest

from linli.rules.sequence import SeqTracker, Verdict

CASES = [
    pytest.param([(1, 10), (2, 20), (3, 30)], [0, 0, 0], (0, 0), id="rising without gaps"),
    pytest.param([(1, 10), (2, 20), (2, 20)], [0, 0, 1], (0, 1), id="same seq and ts → duplicate"),
    pytest.param([(1, 10), (5, 50)], [0, 0], (3, 0), id="1 then 5 → 3 lost"),
    pytest.param(
        [(1, 10), (4, 40), (2, 20), (3, 30)],
        [0, 0, 2, 2],
        (0, 0),
        id="a backfill fills the gap → nothing lost",
    ),
    pytest.param(
        [(900, 10), (0, 20), (1, 30)],
        [0, 0, 0],
        (0, 0),
        id="lower seq with newer ts → counter restarted",
    ),
]


@pytest.mark.parametrize(("seen", "verdicts", "harvest"), CASES)
def test_seq_accounting(seen, verdicts, harvest):
    tracker = SeqTracker(grace_ms=0)
    assert [tracker.observe("n-01", seq, ts, now_ms=ts) for seq, ts in seen] == [
        (Verdict.NEW, Verdict.DUPLICATE, Verdict.LATE_FILL)[v] for v in verdicts
    ]
    assert tracker.harvest(now_ms=1000).get("n-01", (0, 0)) == harvest


def test_gap_waits_for_the_grace_period():
    tracker = SeqTracker(grace_ms=60_000)
    tracker.observe("n-01", 1, 0, now_ms=0)
    tracker.observe("n-01", 3, 0, now_ms=1_000)
    assert tracker.harvest(now_ms=60_999) == {}
    assert tracker.harvest(now_ms=61_000) == {"n-01": (1, 0)}
    assert tracker.harvest(now_ms=200_000) == {}


def test_an_owned_sensor_is_accounted_from_its_newest_stored_seq_and_others_not() -> None:
    tracker = SeqTracker(grace_ms=0, owned_only=True)
    tracker.own("n-01", (10, 1000))
    tracker.observe("n-01", 12, 3000, 0)  # 11 lost across the hand-over
    tracker.observe("n-02", 1, 1000, 0)
    tracker.observe("n-02", 5, 2000, 0)  # not owned: not this worker's to account
    assert tracker.harvest(1) == {"n-01": (1, 0)}
    tracker.observe("n-01", 15, 4000, 0)
    assert tracker.harvest(1) == {"n-01": (2, 0)}
    tracker.observe("n-01", 18, 5000, 0)
    tracker.harvest(-1)  # 16, 17 still in their grace period
    assert tracker.disown("n-01") == 0  # given up: not counted by anyone
