"""In-memory registry source and reject sink: real, typed code for tests and tools."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from linli.rules.hj212_profile import Hj212Device
from linli.rules.registry import Registry
from linli.rules.rejection import Rejection


class MemoryStore:
    """Holds one registry snapshot and every rejection in lists."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self.rejections: list[Rejection] = []
        self.changes_here = 0

    def registry_version(self) -> int:
        """The snapshot's version."""
        return self._registry.version

    def load_registry(self) -> Registry:
        """The snapshot."""
        return self._registry

    def replace_registry(self, registry: Registry) -> None:
        """Swap in a new snapshot (give it a new version)."""
        self._registry = registry
        self.changes_here += 1

    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Keep the rejections."""
        with self._lock:
            self.rejections.extend(rejections)


class MemoryMonitors:
    """HJ 212 monitors by MN, in memory (the store's are store/'s): for tests and tools."""

    def __init__(self, *devices: Hj212Device) -> None:
        self.by_mn = {d.mn: d for d in devices}

    def device(self, mn: str) -> Hj212Device | None:
        """The monitor with this MN, or None."""
        return self.by_mn.get(mn)
