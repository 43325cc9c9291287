"""Wiring the notifier: the community file's channels and notify lists, the outbox's
teller, the delivery worker and the reminders (CONTRACT §6).

The teller (rules/engine/telling.py) runs wherever a case changes: in the engine's
process and in the API's (a person's action); both write deliveries in the change's
transaction. The delivery worker runs once, beside the API (`linli serve`, `linli api`,
`linli demo`), and sends them; it also writes the reminders of unacknowledged cases.
A channel that cannot be built is reported in one line at start and on /health, and
stops nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from linli.channels import Channels, build_channels
from linli.community import Community, Street, contacts_of, load_config, load_street
from linli.influx.deliveries import delivery_writer
from linli.monthly import MonthlyReports
from linli.notify.worker import DeliveryWorker
from linli.rules.engine.telling import ASKED, OutboxTeller
from linli.rules.links import LinkSigner
from linli.rules.policy import RulePolicy
from linli.rules.registry import Registry
from linli.rules.routing import ChannelType, Directory, Group, NotifyPlan, directory_of
from linli.settings import Settings
from linli.store import Database
from linli.wiring import ConfigArg, board_key, given, load_policy

log = logging.getLogger(__name__)

REMINDER_CHECK_S: Final = 30.0  # how often unacknowledged cases are looked at


def notify_plan(source: Community | Street | None) -> NotifyPlan:
    """The community files' side of routing: channel types and notify lists. A `Street`
    gives each community its own office (CONTRACT §9: a case climbs to the office of its
    site's community, then to the street); a lone `Community` is the office of every site."""
    if source is None:
        return NotifyPlan()
    if isinstance(source, Street):
        merged = source.merged()
        offices = {c.id: office for c in source.communities if (office := _office(c))}
        return dataclasses.replace(notify_plan(merged), community=None, communities=offices)
    street = source.street
    return NotifyPlan(
        channels={c.id: ChannelType(c.type) for c in source.channel},
        grids={g.id: tuple(g.notify) for g in source.grid},
        merchants={s.id: tuple(s.merchant.notify) for s in source.site if s.merchant},
        community=_office(source),
        street=None
        if street is None
        else Group(street.name, contacts_of(street.contacts), tuple(street.notify)),
    )


def _office(community: Community) -> Group | None:
    """A community's office (`[community]` contacts and notify), None when it has nobody."""
    info = community.community
    if not (info.contacts or info.notify):
        return None
    return Group(info.name, contacts_of(info.contacts), tuple(info.notify))


def plan_of(config: ConfigArg) -> NotifyPlan:
    """The notify plan of `--config`: every community file, read as one street."""
    if config is None or not given(config):
        return NotifyPlan()
    return notify_plan(load_street(config))


class Directories:
    """The directory of audiences, rebuilt when the registry changes (the API may add a
    site or a grid worker at any time)."""

    def __init__(self, load: Callable[[], Registry], version: Callable[[], int], plan: NotifyPlan):
        self._load = load
        self._version = version
        self._plan = plan
        self._lock = threading.Lock()
        self._at: int | None = None
        self._directory = Directory()
        self._names: dict[str, str] = {}

    def _fresh(self) -> None:
        version = self._version()
        with self._lock:
            if version != self._at:
                registry = self._load()
                self._directory = directory_of(registry, self._plan)
                self._names = {s.id: s.name for s in registry.sites.values()}
                self._at = version

    def directory(self) -> Directory:
        """Every site's audiences as of now."""
        self._fresh()
        return self._directory

    def site_names(self) -> Mapping[str, str]:
        """Every site's name as of now."""
        self._fresh()
        return self._names


def make_teller(db, plan: NotifyPlan, settings: Settings, remind_s: int = 30 * 60) -> OutboxTeller:  # type: ignore[no-untyped-def]
    """The outbox teller for a process that changes cases (the engine's, the API's)."""
    directories = Directories(db.load_registry, db.registry_version, plan)
    return OutboxTeller(
        directories.directory,
        directories.site_names,
        settings.public_url,
        ZoneInfo(settings.tz),
        remind_s=remind_s,
        signer=LinkSigner(board_key(settings.board_secret, db), settings.board_link_ttl_s),
    )


@dataclass
class Notifier:
    """What the API's process runs for telling: the teller, the worker, the reminders."""

    teller: OutboxTeller
    worker: DeliveryWorker
    channels: Channels

    def health(self) -> dict[str, tuple[bool, str]]:
        """Each channel for /health: name → (ok, detail)."""
        return {name: (h.ok, h.detail) for name, h in self.worker.health().items()}

    def stop(self) -> None:
        """Stop sending (what is pending stays in the outbox)."""
        self.worker.stop()
        for channel in self.channels.ready.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()


def start_notifier(db, settings: Settings, config: ConfigArg, influx=None, active=None) -> Notifier:  # type: ignore[no-untyped-def]
    """Build the channels (each misconfigured one reported in one line), the teller and the
    delivery worker with its reminders, and start the worker; with `influx`, each outcome
    is also a `delivery` point there (the dashboards' failed deliveries)."""
    community = load_config(config)
    plan = plan_of(config)
    channels = build_channels(community.channel if community else [])
    for name, why in channels.broken.items():
        log.error("notification channel %s cannot be used: %s", name, why)
    policy = load_policy(settings, config)
    remind_s = policy.escalation.remind_s
    teller = make_teller(db, plan, settings, remind_s)
    every_s = REMINDER_CHECK_S if remind_s <= 0 else min(REMINDER_CHECK_S, remind_s / 2)
    reminders = Reminders(db, teller, every_s=every_s)
    reports = monthly_reports(db, settings, config, policy)
    worker = DeliveryWorker(
        db,
        channels.ready,
        plan.channels,
        broken=channels.broken,
        group_wait_s=settings.notify_group_wait_s,
        retry_most_s=settings.notify_retry_most_s,
        before_pass=lambda now_ms: _before_pass(now_ms, reminders, reports),
        on_outcome=None if influx is None else delivery_writer(influx.write),
        active=active,
    )
    teller.wake = worker.wake
    return Notifier(teller, worker.start(), channels)


def monthly_reports(
    db: Database, settings: Settings, config: ConfigArg, policy: RulePolicy
) -> MonthlyReports:
    """The community files' `[[report]]`s (CONTRACT §10), their links signed as the
    teller's are."""
    street = load_street(config) if config is not None and given(config) else None
    signer = LinkSigner(board_key(settings.board_secret, db), settings.board_link_ttl_s)
    return MonthlyReports.of_street(db, street, policy, settings.tz, settings.public_url, signer)


def _before_pass(now_ms: int, reminders: Reminders, reports: MonthlyReports) -> None:
    """What the worker writes before it sends: the reminders, the monthly reports; one
    failing does not keep the other from its turn."""
    try:
        reminders.check(now_ms)
    finally:
        reports.check(now_ms)


class Reminders:
    """Unacknowledged cases told again at their level every `remind_s` (telling.py)."""

    def __init__(self, db, teller: OutboxTeller, every_s: float = REMINDER_CHECK_S) -> None:  # type: ignore[no-untyped-def]
        self._db = db
        self._teller = teller
        self._every_ms = int(every_s * 1000)
        self._last_ms = 0

    def check(self, now_ms: int) -> None:
        """Write the reminders due (at most every `every_s`)."""
        if now_ms - self._last_ms < self._every_ms:
            return
        self._last_ms = now_ms
        with self._db.cases() as tx:
            waiting = [c for c in tx.not_closed() if c.acknowledged_ms is None and c.id is not None]
        if not waiting:
            return
        with self._db.outbox() as box:
            asked = box.last_told_ms([c.id for c in waiting], [e.value for e in ASKED])
        with self._db.cases() as tx:
            due = self._teller.reminders(tx, waiting, asked, now_ms)
            tx.add_deliveries(due)
        if due:
            log.info("reminders: %d deliveries for unacknowledged cases", len(due))
