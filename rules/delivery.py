"""A delivery: one message owed to one channel's recipients, kept until it is sent.

A case change and the deliveries it causes are written in one transaction (the outbox),
so nothing told can be lost: a delivery worker sends them, and a `kill -9` at any
moment leaves each one pending, to be sent after the restart (the one in flight may be
sent twice; webhook receivers dedupe on `key`). When to try again is decided here,
pure: exponential backoff with jitter, or what the service asked for.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from linli.rules.case import Level


class DeliveryState(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # to send (again) once due
    SENDING = "sending"  # handed to its channel; a crash leaves it so (see the worker)
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: a person must look (GET /api/v1/deliveries?state=failed)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one channel's recipients about one case change (or, with no case,
    a community's monthly report: rules/monthly.py)."""

    key: str  # unique: CONTRACT §6's webhook `delivery`
    case_id: int | None
    event: str  # rules/routing.Event
    channel: str
    to: tuple[str, ...]
    levels: tuple[Level, ...]
    who: str
    title: str
    text: str
    link: str  # the case on the board
    created_ms: int
    sms: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)  # the webhook body
    state: DeliveryState = DeliveryState.PENDING
    due_ms: int = 0
    attempts: int = 0
    detail: str = ""  # the service's last answer
    done_ms: int | None = None
    id: int | None = None


def told_prefix(d: Delivery) -> str:
    """The start of the timeline note of `d`'s outcome: its event, channel, who, recipients."""
    to = f" {', '.join(d.to)}" if d.to else ""
    return f"{d.event} → {d.channel} ({d.who}){to}: "


def told_note(d: Delivery, outcome: str, detail: str) -> str:
    """The timeline note of one attempt at `d` (rules/disclosure.py reads it back)."""
    return f"{told_prefix(d)}{outcome}: {detail}"


BACKOFF_FIRST_S: Final = 5.0
BACKOFF_MAX_S: Final = 600.0


def retry_in_s(
    attempts: int,
    asked_s: float | None = None,
    rng: random.Random | None = None,
    most_s: float = BACKOFF_MAX_S,
) -> float:
    """How long until the next try after `attempts` failed ones: what the service asked
    for, or exponential backoff (5 s, 10 s, 20 s, … up to `most_s`, 10 min) with full
    jitter over its upper half, so many deliveries failing together do not return together."""
    if asked_s is not None:
        return max(asked_s, 1.0)
    ceiling = min(most_s, BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + (rng or random).random() * ceiling / 2
