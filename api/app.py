"""`create_app`: the HTTP API under /api/v1 (CONTRACT §5), built from clients passed in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from linli import __version__
from linli.api import docs, errors
from linli.api.board import complaints as board_complaints
from linli.api.board import replies as board_replies
from linli.api.board import reports as board_reports
from linli.api.board import stats as board_stats
from linli.api.board import street as board_street
from linli.api.board import views as board
from linli.api.guard import Guard
from linli.api.public import pages as public_pages
from linli.api.public import public
from linli.api.public import report as public_report
from linli.api.routers import (
    cases,
    communities,
    complaints,
    deliveries,
    grids,
    health,
    open311,
    readings,
    rejected,
    reports,
    rules,
    sensors,
    sites,
    spool,
    stats,
    tokens,
)
from linli.api.services import ApiConfig, CodeSender, Services
from linli.api.throttle import FailedAttempts
from linli.influx.client import InfluxClient
from linli.rules.complaint import ComplaintRules
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from linli.rules.ports import Teller
from linli.store import Database

API_PREFIX: Final = "/api/v1"
# Raw points one readings request may aggregate in Python (InfluxQL cannot average
# energetically): about 70 days of one sensor's 1-minute readings.
DEFAULT_MAX_RAW_POINTS: Final = 100_000
# Readings one backtest may replay, of the caller's sensors: a week of 100 1-minute ones.
DEFAULT_MAX_BACKTEST_POINTS: Final = 1_000_000


def create_app(
    config: ApiConfig,
    db: Database,
    influx: InfluxClient,
    broker_status: Callable[[], bool],
    *,
    max_raw_points: int = DEFAULT_MAX_RAW_POINTS,
    policy: RulePolicy | None = None,
    tellers: Sequence[Teller] = (),
    channel_health: Callable[[], Mapping[str, tuple[bool, str]]] = dict,
    max_backtest_points: int = DEFAULT_MAX_BACKTEST_POINTS,
    complaint_rules: ComplaintRules | None = None,
    code_sender: CodeSender | None = None,
    clock: Callable[[], int] | None = None,
) -> FastAPI:
    """The API app; it owns none of the clients it is given, and closes none."""
    app = FastAPI(
        title="linli",
        version=__version__,
        summary="Community noise and cooking-fume monitoring",
        docs_url=None,  # served below from the package's own files, not a CDN
        redoc_url=None,
    )
    docs.install(app)
    if policy is None:
        policy = RulePolicy(calendar=Calendar(config.tz))
    app.state.services = Services(
        config,
        db,
        influx,
        broker_status,
        max_raw_points,
        policy,
        tellers,
        channel_health,
        max_backtest_points,
        FailedAttempts(config.api_auth_failures, config.api_auth_window_s),
        complaint_rules or ComplaintRules(),
        code_sender,
        **({} if clock is None else {"clock": clock}),
    )
    for module in (
        health,
        grids,
        sites,
        sensors,
        communities,
        readings,
        rejected,
        spool,
        tokens,
        cases,
        deliveries,
        rules,
        complaints,
        reports,
        stats,
    ):
        responses = {} if module is health else errors.GUARDED
        app.include_router(module.router, prefix=API_PREFIX, responses=responses)
    # the case board: its pages, its CSS, the key its links are signed with
    app.state.board_key = (config.board_secret or db.board_key()).encode()
    app.include_router(board.router)
    app.include_router(board_complaints.router)
    app.include_router(board_street.router)
    app.include_router(board_reports.router)
    app.include_router(board_replies.router)
    app.include_router(board_stats.router)
    app.mount("/board/static", StaticFiles(directory=board.STATIC), name="board-static")
    # residents and the public (CONTRACT §11): no sign-in
    app.state.public = public.Public.of(app.state.services, app.state.board_key)
    app.include_router(public_pages.router)
    app.include_router(public_report.router)
    app.include_router(open311.router)  # GeoReport v2: its own errors and api_key
    errors.install(app)
    app.add_middleware(
        Guard,
        prefix=API_PREFIX,
        max_body_bytes=config.api_max_body_bytes,
        upload_path=board.UPLOAD_PATH,
        max_upload_bytes=config.board_max_upload_bytes,
    )
    return app
