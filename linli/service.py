"""Entry points of `linli serve`, `linli ingest` and `linli api`: build, start, stop."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from linli.influx.client import InfluxClient
from linli.ingest.spool import waiting_files
from linli.rules.policy import RulePolicy
from linli.settings import Settings
from linli.wiring import (
    ConfigArg,
    StartupError,
    api_config,
    hj212_monitors,
    load_policy,
    open_influx,
    open_store,
    server_config,
    tune_gc,
)

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from linli.api.intake import Rejudging
    from linli.notifying import Notifier
    from linli.store import Database

log = logging.getLogger(__name__)


def start_engine(settings: Settings, policy: RulePolicy, config: ConfigArg = None):  # type: ignore[no-untyped-def]
    """The rule engine in its own process (linli/engineproc.py), started; it writes the
    deliveries of its case changes by the community file's notify lists (the outbox)."""
    from linli.engineproc import EngineProcess
    from linli.notifying import plan_of

    plan = plan_of(config)
    level = logging.getLogger().getEffectiveLevel()
    return EngineProcess(settings, policy, level, plan).start()


def wait_for_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def ingest(settings: Settings, config: ConfigArg, workers: int = 1, rules: bool = False) -> int:
    """`linli ingest`: one worker here, or several processes on a shared subscription.

    `rules` runs the rule engine too, with one worker only: with several, a sensor's
    readings are split between processes and none could judge its window.
    """
    if settings.nats_url:
        from linli.clustering import ingest as cluster_ingest

        if workers > 1 or rules:
            raise StartupError(
                "with LINLI_NATS_URL start one `linli ingest` per worker, and the rules as "
                "`linli engine` (docs/cluster.md)"
            )
        return cluster_ingest(settings, config)
    if workers > 1:
        if rules:
            raise StartupError("--rules needs one worker: with several no process sees a window")
        if settings.hj212_addr:
            raise StartupError(
                "LINLI_HJ212_ADDR needs one worker: a monitor's session lives in one process"
            )
        return _ingest_workers(settings, config, workers)
    from linli.ingestion import Ingest

    db = open_store(settings, config)
    influx = open_influx(settings)
    policy = load_policy(settings, config)
    _name_spools_left_behind(settings, 0)  # one worker spools in LINLI_SPOOL_DIR itself
    engine = start_engine(settings, policy, config) if rules else None
    stop = wait_for_signal()
    on_stored = engine.submit if engine is not None else None
    worker = Ingest(
        settings,
        db,
        db,
        influx,
        policy=policy,
        on_stored=on_stored,
        hj212=hj212_monitors(settings, db),
    )
    worker.start()
    tune_gc()
    log.info(
        "ingesting %s/# from %s into %s/%s",
        settings.topic_prefix,
        settings.mqtt_url,
        settings.influx_url,
        settings.influx_db,
    )
    stop.wait()
    worker.stop()
    if engine is not None:
        engine.stop()
    return 0


