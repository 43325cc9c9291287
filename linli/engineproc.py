"""The rule engine in its own process: judging beside the MQTT loop, not inside its GIL.

In one process the engine and ingest's MQTT loop take turns on one interpreter lock,
so every microsecond the rules spend is one the loop does not read the broker (the
benchmark measured ingest at 0.54–0.60 of its rate with the engine in-process). Here the
writer hands each durable batch to `EngineProcess.submit`, which pickles plain tuples
(C speed) into a pipe; a child process rebuilds the readings and feeds the same
`Engine`. Nothing else changes: a full engine queue stops the child reading the pipe,
the pipe fills, the writer waits and the broker holds the rest.

If the child dies, the next batch starts a new one, which first replays from InfluxDB
what it had not judged (linli/engine.py), as after a restart.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from linli.engine import Stored
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.settings import Settings

log = logging.getLogger(__name__)


def encode(items: Sequence[Stored]) -> bytes:
    """Readings and statuses as pickled tuples: several times faster than the dataclasses."""
    rows: list[tuple[Any, ...]] = []
    for r in items:
        if isinstance(r, Reading):
            rows.append((r.sensor, r.kind.value, r.ts_ms, r.seq, r.period_s, r.metrics))
        else:
            rows.append((r.sensor, None, r.ts_ms, r.online, r.fw))
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


_KINDS: dict[str | None, SensorKind] = {k.value: k for k in SensorKind}


def decode(data: bytes) -> list[Stored]:
    """The inverse of `encode`."""
    rows = pickle.loads(data)
    if all(row[1] is not None for row in rows):  # readings only: the common case
        return [Reading(s, _KINDS[k], ts, seq, p, m) for s, k, ts, seq, p, m in rows]
    return [
        DeviceStatus(row[0], row[2], row[3], row[4])
        if row[1] is None
        else Reading(row[0], _KINDS[row[1]], row[2], row[3], row[4], row[5])
        for row in rows
    ]


class EngineProcess:
    """`Engine.submit` across a pipe to a child process running the engine."""

    def __init__(
        self, settings: Settings, policy: RulePolicy, log_level: int = logging.INFO
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._log_level = log_level
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._proc: Any = None
        self.restarts = 0

    def start(self) -> EngineProcess:
        """Start the child (it replays what was stored but not judged, then takes batches)."""
        reader, writer = self._ctx.Pipe(duplex=False)
        self._proc = self._ctx.Process(
            target=_main,
            args=(self._settings, self._policy, self._log_level, reader),
            name="linli-engine",
        )
        self._proc.start()
        reader.close()
        self._conn = writer
        return self

    def submit(self, items: Sequence[Stored]) -> None:
        """Writer.on_stored: hand durable readings and statuses over (waits while it is full)."""
        data = encode(items)
        with self._lock:
            for _ in range(2):
                try:
                    assert self._conn is not None
                    self._conn.send_bytes(data)
                    return
                except OSError as err:  # the child died: a new one replays what it missed
                    log.error("rule engine process gone (%s); starting a new one", err)
                    self._close()
                    self.restarts += 1
                    self.start()
            log.error("rule engine process would not take a batch; its replay will judge it")

    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc is not None and self._proc.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close the pipe: the child judges what it has, saves its state and exits."""
        with self._lock:
            self._close(timeout_s)

    def _close(self, timeout_s: float = 5.0) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(timeout_s)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
            self._proc = None


def _main(settings: Settings, policy: RulePolicy, log_level: int, conn: Connection) -> None:
    """The child: the engine, fed from the pipe until it closes."""
    from linli import service

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.basicConfig(
        level=log_level,
        format="%(asctime)s %(levelname)s %(name)s [engine]: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # as in the parent (linli/cli.py)
    db = service.open_store(settings, None)
    influx = service.open_influx(settings)
    engine = service.make_engine(db, influx, policy).start()
    service.tune_gc()
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except EOFError:
                break
            engine.submit(decode(data))
    finally:
        engine.stop()
        db.close()
