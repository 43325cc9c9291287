"""A throwaway PostgreSQL cluster for the case-store tests (Debian's `postgresql` package).

initdb refuses to run as root, so as root the cluster is made and run as `postgres`
in a temp dir that user owns. The server is stopped by the PID we started.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from linli.localservers import free_port

BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/local/bin"))


def _bin(name: str) -> str:
    for d in BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: install Debian's postgresql package")
    return found


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """One cluster on a free loopback port; `create_db` gives an SQLAlchemy URL. `start`
    again after `stop` starts the same cluster, its data kept, on the same port (a test
    of the case store down and back)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Postgres:
        """Make the cluster (the first time) and start its server; returns once it answers."""
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        argv = [_bin("postgres"), "-D", str(self.data), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}"]
        argv += ["-c", "fsync=off"]
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(_as_postgres(argv), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # a loaded machine
        while True:
            try:
                psycopg.connect(self._dsn("postgres"), autocommit=True).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.root, self.root.parent):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            _as_postgres([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]),
            check=True,
            capture_output=True,
        )

    def _dsn(self, db: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db}"

    def create_db(self, name: str) -> str:
        """A fresh database; its SQLAlchemy URL."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT) of the postmaster whose PID the cluster wrote."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 120  # a loaded machine
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.proc is not None:
            self.proc.wait(10)
            self.proc = None
