"""Migrating the store says what it did in one line of linli's own, and nothing when current."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from linli.store import Database


def test_a_new_store_logs_its_migration_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    url = f"sqlite:///{tmp_path}/cases.db"
    with caplog.at_level(logging.INFO):
        Database(url).close()
        first = [r.getMessage() for r in caplog.records if r.name == "linli.store.migrate"]
        caplog.clear()
        Database(url).close()
        again = [r.getMessage() for r in caplog.records if r.name == "linli.store.migrate"]
    assert len(first) == 1 and first[0].startswith("case store schema migrated from empty to ")
    assert again == []
