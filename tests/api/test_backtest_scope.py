"""A backtest reads only the caller's sensors, and its limit counts only theirs.

Before, a merchant's backtest read every site's readings in the range and filtered
afterwards; with another site's 1.1 M points it timed out (503), and the 1,000,000-point
limit applied before the scope could cut the caller's own readings.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient, ResultSeries
from tests.api.conftest import Headers
from tests.rules.conftest import local_ms

MIN = 60_000


class Recording(InfluxClient):
    """An InfluxClient that keeps every InfluxQL it was asked."""

    def __init__(self, url: str, db: str) -> None:
        super().__init__(url, db)
        self.asked: list[str] = []

    def query(self, q: str, *, epoch: str = "ms", db: str | None = None) -> list[ResultSeries]:
        """Record, then ask."""
        self.asked.append(q)
        return super().query(q, epoch=epoch, db=db)


def _noise(sensor: str, site: str, grid: str, t0: int, n: int) -> str:
    return "\n".join(
        f"noise,sensor={sensor},site={site},grid={grid},zone=2 laeq=70.0,l90={40 + i * 0.1},"
        f"period_s=60i,seq={i}i {t0 + i * MIN}"
        for i in range(n)
    )


def test_a_merchants_backtest_names_only_its_sensors_and_its_limit_counts_only_theirs(
    make_client: Callable[..., TestClient],
    tokens: dict[str, Headers],
    influx: InfluxClient,
    influx_url: str,
    influx_db: str,
) -> None:
    t0 = local_ms("23:00")
    own = _noise("n-rest-01", "rest-1", "g1", t0, 10)
    other = _noise("n-ktv-01", "ktv-1", "g2", t0, 50)  # another site: 5 times more points
    influx.write(f"{own}\n{other}".encode())
    recording = Recording(influx_url, influx_db)
    client = make_client(influx_client=recording, max_backtest_points=20)
    url = f"/api/v1/rules/noise_leq/backtest?from={t0 - MIN}&to={t0 + 60 * MIN}"

    response = client.get(url, headers=tokens["merchant"])
    assert response.status_code == 200, response.text
    assert [(f["site"], f["sensor"]) for f in response.json()] == [("rest-1", "n-rest-01")]
    asked = recording.asked
    assert len(asked) == 4  # count and read, noise and fume
    assert all("n-ktv-01" not in q and "n-hj-01" not in q for q in asked)
    assert sum("'n-rest-01'" in q for q in asked) == 2
    assert sum("'f-rest-01'" in q for q in asked) == 2

    # staff's whole community holds 60 points: over the limit, said, not cut
    whole = client.get(url, headers=tokens["staff"])
    assert whole.status_code == 422
    assert whole.json()["detail"] == (
        "60 noise readings of 3 sensor(s) in that range; at most 20 can be replayed: narrow "
        "from/to or name a site"
    )
    one_site = client.get(f"{url}&site=ktv-1", headers=tokens["staff"])
    assert one_site.status_code == 422  # ktv-1's own 50
    recording.close()
