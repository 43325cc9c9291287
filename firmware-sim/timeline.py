"""A scenario's state switches (offline, stuck, bad payloads) in simulated-time order."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

from .scenario import EventType, ScenarioEvent

NEVER: Final = 1 << 62

# At one instant an ending spell switches off before a following one switches on.
_END, _START, _ONCE = 0, 1, 2


class Timeline:
    """Switches to apply before the readings of a given second are made."""

    __slots__ = ("_queue",)

    def __init__(self, events: Sequence[ScenarioEvent], start_s: int = 0) -> None:
        items: list[tuple[int, int, int, ScenarioEvent, bool]] = []
        for n, e in enumerate(events):
            if e.type in (EventType.OFFLINE, EventType.STUCK):
                items.append((start_s + e.at_s, _START, n, e, True))
                items.append((start_s + e.end_s, _END, n, e, False))
            elif e.type is EventType.BAD_PAYLOAD:
                items.append((start_s + e.at_s, _ONCE, n, e, True))
        items.sort(key=lambda item: item[:3])
        self._queue = deque((t, e, starting) for t, _, _, e, starting in items)

    def due(self, second: int) -> list[tuple[ScenarioEvent, bool]]:
        """Take the switches at or before `second`: (event, True at start / False at end)."""
        taken: list[tuple[ScenarioEvent, bool]] = []
        while self._queue and self._queue[0][0] <= second:
            _, event, starting = self._queue.popleft()
            taken.append((event, starting))
        return taken

    def next_s(self) -> int:
        """When the next switch happens (`NEVER` if none is left)."""
        return self._queue[0][0] if self._queue else NEVER
