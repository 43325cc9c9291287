"""The HJ 212 listener's registry (rules/hj212_profile.Hj212Registry) on the store.

Like the MQTT path (ingest/pipeline.py), it holds a registry snapshot and reloads it when
the registry changed: at once for a change made in this process (`changes_here`: a monitor
added through the API beside the listener in `linli serve` is known for its next frame),
every `refresh_ms` for another process's (`registry_version`), and when an unknown MN
speaks (at most once per `unknown_check_ms`, however many unknown frames arrive).
"""

from __future__ import annotations

import logging
import threading
import time

from linli.rules.hj212_profile import Hj212Device
from linli.rules.ports import RegistrySource
from linli.rules.registry import Registry

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class StoreHj212Registry:
    """Monitors by MN from a registry source (`Database`), reloaded when it changes."""

    def __init__(
        self, source: RegistrySource, *, refresh_ms: int = 2000, unknown_check_ms: int = 250
    ) -> None:
        self._source = source
        self._refresh_ms = refresh_ms
        self._unknown_check_ms = unknown_check_ms
        self._lock = threading.Lock()
        self._changes = source.changes_here
        self.registry: Registry = source.load_registry()
        self._checked_ms = _now_ms()
        self._unknown_checked_ms = -unknown_check_ms

    def device(self, mn: str) -> Hj212Device | None:
        """The monitor with this MN, or None when no sensor has it (as of a moment ago)."""
        now_ms = _now_ms()
        if (
            self._source.changes_here != self._changes
            or now_ms - self._checked_ms >= self._refresh_ms
        ):
            self._refresh(now_ms)
        found = self.registry.devices.get(mn)
        if found is None and self._may_check_unknown(now_ms) and self._refresh(now_ms):
            found = self.registry.devices.get(mn)  # registered a moment ago elsewhere
        return found

    def _may_check_unknown(self, now_ms: int) -> bool:
        with self._lock:
            if now_ms - self._unknown_checked_ms < self._unknown_check_ms:
                return False
            self._unknown_checked_ms = now_ms
            return True

    def _refresh(self, now_ms: int) -> bool:
        """Reload the registry if it changed; True when it did."""
        with self._lock:
            try:
                self._changes = self._source.changes_here  # before reading: nothing missed
                self._checked_ms = now_ms
                if self._source.registry_version() == self.registry.version:
                    return False
                self.registry = self._source.load_registry()
            except Exception:  # the store is briefly unavailable: keep the snapshot we have
                log.exception(
                    "hj212: could not refresh the registry; keeping version %s",
                    self.registry.version,
                )
                return False
        log.info("hj212: registry reloaded: %d monitors", len(self.registry.devices))
        return True
