"""The intake's request identity: what makes the same complaint twice (pure, no server)."""

from __future__ import annotations

import dataclasses

from linli.api.intake import Intake, fingerprint
from linli.rules.reading import SensorKind


def test_the_same_words_about_another_window_are_another_request():
    said = Intake(SensorKind.NOISE, "楼下很吵", "phone", site="hj-b1")
    assert fingerprint(said, "grid:g1", 0, 60_000) == fingerprint(said, "grid:g1", 0, 60_000)
    assert fingerprint(said, "grid:g1", 0, 60_000) != fingerprint(said, "grid:g1", 60_000, 120_000)
    assert fingerprint(said, "grid:g1", 0, 60_000) != fingerprint(
        dataclasses.replace(said, text="楼下很吵!"), "grid:g1", 0, 60_000
    )


def test_an_order_sent_again_a_minute_later_is_the_same_request_in_its_partition_only():
    order = Intake(SensorKind.NOISE, "楼下很吵", "12345", site="hj-b1", external_id="HZ-1")
    # "now" (no window given): the minute it fell in does not make it another order
    assert fingerprint(order, "grid:g1", 0, 60_000) == fingerprint(
        order, "grid:g1", 60_000, 120_000
    )
    assert fingerprint(order, "grid:g1", 0, 60_000) != fingerprint(order, "grid:g2", 0, 60_000)
