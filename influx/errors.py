"""InfluxDB's failures as linli names them: the client raises them, retention and its
callers catch them (a module of its own, so neither imports the other for them)."""

from __future__ import annotations


class InfluxError(Exception):
    """InfluxDB refused or failed a request."""


class InfluxUnavailable(InfluxError):
    """InfluxDB is down, unreachable, overloaded or too slow: try again later."""


class InfluxRejected(InfluxError):
    """InfluxDB refused the data itself (HTTP 400, 413): retrying the same bytes will not help.

    `reason` is InfluxDB's own message (its JSON `error`), without our prefix.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
