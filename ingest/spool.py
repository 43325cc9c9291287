"""The local durable spool: batches InfluxDB could not take yet (CONTRACT §3).

Each batch of line protocol is one file, written to a temporary name, fsynced and
renamed, so a file in the spool is always whole. Files are replayed oldest first and
deleted only after InfluxDB has taken them. A `.check` file holds readings whose
identity must be checked against InfluxDB before they are written (ingest/identity.py);
the replayer checks them in their turn. The spool has a byte limit: when it is
full, `append` refuses and the writer stops acknowledging, so the broker holds the rest.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

FAILED: Final = "failed"  # the folder of what was set aside, inside the spool


class SpoolFull(Exception):
    """The spool reached its byte limit."""


def waiting_files(directory: Path) -> list[Path]:
    """The batches waiting in a spool directory for InfluxDB (`.lp`, `.check`), oldest first.

    Read only: for anyone looking at a spool (the API, a start naming a spool left
    behind) without opening it, which would clear its half-written files.
    """
    return sorted([*directory.glob("*.lp"), *directory.glob("*.check")])


def failed_files(directory: Path) -> list[Path]:
    """What was set aside in a spool directory's failed/ for a person, oldest first."""
    failed_dir = directory / FAILED
    if not failed_dir.is_dir():
        return []
    return sorted(p for p in failed_dir.iterdir() if p.is_file())


@dataclass(frozen=True, slots=True)
class SpoolFolder:
    """A spool directory looked at, read only (the API's `SpoolView`)."""

    root: Path

    @property
    def failed_dir(self) -> Path:
        """Where batches set aside for a person are."""
        return self.root / FAILED

    def waiting(self) -> list[Path]:
        """The batches waiting for InfluxDB, oldest first."""
        return waiting_files(self.root)

    def failed(self) -> list[Path]:
        """The batches set aside, oldest first."""
        return failed_files(self.root)


class Spool:
    """A directory of whole, ordered line-protocol batches."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self.failed_dir = self.dir / FAILED
        self.failed_dir.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        for leftover in self.dir.glob("*.tmp"):
            leftover.unlink()  # a crash mid-write: its batch was never acknowledged
        files = self._files()
        self._next = int(files[-1].stem) + 1 if files else 1
        self._bytes = sum(f.stat().st_size for f in files)

    def _files(self) -> list[Path]:
        return waiting_files(self.dir)

    @property
    def size_bytes(self) -> int:
        """Bytes waiting in the spool."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._files())

    def append(self, body: bytes, suffix: str = ".lp") -> Path:
        """Store one batch durably (`.check`: readings to check first); SpoolFull past the limit."""
        with self._lock:
            if self._bytes + len(body) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.dir} holds {self._bytes} bytes; limit {self.max_bytes}"
                )
            path = self.dir / f"{self._next:012d}{suffix}"
            self._next += 1
            _write_durably(path, body)
            self._bytes += len(body)
            return path

    def append_batch(self, body: bytes, check: bytes) -> None:
        """A batch's lines and its readings to check (either may be empty), both or neither."""
        with self._lock:
            if self._bytes + len(body) + len(check) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.dir} holds {self._bytes} bytes; limit {self.max_bytes}"
                )
        if body:
            self.append(body)
        if check:
            self.append(check, ".check")

    def batches(self) -> list[bytes]:
        """Every batch of line protocol in the spool, oldest first (not the `.check` files)."""
        return [f.read_bytes() for f in self._files() if f.suffix == ".lp"]

    def files(self) -> list[tuple[Path, bytes]]:
        """Every file and its bytes, `.check` ones too, oldest first."""
        return [(f, f.read_bytes()) for f in self._files()]

    def failed(self) -> list[Path]:
        """What was set aside in failed/ for a person, oldest first."""
        return failed_files(self.dir)

    def oldest(self) -> tuple[Path, bytes] | None:
        """The oldest batch, or None when empty."""
        files = self._files()
        if not files:
            return None
        return files[0], files[0].read_bytes()

    def remove(self, path: Path) -> None:
        """Drop a batch InfluxDB has taken."""
        with self._lock:
            size = path.stat().st_size
            path.unlink()
            self._bytes -= size

    def set_aside(self, path: Path) -> Path:
        """Move a batch InfluxDB refused as data (HTTP 4xx) to failed/, keeping it for a person."""
        with self._lock:
            size = path.stat().st_size
            target = self.failed_dir / path.name
            path.rename(target)
            self._bytes -= size
            return target


def _write_durably(path: Path, body: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
