"""What a site's month report (CONTRACT §10) counts from the case store: when its cases
were opened and its complaints received. Counts only: nothing about a resident leaves."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select

from linli.store.tables import cases, complaints


class SiteEvents(NamedTuple):
    """When a site's cases were opened and its complaints received (epoch ms)."""

    cases_opened_ms: list[int]
    complaints_ms: list[int]


def site_events(conn: Connection, site: str, from_ms: int, to_ms: int) -> SiteEvents:
    """A site's cases opened and complaints received in `[from_ms, to_ms)`; a repeat of
    an outside order merged into the first (并单) is not counted again."""
    opened = conn.execute(
        select(cases.c.opened_ms).where(
            cases.c.site == site, cases.c.opened_ms >= from_ms, cases.c.opened_ms < to_ms
        )
    ).scalars()
    received = conn.execute(
        select(complaints.c.received_ms).where(
            complaints.c.site == site,
            complaints.c.merged_into.is_(None),
            complaints.c.received_ms >= from_ms,
            complaints.c.received_ms < to_ms,
        )
    ).scalars()
    return SiteEvents([int(x) for x in opened], [int(x) for x in received])
