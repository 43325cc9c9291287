"""The ports the core talks through; adapters at the edges implement them (STYLE §8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from linli.rules.registry import Registry
from linli.rules.rejection import Rejection


class RegistrySource(Protocol):
    """Where ingest reads the current registry from.

    `changes_here` counts the changes this very process made to it (an API beside ingest
    in `linli serve`): ingest compares it with every message, so what was registered a
    moment ago is known to the next message. Another process's changes show in
    `registry_version`, which ingest reads periodically and when an unknown sensor speaks.
    """

    changes_here: int

    def registry_version(self) -> int:
        """A number that changes whenever grids, sites or sensors change."""
        ...

    def load_registry(self) -> Registry:
        """A consistent snapshot of grids, sites and sensors."""
        ...


class RejectSink(Protocol):
    """Where rejected records are kept (CONTRACT §3)."""

    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Store rejected records durably; raises on failure so the batch is not acknowledged."""
        ...


class Clock(Protocol):
    """The time source; tests pass a fixed one."""

    def now_ms(self) -> int:
        """Epoch milliseconds."""
        ...
