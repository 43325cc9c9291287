"""Session fixtures: a real mosquitto and a real influxd on free loopback ports.

Each test gets its own topic prefix and its own database, so tests share the two
servers without seeing each other's data. Servers are stopped by the PID we started.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from linli.localservers import LocalServer, influxd, mosquitto

_counter = itertools.count()


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def broker(servers_dir: Path) -> Iterator[LocalServer]:
    server = mosquitto(servers_dir / "mosquitto").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influx_server(servers_dir: Path) -> Iterator[LocalServer]:
    server = influxd(servers_dir / "influxd").start()
    yield server
    server.stop()


@pytest.fixture
def mqtt_url(broker: LocalServer) -> str:
    return f"mqtt://127.0.0.1:{broker.port}"


@pytest.fixture
def influx_url(influx_server: LocalServer) -> str:
    return f"http://127.0.0.1:{influx_server.port}"


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of this test's own, so tests never read each other's messages."""
    return f"t{next(_counter)}-{uuid.uuid4().hex[:6]}/v1"


@pytest.fixture
def influx_db(influx_url: str) -> Iterator[str]:
    """A database of this test's own; dropped afterwards."""
    name = f"test_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    yield name
    httpx.post(f"{influx_url}/query", data={"q": f'DROP DATABASE "{name}"'}, timeout=10)
