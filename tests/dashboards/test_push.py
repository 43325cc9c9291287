"""`linli dashboards push` against a local server answering like Grafana's HTTP API.

Grafana cannot run here; the server records every request and keeps datasources,
folders and dashboards in memory with the response shapes Grafana documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from linli.cli import main
from linli.dashboards.build import build_all
from linli.localservers import free_port

TOKEN = "glsa_good"


@dataclass
class FakeGrafana:
    """State and the request log of the fake server."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests if m != "GET"]


class _Handler(BaseHTTPRequestHandler):
    grafana: FakeGrafana

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body: Any = json.loads(self.rfile.read(length)) if length else None
        g, path, method = self.grafana, self.path, self.command
        g.requests.append((method, path, body))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(401, {"message": "Invalid API key", "traceID": ""})
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "datasources", "uid"] and method == "GET":
            ds = g.datasources.get(parts[3])
            return (
                self._reply(200, ds)
                if ds
                else self._reply(404, {"message": "Data source not found"})
            )
        if parts == ["api", "datasources"] and method == "POST":
            stored = self._store_datasource(body, 1)
            return self._reply(
                200,
                {
                    "datasource": stored,
                    "id": 1,
                    "message": "Datasource added",
                    "name": stored["name"],
                },
            )
        if parts[:3] == ["api", "datasources", "uid"] and method == "PUT":
            stored = self._store_datasource(body, g.datasources[parts[3]]["id"])
            return self._reply(
                200,
                {
                    "datasource": stored,
                    "id": stored["id"],
                    "message": "Datasource updated",
                    "name": stored["name"],
                },
            )
        if parts[:2] == ["api", "folders"] and len(parts) == 3 and method == "GET":
            folder = g.folders.get(parts[2])
            return (
                self._reply(200, folder)
                if folder
                else self._reply(404, {"message": "folder not found"})
            )
        if parts == ["api", "folders"] and method == "POST":
            folder = {
                "id": 7,
                "uid": body["uid"],
                "title": body["title"],
                "version": 1,
                "url": f"/dashboards/f/{body['uid']}/",
            }
            g.folders[body["uid"]] = folder
            return self._reply(200, folder)
        if parts[:3] == ["api", "dashboards", "uid"] and method == "GET":
            saved = g.dashboards.get(parts[3])
            return (
                self._reply(200, saved)
                if saved
                else self._reply(404, {"message": "Dashboard not found"})
            )
        if parts == ["api", "dashboards", "db"] and method == "POST":
            board = body["dashboard"]
            old = g.dashboards.get(board["uid"])
            if old and not body.get("overwrite"):
                return self._reply(
                    412,
                    {
                        "message": "The dashboard has been changed by someone else",
                        "status": "version-mismatch",
                    },
                )
            version = old["dashboard"]["version"] + 1 if old else 1
            number = old["dashboard"]["id"] if old else len(g.dashboards) + 1
            g.dashboards[board["uid"]] = {
                "dashboard": {**board, "id": number, "version": version},
                "meta": {"folderUid": body["folderUid"], "version": version, "slug": board["uid"]},
            }
            return self._reply(
                200,
                {
                    "id": number,
                    "uid": board["uid"],
                    "status": "success",
                    "version": version,
                    "url": f"/d/{board['uid']}",
                },
            )
        return self._reply(404, {"message": "Not found"})

    def _store_datasource(self, body: dict[str, Any], number: int) -> dict[str, Any]:
        stored = {k: v for k, v in body.items() if k != "secureJsonData"}
        stored.update(id=number, orgId=1, readOnly=False, version=1)
        stored["secureJsonFields"] = dict.fromkeys(body.get("secureJsonData", {}), True)
        self.grafana.datasources[body["uid"]] = stored
        return stored

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    state = FakeGrafana()
    handler = type("Handler", (_Handler,), {"grafana": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for name in (
        "GRAFANA_URL",
        "GRAFANA_TOKEN",
        "INFLUX_URL",
        "INFLUX_DB",
        "INFLUX_USER",
        "INFLUX_PASSWORD",
        "INFLUX_TOKEN",
        "TZ",
    ):
        monkeypatch.delenv(f"LINLI_{name}", raising=False)
    monkeypatch.setenv("LINLI_INFLUX_URL", "http://influxdb:8086")


BOARD_UIDS = ["linli-overview", "linli-noise", "linli-fume", "linli-devices"]


def test_first_push_creates_everything_through_the_documented_api(grafana, capsys):
    url, g = grafana
    assert main(["dashboards", "push", "--grafana-url", url, "--token", TOKEN]) == 0
    assert [(m, p) for m, p, _ in g.requests] == [
        ("GET", "/api/datasources/uid/linli-influxdb"),
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/linli"),
        ("POST", "/api/folders"),
        *[
            x
            for uid in BOARD_UIDS
            for x in (("GET", f"/api/dashboards/uid/{uid}"), ("POST", "/api/dashboards/db"))
        ],
    ]
    bodies = [b for m, _, b in g.requests if m == "POST"]
    assert bodies[0] == {
        "uid": "linli-influxdb",
        "name": "linli",
        "type": "influxdb",
        "access": "proxy",
        "url": "http://influxdb:8086",
        "database": "linli",
        "isDefault": False,
        "basicAuth": False,
        "jsonData": {"dbName": "linli", "httpMode": "POST", "version": "InfluxQL"},
    }
    assert bodies[1] == {"title": "linli", "uid": "linli"}
    boards = build_all()
    for body, name in zip(bodies[2:], ["overview", "noise", "fume", "devices"], strict=True):
        assert body == {
            "dashboard": {**boards[name], "id": None},
            "folderUid": "linli",
            "overwrite": True,
            "message": "linli dashboards push",
        }
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "datasource linli (linli-influxdb): created"
    assert out[1:3] == ["folder linli: created", "dashboard 社区总览 (linli-overview): created"]


def test_second_push_changes_nothing_and_an_edited_dashboard_is_restored(grafana, capsys):
    url, g = grafana
    argv = ["dashboards", "push", "--grafana-url", url, "--token", TOKEN]
    assert main(argv) == 0
    first = len(g.requests)
    assert main(argv) == 0
    second = g.requests[first:]
    assert [m for m, _, _ in second] == ["GET"] * 6  # datasource, folder, four dashboards
    assert capsys.readouterr().out.splitlines()[-6:] == [
        "datasource linli (linli-influxdb): unchanged",
        "folder linli: unchanged",
        "dashboard 社区总览 (linli-overview): unchanged",
        "dashboard 噪声 (linli-noise): unchanged",
        "dashboard 油烟 (linli-fume): unchanged",
        "dashboard 设备 (linli-devices): unchanged",
    ]
    # someone edits a panel in the UI and changes the datasource URL: the next push restores both
    g.dashboards["linli-noise"]["dashboard"]["panels"][1]["title"] = "edited"
    g.datasources["linli-influxdb"]["url"] = "http://elsewhere:8086"
    mark = len(g.requests)
    assert main(argv) == 0
    assert g.writes()[-2:] == [
        ("PUT", "/api/datasources/uid/linli-influxdb"),
        ("POST", "/api/dashboards/db"),
    ]
    assert len([r for r in g.requests[mark:] if r[0] != "GET"]) == 2
    assert g.dashboards["linli-noise"]["dashboard"]["version"] == 2
    assert g.datasources["linli-influxdb"]["url"] == "http://influxdb:8086"


def test_influx_credentials_go_to_secure_json_data(grafana, monkeypatch):
    url, g = grafana
    monkeypatch.setenv("LINLI_INFLUX_USER", "grafana")
    monkeypatch.setenv("LINLI_INFLUX_PASSWORD", "s3cret")
    monkeypatch.setenv("LINLI_GRAFANA_URL", url)
    monkeypatch.setenv("LINLI_GRAFANA_TOKEN", TOKEN)
    assert main(["dashboards", "push"]) == 0
    body = g.requests[1][2]
    assert (body["user"], body["secureJsonData"]) == ("grafana", {"password": "s3cret"})
    assert g.datasources["linli-influxdb"]["secureJsonFields"] == {"password": True}
    mark = len(g.requests)
    assert main(["dashboards", "push"]) == 0
    assert [m for m, _, _ in g.requests[mark:]] == ["GET"] * 6


def test_wrong_token_exits_2_with_one_clear_line(grafana, capsys):
    url, g = grafana
    assert main(["dashboards", "push", "--grafana-url", url, "--token", "wrong"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"linli: Grafana at {url} refused the token (401 Unauthorized): check --token or "
        "LINLI_GRAFANA_TOKEN (a service account token with the Admin role)\n"
    )
    assert g.writes() == []


def test_wrong_url_exits_2_with_one_clear_line(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["dashboards", "push", "--grafana-url", url, "--token", TOKEN]) == 2
    assert capsys.readouterr().err == f"linli: cannot reach Grafana at {url}: connection refused\n"


def test_missing_url_or_token_exits_2(capsys):
    assert main(["dashboards", "push"]) == 2
    assert "--grafana-url" in capsys.readouterr().err
