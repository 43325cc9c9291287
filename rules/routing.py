"""Who is told about a case change, on which channel (CONTRACT §6): routing, pure.

A case is at one level of the ladder (merchant → grid worker → the site's community
office → street enforcement, CONTRACT §9). Each level of a site has an `Audience`: its
people (each with their addresses by channel id) and its group chats (the `notify` list
of the grid, the merchant, the community office or the street team). A group chat gets
one message that @-mentions the level's people who have an address on that chat's
channel; a person's own channels (SMS, e-mail) get one message each.

Who is told of what:
- a case opened at level L: L's audience; an escalation to L+1: L+1's;
- acknowledge, resolve, reopen and close (by a person, or by linli: a recurrence after
  resolution reopens, the verification window or a recovered sensor closes): everyone
  told before, the levels from the case's first to its current one;
- an occurrence added to an open case, a comment: nobody; starting work: only the
  machines (webhooks get every transition, CONTRACT §6's `case.in_progress`);
- a reminder of an unacknowledged case: its current level again.

Deliveries are merged: a group chat or webhook named by two levels gets one message
(mentioning the people of both), a person's address one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from linli.rules.case import LADDER, Action, Case, CaseState, Level, TimelineEntry
from linli.rules.registry import Contact, Registry


class ChannelType(StrEnum):
    """CONTRACT §6 channel types."""

    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"


# A group chat's robot: one message to the chat, the level's people @-mentioned in it.
GROUP_TYPES: Final = frozenset({ChannelType.DINGTALK, ChannelType.WECOM, ChannelType.FEISHU})
# One message per person, to their own address.
PERSONAL_TYPES: Final = frozenset({ChannelType.EMAIL, ChannelType.SMS})


class Event(StrEnum):
    """What a delivery tells (CONTRACT §6 webhook `event`), and the reminder."""

    OPENED = "case.opened"
    ESCALATED = "case.escalated"
    ACKNOWLEDGED = "case.acknowledged"
    IN_PROGRESS = "case.in_progress"
    RESOLVED = "case.resolved"
    REOPENED = "case.reopened"
    CLOSED = "case.closed"
    REMINDER = "case.reminder"  # not a transition: the case is still not acknowledged


@dataclass(frozen=True, slots=True)
class Audience:
    """The people and group chats of one level for one site."""

    level: Level
    name: str  # who they are, for the message and the timeline ("红街公寓东网格 网格员")
    people: tuple[Contact, ...] = ()
    groups: tuple[str, ...] = ()  # channel ids of the level's group chats and webhooks


@dataclass(frozen=True, slots=True)
class Directory:
    """Each site's audiences by level, and each channel's type (from the community file)."""

    channels: Mapping[str, ChannelType] = field(default_factory=dict)
    audiences: Mapping[tuple[str, Level], Audience] = field(default_factory=dict)
    # each site's community (CONTRACT §9): a link to its community office opens that
    # community only (rules/links.py)
    communities: Mapping[str, str] = field(default_factory=dict)

    def audience(self, site: str, level: Level) -> Audience | None:
        """The audience of `site` at `level`; None when that level has nobody there."""
        return self.audiences.get((site, level))


@dataclass(frozen=True, slots=True)
class Group:
    """A level's people and chats the registry does not hold: the community office, the
    street enforcement team (the community file's `[community]` and `[street]`)."""

    name: str
    people: tuple[Contact, ...] = ()
    notify: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyPlan:
    """The community files' side of routing: channels, and the `notify` lists.

    A street's deployment (CONTRACT §9) has one community office per community,
    `communities` by community id; a site's case climbs to the office of its grid's
    community. `community` is the office of a deployment of one community file (and of a
    grid no community claims); `street` is the one street team above them all.
    """

    channels: Mapping[str, ChannelType] = field(default_factory=dict)
    grids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # grid id → notify
    merchants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # site id → notify
    community: Group | None = None
    street: Group | None = None
    communities: Mapping[str, Group] = field(default_factory=dict)  # community id → office

    def office(self, community: str) -> Group | None:
        """The community office of the community `community` ("": none named)."""
        return self.communities.get(community, self.community)


def directory_of(registry: Registry, plan: NotifyPlan) -> Directory:
    """Every site's audiences: its merchant's contacts, its grid's workers (both from the
    registry, which the API may change), its community's office and the street team."""
    audiences: dict[tuple[str, Level], Audience] = {}
    communities: dict[str, str] = {}
    for site in registry.sites.values():
        if site.merchant is not None:
            notify = plan.merchants.get(site.id, ())
            audiences[site.id, Level.MERCHANT] = Audience(
                Level.MERCHANT, site.merchant.name, site.merchant.contacts, notify
            )
        grid = registry.grids.get(site.grid)
        if grid is not None:
            audiences[site.id, Level.GRID_WORKER] = Audience(
                Level.GRID_WORKER, f"{grid.name} 网格员", grid.workers, plan.grids.get(grid.id, ())
            )
        communities[site.id] = grid.community if grid is not None else ""
        office = plan.office(communities[site.id])
        for level, group in ((Level.COMMUNITY, office), (Level.STREET, plan.street)):
            if group is not None:
                audiences[site.id, level] = Audience(level, group.name, group.people, group.notify)
    return Directory(plan.channels, audiences, communities)


@dataclass(frozen=True, slots=True)
class Notice:
    """One delivery to make: a channel, the addresses on it, the levels it is for."""

    channel: str
    to: tuple[str, ...]  # a group: the phone numbers to @-mention; a person: their address
    levels: tuple[Level, ...]
    who: str  # the names told, for the timeline


def event_of(entry: TimelineEntry) -> Event | None:
    """The event a timeline entry tells, or None (an occurrence, a comment)."""
    if entry.action is Action.OPEN:
        return Event.OPENED
    if entry.action is Action.ESCALATE:
        return Event.ESCALATED
    if entry.from_state is entry.to_state:
        return None  # an occurrence on an open case, a comment
    return {
        CaseState.ACKNOWLEDGED: Event.ACKNOWLEDGED,
        CaseState.IN_PROGRESS: Event.IN_PROGRESS,
        CaseState.RESOLVED: Event.RESOLVED,
        CaseState.REOPENED: Event.REOPENED,
        CaseState.CLOSED: Event.CLOSED,
    }.get(entry.to_state)


def told_levels(case: Case) -> tuple[Level, ...]:
    """Every level told so far: from the case's first level to its current one."""
    first, now = LADDER.index(case.first_level), LADDER.index(case.level)
    return LADDER[first : now + 1]


def levels_to_tell(event: Event, case: Case) -> tuple[Level, ...]:
    """Whose people and groups hear of `event` (the case as it is after the change)."""
    if event in (Event.OPENED, Event.ESCALATED, Event.REMINDER):
        return (case.level,)
    return told_levels(case)


def notices(event: Event, case: Case, directory: Directory) -> list[Notice]:
    """The deliveries `event` of `case` causes, merged per channel and addresses."""
    people_too = event is not Event.IN_PROGRESS  # starting work: only the webhooks
    out: dict[tuple[str, ...], Notice] = {}
    for level in levels_to_tell(event, case):
        audience = directory.audience(case.site, level)
        if audience is None:
            continue
        for notice in _of_audience(audience, directory.channels, people_too, event):
            personal = directory.channels[notice.channel] in PERSONAL_TYPES
            key = (notice.channel, *notice.to) if personal else (notice.channel,)
            held = out.get(key)
            out[key] = notice if held is None else _merged(held, notice)
    return list(out.values())


def _of_audience(
    audience: Audience,
    channels: Mapping[str, ChannelType],
    people_too: bool,
    event: Event,
) -> Iterable[Notice]:
    level = (audience.level,)
    for channel in audience.groups:
        kind = channels.get(channel)
        if kind is ChannelType.WEBHOOK:
            if event is not Event.REMINDER:  # a machine wants transitions, not nagging
                yield Notice(channel, (), level, audience.name)
        elif kind is not None and people_too:
            yield Notice(channel, _addresses(audience.people, channel), level, audience.name)
    if not people_too:
        return
    for person in audience.people:
        for channel, address in person.channels.items():
            if channels.get(channel) in PERSONAL_TYPES:
                yield Notice(channel, (address,), level, person.name)


def _addresses(people: Sequence[Contact], channel: str) -> tuple[str, ...]:
    """The addresses on `channel` of the people who have one there, in order, once each."""
    return tuple(dict.fromkeys(a for p in people if (a := p.channels.get(channel))))


def _merged(a: Notice, b: Notice) -> Notice:
    to = tuple(dict.fromkeys((*a.to, *b.to)))
    levels = tuple(dict.fromkeys((*a.levels, *b.levels)))
    who = ", ".join(dict.fromkeys((*a.who.split(", "), *b.who.split(", "))))
    return Notice(a.channel, to, levels, who)
