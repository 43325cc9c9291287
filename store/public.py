"""The public's rows (CONTRACT §11): merchants' public replies, residents' reports waiting
for their SMS code, and the private links that follow a complaint.

Nothing here is kept in the clear that would let someone with the database read a code
or open a follow link: codes, tokens and phone numbers are stored as keyed hashes made by
the caller (api/public/report.py); only a pending report keeps the phone in the clear,
until it becomes a complaint (whose contact is the authority's, CONTRACT §7) or expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from linli.store.errors import NotFound
from linli.store.tables import public_follows, public_replies, public_reports


@dataclass(frozen=True, slots=True)
class PublicReply:
    """A merchant's reply shown on its site's public page."""

    site: str
    text: str
    at_ms: int
    actor: str
    hidden: bool


@dataclass(frozen=True, slots=True)
class PendingReport:
    """A report waiting for its SMS code."""

    id: int
    community: str
    phone_hash: str
    code_hash: str
    created_ms: int
    expires_ms: int
    tries: int
    report: dict[str, Any]
    complaint_id: int | None


def _pending(r: Any) -> PendingReport:
    return PendingReport(
        int(r.id),
        r.community,
        r.phone_hash,
        r.code_hash,
        int(r.created_ms),
        int(r.expires_ms),
        int(r.tries),
        dict(r.report),
        None if r.complaint_id is None else int(r.complaint_id),
    )


class PublicTx:
    """The public's rows in one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- replies -------------------------------------------------------------------

    def reply(self, site: str) -> PublicReply | None:
        """The site's reply, hidden or not; None when there is none."""
        r = self.conn.execute(select(public_replies).where(public_replies.c.site == site)).first()
        if r is None:
            return None
        return PublicReply(r.site, r.text, int(r.at_ms), r.actor, bool(r.hidden))

    def set_reply(self, site: str, text: str, at_ms: int, actor: str) -> None:
        """Write (or replace) the site's reply; a new text is shown again."""
        values = {"text": text, "at_ms": at_ms, "actor": actor, "hidden": False}
        done = self.conn.execute(
            update(public_replies).where(public_replies.c.site == site).values(**values)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(public_replies).values(site=site, **values))

    def hide_reply(self, site: str, hidden: bool) -> None:
        """Hide (or show again) the site's reply; NotFound when there is none."""
        done = self.conn.execute(
            update(public_replies).where(public_replies.c.site == site).values(hidden=hidden)
        )
        if done.rowcount == 0:
            raise NotFound(f"site {site!r} has no public reply")

    # -- reports waiting for their code ------------------------------------------------

    def forget_expired(self, now_ms: int, keep_ms: int) -> None:
        """Delete reports whose code expired more than `keep_ms` ago (they are kept that
        long so that the hourly budgets count them)."""
        self.conn.execute(
            delete(public_reports).where(public_reports.c.expires_ms < now_ms - keep_ms)
        )

    def count_since(self, community: str, since_ms: int) -> int:
        """Reports (each one SMS) of a community made since `since_ms`."""
        q = select(func.count()).where(
            public_reports.c.community == community, public_reports.c.created_ms >= since_ms
        )
        return int(self.conn.execute(q).scalar() or 0)

    def count_waiting(self, community: str, now_ms: int) -> int:
        """A community's reports still waiting for a code that has not expired."""
        q = select(func.count()).where(
            public_reports.c.community == community,
            public_reports.c.expires_ms > now_ms,
            public_reports.c.complaint_id.is_(None),
        )
        return int(self.conn.execute(q).scalar() or 0)

    def add_report(
        self,
        token_hash: str,
        community: str,
        phone_hash: str,
        code_hash: str,
        created_ms: int,
        expires_ms: int,
        report: dict[str, Any],
    ) -> int:
        """Keep a report waiting for its code; its id."""
        key = self.conn.execute(
            insert(public_reports).values(
                token_hash=token_hash,
                community=community,
                phone_hash=phone_hash,
                code_hash=code_hash,
                created_ms=created_ms,
                expires_ms=expires_ms,
                tries=0,
                report=report,
                complaint_id=None,
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])

    def report(self, token_hash: str) -> PendingReport:
        """A waiting report by its token's hash, locked for this transaction; NotFound."""
        q = select(public_reports).where(public_reports.c.token_hash == token_hash)
        r = self.conn.execute(q.with_for_update()).first()
        if r is None:
            raise NotFound("no such report")
        return _pending(r)

    def tried(self, report_id: int) -> None:
        """Count one wrong code."""
        self.conn.execute(
            update(public_reports)
            .where(public_reports.c.id == report_id)
            .values(tries=public_reports.c.tries + 1)
        )

    def confirmed(self, report_id: int, complaint_id: int) -> None:
        """The report is a complaint now: the phone leaves this table."""
        self.conn.execute(
            update(public_reports)
            .where(public_reports.c.id == report_id)
            .values(complaint_id=complaint_id, report={})
        )

    # -- follow links ---------------------------------------------------------------------

    def add_follow(self, token_hash: str, complaint_id: int, at_ms: int) -> None:
        """A private link to a complaint."""
        self.conn.execute(
            insert(public_follows).values(
                token_hash=token_hash, complaint_id=complaint_id, created_ms=at_ms
            )
        )

    def follow(self, token_hash: str) -> int:
        """The complaint a follow link opens; NotFound."""
        q = select(public_follows.c.complaint_id).where(public_follows.c.token_hash == token_hash)
        found = self.conn.execute(q).scalar()
        if found is None:
            raise NotFound("no such link")
        return int(found)
