"""What the spool set aside is never silent: counted on `/health`, listed for staff."""

from __future__ import annotations

from fastapi.testclient import TestClient

from linli.ingest.spool import Spool
from linli.settings import Settings
from tests.api.conftest import Headers


def test_an_empty_spool_is_ok_on_health(client: TestClient, tokens: dict[str, Headers]) -> None:
    body = client.get("/api/v1/health", headers=tokens["staff"]).json()
    assert body["spool"]["ok"] is True
    assert (body["spool"]["waiting"], body["spool"]["failed"]) == (0, 0)


def test_a_set_aside_batch_is_counted_on_health_and_listed(
    client: TestClient, tokens: dict[str, Headers], settings: Settings
) -> None:
    spool = Spool(settings.spool_dir, 1 << 20)
    spool.append(b"noise,sensor=n-01 laeq=50.0 1\n")  # waiting for InfluxDB
    spool.set_aside(spool.append(b"rejected,reason=conflict,sensor=n-01 count=1i 2\nx y 3\n"))
    response = client.get("/api/v1/health", headers=tokens["admin"])
    assert response.status_code == 200  # ingest goes on: the overall status does not change
    assert response.json()["spool"] == {
        "ok": False,
        "detail": f"1 batches waiting for InfluxDB, 1 set aside in {settings.spool_dir / 'failed'}",
        "waiting": 1,
        "failed": 1,
    }
    (item,) = client.get("/api/v1/spool/failed", headers=tokens["staff"]).json()
    assert (item["name"], item["bytes"], item["lines"]) == ("000000000002.lp", 54, 2)
    assert item["head"] == "rejected,reason=conflict,sensor=n-01 count=1i 2\nx y 3\n"


def test_only_staff_and_admin_see_the_failed_batches(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    codes = {
        who: client.get("/api/v1/spool/failed", headers=tokens[who]).status_code
        for who in ("admin", "staff", "grid_worker", "merchant")
    }
    assert codes == {"admin": 200, "staff": 200, "grid_worker": 403, "merchant": 403}
