"""The outbox in the case store: deliveries kept until sent (rules/delivery.py).

`add` runs inside the transaction of the case change that causes the deliveries (the
engine's, or an API action's), so a change and what it must tell are committed
together or not at all. The delivery worker takes the due ones, marks each `sending`
before its channel sees it and records the outcome after; every attempt's outcome is
also a timeline entry of its case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, func, insert, select, update

from linli.rules.case import Action, Level
from linli.rules.delivery import Delivery, DeliveryState, told_note
from linli.store.tables import cases, deliveries, timeline

_INSERT: Final = insert(deliveries)


def _row(d: Delivery) -> dict[str, Any]:
    return {
        "key": d.key,
        "case_id": d.case_id,
        "event": d.event,
        "channel": d.channel,
        "recipients": list(d.to),
        "levels": [level.value for level in d.levels],
        "who": d.who,
        "title": d.title,
        "text": d.text,
        "link": d.link,
        "sms": dict(d.sms),
        "payload": dict(d.payload),
        "state": d.state.value,
        "created_ms": d.created_ms,
        "due_ms": d.due_ms,
        "attempts": d.attempts,
        "detail": d.detail,
        "done_ms": d.done_ms,
    }


def _delivery(m: Any) -> Delivery:
    return Delivery(
        key=m["key"],
        case_id=None if m["case_id"] is None else int(m["case_id"]),
        event=m["event"],
        channel=m["channel"],
        to=tuple(m["recipients"]),
        levels=tuple(Level(v) for v in m["levels"]),
        who=m["who"],
        title=m["title"],
        text=m["text"],
        link=m["link"],
        created_ms=int(m["created_ms"]),
        sms=dict(m["sms"]),
        payload=dict(m["payload"]),
        state=DeliveryState(m["state"]),
        due_ms=int(m["due_ms"]),
        attempts=int(m["attempts"]),
        detail=m["detail"],
        done_ms=None if m["done_ms"] is None else int(m["done_ms"]),
        id=int(m["id"]),
    )


class OutboxTx:
    """The outbox inside one transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, items: Iterable[Delivery]) -> None:
        """Keep deliveries (in the transaction of the change that causes them)."""
        rows = [_row(d) for d in items]
        if rows:
            self.conn.execute(_INSERT, rows)

    def kept(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` the outbox holds already (whatever their state)."""
        if not keys:
            return set()
        q = select(deliveries.c.key).where(deliveries.c.key.in_(list(keys)))
        return {str(k) for (k,) in self.conn.execute(q)}

    def due(self, now_ms: int, limit: int = 500) -> list[Delivery]:
        """Pending deliveries due by `now_ms`, the longest waiting first."""
        q = (
            select(deliveries)
            .where(deliveries.c.state == DeliveryState.PENDING.value)
            .where(deliveries.c.due_ms <= now_ms)
            .order_by(deliveries.c.due_ms, deliveries.c.id)
            .limit(limit)
        )
        return [_delivery(r._mapping) for r in self.conn.execute(q)]

    def next_due_ms(self) -> int | None:
        """When the next pending delivery falls due, if any is pending."""
        q = select(func.min(deliveries.c.due_ms)).where(
            deliveries.c.state == DeliveryState.PENDING.value
        )
        found = self.conn.execute(q).scalar()
        return None if found is None else int(found)

    def in_state(
        self,
        state: DeliveryState,
        limit: int = 1000,
        offset: int = 0,
        sites: Collection[str] | None = None,
    ) -> list[Delivery]:
        """Deliveries in `state`, newest first; `sites` limits them to those sites' cases."""
        q = select(deliveries).where(deliveries.c.state == state.value)
        if sites is not None:
            q = q.where(
                deliveries.c.case_id.in_(select(cases.c.id).where(cases.c.site.in_(list(sites))))
            )
        q = q.order_by(deliveries.c.id.desc()).limit(limit).offset(offset)
        return [_delivery(r._mapping) for r in self.conn.execute(q)]

    def of_case(self, case_id: int) -> list[Delivery]:
        """A case's deliveries, oldest first."""
        q = select(deliveries).where(deliveries.c.case_id == case_id).order_by(deliveries.c.id)
        return [_delivery(r._mapping) for r in self.conn.execute(q)]

    def set_state(
        self,
        ids: Sequence[int],
        state: DeliveryState,
        *,
        detail: str | None = None,
        due_ms: int | None = None,
        done_ms: int | None = None,
        attempted: bool = False,
    ) -> None:
        """Move deliveries to `state`, with the service's answer and when to try again."""
        if not ids:
            return
        values: dict[str, Any] = {"state": state.value}
        if detail is not None:
            values["detail"] = detail
        if due_ms is not None:
            values["due_ms"] = due_ms
        if done_ms is not None:
            values["done_ms"] = done_ms
        if attempted:
            values["attempts"] = deliveries.c.attempts + 1
        self.conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(**values))

    def last_told_ms(self, case_ids: Sequence[int], events: Sequence[str]) -> dict[int, int]:
        """When each case was last told one of `events` (the reminders' clock)."""
        if not case_ids:
            return {}
        q = (
            select(deliveries.c.case_id, func.max(deliveries.c.created_ms))
            .where(deliveries.c.case_id.in_(case_ids))
            .where(deliveries.c.event.in_(events))
            .group_by(deliveries.c.case_id)
        )
        return {int(c): int(t) for c, t in self.conn.execute(q)}

    def record(
        self,
        items: Sequence[Delivery],
        state: DeliveryState,
        detail: str,
        now_ms: int,
        *,
        due_ms: int | None = None,
    ) -> None:
        """One attempt's outcome for `items` (sent together: one message or a digest), on
        the deliveries and as a timeline entry of each case (channel, recipients, outcome)."""
        done = now_ms if state in (DeliveryState.DELIVERED, DeliveryState.FAILED) else None
        self.set_state(
            [d.id for d in items if d.id is not None],
            state,
            detail=detail,
            due_ms=due_ms,
            done_ms=done,
            attempted=True,
        )
        found = self.conn.execute(
            select(cases.c.id, cases.c.state, cases.c.level).where(
                cases.c.id.in_({d.case_id for d in items if d.case_id is not None})
            )
        )
        now = {int(r.id): (r.state, r.level) for r in found}
        outcome = state.value
        if state is DeliveryState.PENDING and due_ms is not None:
            outcome = f"retry in {max(0, due_ms - now_ms) // 1000} s"
        rows = []
        for d in items:
            case_state, level = (
                (None, None) if d.case_id is None else now.get(d.case_id, (None, None))
            )
            if case_state is None:  # a report's (no case), or a case no longer there
                continue
            rows.append(
                {
                    "case_id": d.case_id,
                    "at_ms": now_ms,
                    "actor": "linli",
                    "action": Action.TELL.value,
                    "from_state": case_state,
                    "to_state": case_state,
                    "level": level,
                    "note": told_note(d, outcome, detail),
                }
            )
        if rows:
            self.conn.execute(insert(timeline), rows)

    def channel_status(self) -> dict[str, tuple[int | None, int | None, str]]:
        """Per channel: the last delivery done, the last failure, and what it said."""
        out: dict[str, tuple[int | None, int | None, str]] = {}
        ok = select(deliveries.c.channel, func.max(deliveries.c.done_ms)).where(
            deliveries.c.state == DeliveryState.DELIVERED.value
        )
        for channel, at in self.conn.execute(ok.group_by(deliveries.c.channel)):
            out[channel] = (int(at), None, "")
        last_failed = (
            select(func.max(deliveries.c.id))
            .where(deliveries.c.state == DeliveryState.FAILED.value)
            .group_by(deliveries.c.channel)
        )
        failed = select(deliveries.c.channel, deliveries.c.done_ms, deliveries.c.detail).where(
            deliveries.c.id.in_(last_failed)
        )
        for channel, at, detail in self.conn.execute(failed):
            last_ok = out.get(channel, (None, None, ""))[0]
            out[channel] = (last_ok, None if at is None else int(at), detail)
        return out
