"""The intake's request identity: what makes the same complaint twice (pure, no server)."""

from __future__ import annotations

import dataclasses

from linli.api.intake import Intake, fingerprint
from linli.rules.reading import SensorKind


def test_the_same_words_about_another_window_are_another_request():
    said = Intake(SensorKind.NOISE, "楼下很吵", "phone", site="hj-b1")
    assert fingerprint(said, 0, 60_000) == fingerprint(said, 0, 60_000)
    assert fingerprint(said, 0, 60_000) != fingerprint(said, 60_000, 120_000)
    assert fingerprint(said, 0, 60_000) != fingerprint(
        dataclasses.replace(said, text="楼下很吵!"), 0, 60_000
    )
