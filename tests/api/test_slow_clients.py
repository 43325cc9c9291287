"""Half-sent requests are closed after LINLI_API_REQUEST_TIMEOUT_S (api/slowclients.py).

Without it 3,000 half-sent requests could be held open for 70 s: uvicorn's keep-alive timeout
does not cover a request whose head never finishes. Here raw sockets send nothing, half
a head, or half a body, and see the connection closed after the timeout, while normal
requests are answered meanwhile; uvicorn is configured as `linli serve` configures it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.localservers import free_port
from linli.settings import Settings
from linli.store import Database
from linli.wiring import api_config, server_config
from tests.api.conftest import Headers

TIMEOUT_S = 1.0
SLACK_S = 60.0  # the closes are checked within it: generous on a loaded machine


@pytest.fixture
def port(settings: Settings, registry: Database, influx: InfluxClient) -> Iterator[int]:
    settings = settings.model_copy(
        update={"api_request_timeout_s": TIMEOUT_S, "api_timeout_keep_alive_s": 5.0}
    )
    port = free_port()
    app = create_app(api_config(settings), registry, influx, lambda: True)
    server = uvicorn.Server(server_config(app, settings, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a loaded machine
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def _open(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def _get(port: int, path: str, headers: Headers | None = None) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with _open(port, (head + "\r\n").encode()) as sock:
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _status(sock: socket.socket) -> bytes:
    """Read one whole answer (head and Content-Length body) and give its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head.split()[1]


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """When the server closed `sock` (recv gives b''), or None if it did not in time."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass  # an answer (none is expected): read on until the close
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_half_sent_requests_are_closed_and_normal_ones_answered(
    port: int, tokens: dict[str, Headers]
) -> None:
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"  # the blank line never comes
    post = (
        b"POST /api/v1/grids HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: {tokens['admin']['Authorization']}\r\n".encode()
        + b'Content-Length: 100\r\n\r\n{"id": "g9", '  # 13 of the 100 bytes
    )
    slow = [_open(port, b"") for _ in range(20)]  # connect, send nothing
    slow += [_open(port, head) for _ in range(100)]
    slow += [_open(port, post) for _ in range(20)]
    started = time.monotonic()
    # meanwhile a normal request is answered at once
    assert _get(port, "/api/v1/health").split()[1] == b"200"
    assert _get(port, "/api/v1/grids", tokens["staff"]).split()[1] == b"200"
    deadline = started + TIMEOUT_S + SLACK_S
    closed = [_closed_within(s, max(0.01, deadline - time.monotonic())) for s in slow]
    assert all(c is not None for c in closed), f"{closed.count(None)} of {len(slow)} still open"
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    assert time.monotonic() - started >= TIMEOUT_S * 0.9  # not before the timeout
    for s in slow:
        s.close()
    # the half-sent grid was not created, and the service answers as before
    body = _get(port, "/api/v1/grids/g9", tokens["admin"])
    assert body.split()[1] == b"404"


def test_a_request_slower_than_keep_alive_but_in_time_is_answered(port: int) -> None:
    """Bytes trickling in within the timeout are a client on a slow link, not an attack."""
    with _open(port, b"GET /api/v1/health HTTP/1.1\r\n") as sock:
        time.sleep(TIMEOUT_S / 2)
        sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        assert _status(sock) == b"200"


def test_each_request_of_a_kept_alive_connection_has_its_own_deadline(port: int) -> None:
    with _open(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n") as sock:
        assert _status(sock) == b"200"
        time.sleep(TIMEOUT_S * 0.7)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(sock) == b"200"  # 0.7 + 0.7 s: more than one timeout
        time.sleep(TIMEOUT_S * 0.7)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # and half of a third
        assert _closed_within(sock, TIMEOUT_S + 4) is not None
