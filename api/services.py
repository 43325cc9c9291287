"""What the routers reach through one dependency: the API's configuration and the clients
passed to create_app (the composition root, linli/service.py, builds them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import Depends, Request

from linli.api.throttle import FailedAttempts
from linli.influx.client import InfluxClient
from linli.rules.complaint import ComplaintRules
from linli.rules.policy import RulePolicy
from linli.rules.ports import Teller
from linli.store import Database


class SpoolView(Protocol):
    """What the API shows of ingest's spool (ingest/spool.py's `SpoolFolder`), read only."""

    @property
    def root(self) -> Path:
        """The spool's folder."""
        ...

    @property
    def failed_dir(self) -> Path:
        """Where batches set aside for a person are."""
        ...

    def waiting(self) -> list[Path]:
        """The batches waiting for InfluxDB, oldest first."""
        ...

    def failed(self) -> list[Path]:
        """The batches set aside, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What the API takes of the settings (CONTRACT §1)."""

    admin_token: str | None
    tz: str
    spool: SpoolView
    max_body_bytes: int = 1 << 20  # a JSON body (api/guard.py)
    auth_failures: int = 10  # failed tokens a client may send per window (api/throttle.py)
    auth_window_s: float = 60.0
    # the case board (api/board/, docs/board.md)
    public_url: str = "http://127.0.0.1:8000"
    board_secret: str | None = None  # None: the random key kept in the case store
    board_link_ttl_s: int = 7 * 86_400
    board_session_ttl_s: int = 12 * 3600
    board_max_photo_bytes: int = 5 << 20
    board_max_photos: int = 6
    board_max_upload_bytes: int = 32 << 20  # a board form's body (api/guard.py)


@dataclass(frozen=True, slots=True)
class Services:
    """The app's collaborators, kept on `app.state` instead of in globals."""

    config: ApiConfig
    db: Database
    influx: InfluxClient
    broker_status: Callable[[], bool]
    max_raw_points: int
    policy: RulePolicy
    # told of each person's action in its transaction (the outbox: rules/engine/telling.py)
    tellers: Sequence[Teller] = ()
    # each channel's health (notify/worker.py), for /health: name → (ok, detail)
    channel_health: Callable[[], Mapping[str, tuple[bool, str]]] = dict
    # readings of the caller's sensors (and of one kind) one backtest may replay
    max_backtest_points: int = 1_000_000
    failed_attempts: FailedAttempts = field(default_factory=FailedAttempts)
    # residents' complaints: window, coverage, deadlines, `near` (the community file)
    complaint_rules: ComplaintRules = field(default_factory=ComplaintRules)


def services(request: Request) -> Services:
    """The Services of the app serving this request."""
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


ServicesDep = Annotated[Services, Depends(services)]
