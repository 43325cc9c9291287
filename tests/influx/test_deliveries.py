"""Delivery outcomes as `delivery` points: one per delivery, each its own point."""

from __future__ import annotations

from linli.influx.deliveries import DETAIL_MAX_CHARS, delivery_lines
from linli.influx.lineprotocol import parse_line
from linli.notify.channel import Outcome
from linli.rules.constants import OUTCOME_DELIVERED, OUTCOME_FAILED, OUTCOME_RETRY
from linli.rules.delivery import Delivery


def _delivery(case_id: int, event: str = "case.opened", channel: str = "ding") -> Delivery:
    return Delivery(f"k{case_id}", case_id, event, channel, (), (), "网格员", "t", "x", "l", 0)


def test_the_outcome_tag_values_are_the_workers_outcomes() -> None:
    assert tuple(o.value for o in Outcome) == (OUTCOME_DELIVERED, OUTCOME_RETRY, OUTCOME_FAILED)


def test_a_digest_is_one_point_per_delivery_none_overwriting_another() -> None:
    items = [_delivery(1), _delivery(2), _delivery(3, "case.escalated")]
    detail = "errcode 130101: send too fast, exceed 20 times per minute " + "x" * 500
    text = delivery_lines(items, "retry", detail, 1_000)
    points = [p for row in text.strip().split("\n") if (p := parse_line(row))]
    assert len(points) == 3
    assert [p.measurement for p in points] == ["delivery"] * 3
    assert [p.tags for p in points] == [
        {"channel": "ding", "event": "case.opened", "outcome": "retry"},
        {"channel": "ding", "event": "case.opened", "outcome": "retry"},
        {"channel": "ding", "event": "case.escalated", "outcome": "retry"},
    ]
    assert [p.fields["case_id"] for p in points] == [1, 2, 3]
    assert [p.ts for p in points] == [1_000, 1_001, 1_000]  # one series, one time: one point
    assert all(len(str(p.fields["detail"])) == DETAIL_MAX_CHARS for p in points)