def _ingest_worker(settings: Settings, policy: RulePolicy, index: int) -> None:
    from linli.ingestion import Ingest

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    db = open_store(settings, None)
    influx = open_influx(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client_id = f"{settings.mqtt_client_id}-{index}"
    # each worker has its own spool: two writers in one folder would clash on its files
    own = settings.model_copy(update={"spool_dir": worker_spool_dir(settings.spool_dir, index)})
    worker = Ingest(own, db, db, influx, policy=policy, client_id=client_id)
    worker.start()
    tune_gc()
    stop.wait()
    worker.stop()


def worker_spool_dir(spool_dir: Path, index: int) -> Path:
    """The spool of ingest worker `index` under `linli ingest --workers N`."""
    return spool_dir / f"worker-{index}"


def spools_left_behind(spool_dir: Path, workers: int) -> list[tuple[Path, int]]:
    """Non-empty spools of workers a run of `workers` does not start (from a larger run)."""
    out = []
    for folder in sorted(spool_dir.glob("worker-*")):
        index = folder.name.removeprefix("worker-")
        if index.isdigit() and int(index) >= workers and waiting_files(folder):
            out.append((folder, int(index)))
    return out


def _name_spools_left_behind(settings: Settings, workers: int) -> None:
    for left, index in spools_left_behind(settings.spool_dir, workers):
        log.error(
            "%s holds the spool of worker %d, which this run does not start: its "
            "batches are replayed once linli ingest runs with --workers %d or more",
            left,
            index,
            index + 1,
        )


def _ingest_workers(settings: Settings, config: ConfigArg, workers: int) -> int:
    open_store(settings, config)  # apply the community once, before the workers read it
    open_influx(settings).close()
    _name_spools_left_behind(settings, workers)
    policy = load_policy(settings, config)
    shared = settings.model_copy(update={"mqtt_share_group": settings.mqtt_share_group or "linli"})
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_ingest_worker, args=(shared, policy, i), name=f"linli-ingest-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    stop = wait_for_signal()
    stop.wait()
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(30)
    return 0


@dataclass(frozen=True, slots=True)
class ApiService:
    """The HTTP API wired: its app, its uvicorn server (not yet running) and the thread
    judging `data_gap` complaints again (their late readings may have come)."""

    app: FastAPI
    server: uvicorn.Server
    rejudging: Rejudging

    def stop(self) -> None:
        """Ask the server to end; stop judging again."""
        self.server.should_exit = True
        self.rejudging.stop()


def api_service(
    settings: Settings,
    config: ConfigArg,
    db: Database,
    influx: InfluxClient,
    broker_status: Callable[[], bool],
    notifier: Notifier,
    policy: RulePolicy | None = None,
    rejudge_every_s: float = 60.0,
) -> ApiService:
    """The API of `linli serve`, `linli api` and `linli demo`, wired the one way: the
    settings' ApiConfig, the community file's complaint rules, the notifier's teller and
    channel health, uvicorn's configuration for the street (wiring.server_config)."""
    import uvicorn

    from linli.api.app import create_app
    from linli.api.intake import Rejudging
    from linli.codes import code_sender
    from linli.wiring import load_complaint_rules

    host, port = settings.api_host_port()
    app = create_app(
        api_config(settings),
        db,
        influx,
        broker_status,
        policy=policy,
        tellers=[notifier.teller],
        channel_health=notifier.health,
        complaint_rules=load_complaint_rules(config),
        code_sender=code_sender(config, notifier.channels.ready),
    )
    rejudging = Rejudging(app.state.services, every_s=rejudge_every_s).start()
    server = uvicorn.Server(server_config(app, settings, host, port))
    return ApiService(app, server, rejudging)


def _run_api(
    settings: Settings,
    config: ConfigArg,
    db: Database,
    influx: InfluxClient,
    broker_status: Callable[[], bool],
    policy: RulePolicy | None = None,
) -> None:
    """The HTTP API in the foreground, with the delivery worker beside it (the one sender
    of the outbox: linli/notifying.py)."""
    from linli.clustering import notifier_lease
    from linli.notifying import start_notifier

    # in a cluster (CONTRACT §12) every API replica runs a delivery worker, and the one
    # holding the lease sends; the others stand by
    lease = notifier_lease(settings)
    active = None if lease is None else lease.held
    if lease is not None:  # the broker is NATS: /health tells its connection's state
        broker_status = lease.nats_up
    notifier = start_notifier(db, settings, config, influx=influx, active=active)
    api = api_service(settings, config, db, influx, broker_status, notifier, policy)
    try:
        api.server.run()
    finally:
        api.stop()
        notifier.stop()
        if lease is not None:
            lease.stop()


def serve(settings: Settings, config: ConfigArg) -> int:
    """`linli serve`: ingest and the rule engine in threads, the HTTP API in the foreground."""
    from linli.ingestion import Ingest

    db = open_store(settings, config)
    influx = open_influx(settings)
    policy = load_policy(settings, config)
    engine = start_engine(settings, policy, config)
    worker = Ingest(
        settings,
        db,
        db,
        influx,
        policy=policy,
        on_stored=engine.submit,
        hj212=hj212_monitors(settings, db),
    )
    worker.start()
    tune_gc()
    host, port = settings.api_host_port()
    log.info("API on http://%s:%s/docs", host, port)
    try:
        _run_api(settings, config, db, influx, lambda: worker.source.connected, policy)
    finally:
        worker.stop()
        engine.stop()
    return 0


def api(settings: Settings, config: ConfigArg) -> int:
    """`linli api`: the HTTP API alone; broker status from a probe connection."""
    from linli.broker import probe_broker

    db = open_store(settings, config)
    influx = open_influx(settings)
    policy = load_policy(settings, config)
    _run_api(settings, config, db, influx, lambda: probe_broker(settings), policy)
    return 0
