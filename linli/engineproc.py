"""The rule engine in its own process: judging beside the MQTT loop, not inside its GIL.

In one process the engine and ingest's MQTT loop take turns on one interpreter lock,
so every microsecond the rules spend is one the loop does not read the broker (the
benchmark measured ingest at 0.54–0.60 of its rate with the engine in-process). Here the
writer hands each durable batch to `EngineProcess.submit`, which pickles plain tuples
(C speed) into a pipe; a child process rebuilds the readings and feeds the same
`Engine`. Nothing else changes: a full engine queue stops the child reading the pipe,
the pipe fills, the writer waits and the broker holds the rest.

The child runs at a lower priority (`NICE`): on a busy machine storing comes first and
judging may fall behind by up to the engine's queue, which it catches up on as soon as
there is a spare moment; a full queue still holds storing back, so it never falls
further behind than that.

If the child dies, the next batch starts a new one, which first replays from InfluxDB
what it had not judged (rules/engine/engine.py), as after a restart.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Final

from linli.rules.engine.engine import Stored
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading
from linli.rules.routing import NotifyPlan
from linli.settings import Settings

log = logging.getLogger(__name__)

NICE: Final = 10  # added to the child's niceness: storing first, then judging


# The pipe's rows are the NamedTuples' own tuples (pickled at C speed), so their order is
# the types' field order: declared here, carried in every batch and checked by `decode`
# (a child started from code changed on disk refuses batches it would misread), and
# compared with `Reading._fields` / `DeviceStatus._fields` by tests/test_codecs.py.
READING_FIELDS: Final = ("sensor", "kind", "ts_ms", "seq", "period_s", "metrics", "flag")
STATUS_FIELDS: Final = ("sensor", "ts_ms", "online", "fw")
_HEADER: Final = (READING_FIELDS, STATUS_FIELDS)


class PipeMismatch(ValueError):
    """A batch encoded with other fields than this process's Reading and DeviceStatus."""


def encode(items: Sequence[Stored]) -> bytes:
    """Readings and statuses as pickled plain tuples (a NamedTuple pickles field by field
    through Python; a plain tuple at C speed), with the positions of the statuses: the
    kind of each row is said, not guessed. The kind, an enum, is pickled once per batch."""
    rows = list(map(tuple, items))
    types = list(map(type, items))
    statuses = (
        [i for i, t in enumerate(types) if t is DeviceStatus] if DeviceStatus in types else []
    )
    return pickle.dumps((_HEADER, statuses, rows), protocol=pickle.HIGHEST_PROTOCOL)


_READING: Final = functools.partial(tuple.__new__, Reading)
_STATUS: Final = functools.partial(tuple.__new__, DeviceStatus)


def decode(data: bytes) -> list[Stored]:
    """The inverse of `encode`; raises PipeMismatch for a batch of other fields."""
    header, statuses, rows = pickle.loads(data)
    if header != _HEADER:
        raise PipeMismatch(f"engine pipe: batch of fields {header}, this process has {_HEADER}")
    out: list[Stored] = list(map(_READING, rows))
    for i in statuses:
        out[i] = _STATUS(rows[i])
    return out


class EngineProcess:
    """`Engine.submit` across a pipe to a child process running the engine."""

    def __init__(
        self,
        settings: Settings,
        policy: RulePolicy,
        log_level: int = logging.INFO,
        plan: NotifyPlan | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._plan = plan  # who is told: the engine's teller writes deliveries (the outbox)
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
            args=(self._settings, self._policy, self._log_level, self._plan, reader),
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


def _main(
    settings: Settings,
    policy: RulePolicy,
    log_level: int,
    plan: NotifyPlan | None,
    conn: Connection,
) -> None:
    """The child: the engine, fed from the pipe until it closes."""
    from linli import logs, notifying, wiring

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    os.nice(NICE)
    logs.configure(log_level, " [engine]")
    db = wiring.open_store(settings, None)
    influx = wiring.open_influx(settings)
    remind_s = policy.escalation.remind_s
    tellers = [] if plan is None else [notifying.make_teller(db, plan, settings, remind_s)]
    engine = wiring.make_engine(db, influx, policy, tellers, settings.engine_tick_s).start()
    wiring.tune_gc()
    log.info("rule engine: taking batches")
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except EOFError:
                break
            engine.submit(decode(data))
    finally:
        engine.stop()
        influx.close()
        db.close()
