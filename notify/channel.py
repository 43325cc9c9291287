"""One channel, the protocol every transport implements (CONTRACT §6).

A channel sends one rendered `Message` and says what the service answered, mapped to
three outcomes: delivered, retry later (too fast, down, a timeout), or a permanent
failure (a configuration error or a message the service refuses: a person must look).
Rendering (who is told, what the message says) and retrying are not a channel's
business: the outbox's delivery worker decides when to send again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    """What a send came to."""

    DELIVERED = "delivered"
    RETRY = "retry"  # try again later: too fast, the service down, a timeout
    FAILED = "failed"  # permanent: bad configuration or a refused message; a person must look


@dataclass(frozen=True, slots=True)
class Answer:
    """The service's answer in one line (`detail`, e.g. "errcode 130101: send too fast")."""

    outcome: Outcome
    detail: str
    retry_after_s: float | None = None  # the service said how long to wait


@dataclass(frozen=True, slots=True)
class Message:
    """One message as its readers will read it (zh-CN), rendered before a channel sees it."""

    delivery: str  # unique per delivery: webhook receivers dedupe on it
    event: str  # "case.opened", "case.escalated", ... (CONTRACT §6)
    title: str  # one line: an e-mail's subject, a card's title
    text: str  # markdown for the group robots; e-mail and SMS get it as plain text
    link: str  # {LINLI_PUBLIC_URL}/board/cases/{id}
    payload: Mapping[str, Any] = field(default_factory=dict)  # the webhook body (CONTRACT §6)
    sms_params: Mapping[str, str] = field(default_factory=dict)  # the SMS template's parameters
    sms_template: str | None = None  # another of the SMS account's templates (a code's)


class Channel(Protocol):
    """A transport people are told on; `to` are the recipients' addresses on it.

    For a group robot `to` are the phone numbers to @-mention (the group is the
    channel's URL); for e-mail the addresses; for SMS the phone numbers; a webhook has
    none. `send` never raises: every failure is an `Answer`.
    """

    @property
    def id(self) -> str:
        """The channel's id in the community file."""
        ...

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """Send one message; what the service answered."""
        ...
