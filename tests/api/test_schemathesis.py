"""schemathesis over every operation of the OpenAPI document, `--checks all`.

It runs against the real service: `linli api` in a child process on a free loopback port,
on the session's real influxd and mosquitto and a SQLite store holding the small test
community, once with the admin token and once with a merchant's. schemathesis lives in
its own venv (`.venv-fuzz`, tests/api/fuzz-requirements.txt; `./dev setup` makes it, and
so does this test when it is missing): its requests/urllib3 and grafana-client's niquests
(urllib3-future) do not install into one venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from linli.localservers import free_port
from tests.api.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]
FUZZ_VENV = ROOT / ".venv-fuzz"
REQUIREMENTS = Path(__file__).with_name("fuzz-requirements.txt")
COMMUNITY = ROOT / "tests" / "data" / "small.toml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
ADMIN_TOKEN = "schemathesis-admin-" + "x" * 16
# Per operation and phase: enough to find the 47 and 43 findings of its first runs in
# under a minute per token on this 2-core machine.
MAX_EXAMPLES = 40
SEED = 12


def fuzz_venv() -> Path:
    """`.venv-fuzz/bin/schemathesis`, installed first when missing or out of date."""
    exe = FUZZ_VENV / "bin" / "schemathesis"
    stamp = FUZZ_VENV / ".installed"
    if exe.exists() and stamp.exists() and stamp.stat().st_mtime >= REQUIREMENTS.stat().st_mtime:
        return exe
    if not (FUZZ_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(FUZZ_VENV)], check=True)
    pip = [str(FUZZ_VENV / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)]
    subprocess.run(pip, check=True, capture_output=True)
    stamp.touch()
    return exe


@dataclass
class LiveApi:
    url: str
    admin: dict[str, str]
    merchant: dict[str, str]


@pytest.fixture
def live_api(
    mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str, tmp_path: Path
) -> Iterator[LiveApi]:
    """`linli api` on a free port, with the test community and a merchant's token."""
    port = free_port()
    env = {
        **os.environ,
        "LINLI_MQTT_URL": mqtt_url,
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": influx_db,
        "LINLI_TOPIC_PREFIX": topic_prefix,
        "LINLI_DB_URL": f"sqlite:///{tmp_path}/linli.db",
        "LINLI_SPOOL_DIR": str(tmp_path / "spool"),
        "LINLI_API_ADDR": f"127.0.0.1:{port}",
        "LINLI_ADMIN_TOKEN": ADMIN_TOKEN,
        "LINLI_TZ": "Asia/Shanghai",
        # schemathesis sends requests without a token on purpose (ignored_auth): many
        # from one address, which would otherwise be slowed down (tests/api/test_auth.py)
        "LINLI_API_AUTH_FAILURES": "100000",
    }
    log = tmp_path / "api.log"
    argv = [sys.executable, "-m", "linli", "api", "--config", str(COMMUNITY)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded machine
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        admin = bearer(ADMIN_TOKEN)
        issued = httpx.post(
            f"{url}/api/v1/tokens", json={"role": "merchant", "site": "rest-1"}, headers=admin
        )
        assert issued.status_code == 201, issued.text
        yield LiveApi(url, admin, bearer(issued.json()["token"]))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("who", ["admin", "merchant"])
def test_schemathesis_finds_nothing(live_api: LiveApi, who: str, tmp_path: Path) -> None:
    exe = fuzz_venv()
    ((name, value),) = getattr(live_api, who).items()
    argv = [
        str(exe),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_api.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--header",
        f"{name}: {value}",
        # one worker: hypothesis's lambda descriptions call ast.parse, which CPython 3.11
        # does not make safe across threads (a "recursion depth mismatch" SystemError)
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    run = subprocess.run(
        argv, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    # every operation of the document was selected and tested
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert selected and tested, output[-5000:]
    assert selected[1] == selected[2] == tested[1], output[-5000:]
    assert int(tested[1]) >= 26
