"""Failed-token attempts slowed per client (so that tokens cannot be guessed at 300 a second).

A client (its address, as uvicorn gives it: behind a trusted proxy, X-Forwarded-For)
may fail `max_failures` times in `window_s`; then each further failure of it is 429 with
`Retry-After` until the oldest failure leaves the window. Only failures are throttled: a
valid token from the same address passes (everyone behind one NAT is one address, and one
of them guessing must not lock the others out); a 256-bit token is not guessed anyway.
Memory is bounded: at most `max_clients` are remembered, the least recent forgotten first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailedAttempts:
    """Failures per client in a sliding window; thread-safe."""

    def __init__(
        self,
        max_failures: int = 10,
        window_s: float = 60.0,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after_s(self, client: str) -> int | None:
        """Seconds `client` must wait before trying again, or None if it may try now."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return None
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str) -> None:
        """Count one failed attempt of `client`."""
        now = self._clock()
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[client] = times  # the most recent last
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
