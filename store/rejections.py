"""Rejected records (CONTRACT §3): kept once per message, capped, listed and counted.

A message's raw head is stored once (`rejected_messages`); each rejected element of its
batch refers to it. The records are kept for a retention and within a total size, the
oldest messages going first; what goes is counted (`rejections_evicted`), so that the
counts per sensor and reason stay exact (no device can fill the disk with rejections).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from linli.rules.constants import REJECT_RAW_KEEP_BYTES
from linli.rules.rejection import ReasonCode, Rejection
from linli.store.records import (
    RejectedMessage,
    RejectionCount,
    RejectionRecord,
    StoredRejection,
)
from linli.store.tables import (
    REJECTED_BYTES,
    meta,
    rejected_messages,
    rejections,
    rejections_evicted,
)

# What a row costs beyond its text and bytes (ids, times, index entries), roughly.
ROW_BYTES: Final = 64
EVICT_CHUNK: Final = 500  # messages looked at per step while evicting


@dataclass(frozen=True, slots=True)
class RejectLimits:
    """How long and how much of the rejected records is kept (docs/devices.md)."""

    retention_ms: int | None = 30 * 86_400_000
    max_bytes: int | None = 256 << 20


def add_rejections(conn: Connection, batch: Sequence[Rejection], limits: RejectLimits) -> None:
    """Insert a batch of rejected records, each message's payload once, then evict."""
    if not batch:
        return
    messages: dict[tuple[str, int, bytes], list[Rejection]] = {}
    for r in batch:
        # A message's elements share its payload (rules/parse.py): one key per message.
        messages.setdefault((r.topic, r.received_ms, r.payload), []).append(r)
    heads: list[dict[str, Any]] = []
    records: list[list[dict[str, Any]]] = []
    for (topic, received_ms, payload), elements in messages.items():
        head = payload[:REJECT_RAW_KEEP_BYTES]
        kept = _records(elements)
        stored = len(head) + len(topic) + ROW_BYTES
        stored += sum(len(r["detail"]) + ROW_BYTES for r in kept)
        heads.append(
            {
                "topic": topic,
                "received_ms": received_ms,
                "payload": head,
                "payload_size": len(payload),
                "stored_bytes": stored,
            }
        )
        records.append(kept)
    message_ids = conn.execute(
        insert(rejected_messages).returning(rejected_messages.c.id, sort_by_parameter_order=True),
        heads,
    ).scalars()
    rows = [
        {**r, "message_id": message_id}
        for message_id, kept in zip(message_ids, records, strict=True)
        for r in kept
    ]
    conn.execute(insert(rejections), rows)
    total = _add_bytes(conn, sum(h["stored_bytes"] for h in heads))
    newest_ms = max(r.received_ms for r in batch)
    if limits.retention_ms is not None:
        total = _evict(
            conn, total, rejected_messages.c.received_ms < newest_ms - limits.retention_ms
        )
    if limits.max_bytes is not None and total > limits.max_bytes:
        _evict(conn, total, None, until_bytes=limits.max_bytes)


def _records(elements: list[Rejection]) -> list[dict[str, Any]]:
    return [
        {
            "sensor": r.sensor,
            "received_ms": r.received_ms,
            "reason": r.reason.value,
            "detail": r.detail,
            "batch_index": r.index,
        }
        for r in elements
    ]


def rejected_bytes(conn: Connection) -> int:
    """What the kept rejected records count against the size cap."""
    return int(
        conn.execute(select(meta.c.value).where(meta.c.key == REJECTED_BYTES)).scalar_one_or_none()
        or 0
    )


def _add_bytes(conn: Connection, n: int) -> int:
    found = conn.execute(
        update(meta)
        .where(meta.c.key == REJECTED_BYTES)
        .values(value=meta.c.value + n)
        .returning(meta.c.value)
    ).scalar_one_or_none()
    if found is None:
        conn.execute(insert(meta), {"key": REJECTED_BYTES, "value": n})
        return n
    return int(found)


def _evict(
    conn: Connection,
    total: int,
    older: ColumnElement[bool] | None,
    *,
    until_bytes: int | None = None,
) -> int:
    """Delete the oldest messages (all `older`, or until `until_bytes` is reached)."""
    while until_bytes is None or total > until_bytes:
        query = select(rejected_messages.c.id, rejected_messages.c.stored_bytes)
        if older is not None:
            query = query.where(older)
        found = conn.execute(query.order_by(rejected_messages.c.id).limit(EVICT_CHUNK)).all()
        if not found:
            break
        ids: list[int] = []
        freed = 0
        for message_id, stored in found:
            if until_bytes is not None and total - freed <= until_bytes:
                break
            ids.append(int(message_id))
            freed += int(stored)
        _count_evicted(conn, ids)
        conn.execute(delete(rejections).where(rejections.c.message_id.in_(ids)))
        conn.execute(delete(rejected_messages).where(rejected_messages.c.id.in_(ids)))
        total = _add_bytes(conn, -freed)
    return total


