"""The two tiers: a test that needs a server is marked `servers` (tests/conftest.py), and a
test without the mark cannot start one, so `pytest -m "not servers"` needs none."""

from __future__ import annotations

import subprocess
import sys

import pytest

from linli.localservers import LocalServer


def test_a_test_on_the_broker_is_marked_servers(
    request: pytest.FixtureRequest, broker: LocalServer
):
    assert broker.port > 0
    assert request.node.get_closest_marker("servers") is not None


def test_a_case_store_test_is_marked_servers_on_postgresql_only(
    request: pytest.FixtureRequest, store_url: str
):
    marked = request.node.get_closest_marker("servers") is not None
    assert marked == store_url.startswith("postgresql")


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/sbin/mosquitto", "-h"],
        ["influxd", "version"],
        ["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/initdb", "--version"],
        ["/usr/bin/chromium", "--version"],
        [sys.executable, "-m", "linli", "--help"],
    ],
    ids=["mosquitto", "influxd", "initdb as postgres", "chromium", "python -m linli"],
)
def test_an_unmarked_test_cannot_start_a_server_but_may_start_other_programs(argv: list[str]):
    with pytest.raises(RuntimeError, match="is not marked `servers`"):
        subprocess.run(argv, capture_output=True, timeout=30)
    done = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    assert done.stdout.strip() == "42"
