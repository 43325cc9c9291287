"""The ports the core talks through; adapters at the edges implement them (STYLE §8).

Ingest reads the registry and keeps rejections through them; the rule engine
(rules/engine/) keeps cases and its rules' memory in a `CaseStore` (store/ implements
it on SQLAlchemy), reads stored readings back from a `ReadingHistory` (influx/history.py)
and tells what it decided to `Teller`s inside its transaction and to a `Tell` after it
(influx/annotations.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from linli.rules.case import Case, TimelineEntry
from linli.rules.checkpoint import Claim
from linli.rules.delivery import Delivery
from linli.rules.disclosure import Resident
from linli.rules.engine.decide import CaseChange
from linli.rules.events import Breach
from linli.rules.judge import SensorState
from linli.rules.reading import Reading
from linli.rules.registry import Registry
from linli.rules.rejection import Rejection


class RegistrySource(Protocol):
    """Where ingest reads the current registry from.

    `changes_here` counts the changes this very process made to it (an API beside ingest
    in `linli serve`): ingest compares it with every message, so what was registered a
    moment ago is known to the next message. Another process's changes show in
    `registry_version`, which ingest reads periodically and when an unknown sensor speaks.
    """

    changes_here: int

    def registry_version(self) -> int:
        """A number that changes whenever grids, sites or sensors change."""
        ...

    def load_registry(self) -> Registry:
        """A consistent snapshot of grids, sites and sensors."""
        ...


class RejectSink(Protocol):
    """Where rejected records are kept (CONTRACT §3)."""

    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Store rejected records durably; raises on failure so the batch is not acknowledged."""
        ...


# -- the rule engine's ports ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingSnapshot:
    """An evidence snapshot still collecting readings: the window it proves, when noticed."""

    evidence_id: int
    sensor: str
    start_ms: int  # the breach window's start (the snapshot reaches a margin before it)
    until_ms: int  # the snapshot's end (a margin after the window)
    noticed_ms: int  # wall time the occurrence was recorded


@dataclass(frozen=True, slots=True)
class Proof:
    """A case's latest evidence, as a message about it states it."""

    measured: float
    unit: str
    limit: float | None
    standard: str | None
    clause: str | None
    start_ms: int
    end_ms: int


class CaseTx(Protocol):
    """The case store inside one transaction: what the engine writes commits together."""

    def active_case(self, site: str, rule: str) -> Case | None:
        """The one case not closed for (site, rule), if any."""
        ...

    def insert_case(self, case: Case) -> Case:
        """Keep a new case; returns it with its id."""
        ...

    def update_case(self, case: Case, entry: TimelineEntry) -> None:
        """Write a changed case and its timeline entry."""
        ...

    def add_timeline(self, case_id: int, entry: TimelineEntry) -> None:
        """Append a timeline entry."""
        ...

    def has_occurrence(self, case_id: int, sensor: str, start_ms: int) -> bool:
        """Whether this episode (by its window's start) is on the case already."""
        ...

    def add_occurrence(
        self, case_id: int, breach: Breach, at_ms: int, snapshot: Sequence[Reading], until_ms: int
    ) -> int:
        """Record one episode on a case with its evidence; returns the evidence id."""
        ...

    def grow_occurrence(self, case_id: int, breach: Breach, until_ms: int) -> int | None:
        """Give an episode's occurrence its new extent and its snapshot a new end (open
        again); returns the evidence id, or None when the case holds no such occurrence."""
        ...

    def pending_snapshots(self) -> list[PendingSnapshot]:
        """The evidence snapshots still collecting readings."""
        ...

    def set_snapshot(
        self, pending: PendingSnapshot, readings: Iterable[Reading] | None, done: bool
    ) -> None:
        """Replace an evidence snapshot with these readings (None: keep it); `done` closes it."""
        ...

    def not_closed(self) -> list[Case]:
        """Every case not closed, for the tick."""
        ...

    def load_states(self, *, sensors: Collection[str] | None = None) -> dict[str, SensorState]:
        """Every sensor's saved rules' memory, or only these `sensors`'."""
        ...

    def save_states(self, states: Mapping[str, SensorState], now_ms: int) -> None:
        """Replace these sensors' saved rules' memory."""
        ...

    def latest_evidence(self, case_id: int) -> Proof | None:
        """The case's newest evidence, if it has any (what a message states)."""
        ...

    def add_deliveries(self, items: Sequence[Delivery]) -> None:
        """Keep deliveries in this transaction (the outbox: rules/engine/telling.py)."""
        ...

    def residents(self, case_id: int) -> list[Resident]:
        """What names the residents of the case's complaints (a merchant's message must
        not: rules/disclosure.py)."""
        ...

    def advance(self, claim: Claim, to_seq: int) -> Claim:
        """Move a partition's checkpoint to `to_seq` in this transaction (`to_seq` equal to
        the claim's: only check it still holds); raises `StaleOwner` (rules/checkpoint.py)
        when another owner claimed it or committed past it since. Returns the new claim."""
        ...


class CaseStore(Protocol):
    """Where the engine keeps cases and reads the registry."""

    def registry_version(self) -> int:
        """A number that changes whenever grids, sites or sensors change."""
        ...

    def load_registry(self) -> Registry:
        """A consistent snapshot of grids, sites and sensors."""
        ...

    def cases(self) -> AbstractContextManager[CaseTx]:
        """The case store in one transaction: committed together, or not at all."""
        ...


class ReadingHistory(Protocol):
    """Where the engine finds durable readings it may not have judged."""

    def newest(self, since_ms: int) -> dict[str, int]:
        """Each sensor's newest reading time at or after `since_ms`."""
        ...

    def readings_after(
        self, sensor: str, after_ms: int, until_ms: int | None = None
    ) -> list[Reading]:
        """A sensor's stored readings later than `after_ms` (up to `until_ms`), oldest first."""
        ...


class Teller(Protocol):
    """Told a transaction's case changes inside it, after the decision (an outbox).

    What it writes through `tx` commits with the case changes or not at all; a teller that
    raises fails the round, which is judged again.
    """

    def tell(self, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
        """Record these case changes in the transaction that made them."""
        ...


Tell = Callable[[Sequence[CaseChange]], None]  # told after the commit; a failure is logged
