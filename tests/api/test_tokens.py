"""Tokens: failed attempts slowed per client, revocation, expiry, the admin's."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from linli.api.throttle import FailedAttempts
from linli.settings import Settings
from linli.store import Database
from linli.wiring import StartupError, api_config
from tests.api.conftest import Headers, bearer


def test_the_eleventh_wrong_token_in_a_minute_is_429_with_retry_after(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    codes = [
        client.get("/api/v1/sites", headers=bearer(f"wrong-{i}")).status_code for i in range(10)
    ]
    assert codes == [401] * 10
    refused = client.get("/api/v1/sites", headers=bearer("wrong-10"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("too many failed tokens from testclient")
    assert client.get("/api/v1/health").status_code in (200, 503)  # no token: not throttled


def test_a_valid_token_from_a_throttled_address_still_works(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    """Everyone behind one NAT is one address: one of them failing must not lock the
    others out. Only failures are throttled."""
    for i in range(12):
        client.get("/api/v1/sites", headers=bearer(f"wrong-{i}"))
    assert client.get("/api/v1/sites", headers=bearer("wrong-x")).status_code == 429
    assert client.get("/api/v1/sites", headers=tokens["staff"]).status_code == 200
    assert client.get("/api/v1/sites", headers=bearer("wrong-y")).status_code == 429
    # the board's sign-in alike: a failure is 429, a valid token signs in
    form = client.get("/board/login").text
    proof = re.search(r'name="csrf" value="([^"]+)"', form)
    assert proof
    refused = client.post(
        "/board/login", data={"token": "wrong", "csrf": proof.group(1)}, follow_redirects=False
    )
    assert refused.status_code == 429
    staff = tokens["staff"]["Authorization"].removeprefix("Bearer ")
    proof = re.search(r'name="csrf" value="([^"]+)"', refused.text)  # the form again
    assert proof
    answer = client.post(
        "/board/login", data={"token": staff, "csrf": proof.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/board/overview"
    # and Open311's api_key
    services = client.get("/open311/v2/services.json")
    assert services.status_code == 200
    body = {"service_code": "noise", "description": "x", "address_string": "天城路101号"}
    wrong = client.post("/open311/v2/requests.json", data={**body, "api_key": "wrong"})
    assert wrong.status_code == 429
    right = client.post(
        "/open311/v2/requests.json", data={**body, "api_key": staff, "lat": "1", "long": "1"}
    )
    assert right.status_code != 429, right.text


def test_failures_leave_the_window() -> None:
    now = [0.0]
    attempts = FailedAttempts(3, 60.0, max_clients=2, clock=lambda: now[0])
    for _ in range(3):
        attempts.failed("a")
    assert attempts.retry_after_s("a") == 60
    now[0] = 30.5
    assert attempts.retry_after_s("a") == 30
    assert attempts.retry_after_s("b") is None
    now[0] = 60.0
    assert attempts.retry_after_s("a") is None
    attempts.failed("b")
    attempts.failed("c")
    attempts.failed("d")  # only two clients remembered: the least recent forgotten
    assert attempts.retry_after_s("a") is None


def test_a_revoked_token_is_refused_from_the_next_request_on(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    issued = client.post(
        "/api/v1/tokens", headers=tokens["admin"], json={"role": "staff", "note": "temp"}
    ).json()
    assert client.get("/api/v1/sites", headers=bearer(issued["token"])).status_code == 200
    assert (
        client.delete(f"/api/v1/tokens/{issued['id']}", headers=tokens["staff"]).status_code == 403
    )
    gone = client.delete(f"/api/v1/tokens/{issued['id']}", headers=tokens["admin"])
    assert gone.status_code == 204
    assert client.get("/api/v1/sites", headers=bearer(issued["token"])).status_code == 401
    again = client.delete(f"/api/v1/tokens/{issued['id']}", headers=tokens["admin"])
    assert (again.status_code, again.json()) == (
        404,
        {"detail": f"token {issued['id']} does not exist"},
    )


def test_a_token_expires(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    issued = client.post(
        "/api/v1/tokens", headers=tokens["admin"], json={"role": "staff", "expires_in_s": 60}
    ).json()
    assert issued["expires_ms"] == issued["created_ms"] + 60_000
    assert registry.resolve_token(issued["token"], now_ms=issued["created_ms"]) is not None
    assert registry.resolve_token(issued["token"], now_ms=issued["expires_ms"] - 1) is not None
    assert registry.resolve_token(issued["token"], now_ms=issued["expires_ms"]) is None
    short = client.post(
        "/api/v1/tokens", headers=tokens["admin"], json={"role": "staff", "expires_in_s": 59}
    )
    assert short.status_code == 422


@pytest.mark.parametrize(
    ("token", "outcome"),
    [
        pytest.param("short", "refused", id="5 characters → refused"),
        pytest.param("x" * 15, "refused", id="15 characters → refused"),
        pytest.param("x" * 16, "warned", id="16 characters → a warning"),
        pytest.param("x" * 32, "quiet", id="32 characters → accepted"),
        pytest.param(None, "quiet", id="none → no admin token"),
    ],
)
def test_a_short_admin_token_is_refused_or_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, token: str | None, outcome: str
) -> None:
    settings = Settings(admin_token=token, spool_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        if outcome == "refused":
            with pytest.raises(StartupError, match="LINLI_ADMIN_TOKEN is shorter than 16"):
                api_config(settings)
            return
        api_config(settings)
    warned = [r for r in caplog.records if "LINLI_ADMIN_TOKEN" in r.getMessage()]
    assert len(warned) == (1 if outcome == "warned" else 0)
