"""One selectors loop driving every MQTT connection of the fleet.

A thread per connection does not scale to 10,000 devices; instead every link hands its
socket to the `Reactor`, which calls the link's read, write and misc steps when the
socket is ready (for paho clients: `loop_read`, `loop_write`, `loop_misc`, the
external-loop API). Writes are deferred (paho's on_socket_register_write), so a burst
of publishes leaves in one pass rather than one send per publish call.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import resource
import selectors
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .link import BaseLink as Link

_READ: Final = selectors.EVENT_READ
_READ_WRITE: Final = selectors.EVENT_READ | selectors.EVENT_WRITE


def raise_nofile_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
    return target


class Reactor:
    """One `selectors` loop for many links; `poll()` does one round of I/O."""

    def __init__(
        self,
        retry_s: float = 2.0,
        connects_per_poll: int = 200,
        misc_every_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_s = retry_s
        self.connects_per_poll = connects_per_poll
        self.misc_every_s = misc_every_s
        self.links: list[Link] = []
        self._monotonic = monotonic
        self._selector = selectors.DefaultSelector()
        self._dirty: set[Link] = set()  # output queued in paho
        self._writing: set[Link] = set()  # registered for EVENT_WRITE
        self._connects: list[tuple[float, int, Link]] = []  # (due, tiebreak, link) heap
        self._tiebreak = itertools.count()
        self._misc_due = 0.0

    def add(self, link: Link) -> None:
        """Manage `link` and connect it soon."""
        self.links.append(link)
        self.schedule_connect(link, 0.0)

    def schedule_connect(self, link: Link, delay_s: float) -> None:
        """(Re)connect `link` after `delay_s` seconds."""
        due = self._monotonic() + delay_s
        heapq.heappush(self._connects, (due, next(self._tiebreak), link))

    def register(self, sock: Any, link: Link) -> None:
        """paho opened a socket."""
        self._selector.register(sock, _READ, link)

    def unregister(self, sock: Any, link: Link) -> None:
        """paho is closing a socket."""
        self._dirty.discard(link)
        self._writing.discard(link)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def want_write(self, link: Link) -> None:
        """paho queued output for `link`."""
        self._dirty.add(link)

    def written(self, sock: Any, link: Link) -> None:
        """paho has no more output for `link`."""
        self._dirty.discard(link)
        if link in self._writing:
            self._writing.discard(link)
            self._selector.modify(sock, _READ, link)

    def poll(self, timeout_s: float) -> None:
        """Connect what is due, write what is queued, wait up to `timeout_s` for input."""
        now = self._monotonic()
        self._connect_due(now)
        self.flush()
        if self._connects:
            timeout_s = min(timeout_s, max(0.0, self._connects[0][0] - now))
        for key, events in self._selector.select(timeout_s if not self._dirty else 0):
            link: Link = key.data
            if events & selectors.EVENT_READ:
                link.read()
                sock = link.socket()
                # TLS may hold decrypted bytes the selector cannot see.
                while sock is not None and getattr(sock, "pending", lambda: 0)():
                    link.read()
                    sock = link.socket()
            if events & selectors.EVENT_WRITE and link.socket() is not None:
                link.write()
        self.flush()
        if now >= self._misc_due:
            self._misc_due = now + self.misc_every_s
            for link in self.links:
                if link.socket() is not None:
                    link.misc()

    def flush(self) -> None:
        """Write queued output now; what the socket will not take waits for EVENT_WRITE."""
        for link in list(self._dirty):
            link.write()
        for link in self._dirty - self._writing:
            sock = link.socket()
            if sock is not None:
                self._writing.add(link)
                self._selector.modify(sock, _READ_WRITE, link)

    def _connect_due(self, now: float) -> None:
        for _ in range(self.connects_per_poll):
            if not self._connects or self._connects[0][0] > now:
                return
            _, _, link = heapq.heappop(self._connects)
            if link.hold or link.socket() is not None:
                continue
            if not link.connect():
                self.schedule_connect(link, self.retry_s)

    def close(self) -> None:
        """Close the selector (links must be closed first)."""
        self._selector.close()
