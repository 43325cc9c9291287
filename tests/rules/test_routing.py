"""Routing: who is told of each case change, on which channel (CONTRACT §6), table-tested."""

from __future__ import annotations

import dataclasses

import pytest

from linli.rules.case import Action, Case, CaseKind, CaseState, Level, TimelineEntry
from linli.rules.registry import Contact
from linli.rules.routing import (
    Audience,
    ChannelType,
    Directory,
    Event,
    Notice,
    event_of,
    notices,
)

M, G, C, S = Level.MERCHANT, Level.GRID_WORKER, Level.COMMUNITY, Level.STREET

ZHOU = Contact("周强", channels={"sms": "13900000101", "ding-shop": "13900000101"})
WU = Contact("吴静", channels={"mail": "wu@shop.example"})
WANG = Contact("王丽", channels={"sms": "13800000001", "ding-grid": "13800000001"})
CHEN = Contact("陈刚", channels={"sms": "13800000002"})
OFFICE = Contact("社区办 何敏", channels={"mail": "office@tx.example", "ding-grid": "13700000001"})

DIRECTORY = Directory(
    channels={
        "ding-shop": ChannelType.DINGTALK,
        "ding-grid": ChannelType.DINGTALK,
        "wecom-office": ChannelType.WECOM,
        "feishu-street": ChannelType.FEISHU,
        "city": ChannelType.WEBHOOK,
        "sms": ChannelType.SMS,
        "mail": ChannelType.EMAIL,
    },
    audiences={
        ("shop", M): Audience(M, "知味餐饮 商户", (ZHOU, WU), ("ding-shop",)),
        ("shop", G): Audience(G, "东网格 网格员", (WANG, CHEN), ("ding-grid", "city")),
        ("shop", C): Audience(C, "天新社区", (OFFICE,), ("wecom-office", "ding-grid", "city")),
        ("shop", S): Audience(S, "笕桥街道 执法队", (), ("feishu-street", "city")),
        ("flat", G): Audience(G, "东网格 网格员", (WANG, CHEN), ("ding-grid", "city")),
        ("flat", S): Audience(S, "笕桥街道 执法队", (), ("feishu-street", "city")),
    },
)

SHOP = Case("shop", "g-east", "fume_conc", CaseKind.BREACH, "f-1", "油烟超标", 0)
FLAT = dataclasses.replace(
    SHOP, site="flat", rule="noise_leq", level=G, first_level=G, title="噪声超标"
)


def entry(action: Action, from_state: CaseState, to_state: CaseState, level: Level):
    return TimelineEntry(1, "linli", action, from_state, to_state, level)


OPEN, A, P, R, RO, X = (
    CaseState.OPEN,
    CaseState.ACKNOWLEDGED,
    CaseState.IN_PROGRESS,
    CaseState.RESOLVED,
    CaseState.REOPENED,
    CaseState.CLOSED,
)


@pytest.mark.parametrize(
    ("action", "from_state", "to_state", "event"),
    [
        (Action.OPEN, OPEN, OPEN, Event.OPENED),
        (Action.ESCALATE, OPEN, OPEN, Event.ESCALATED),
        (Action.ACKNOWLEDGE, OPEN, A, Event.ACKNOWLEDGED),
        (Action.START, A, P, Event.IN_PROGRESS),
        (Action.RESOLVE, P, R, Event.RESOLVED),
        (Action.REOPEN, R, RO, Event.REOPENED),
        (Action.OCCUR, R, RO, Event.REOPENED),
        (Action.CLOSE, R, X, Event.CLOSED),
        (Action.VERIFY, R, X, Event.CLOSED),
        (Action.RECOVER, OPEN, X, Event.CLOSED),
        (Action.OCCUR, OPEN, OPEN, None),
        (Action.OCCUR, A, A, None),
        (Action.COMMENT, P, P, None),
        (Action.COMMENT, X, X, None),
    ],
    ids=[
        "linli opens a case: case.opened",
        "the schedule escalates it: case.escalated",
        "a person acknowledges: case.acknowledged",
        "a person starts work: case.in_progress",
        "a person resolves: case.resolved",
        "a person reopens: case.reopened",
        "it recurs after resolution (an occurrence reopens): case.reopened",
        "a person closes a resolved case: case.closed",
        "the verification window passes: case.closed",
        "the faulty sensor recovers: case.closed",
        "an occurrence on an open case: nobody is told",
        "an occurrence on an acknowledged case: nobody is told",
        "a comment: nobody is told",
        "the follow-up call's comment on a closed case: nobody is told",
    ],
)
def test_each_timeline_entry_tells_its_event_or_nothing(action, from_state, to_state, event):
    assert event_of(entry(action, from_state, to_state, M)) is event


