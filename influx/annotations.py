"""Telling the world what the engine decided: its own stage, after the decision (STYLE §7).

The engine's transaction decides (cases, occurrences, timeline; rules/engine/decide.py);
what changed is then told, after the commit, through the `Tell` port (rules/ports.py).
Today that is the `case_event` points Grafana draws as annotations (CONTRACT §4); a
failure to tell is logged by the engine and never undoes a decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from linli.influx.lineprotocol import line
from linli.rules.constants import M_CASE_EVENT
from linli.rules.engine.decide import CaseChange
from linli.rules.ports import Tell


def case_event_line(change: CaseChange) -> str:
    """CONTRACT §4 `case_event`: tags site, grid, rule, kind; fields case_id, state, title."""
    c = change.case
    tags = {"grid": c.grid, "kind": c.kind.value, "rule": c.rule, "site": c.site}
    fields = {
        "case_id": c.id,
        "state": c.state.value,
        "title": c.title,
        "action": change.entry.action.value,
    }
    point = line(M_CASE_EVENT, tags, fields, change.entry.at_ms)
    assert point is not None  # case_id, state and title are always there
    return point


def influx_teller(write: Callable[[bytes], None]) -> Tell:
    """Write case changes as `case_event` points (Grafana annotations)."""

    def tell(changes: Sequence[CaseChange]) -> None:
        write(("\n".join(case_event_line(c) for c in changes) + "\n").encode())

    return tell
