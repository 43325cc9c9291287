"""The public surface's state in one object on `app.state.public`: its clock, its page
cache, its throttles, and the keyed hashes of phones, codes and tokens.

Tests build it with their own clock (`Public(services, clock=...)`): code expiry, the
throttles and the cache all read that one clock, never the wall directly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import Request

from linli.api.services import Services
from linli.api.throttle import FailedAttempts

CSRF_COOKIE: Final = "linli_public"
CSRF_TTL_S: Final = 86_400
MAX_CACHED: Final = 20_000  # entries of each cache (pages, past days' verdicts)


class Cache:
    """A bounded map of values that expire (None: never), least recent evicted; thread-safe."""

    def __init__(self, max_entries: int = MAX_CACHED) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[float | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, now_s: float) -> Any | None:
        """The value kept for `key`, or None when there is none or it expired."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            until, value = found
            if until is not None and until <= now_s:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, until_s: float | None) -> None:
        """Keep `value` until `until_s` (None: until evicted or forgotten)."""
        with self._lock:
            self._items[key] = (until_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key matches."""
        with self._lock:
            for key in [k for k in self._items if match(k)]:
                del self._items[key]


@dataclass
class Public:
    """What the public pages share: one clock, the caches, the throttles, the key."""

    services: Services
    key: bytes
    clock: Callable[[], float] = time.time  # wall time, seconds
    pages: Cache = field(default_factory=Cache)  # rendered pages, for `public_cache_s`
    days: Cache = field(default_factory=Cache)  # past days' verdicts, until they change
    phones: FailedAttempts = field(init=False)
    clients: FailedAttempts = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.services.config
        self.phones = FailedAttempts(
            cfg.public_reports_per_phone, cfg.public_window_s, clock=self.clock
        )
        self.clients = FailedAttempts(
            cfg.public_reports_per_client, cfg.public_window_s, clock=self.clock
        )

    @classmethod
    def of(cls, services: Services, key: bytes, clock: Callable[[], float] = time.time) -> Public:
        """The public surface of an app."""
        return cls(services, key, clock)

    def now_ms(self) -> int:
        """The clock, epoch ms."""
        return int(self.clock() * 1000)

    def forget_site(self, site_id: str) -> None:
        """A site's page changed (a reply, a case): computed again on its next request."""
        self.pages.forget(lambda k: isinstance(k, tuple) and site_id in k)

    # -- keyed hashes -------------------------------------------------------------------

    def hashed(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 of `value` for one purpose: a phone (11 digits are few enough to
        try them all against a plain hash), a code, a token."""
        return hmac.new(self.key, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()

    # -- CSRF for forms without a session --------------------------------------------------

    def csrf_nonce(self, request: Request) -> tuple[str, bool]:
        """This browser's form nonce (its cookie), and whether it is new (to be set)."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if nonce and 16 <= len(nonce) <= 64:
            return nonce, False
        return secrets.token_urlsafe(24), True

    def csrf_of(self, nonce: str) -> str:
        """The proof a form carries of its browser's nonce."""
        return self.hashed("csrf", nonce)

    def csrf_ok(self, request: Request, sent: object) -> bool:
        """Whether a form's `csrf` is the proof of this browser's cookie: a page of another
        site cannot read the cookie, so it cannot make the proof."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not isinstance(sent, str):
            return False
        return hmac.compare_digest(sent.encode(), self.csrf_of(nonce).encode())


def public(request: Request) -> Public:
    """The Public of the app serving this request."""
    found = request.app.state.public
    assert isinstance(found, Public)
    return found


def client_of(request: Request) -> str:
    """The client's address as uvicorn gives it (behind a trusted proxy, X-Forwarded-For)."""
    return request.client.host if request.client else "?"
