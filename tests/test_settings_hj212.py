"""LINLI_HJ212_ADDR and LINLI_HJ212_IDLE_S (CONTRACT §8): read from the environment,
checked where read, so a wrong address stops the start instead of a listener."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from linli.settings import Settings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, None, id="unset → no listener"),
        pytest.param({"LINLI_HJ212_ADDR": ""}, None, id="empty → no listener"),
        pytest.param({"LINLI_HJ212_ADDR": "0.0.0.0:9212"}, ("0.0.0.0", 9212), id="host:port"),
        pytest.param(
            {"LINLI_HJ212_ADDR": ":9212"}, ("0.0.0.0", 9212), id=":port → every interface"
        ),
        pytest.param({"LINLI_HJ212_ADDR": "127.0.0.1:0"}, ("127.0.0.1", 0), id="port 0 → any free"),
    ],
)
def test_the_listener_s_address(monkeypatch, env, expected):
    monkeypatch.delenv("LINLI_HJ212_ADDR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().hj212_host_port() == expected


@pytest.mark.parametrize(
    "value",
    ["9212", "host:", "host:port", "host:65536"],
    ids=["no host:", "no port", "a word", "too big"],
)
def test_a_wrong_address_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("LINLI_HJ212_ADDR", value)
    with pytest.raises(ValidationError, match="is not host:port"):
        Settings()


def test_idle_connections_close_after_ten_minutes_by_default(monkeypatch):
    monkeypatch.delenv("LINLI_HJ212_IDLE_S", raising=False)
    assert Settings().hj212_idle_s == 600.0
    monkeypatch.setenv("LINLI_HJ212_IDLE_S", "0")
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings()
