"""Values the store hands out beyond the core's registry types."""

from __future__ import annotations

from dataclasses import dataclass

from linli.rules.registry import Grid, Site
from linli.rules.rejection import ReasonCode


@dataclass(frozen=True, slots=True)
class GridRecord(Grid):
    """A grid as stored: the core's grid (with its community, CONTRACT §9: "" only for a
    grid kept from before communities, until a deployment of one community adopts it at
    start) plus its English gloss for display."""

    name_en: str = ""


@dataclass(frozen=True, slots=True)
class CommunityRecord:
    """A community of the street (CONTRACT §9), as its file names it."""

    id: str
    name: str
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class SiteRecord(Site):
    """A site as stored: the core's site plus its English gloss for display."""

    name_en: str = ""


@dataclass(frozen=True, slots=True)
class StoredRejection:
    """A rejected record as kept (CONTRACT §3): `payload` is at most the first 64 KiB."""

    id: int
    topic: str
    sensor: str | None
    received_ms: int
    reason: ReasonCode
    detail: str
    index: int | None
    payload: bytes
    payload_size: int

    @property
    def truncated(self) -> bool:
        """Whether only the head of the payload was kept."""
        return len(self.payload) < self.payload_size


@dataclass(frozen=True, slots=True)
class RejectionRecord:
    """A rejected record without its payload: `message_id` names the message it came in."""

    id: int
    message_id: int
    topic: str
    sensor: str | None
    received_ms: int
    reason: ReasonCode
    detail: str
    index: int | None


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A rejected message's kept head, once for all of its rejected elements."""

    id: int
    payload: bytes
    payload_size: int

    @property
    def truncated(self) -> bool:
        """Whether only the head of the payload was kept."""
        return len(self.payload) < self.payload_size


@dataclass(frozen=True, slots=True)
class RejectionCount:
    """How many records were rejected for one sensor (None: no sensor known) and reason."""

    sensor: str | None
    reason: ReasonCode
    count: int  # every record ever rejected, the evicted included
    evicted: int = 0  # of them, no longer kept (retention or size cap)
