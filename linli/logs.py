"""Logging for linli's commands and its engine process: one format, quiet libraries."""

from __future__ import annotations

import logging
from typing import Final

# Libraries whose INFO lines are noise to an integrator: one line per HTTP request
# (httpx), Alembic's plugin and dialect chatter (store/migrate.py logs what the
# schema migration did instead).
QUIET: Final = ("httpx", "alembic")


def configure(level: int | str, tag: str = "") -> None:
    """Log to stderr at `level`, each line tagged (e.g. `[engine]` for the engine's process)."""
    logging.basicConfig(
        level=level.upper() if isinstance(level, str) else level,
        format=f"%(asctime)s %(levelname)s %(name)s{tag}: %(message)s",
    )
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