def _count_evicted(conn: Connection, message_ids: list[int]) -> None:
    counted = conn.execute(
        select(rejections.c.sensor, rejections.c.reason, func.count())
        .where(rejections.c.message_id.in_(message_ids))
        .group_by(rejections.c.sensor, rejections.c.reason)
    ).all()
    gone = Counter({(sensor or "", reason): int(n) for sensor, reason, n in counted})
    for (sensor, reason), n in gone.items():
        key = (rejections_evicted.c.sensor == sensor) & (rejections_evicted.c.reason == reason)
        changed = conn.execute(
            update(rejections_evicted).where(key).values(count=rejections_evicted.c.count + n)
        ).rowcount
        if not changed:
            conn.execute(
                insert(rejections_evicted), {"sensor": sensor, "reason": reason, "count": n}
            )


def list_rejections(
    conn: Connection,
    *,
    sensor: str | None = None,
    reason: ReasonCode | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    sensors: Collection[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[StoredRejection]:
    """Rejected records, newest first, each with its message's payload: `list_rejection_page`
    with the payload joined back onto every record; `since_ms` inclusive, `until_ms` exclusive."""
    records, messages = list_rejection_page(
        conn,
        sensor=sensor,
        reason=reason,
        since_ms=since_ms,
        until_ms=until_ms,
        sensors=sensors,
        limit=limit,
        offset=offset,
    )
    heads = {m.id: m for m in messages}
    return [
        StoredRejection(
            id=r.id,
            topic=r.topic,
            sensor=r.sensor,
            received_ms=r.received_ms,
            reason=r.reason,
            detail=r.detail,
            index=r.index,
            payload=heads[r.message_id].payload,
            payload_size=heads[r.message_id].payload_size,
        )
        for r in records
    ]


def list_rejection_page(
    conn: Connection,
    *,
    sensor: str | None = None,
    reason: ReasonCode | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    sensors: Collection[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[RejectionRecord], list[RejectedMessage]]:
    """Rejected records, newest first, and each message's payload read once, beside the
    records that refer to it (a batch of 1,000 bad elements shares one 64 KiB head)."""
    where = _filters(sensor, reason, since_ms, until_ms, sensors)
    query = (
        select(rejections, rejected_messages.c.topic)
        .join(rejected_messages, rejected_messages.c.id == rejections.c.message_id)
        .where(*where)
        .order_by(rejections.c.received_ms.desc(), rejections.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    records = [
        RejectionRecord(
            id=int(m["id"]),
            message_id=int(m["message_id"]),
            topic=m["topic"],
            sensor=m["sensor"],
            received_ms=int(m["received_ms"]),
            reason=ReasonCode(m["reason"]),
            detail=m["detail"],
            index=m["batch_index"],
        )
        for m in (row._mapping for row in conn.execute(query))
    ]
    ids = sorted({r.message_id for r in records})
    heads = select(
        rejected_messages.c.id, rejected_messages.c.payload, rejected_messages.c.payload_size
    ).where(rejected_messages.c.id.in_(ids))
    messages = [
        RejectedMessage(int(i), bytes(payload), int(size))
        for i, payload, size in conn.execute(heads.order_by(rejected_messages.c.id.desc()))
    ]
    return records, messages


def count_rejections(
    conn: Connection, *, sensors: Collection[str] | None = None
) -> list[RejectionCount]:
    """How many records were rejected per sensor and reason (the evicted too), largest first."""
    kept = select(rejections.c.sensor, rejections.c.reason, func.count()).where(
        *_filters(None, None, None, None, sensors)
    )
    live = {
        (sensor, reason): int(n)
        for sensor, reason, n in conn.execute(
            kept.group_by(rejections.c.sensor, rejections.c.reason)
        )
    }
    gone_query = select(rejections_evicted)
    if sensors is not None:
        gone_query = gone_query.where(rejections_evicted.c.sensor.in_(list(sensors)))
    evicted = {(sensor or None, reason): int(n) for sensor, reason, n in conn.execute(gone_query)}
    counts = [
        RejectionCount(
            sensor,
            ReasonCode(reason),
            live.get((sensor, reason), 0) + evicted.get((sensor, reason), 0),
            evicted.get((sensor, reason), 0),
        )
        for sensor, reason in live.keys() | evicted.keys()
    ]
    counts.sort(key=lambda c: (-c.count, c.sensor is not None, c.sensor or "", c.reason.value))
    return counts


def _filters(
    sensor: str | None,
    reason: ReasonCode | None,
    since_ms: int | None,
    until_ms: int | None,
    sensors: Collection[str] | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if sensor is not None:
        where.append(rejections.c.sensor == sensor)
    if reason is not None:
        where.append(rejections.c.reason == reason.value)
    if since_ms is not None:
        where.append(rejections.c.received_ms >= since_ms)
    if until_ms is not None:
        where.append(rejections.c.received_ms < until_ms)
    if sensors is not None:
        where.append(rejections.c.sensor.in_(list(sensors)))
    return where
