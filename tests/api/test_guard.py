"""The guard (api/guard.py) on a real uvicorn: the token before the body, the body bounded.

What it guards against: an unauthenticated 200 MB body read and parsed before the 401
(linli growing by 600 MB and staying there); 200 MB of invalid JSON answered 422, not
401; a merchant's 15 MB array echoed back, holding `/health` for 10 s.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.localservers import free_port
from linli.settings import Settings
from linli.store import Database
from linli.wiring import api_config
from tests.api.conftest import Headers

MB = 1 << 20


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(settings: Settings, registry: Database, influx: InfluxClient) -> Iterator[int]:
    """linli's API on uvicorn in this process (its memory is this process's), on a port."""
    port = free_port()
    app = create_app(api_config(settings), registry, influx, lambda: True)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a loaded machine
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    uv.should_exit = True
    thread.join(10)


def _post(
    port: int, path: str, headers: dict[str, str], body_bytes: int, *, chunked: bool = False
) -> tuple[int, bytes, float, int]:
    """Send `body_bytes` of JSON-looking bytes while reading the answer: (status, body, s, sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {body_bytes}\r\n"
    sock.sendall((head + "\r\n").encode())
    chunk = b"[" + b"1," * (MB // 2 - 1) + b"1"  # one 1 MiB buffer, sent again and again
    sent = 0

    def send_body() -> None:
        nonlocal sent
        try:
            while sent < body_bytes:
                part = chunk[: body_bytes - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                sent += len(part)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is never read

    sender = threading.Thread(target=send_body, daemon=True)
    started = time.perf_counter()
    sender.start()
    answer = b""
    while not answer.endswith(b"}"):  # every answer here is one JSON object
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    elapsed = time.perf_counter() - started
    head_part, _, rest = answer.partition(b"\r\n\r\n")
    sock.close()
    sender.join(20)
    return int(head_part.split()[1]), rest, elapsed, sent


def test_an_unauthenticated_200_mb_body_is_401_at_once_and_not_read(server: int) -> None:
    before = _rss_bytes()
    code, body, _, sent = _post(server, "/api/v1/grids", {}, 200 * MB)
    growth = _rss_bytes() - before
    assert code == 401 and b"a bearer token is required" in body
    assert sent < 200 * MB  # the server closed the connection instead of reading it
    assert growth < 5 * MB, f"RSS grew by {growth / MB:.1f} MB"  # 1.4 MB here


def test_a_wrong_token_with_200_mb_of_invalid_json_is_401_not_422(server: int) -> None:
    code, body, _, sent = _post(
        server, "/api/v1/sites", {"Authorization": "Bearer wrong"}, 200 * MB
    )
    assert (code, sent < 200 * MB) == (401, True)  # answered before the body was read
    assert b"the bearer token is not valid" in body


def test_a_merchants_15_mb_array_is_413_at_once_and_health_answers(
    server: int, tokens: dict[str, Headers]
) -> None:
    before = _rss_bytes()
    code, body, _, sent = _post(server, "/api/v1/cases/1/actions", tokens["merchant"], 15 * MB)
    assert code == 413 and b"over the 1048576-byte limit" in body
    assert sent < 15 * MB  # refused at its declared length, the rest never read
    assert _rss_bytes() - before < 20 * MB
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert sock.recv(100).split()[1] in (b"200", b"503")
    sock.close()


def test_a_chunked_body_is_cut_at_the_limit(server: int, tokens: dict[str, Headers]) -> None:
    before = _rss_bytes()
    code, body, _, sent = _post(server, "/api/v1/grids", tokens["admin"], 50 * MB, chunked=True)
    assert code == 413 and b"over the 1048576-byte limit" in body
    assert sent < 50 * MB  # cut at the limit, the rest never read
    assert _rss_bytes() - before < 20 * MB


# -- the case board: the upload bound only for the upload form with a session ---------------


def _chunked_head(port: int, path: str, headers: dict[str, str], sent_bytes: int) -> bytes:
    """POST a chunked body of which only `sent_bytes` are sent, the rest held back, and
    read the answer: an answer at all means the server did not wait for the whole body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall((head + "\r\n").encode())
    part = b"x" * (256 * 1024)
    try:
        for _ in range(sent_bytes // len(part)):
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    except OSError:
        pass  # answered and closed already
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)  # times out (60 s) if the server waits for the rest
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return answer


def _board_cookie(port: int, token: str) -> str:
    """A board session's cookie header, signed in through the sign-in form."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
        form = web.get("/board/login").text
        proof = re.search(r'name="csrf" value="([^"]+)"', form)
        assert proof
        answer = web.post("/board/login", data={"token": token, "csrf": proof.group(1)})
        assert answer.status_code == 303, answer.text  # to the overview: signed in
        return "; ".join(f"{k}={v}" for k, v in web.cookies.items())


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/board/login", False),
        ("/board/complaints/new", True),
        ("/board/nothing-here", False),
        ("/board/cases/1/actions", False),  # the upload form, without a session
    ],
)
def test_a_board_body_is_refused_at_the_api_bound_before_it_is_read(
    server: int, tokens: dict[str, Headers], path: str, signed_in: bool
) -> None:
    headers = {}
    if signed_in:
        headers["Cookie"] = _board_cookie(server, tokens["staff"]["Authorization"][7:])
    answer = _chunked_head(server, path, headers, 2 * MB)  # of 5 MiB: 3 never sent
    assert answer.split()[1] == b"413", answer[:300]
    sock = socket.create_connection(("127.0.0.1", server), timeout=10)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert sock.recv(100).split()[1] in (b"200", b"503")  # and the server answers
    sock.close()


def test_the_upload_form_with_a_session_takes_a_larger_chunked_body(
    server: int, registry: Database, tokens: dict[str, Headers]
) -> None:
    from tests.api.test_board import plain_case

    case_id = plain_case(registry, "rest-1", "g1")
    cookie = _board_cookie(server, tokens["staff"]["Authorization"][7:])
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", headers={"Cookie": cookie}) as web:
        page = web.get(f"/board/cases/{case_id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        fields = {"action": "comment", "csrf": csrf.group(1), "nonce": "n" * 16, "note": ""}
        files = {"photos": ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * (3 * MB), "image/png")}
        request = httpx.Request("POST", "/", data=fields, files=files)
        content_type = request.headers["content-type"]
        body = request.read()

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, spooled by the guard
            for i in range(0, len(body), 256 * 1024):
                yield body[i : i + 256 * 1024]

        answer = web.post(
            f"/board/cases/{case_id}/actions",
            content=chunks(),
            headers={"Content-Type": content_type},
        )
    # read whole and parsed: the form's own answer (photos only when resolving), not 413
    assert answer.status_code == 422 and "只有办结时可以上传整改照片" in answer.text
