"""What the routers reach through one dependency: the API's configuration and the clients
passed to create_app (the composition root, linli/service.py, builds them)."""

from __future__ import annotations

import time
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
from linli.store import Database, NotFound


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


class CodeSender(Protocol):
    """Sends a resident's one-time code by SMS on a community's `sms` channel
    (CONTRACT §11); the composition root builds it from the community files (linli/codes.py)."""

    def __call__(self, community: str, phone: str, code: str, ttl_min: int) -> str | None:
        """Send `code`; None when the service took it, else one line saying why not."""
        ...


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What the API takes of the settings (CONTRACT §1): each field is the `Settings` field
    of the same name (linli/settings.py: its default, bounds and meaning), copied by
    `linli.wiring.api_config`; `spool` is the view of ingest's spool folder."""

    spool: SpoolView
    admin_token: str | None
    tz: str
    api_max_body_bytes: int  # a JSON body (api/guard.py)
    api_auth_failures: int  # failed tokens a client may send per window (api/throttle.py)
    api_auth_window_s: float
    # the case board (api/board/)
    public_url: str
    board_secret: str | None  # None: the random key kept in the case store
    board_link_ttl_s: int
    board_session_ttl_s: int
    board_max_photo_bytes: int
    board_max_photos: int
    board_max_upload_bytes: int  # a board form's body (api/guard.py)
    # residents and the public (api/public/)
    public_cache_s: float
    public_code_ttl_s: int
    public_code_tries: int
    public_window_s: float
    public_reports_per_phone: int
    public_reports_per_client: int
    public_sms_per_hour: int
    public_max_waiting: int


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
    # a resident's SMS code (api/public/report.py); None: no community has an sms channel
    code_sender: CodeSender | None = None
    # epoch ms of a person's action and of "now" in the statistics: wall time, or a test's
    clock: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)

    def policy_of(self, site_id: str) -> RulePolicy:
        """The rule policy of a site: its community's `[rules]` (CONTRACT §9)."""
        if not self.policy.communities:
            return self.policy
        try:
            return self.policy.of(self.db.community_of_site(site_id))
        except NotFound:
            return self.policy


def services(request: Request) -> Services:
    """The Services of the app serving this request."""
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


ServicesDep = Annotated[Services, Depends(services)]
