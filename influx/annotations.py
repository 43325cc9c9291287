"""Telling the world what the engine decided: its own stage, after the decision (STYLE §7).

The engine's transaction decides (cases, occurrences, timeline; rules/engine/decide.py);
what changed is then told, after the commit, through the `Tell` port (rules/ports.py).
Today that is the `case_event` points Grafana draws as annotations (CONTRACT §4); a
failure to tell is logged by the engine and never undoes a decision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from linli.influx.lineprotocol import line
from linli.rules.constants import M_CASE_EVENT, TAG_COMMUNITY
from linli.rules.engine.decide import CaseChange
from linli.rules.ports import Tell
from linli.rules.registry import Registry


def case_event_line(change: CaseChange, community: str = "") -> str:
    """CONTRACT §4 `case_event`: tags site, grid, rule, kind and (CONTRACT §9) the site's
    community when it has one; fields case_id, state, title."""
    c = change.case
    tags = {"grid": c.grid, "kind": c.kind.value, "rule": c.rule, "site": c.site}
    if community:
        tags[TAG_COMMUNITY] = community
    fields = {
        "case_id": c.id,
        "state": c.state.value,
        "title": c.title,
        "action": change.entry.action.value,
    }
    point = line(M_CASE_EVENT, tags, fields, change.entry.at_ms)
    assert point is not None  # case_id, state and title are always there
    return point


class SiteCommunities:
    """Each site's community from the registry, loaded again when its version moves (the
    API may add a site or a grid at any time)."""

    def __init__(self, load: Callable[[], Registry], version: Callable[[], int]) -> None:
        self._load = load
        self._version = version
        self._lock = threading.Lock()
        self._at: int | None = None
        self._registry = Registry()

    def __call__(self, site: str) -> str:
        """The community of `site`'s grid; "" for none."""
        version = self._version()
        with self._lock:
            if version != self._at:
                self._registry = self._load()
                self._at = version
            return self._registry.community_of(site)


def influx_teller(
    write: Callable[[bytes], None], community_of: Callable[[str], str] | None = None
) -> Tell:
    """Write case changes as `case_event` points (Grafana annotations), each tagged with
    its site's community (`community_of`, e.g. a `SiteCommunities`)."""

    def tell(changes: Sequence[CaseChange]) -> None:
        lines = (
            case_event_line(c, community_of(c.case.site) if community_of else "") for c in changes
        )
        write(("\n".join(lines) + "\n").encode())

    return tell
