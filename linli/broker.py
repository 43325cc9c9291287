"""A quick check that the broker accepts a TCP connection (for `/health` in `linli api`)."""

from __future__ import annotations

import socket

from linli.settings import Settings


def probe_broker(settings: Settings, timeout_s: float = 1.0) -> bool:
    """True when the broker's port accepts a connection."""
    endpoint = settings.mqtt_parts()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            return True
    except OSError:
        return False
