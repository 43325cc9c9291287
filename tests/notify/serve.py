"""`linli serve` as a subprocess on the test servers, for the notifier's end-to-end tests.

The process is started in a session of its own, so `kill9` ends it and the engine's
child together (a power failure of the whole service), by the group of the PID started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from linli.localservers import free_port
from tests.helpers import Publisher, wait_for

TOKEN = "admin-e2e-token-of-32-characters"


class Serve:
    """One `linli serve --config FILE`, restartable on the same store, spool and session."""

    def __init__(
        self,
        tmp: Path,
        config: Path,
        *,
        mqtt_url: str,
        influx_url: str,
        influx_db: str,
        topic_prefix: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.log_path = tmp / "serve.log"
        self.port = free_port()
        self.topic_prefix = topic_prefix
        base = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        self.env = {
            **base,
            "LINLI_MQTT_URL": mqtt_url,
            "LINLI_INFLUX_URL": influx_url,
            "LINLI_INFLUX_DB": influx_db,
            "LINLI_DB_URL": f"sqlite:///{tmp}/linli.db",
            "LINLI_API_ADDR": f"127.0.0.1:{self.port}",
            "LINLI_PUBLIC_URL": "http://board.example",
            "LINLI_ADMIN_TOKEN": TOKEN,
            "LINLI_TOPIC_PREFIX": topic_prefix,
            "LINLI_SPOOL_DIR": str(tmp / "spool"),
            "LINLI_MQTT_CLIENT_ID": f"linli-{topic_prefix.split('/')[0]}",
            "LINLI_BATCH_MAX_AGE_MS": "50",
            "LINLI_ENGINE_TICK_S": "0.5",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api/v1",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )

    def start(self) -> Serve:
        """Start and wait until the API answers with the broker connected."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "linli", "serve", "--config", str(self.config)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            try:
                return self.http.get("/health").json()["broker"]["ok"] is True
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_for(up, every_s=0.1)
        return self

    def ingesting(self, pub: Publisher, sensor: str, influx: Any) -> None:
        """Until ingest's subscription is in place a message is not kept for it: send one
        reading again until it is stored."""
        from tests.helpers import count

        ts = int(time.time() * 1000) - 3_600_000
        body = {"ts": ts, "seq": 1, "period_s": 60, "metrics": {"laeq": 40.0}}
        where = f"WHERE \"sensor\" = '{sensor}'"

        def stored() -> bool:
            pub.send(f"{self.topic_prefix}/{sensor}/telemetry", body)
            return wait_ok(lambda: count(influx, "noise", "laeq", where) >= 1)

        wait_for(stored, every_s=0.1)

    def kill9(self) -> None:
        """SIGKILL to the service and its engine process at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        """Stop and close the HTTP client."""
        self.stop()
        self.http.close()

    def log(self) -> str:
        """What the service wrote so far."""
        return self.log_path.read_text(errors="replace")

    # -- the API ---------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path as admin; the JSON."""
        response = self.http.get(path, params=params)
        assert response.status_code in (200, 503), response.text
        return response.json()

    def act(self, case_id: int, action: str, note: str = "") -> Any:
        """POST an action on a case as admin."""
        response = self.http.post(
            f"/cases/{case_id}/actions", json={"action": action, "note": note}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self, case_id: int) -> list[dict[str, Any]]:
        """GET /cases/{id}/deliveries."""
        found: list[dict[str, Any]] = self.get(f"/cases/{case_id}/deliveries")
        return found

    def cases(self) -> list[dict[str, Any]]:
        """GET /cases (every one)."""
        doc = self.get("/cases", limit=1000)
        return doc["items"] if isinstance(doc, dict) else doc

    def tells(self, case_id: int) -> list[str]:
        """The notes of the case's `tell` timeline entries, in order."""
        timeline = self.get(f"/cases/{case_id}")["timeline"]
        return [e["note"] for e in timeline if e["action"] == "tell"]


def wait_ok(check: Any, timeout_s: float = 1.0) -> bool:
    """`check` becomes true within `timeout_s` (False rather than a failure)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
