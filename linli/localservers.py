"""Local mosquitto and influxd processes for `linli demo`, the tests and the benchmark.

Each server runs from Debian's packages with a config file linli writes into its
own data directory, on a loopback port, and is stopped by the PID it was started
with — never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# The broker is part of the never-lost chain (CONTRACT §3): sessions persist to disk,
# and the default max_queued_messages of 1000 would silently drop QoS 1 messages for
# a subscriber that falls behind, so the queue is lifted. max_inflight_messages 20000
# lets the broker stream whole batches to linli before it acknowledges them; linli
# pushes back by not reading (ingest/mqtt.py).
MOSQUITTO_CONF = """\
{user}listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {dir}/
autosave_interval {autosave_s}
max_inflight_messages 20000
max_queued_messages 0
max_queued_bytes 0
log_dest file {dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""

INFLUXD_CONF = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{dir}/meta"

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0

[logging]
  level = "warn"

[continuous_queries]
  log-enabled = false
"""


class ServerError(RuntimeError):
    """A local server could not be found, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn_logged(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a child process with stdout and stderr appended to `log`, in its own session."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(
        f"{name} is not installed: run ./dev setup (apt-get install mosquitto influxdb)"
    )


@dataclass
class LocalServer:
    """One child process we started, known by its PID."""

    name: str
    argv: list[str]
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self.proc.pid if self.proc else None

    def start(self, timeout_s: float = 20.0) -> LocalServer:
        """Start the process and wait until its port answers."""
        self.proc = spawn_logged(self.argv, self.dir / f"{self.name}.out")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}; see {self.dir}")
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not answer on port {self.port} in {timeout_s}s")

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                pass
        except OSError:
            return False
        if self.name == "influxd":
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/ping", timeout=1).status_code == 204
            except httpx.HTTPError:
                return False
        return True

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
        """Stop our process by PID (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)


def mosquitto(data_dir: Path, port: int | None = None, autosave_s: int = 30) -> LocalServer:
    """A mosquitto configured as linli ships it, not yet started."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = data_dir / "mosquitto.conf"
    # As root mosquitto drops to the `mosquitto` user, which cannot write into a data dir
    # under a root-only temp dir: the persistence file would silently never be saved.
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        MOSQUITTO_CONF.format(user=user, port=port, dir=data_dir, autosave_s=autosave_s)
    )
    return LocalServer("mosquitto", [_binary("mosquitto"), "-c", str(conf)], port, data_dir)


def influxd(data_dir: Path, port: int | None = None) -> LocalServer:
    """An InfluxDB 1.x on loopback with its data under `data_dir`, not yet started."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = data_dir / "influxdb.conf"
    conf.write_text(INFLUXD_CONF.format(port=port, rpc_port=free_port(), dir=data_dir))
    return LocalServer("influxd", [_binary("influxd"), "-config", str(conf)], port, data_dir)
