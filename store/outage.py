"""An outage of something a long-running part retries against (the case store), said once.

A worker that beats, ticks or retries every second against a store that is down would
otherwise log a traceback each time: the operator's log is then hundreds of tracebacks
that all say the same. `Outage` says the first failure as one warning line (what fails,
the error's first line, what the part does meanwhile), what fails after it at debug
level, and the recovery as one line with how long it lasted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Outage:
    """The state of one dependency as one part sees it: answering, or down since when."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        meanwhile: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self.what = what  # "engine-0: the case store"
        self.meanwhile = meanwhile  # "nothing is acknowledged; the streams keep the backlog"
        self._clock = clock
        self.since: float | None = None  # the first failure of this outage
        self.failures = 0  # of this outage

    @property
    def down(self) -> bool:
        """Failing since the last success."""
        return self.since is not None

    def failed(self, err: BaseException, doing: str) -> None:
        """One more failure while `doing`; the first of an outage is logged as a warning."""
        self.failures += 1
        said = first_line(err)
        if self.since is None:
            self.since = self._clock()
            self._log.warning(
                "%s does not answer (%s: %s); %s", self.what, doing, said, self.meanwhile
            )
        else:
            self._log.debug("%s still does not answer (%s: %s)", self.what, doing, said)

    def ok(self) -> None:
        """A success: the end of the outage, if there was one, logged."""
        if self.since is None:
            return
        lasted = self._clock() - self.since
        self._log.warning(
            "%s answers again after %.0f s (%d failures); catching up",
            self.what,
            lasted,
            self.failures,
        )
        self.since = None
        self.failures = 0


def first_line(err: BaseException) -> str:
    """The error's message up to its first line break (a driver's error goes on with the
    SQL and a link), or its type's name when it says nothing."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
