"""Rejected records (CONTRACT §3): kept in one executemany, listed and counted."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select

from linli.rules.constants import REJECT_RAW_KEEP_BYTES
from linli.rules.rejection import ReasonCode, Rejection
from linli.store.records import RejectionCount, StoredRejection
from linli.store.tables import rejections


def add_rejections(conn: Connection, batch: Sequence[Rejection]) -> None:
    """Insert a batch of rejected records with one executemany."""
    if not batch:
        return
    conn.execute(
        insert(rejections),
        [
            {
                "topic": r.topic,
                "sensor": r.sensor,
                "received_ms": r.received_ms,
                "reason": r.reason.value,
                "detail": r.detail,
                "batch_index": r.index,
                "payload": r.payload[:REJECT_RAW_KEEP_BYTES],
                "payload_size": len(r.payload),
            }
            for r in batch
        ],
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
    """Rejected records, newest first; `since_ms` inclusive, `until_ms` exclusive."""
    where = _filters(sensor, reason, since_ms, until_ms, sensors)
    query = (
        select(rejections)
        .where(*where)
        .order_by(rejections.c.received_ms.desc(), rejections.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_stored(row._mapping) for row in conn.execute(query)]


def count_rejections(
    conn: Connection, *, sensors: Collection[str] | None = None
) -> list[RejectionCount]:
    """How many records were rejected per sensor and reason, the largest counts first."""
    n = func.count().label("n")
    query = (
        select(rejections.c.sensor, rejections.c.reason, n)
        .where(*_filters(None, None, None, None, sensors))
        .group_by(rejections.c.sensor, rejections.c.reason)
        .order_by(n.desc(), rejections.c.sensor.asc().nulls_first(), rejections.c.reason)
    )
    return [
        RejectionCount(row.sensor, ReasonCode(row.reason), int(row.n))
        for row in conn.execute(query)
    ]


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


def _stored(m: Any) -> StoredRejection:
    return StoredRejection(
        id=int(m["id"]),
        topic=m["topic"],
        sensor=m["sensor"],
        received_ms=int(m["received_ms"]),
        reason=ReasonCode(m["reason"]),
        detail=m["detail"],
        index=m["batch_index"],
        payload=bytes(m["payload"]),
        payload_size=int(m["payload_size"]),
    )
