"""Building linli's parts from the one `Settings` object: the composition root's workshop.

`linli serve`, `linli ingest`, `linli api` (linli/service.py), the engine's child process
(linli/engineproc.py) and the demo build their store, InfluxDB client, rule policy,
engine and API configuration here, each the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from linli.influx.client import InfluxClient, InfluxError
from linli.rules.complaint import ComplaintRules
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from linli.settings import Settings

if TYPE_CHECKING:
    import uvicorn

    from linli.api.services import ApiConfig

log = logging.getLogger(__name__)

GC_YOUNG: Final = 10_000  # allocations between young collections (default 700)

# `--config`: one community file, several, or directories of them (CONTRACT §9); None: none
ConfigArg: TypeAlias = Path | Sequence[Path] | None


class StartupError(Exception):
    """linli cannot start: a server is unreachable or the configuration is wrong."""


def given(config: ConfigArg) -> bool:
    """Whether `--config` named anything."""
    return config is not None and (isinstance(config, Path) or len(config) > 0)


def open_store(settings: Settings, config: ConfigArg):  # type: ignore[no-untyped-def]
    """The case store, with the community files applied when some are given."""
    from linli.community import apply_street, load_street
    from linli.store import Database

    # every file read and checked first: a bad one stops linli before anything is opened
    street = load_street(config) if config is not None and given(config) else None
    db = Database(settings.db_url, reject_limits=settings.reject_limits())
    if street is not None:
        apply_street(db, street)
    return db


def hj212_monitors(settings: Settings, db):  # type: ignore[no-untyped-def]
    """The registry's HJ 212 monitors for the listener (CONTRACT §8); None when
    LINLI_HJ212_ADDR is unset (no listener)."""
    if settings.hj212_addr is None:
        return None
    from linli.store.hj212 import StoreHj212Registry

    return StoreHj212Registry(db, refresh_ms=int(settings.registry_refresh_s * 1000))


def load_policy(settings: Settings, config: ConfigArg) -> RulePolicy:
    """The rule policy: the community files' `[rules]` tables in LINLI_TZ (each community's
    for its own sites, `RulePolicy.of`), or the defaults."""
    if config is None or not given(config):
        return RulePolicy(calendar=Calendar(settings.tz))
    from linli.community import load_street

    street = load_street(config)
    for path, community in zip(street.files, street.communities, strict=True):
        if community.community.tz is not None and community.community.tz != settings.tz:
            raise StartupError(
                f"{path}: [community] tz = {community.community.tz!r} but LINLI_TZ is "
                f"{settings.tz!r}: set LINLI_TZ={community.community.tz} (the zone linli "
                "judges by) or remove tz from the file"
            )
    # each community's own [rules] for its sites (CONTRACT §9); the first file's where one
    # policy serves all (the ingest's calendar, the board's countdowns)
    first = street.merged().rules.policy(settings.tz)
    if len(street.communities) == 1:
        return first
    return dataclasses.replace(
        first, communities={c.id: c.rules.policy(settings.tz) for c in street.communities}
    )


def load_complaint_rules(config: ConfigArg) -> ComplaintRules:
    """The community files' `[complaints]` table and their sites' `near`, or the defaults."""
    from linli.community import load_config

    community = load_config(config)
    return ComplaintRules() if community is None else community.complaint_rules()


def load_calendar(settings: Settings, config: ConfigArg) -> Calendar:
    """The community's day/night and business hours: the one calendar of the engine, the
    `limit_db` ingest writes and the dashboards (GB 3096's 06:00/22:00 without a file)."""
    return load_policy(settings, config).calendar


def make_engine(  # type: ignore[no-untyped-def]
    db,
    influx: InfluxClient,
    policy: RulePolicy,
    tellers=(),
    tick_s: float = 10.0,
    owns: Callable[[str], bool] | None = None,
):
    """The rule engine (not started): `tellers` in each case change's transaction (the
    outbox), then the `case_event` annotations in InfluxDB after it.

    At start it first replays from InfluxDB what was stored but not judged (a kill -9).
    With `owns` (CONTRACT §12) it judges only those sites and the partitions it gains.
    """
    from linli.influx.annotations import SiteCommunities, influx_teller
    from linli.influx.history import InfluxHistory
    from linli.rules.engine.engine import Engine

    communities = SiteCommunities(db.load_registry, db.registry_version)
    return Engine(
        db,
        policy,
        tell=influx_teller(influx.write, communities),
        tellers=tuple(tellers),
        history=InfluxHistory(influx),
        tick_s=tick_s,
        owns=owns,
    )


def open_influx(settings: Settings) -> InfluxClient:
    """The InfluxDB client, with the database and retention policy in place."""
    influx = InfluxClient(
        settings.influx_url,
        settings.influx_db,
        token=settings.influx_token,
        user=settings.influx_user,
        password=settings.influx_password,
        timeout_s=settings.influx_timeout_s,
    )
    try:
        influx.ensure_database(settings.influx_retention, now_ms=time.time_ns() // 1_000_000)
    except InfluxError as err:
        raise StartupError(f"InfluxDB at {settings.influx_url}: {err}") from err
    return influx


def tune_gc() -> None:
    """Fewer garbage collections for a long-running service: call once started.

    Ingest allocates some twenty objects per reading, so the default threshold (700)
    runs a young collection every few dozen readings; the engine keeps each sensor's
    window of readings alive, which every older collection scans again. Objects made at
    start (modules, the registry) are frozen out of collections altogether.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 10, 10)


ADMIN_TOKEN_MIN_CHARS: Final = 16  # refused below: a short admin token is guessed
ADMIN_TOKEN_GOOD_CHARS: Final = 32  # warned about below: `openssl rand -hex 16` and up


def _check_admin_token(token: str | None) -> None:
    if token is None:
        return
    if len(token) < ADMIN_TOKEN_MIN_CHARS:
        raise StartupError(
            f"LINLI_ADMIN_TOKEN is shorter than {ADMIN_TOKEN_MIN_CHARS} characters "
            f"({len(token)}): use a random one, e.g. `openssl rand -hex 32`"
        )
    if len(token) < ADMIN_TOKEN_GOOD_CHARS:
        log.warning(
            "LINLI_ADMIN_TOKEN has %d characters; %d or more random ones are advised",
            len(token),
            ADMIN_TOKEN_GOOD_CHARS,
        )


def server_config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for the API facing the street (docs/api.md, docs/operating.md):
    idle and slow connections closed, their number and head size bounded."""
    import uvicorn

    from linli.api.slowclients import timed_h11

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=timed_h11(settings.api_request_timeout_s),
        timeout_keep_alive=int(settings.api_timeout_keep_alive_s),
        limit_concurrency=settings.api_limit_concurrency,
        h11_max_incomplete_event_size=16 * 1024,
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
    )


def api_config(settings: Settings) -> ApiConfig:
    """What the API takes of the settings: each ApiConfig field from the Settings field of
    its name (one place: a new API setting is a Settings field and an ApiConfig field)."""
    from linli.api.services import ApiConfig
    from linli.ingest.spool import SpoolFolder

    _check_admin_token(settings.admin_token)
    copied = {f.name for f in dataclasses.fields(ApiConfig)} - {"spool"}
    return ApiConfig(
        spool=SpoolFolder(settings.spool_dir),
        **{name: getattr(settings, name) for name in copied},
    )


def board_key(secret: str | None, db) -> bytes:  # type: ignore[no-untyped-def]
    """The board's signing key: LINLI_BOARD_SECRET, else the random one the case store
    keeps (made once), so every process on one store signs and verifies alike."""
    return (secret or db.board_key()).encode()
