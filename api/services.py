"""What the routers reach through one dependency: settings and the clients passed to create_app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from linli.ingest.influx import InfluxClient
from linli.rules.policy import RulePolicy
from linli.settings import Settings
from linli.store import Database


@dataclass(frozen=True, slots=True)
class Services:
    """The app's collaborators, kept on `app.state` instead of in globals."""

    settings: Settings
    db: Database
    influx: InfluxClient
    broker_status: Callable[[], bool]
    max_raw_points: int
    policy: RulePolicy


def services(request: Request) -> Services:
    """The Services of the app serving this request."""
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


ServicesDep = Annotated[Services, Depends(services)]