def n(channel: str, to: tuple[str, ...], levels: tuple[Level, ...], who: str) -> Notice:
    return Notice(channel, to, levels, who)


MERCHANT_TOLD = [
    n("ding-shop", ("13900000101",), (M,), "知味餐饮 商户"),
    n("sms", ("13900000101",), (M,), "周强"),
    n("mail", ("wu@shop.example",), (M,), "吴静"),
]
GRID_TOLD = [
    n("ding-grid", ("13800000001",), (G,), "东网格 网格员"),
    n("city", (), (G,), "东网格 网格员"),
    n("sms", ("13800000001",), (G,), "王丽"),
    n("sms", ("13800000002",), (G,), "陈刚"),
]


@pytest.mark.parametrize(
    ("event", "case", "expected"),
    [
        (Event.OPENED, SHOP, MERCHANT_TOLD),
        (Event.REMINDER, SHOP, MERCHANT_TOLD),
        (Event.ESCALATED, dataclasses.replace(SHOP, level=G), GRID_TOLD),
        (
            Event.ACKNOWLEDGED,
            dataclasses.replace(SHOP, level=G, state=A),
            MERCHANT_TOLD + GRID_TOLD,
        ),
        (
            Event.IN_PROGRESS,
            dataclasses.replace(SHOP, level=G, state=P),
            [n("city", (), (G,), "东网格 网格员")],
        ),
        (Event.IN_PROGRESS, dataclasses.replace(SHOP, state=P), []),
        (Event.OPENED, FLAT, GRID_TOLD),
        (Event.RESOLVED, dataclasses.replace(FLAT, state=R), GRID_TOLD),
        (
            Event.ESCALATED,
            dataclasses.replace(SHOP, level=C),
            [
                n("wecom-office", (), (C,), "天新社区"),
                n("ding-grid", ("13700000001",), (C,), "天新社区"),
                n("city", (), (C,), "天新社区"),
                n("mail", ("office@tx.example",), (C,), "社区办 何敏"),
            ],
        ),
        (
            Event.CLOSED,
            dataclasses.replace(FLAT, level=S, state=X),
            [
                n("ding-grid", ("13800000001",), (G,), "东网格 网格员"),
                n("city", (), (G, S), "东网格 网格员, 笕桥街道 执法队"),
                n("sms", ("13800000001",), (G,), "王丽"),
                n("sms", ("13800000002",), (G,), "陈刚"),
                n("feishu-street", (), (S,), "笕桥街道 执法队"),
            ],
        ),
        (
            Event.REOPENED,
            dataclasses.replace(SHOP, level=C, state=RO),
            [
                *MERCHANT_TOLD,
                n("ding-grid", ("13800000001", "13700000001"), (G, C), "东网格 网格员, 天新社区"),
                n("city", (), (G, C), "东网格 网格员, 天新社区"),
                *GRID_TOLD[2:],
                n("wecom-office", (), (C,), "天新社区"),
                n("mail", ("office@tx.example",), (C,), "社区办 何敏"),
            ],
        ),
        (Event.REMINDER, dataclasses.replace(SHOP, level=G), [GRID_TOLD[0], *GRID_TOLD[2:]]),
    ],
    ids=[
        "a shop's case opens at the merchant: the merchant's group robot @-mentions the contacts on it, each contact's SMS and e-mail",
        "a reminder of an unacknowledged case: its level again",
        "escalated to the grid worker: the grid's group, its webhook, each worker's SMS",
        "acknowledged after an escalation: everyone told before, merchant and grid worker",
        "work started: only the webhooks told before",
        "work started with no webhook told before: nobody",
        "a residential case opens at the grid worker",
        "resolved at the level it opened at: that level",
        "escalated to the community: its groups (the grid's chat too, mentioning the office), the office's e-mail",
        "closed at street level where the community had nobody: a webhook two levels share is told once",
        "reopened at the community: a group chat two levels share gets one message mentioning both levels' people",
        "a reminder goes to people, not to the webhooks",
    ],
)
def test_who_is_told(event, case, expected):
    assert notices(event, case, DIRECTORY) == expected


