"""Telling people, the stage after the decision: case changes become deliveries.

`OutboxTeller` is the engine's and the API's in-transaction teller (rules/ports.Teller):
for each case change it asks routing who is told on which channel (rules/routing.py),
renders what they read (rules/messages.py; a merchant level's message never quotes a
resident: rules/disclosure.py) and writes the deliveries in the very
transaction of the change (the outbox), so a change and what it tells commit together.
The delivery worker (notify/worker.py) sends them. `reminders` is the same for a case
nobody acknowledged: its level is told again every `remind_s` (the community file's
`[rules] remind_unacknowledged_s`, 30 min by default).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from zoneinfo import ZoneInfo

from linli.rules import escape
from linli.rules.case import LADDER, Case, CaseState
from linli.rules.complaint import priority
from linli.rules.delivery import Delivery
from linli.rules.disclosure import Reader, note_for, reader_of_levels, withheld_of
from linli.rules.engine.decide import CaseChange
from linli.rules.links import LinkSigner, with_token
from linli.rules.localtime import rfc3339
from linli.rules.messages import LEVEL_NAMES, Facts, local, render
from linli.rules.ports import CaseTx
from linli.rules.routing import ChannelType, Directory, Event, event_of, notices

# What a reminder's clock starts from: the last time its level was asked to act.
ASKED: Final = (Event.OPENED, Event.ESCALATED, Event.REOPENED, Event.REMINDER)


class OutboxTeller:
    """Case changes → deliveries, in the transaction of the change (an outbox)."""

    def __init__(
        self,
        directory: Callable[[], Directory],
        site_names: Callable[[], Mapping[str, str]],
        public_url: str,
        tz: ZoneInfo,
        *,
        wake: Callable[[], None] | None = None,
        remind_s: int = 30 * 60,
        signer: LinkSigner | None = None,
    ) -> None:
        self._directory = directory
        self._site_names = site_names
        self._public_url = public_url.rstrip("/")
        self._tz = tz
        self.wake = wake  # the delivery worker's, when it runs in this process
        self._remind_ms = remind_s * 1000  # rules/policy.Escalation.remind_s; 0: never
        # each message's link signed for its readers (rules/links.py); None: the bare link
        self._signer = signer

    def link(self, case_id: int | None) -> str:
        """The case on the board (CONTRACT §6)."""
        return f"{self._public_url}/board/cases/{case_id}"

    def tell(self, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
        """Each change's deliveries, kept in `tx`."""
        out: list[Delivery] = []
        for change in changes:
            entry = change.entry
            event = event_of(entry)
            if event is not None:
                out += self.deliveries(tx, event, change.case, entry.at_ms, entry.note)
        if out:
            tx.add_deliveries(out)
            if self.wake is not None:
                self.wake()

    def deliveries(
        self, tx: CaseTx, event: Event, case: Case, at_ms: int, note: str = ""
    ) -> list[Delivery]:
        """What `event` of `case` tells, rendered, one delivery per notice."""
        directory = self._directory()
        found = notices(event, case, directory)
        if not found:
            return []
        assert case.id is not None
        proof = tx.latest_evidence(case.id)
        facts = Facts(
            event=event,
            case=case,
            site_name=self._site_names().get(case.site, case.site),
            link=self.link(case.id),
            tz=self._tz,
            measured=None if proof is None else proof.measured,
            unit="" if proof is None else proof.unit,
            limit=None if proof is None else proof.limit,
            standard=None if proof is None else proof.standard,
            clause=None if proof is None else proof.clause,
            window=None if proof is None else (proof.start_ms, proof.end_ms),
            who_did_not_act=self._who_did_not_act(event, case),
            note="" if event in (Event.OPENED, Event.ESCALATED) else note,
        )
        # each notice reads the message rendered for its narrowest reader: a merchant's
        # never quotes a resident (CONTRACT §7, rules/disclosure.py)
        readers = {reader_of_levels(n.levels) for n in found}
        # a person's note may copy a resident's name, phone or words: scrubbed for them too
        withheld = withheld_of(tx.residents(case.id)) if readers != {Reader.AUTHORITY} else ()
        messages = {
            reader: render(dataclasses.replace(facts, note=note_for(reader, facts.note, withheld)))
            for reader in readers
        }
        out = []
        for notice in found:
            message = messages[reader_of_levels(notice.levels)]
            key = str(uuid.uuid4())
            webhook = directory.channels.get(notice.channel) is ChannelType.WEBHOOK
            link = facts.link
            if self._signer is not None:  # the notice's level decides the link's scope
                token = self._signer.token(
                    case,
                    notice.levels,
                    at_ms,
                    notice.who,
                    directory.communities.get(case.site, ""),
                )
                link = with_token(link, token)
            out.append(
                Delivery(
                    key=key,
                    case_id=case.id,
                    event=event.value,
                    channel=notice.channel,
                    to=notice.to,
                    levels=notice.levels,
                    who=notice.who,
                    title=message.title,
                    text=message.text,
                    link=link,
                    created_ms=at_ms,
                    sms={**message.sms, "link": link},
                    payload=webhook_body(event, key, at_ms, case, link) if webhook else {},
                    due_ms=at_ms,
                )
            )
        return out

    def reminders(
        self, tx: CaseTx, cases: Sequence[Case], last_asked_ms: Mapping[int, int], now_ms: int
    ) -> list[Delivery]:
        """Deliveries reminding the level of each unacknowledged case not asked for `remind_s`."""
        out: list[Delivery] = []
        if self._remind_ms <= 0:
            return out
        for case in cases:
            if case.state not in (CaseState.OPEN, CaseState.REOPENED) or case.id is None:
                continue
            asked = last_asked_ms.get(case.id, case.opened_ms)
            if now_ms - asked >= self._remind_ms:
                out += self.deliveries(tx, Event.REMINDER, case, now_ms)
        return out

    def _who_did_not_act(self, event: Event, case: Case) -> str | None:
        if event is not Event.ESCALATED:
            return None
        below = LADDER[max(LADDER.index(case.level) - 1, 0)]
        if case.acknowledged_ms is None:
            return f"{LEVEL_NAMES[below]}未签收（自 {local(case.opened_ms, self._tz)} 起）"
        return f"{LEVEL_NAMES[below]}未办结（自 {local(case.opened_ms, self._tz)} 起）"


def webhook_body(event: Event, key: str, at_ms: int, case: Case, link: str) -> dict[str, Any]:
    """CONTRACT §6's webhook body; `case` as GET /cases/{id} gives it without readings."""
    return {
        "version": 1,
        "event": event.value,
        "delivery": key,
        "at": rfc3339(at_ms),
        "level": case.level.value,
        "case": case_doc(case),
        "link": link,
    }


def case_doc(case: Case) -> dict[str, Any]:
    """A case as the API's CaseOut gives it (tests/api check they agree)."""
    return {
        "id": case.id,
        "site": case.site,
        "grid": case.grid,
        "rule": case.rule,
        "kind": case.kind.value,
        "sensor": case.sensor,
        "title": escape.webhook(case.title),
        "state": case.state.value,
        "level": case.level.value,
        "opened_ms": case.opened_ms,
        "updated_ms": case.updated_ms,
        "acknowledged_ms": case.acknowledged_ms,
        "resolved_ms": case.resolved_ms,
        "closed_ms": case.closed_ms,
        "late": case.late,
        "occurrences": case.occurrences,
        "complaints": case.complaints,
        "priority": priority(case.complaints).value,
        "sign_by_ms": case.sign_by_ms,
        "handle_by_ms": case.handle_by_ms,
    }
