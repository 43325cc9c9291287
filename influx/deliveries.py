"""Delivery outcomes as InfluxDB points, for the dashboards' failed-deliveries panel.

Grafana reads InfluxDB only, so each outcome the delivery worker records in the outbox
(notify/worker.py) is also written here as a `delivery` point (docs/devices.md):
tags channel, outcome (delivered / retry / failed), event; fields case_id, detail. The
worker is handed the writer as a callback, so that notify/ knows nothing of InfluxDB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from linli.influx.lineprotocol import line
from linli.rules.constants import (
    F_CASE_ID,
    F_DETAIL,
    M_DELIVERY,
    TAG_CHANNEL,
    TAG_EVENT,
    TAG_OUTCOME,
)
from linli.rules.delivery import Delivery

DETAIL_MAX_CHARS: Final = 200  # a service's answer in one line; a page of HTML is cut

OnOutcome = Callable[[Sequence[Delivery], str, str, int], None]


def delivery_lines(items: Sequence[Delivery], outcome: str, detail: str, at_ms: int) -> str:
    """One `delivery` point per delivery of a send (a digest is several), at `at_ms`.

    Points of one send share their timestamp; the series differ by event, and a digest's
    deliveries of one event are told apart by case (InfluxDB keeps one point per series
    and time, so each gets its own millisecond).
    """
    out = []
    seen: dict[tuple[str, str, str], int] = {}
    for d in items:
        tags = {TAG_CHANNEL: d.channel, TAG_OUTCOME: outcome, TAG_EVENT: d.event}
        series = (d.channel, outcome, d.event)
        offset = seen.get(series, 0)
        seen[series] = offset + 1
        fields: dict[str, object] = {F_DETAIL: detail[:DETAIL_MAX_CHARS]}
        if d.case_id is not None:  # a monthly report is about no case
            fields[F_CASE_ID] = d.case_id
        point = line(M_DELIVERY, tags, fields, at_ms + offset)
        assert point is not None  # the detail is always there
        out.append(point)
    return "\n".join(out) + "\n"


def delivery_writer(write: Callable[[bytes], None]) -> OnOutcome:
    """The worker's outcome callback writing `delivery` points with `write`."""

    def on_outcome(items: Sequence[Delivery], outcome: str, detail: str, at_ms: int) -> None:
        if items:
            write(delivery_lines(items, outcome, detail, at_ms).encode())

    return on_outcome
