"""Session fixtures: a real mosquitto and a real influxd on free loopback ports.

Each test gets its own topic prefix and its own database, so tests share the two
servers without seeing each other's data. Servers are stopped by the PID we started.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from linli.localservers import LocalServer, influxd, mosquitto
from tests.pg import Postgres

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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster for the case-store tests, started once.

    In a temp dir of its own: pytest's are private to root, and the cluster runs as
    `postgres` when the tests run as root.
    """
    root = Path(tempfile.mkdtemp(prefix="linli-pg-"))
    server = Postgres(root / "cluster").start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The case store on SQLite (WAL) and on PostgreSQL: every test using it runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/linli.db"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_db(f"t{next(_counter)}_{uuid.uuid4().hex[:6]}")
