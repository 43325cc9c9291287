"""An evidence snapshot keeps at most so many readings: the episode's two ends beyond that."""

from __future__ import annotations

import pytest

from linli.rules.engine.evidence import MAX_SNAPSHOT_READINGS, capped
from linli.rules.reading import Reading, SensorKind


def readings(n: int) -> list[Reading]:
    return [Reading("n-01", SensorKind.NOISE, 1000 * i, i, 1, {"laeq": 50.0}) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "most", "kept"),
    [
        pytest.param(4, 4, [0, 1, 2, 3], id="as many as the cap → all"),
        pytest.param(6, 4, [0, 1, 4, 5], id="more → the first and the last half"),
        pytest.param(6, 3, [0, 4, 5], id="an odd cap → one more of the end"),
    ],
)
def test_capped(n, most, kept):
    assert [r.seq for r in capped(readings(n), most)] == kept


def test_a_ktv_nights_snapshot_is_capped_to_its_two_ends():
    """3 hours of 1-s readings with 30 min either side: 14,400, kept 2,000 + 2,000."""
    kept = capped(readings(14_400))
    assert (len(kept), MAX_SNAPSHOT_READINGS) == (4000, 4000)
    assert (kept[1999].seq, kept[2000].seq, kept[-1].seq) == (1999, 12_400, 14_399)