def test_a_level_with_nobody_is_skipped_and_unknown_channels_are_not_guessed():
    empty = Directory(channels={}, audiences={("shop", M): Audience(M, "商户", (ZHOU,), ("x",))})
    assert notices(Event.OPENED, SHOP, empty) == []
    assert notices(Event.OPENED, dataclasses.replace(SHOP, site="elsewhere"), DIRECTORY) == []


def test_the_directory_comes_from_the_registry_and_the_files_notify_lists():
    from linli.rules.registry import Grid, Merchant, Registry, Site, SiteKind, Zone
    from linli.rules.routing import Group, NotifyPlan, directory_of

    registry = Registry(
        grids=[Grid("g-east", "东网格", (WANG, CHEN))],
        sites=[
            Site(
                "shop",
                "知味餐饮",
                SiteKind.SHOP,
                Zone.Z4A,
                "g-east",
                merchant=Merchant("知味", (ZHOU,)),
            ),
            Site("flat", "1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g-east"),
        ],
    )
    plan = NotifyPlan(
        channels=DIRECTORY.channels,
        grids={"g-east": ("ding-grid",)},
        merchants={"shop": ("ding-shop",)},
        community=Group("天新社区", (OFFICE,), ("wecom-office",)),
    )
    found = directory_of(registry, plan)
    assert found.audience("shop", M) == Audience(M, "知味", (ZHOU,), ("ding-shop",))
    assert found.audience("flat", M) is None  # no merchant: its cases open at the grid worker
    assert found.audience("flat", G) == Audience(G, "东网格 网格员", (WANG, CHEN), ("ding-grid",))
    assert found.audience("flat", C) == Audience(C, "天新社区", (OFFICE,), ("wecom-office",))
    assert found.audience("flat", S) is None  # no [street] in the file


def test_a_street_of_communities_sends_each_sites_case_to_its_own_communitys_office():
    """CONTRACT §9: merchant → grid worker → the site's community office → street."""
    from linli.rules.registry import Grid, Registry, Site, SiteKind, Zone
    from linli.rules.routing import Group, NotifyPlan, directory_of

    registry = Registry(
        grids=[
            Grid("g-east", "东网格", (WANG,), community="tianxin"),
            Grid("g-north", "北网格", (CHEN,), community="hongjie"),
        ],
        sites=[
            Site("tx-1", "天新1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g-east"),
            Site("hj-1", "红街1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g-north"),
        ],
    )
    tianxin = Group("天新社区", (OFFICE,), ("wecom-office",))
    hongjie = Group("红街社区", (), ("ding-grid",))
    street = Group("笕桥街道 执法队", (), ("feishu-street",))
    plan = NotifyPlan(
        channels=DIRECTORY.channels,
        communities={"tianxin": tianxin, "hongjie": hongjie},
        street=street,
    )
    found = directory_of(registry, plan)
    assert found.audience("tx-1", C) == Audience(C, "天新社区", (OFFICE,), ("wecom-office",))
    assert found.audience("hj-1", C) == Audience(C, "红街社区", (), ("ding-grid",))
    for site in ("tx-1", "hj-1"):
        assert found.audience(site, S) == Audience(S, "笕桥街道 执法队", (), ("feishu-street",))
    flat = dataclasses.replace(FLAT, site="hj-1", level=C)
    told = notices(Event.ESCALATED, flat, found)
    assert [(n.channel, n.who) for n in told] == [("ding-grid", "红街社区")]
    top = notices(Event.ESCALATED, dataclasses.replace(flat, level=S), found)
    assert [(n.channel, n.who) for n in top] == [("feishu-street", "笕桥街道 执法队")]
