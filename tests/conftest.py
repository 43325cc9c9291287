"""Session fixtures: a real mosquitto and a real influxd on free loopback ports.

Each test gets its own topic prefix and its own database, so tests share the two
servers without seeing each other's data. Servers are stopped by the PID we started.

The two tiers: a test that needs a server (mosquitto, influxd, PostgreSQL, Chromium or
a `linli` process of its own) is marked `servers` here, at collection, by what it uses;
`pytest -m "not servers"` runs the rest (the pure and in-process tests) with no server
at all. So that the mark cannot be missing, a test without it that starts one fails,
saying so (`_refuse_servers_unmarked`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from linli.localservers import LocalServer, influxd, mosquitto
from linli.natsservers import NatsCluster, nats_cluster
from tests.pg import Postgres

_counter = itertools.count()
TESTS = Path(__file__).resolve().parent

# Fixtures that start a server, or lean on one that does (each test's closure is checked,
# so a fixture built on these is covered): the broker, influxd, PostgreSQL, Chromium and
# `linli serve` in the browser tests, `linli serve` subprocesses of the notify tests.
SERVER_FIXTURES = frozenset(
    {
        "servers_dir",
        "broker",
        "influx_server",
        "postgres",
        "board",
        "_chrome",
        "_chrome_nojs",
        "nats_servers",
    }
)
# Test modules whose tests start a server or `linli` in their own body, not by a fixture.
SERVER_MODULES = frozenset(
    {"ingest/test_never_lost.py", "ingest/test_hj212_e2e.py", "notify/test_cli.py"}
)
# Programs a test without the mark may not start (and `python -m linli`).
SERVER_PROGRAMS = frozenset(
    {
        "mosquitto",
        "influxd",
        "initdb",
        "pg_ctl",
        "postgres",
        "chromium",
        "chromedriver",
        "linli",
        "nats-server",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `servers` every test whose fixtures start one, that runs on PostgreSQL, or whose
    module starts one itself."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("store_url") == "postgresql"
        path = Path(item.path).resolve()
        module = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
        if names & SERVER_FIXTURES or on_postgres or module in SERVER_MODULES:
            item.add_marker(pytest.mark.servers)


_running: list[pytest.Item] = []  # the test being set up, run or torn down


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def _program(args: Any) -> str | None:
    """The server program `args` starts, if it is one (behind `runuser … --` too)."""
    argv = [args] if isinstance(args, str | os.PathLike) else list(args)
    if len(argv) >= 3 and argv[1] == "-m" and str(argv[2]).split(".")[0] == "linli":
        return "linli"
    if argv and os.path.basename(str(argv[0])) in ("runuser", "sudo") and "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    name = os.path.basename(str(argv[0])) if argv else ""
    return name if name in SERVER_PROGRAMS else None


@pytest.fixture(scope="session", autouse=True)
def _refuse_servers_unmarked() -> Iterator[None]:
    """A test not marked `servers` that starts a server fails, naming the program."""
    real_init = subprocess.Popen.__init__

    def checked_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
        program = _program(args)
        item = _running[-1] if _running else None
        if program and item is not None and item.get_closest_marker("servers") is None:
            raise RuntimeError(
                f"{item.nodeid} starts {program} but is not marked `servers`: add its fixture "
                "to SERVER_FIXTURES in tests/conftest.py (or mark it)"
            )
        real_init(self, args, *rest, **kw)

    subprocess.Popen.__init__ = checked_init  # type: ignore[method-assign]
    yield
    subprocess.Popen.__init__ = real_init  # type: ignore[method-assign]


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


@pytest.fixture(scope="session")
def nats_servers(servers_dir: Path) -> Iterator[NatsCluster]:
    """A 3-node NATS cluster (JetStream, MQTT listeners), ready and warmed. A test that
    kills a node starts it again (`NatsCluster.restart`) before it ends."""
    cluster = nats_cluster(servers_dir / "nats").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def nats_name() -> str:
    """A name of this test's own in NATS (streams, subjects, buckets: cluster/layout.py)."""
    return f"t{next(_counter)}_{uuid.uuid4().hex[:6]}"


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
