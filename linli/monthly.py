"""The community files' `[[report]]`s sent on schedule (CONTRACT §10): the monthly
statistics message written into the outbox, exactly once.

The delivery worker calls `MonthlyReports.check(now_ms)` before each pass (as it does the
reminders), with its clock: from the 1st at 09:00 local (rules/monthly.py `month_due`)
each report's deliveries are written with keys unique per (community, report, month,
channel), all of one report in one transaction. Two ticks, two processes or a restart
write the same keys: the store's unique key keeps the first and refuses the rest
(`Duplicate`), so nobody is told twice; the worker sends what was kept, as any delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from linli.community import Community, Street, contacts_of
from linli.rules.delivery import Delivery
from linli.rules.links import LinkSigner, community_token
from linli.rules.localtime import rfc3339
from linli.rules.monthly import (
    EVENT,
    figures_doc,
    month_bounds,
    month_due,
    render_report,
    report_key,
)
from linli.rules.policy import RulePolicy
from linli.rules.routing import GROUP_TYPES, ChannelType
from linli.rules.stats import Figures, total
from linli.store import Database, Duplicate

log = logging.getLogger(__name__)


class MonthlyReports:
    """Writes each community's due monthly report into the outbox, once."""

    def __init__(
        self,
        db: Database,
        communities: Sequence[Community],
        policy: RulePolicy,
        tz: str,
        public_url: str,
        signer: LinkSigner,
        channel_types: dict[str, ChannelType],
    ) -> None:
        self._db = db
        self._communities = [c for c in communities if c.report]
        self._policy = policy
        self._tz = ZoneInfo(tz)
        self._public_url = public_url.rstrip("/")
        self._signer = signer
        self._types = channel_types
        self._done: set[str] = set()  # keys known to be in the outbox: no query for them

    @classmethod
    def of_street(
        cls,
        db: Database,
        street: Street | None,
        policy: RulePolicy,
        tz: str,
        public_url: str,
        signer: LinkSigner,
    ) -> MonthlyReports:
        """The reports of every community file of the street."""
        communities = [] if street is None else street.communities
        types = {c.id: ChannelType(c.type) for m in communities for c in m.channel}
        return cls(db, communities, policy, tz, public_url, signer, types)

    def check(self, now_ms: int) -> int:
        """Write the reports due at `now_ms` that the outbox does not hold yet; how many
        deliveries were written."""
        month = month_due(now_ms, self._tz)
        if month is None:
            return 0
        written = 0
        for community in self._communities:
            for report in community.report:
                keys = {ch: report_key(community.id, report.id, month, ch) for ch in report.to}
                if set(keys.values()) <= self._done:
                    continue
                with self._db.outbox() as box:
                    if box.kept(keys.values()):
                        self._done.update(keys.values())
                        continue
                figures = self.figures(community.id, month, now_ms)
                items = self._deliveries(community, month, figures, keys, now_ms)
                try:
                    with self._db.outbox() as box:
                        box.add(items)
                except Duplicate:  # another tick or process wrote it first
                    log.info(
                        "report %s of %s for %s: written already", report.id, community.id, month
                    )
                else:
                    written += len(items)
                    log.info(
                        "report %s of %s for %s: %d deliveries",
                        report.id,
                        community.id,
                        month,
                        len(items),
                    )
                self._done.update(keys.values())
        return written

    def figures(self, community: str, month: str, now_ms: int) -> Figures:
        """The month's figures of one community's cases (every grid it has now)."""
        from_ms, to_ms = month_bounds(month, self._tz)
        grids = [g.id for g in self._db.grids() if g.community == community]
        facts = self._db.case_facts(from_ms, to_ms, grid_ids=grids)
        return total(facts, lambda c: self._policy.of(c).escalation, now_ms)

    def link(self, community: str, month: str, now_ms: int) -> str:
        """The signed link to the community's statistics page of the month."""
        token = community_token(self._signer, community, now_ms)
        return f"{self._public_url}/board/stats?month={month}&t={token}"

    def _deliveries(
        self,
        community: Community,
        month: str,
        figures: Figures,
        keys: dict[str, str],
        now_ms: int,
    ) -> list[Delivery]:
        name = community.community.name
        rendered = render_report(name, month, figures)
        link = self.link(community.id, month, now_ms)
        people = contacts_of(community.community.contacts)
        out = []
        for channel, key in keys.items():
            kind = self._types.get(channel)
            # a group robot or a webhook needs no address; an e-mail or an SMS goes to the
            # community office's contacts on that channel
            to = (
                ()
                if kind in GROUP_TYPES or kind is ChannelType.WEBHOOK
                else tuple(p.channels[channel] for p in people if channel in p.channels)
            )
            payload = {
                "version": 1,
                "event": EVENT,
                "delivery": key,
                "at": rfc3339(now_ms),
                "community": community.id,
                "month": month,
                "figures": figures_doc(figures),
                "link": link,
            }
            out.append(
                Delivery(
                    key=key,
                    case_id=None,
                    event=EVENT,
                    channel=channel,
                    to=to,
                    levels=(),
                    who=f"{name} 月度统计",
                    title=rendered.title,
                    text=rendered.text,
                    link=link,
                    created_ms=now_ms,
                    sms={**rendered.sms, "link": link},
                    payload=payload,
                    due_ms=now_ms,
                )
            )
        return out
