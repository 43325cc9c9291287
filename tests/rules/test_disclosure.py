"""Who sees what of a resident (CONTRACT §7): the table, and notes and deliveries as each
reader reads them (rules/disclosure.py)."""

from __future__ import annotations

from typing import Final

import pytest

from linli.rules.case import Level
from linli.rules.delivery import Delivery, told_note
from linli.rules.disclosure import (
    SEES,
    WITHHELD,
    Part,
    Reader,
    Resident,
    complaint_note,
    delivery_for,
    note_for,
    quote,
    reader_of_levels,
    sees,
    tell_note_for,
    withheld_of,
)

WITHHELD_PARTS: Final = (
    Part.CONTACT, Part.TEXT, Part.ADDRESS, Part.EXTERNAL_ID, Part.REFERENCE, Part.FOLLOWUP_NOTE,
)  # fmt: skip
SHOWN_PARTS: Final = (
    Part.KIND, Part.WINDOW, Part.VERDICT, Part.SOURCE, Part.RECEIVED, Part.CASE, Part.RESOLUTION,
)  # fmt: skip


@pytest.mark.parametrize(
    ("reader", "part", "shown"),
    [pytest.param(Reader.AUTHORITY, p, True, id=f"authority sees {p}") for p in Part]
    + [pytest.param(Reader.MERCHANT, p, False, id=f"merchant: no {p}") for p in WITHHELD_PARTS]
    + [pytest.param(Reader.MERCHANT, p, True, id=f"merchant sees {p}") for p in SHOWN_PARTS]
    + [pytest.param(Reader.MERCHANT, Part.FOLLOWUP_RATING, True, id="merchant sees the rating")]
    + [pytest.param(Reader.PUBLIC, p, False, id=f"public: no {p}") for p in WITHHELD_PARTS]
    + [pytest.param(Reader.PUBLIC, Part.FOLLOWUP_RATING, False, id="public: no rating")]
    + [pytest.param(Reader.PUBLIC, p, True, id=f"public sees {p}") for p in SHOWN_PARTS],
)
def test_contract_7s_table_reader_by_part(reader: Reader, part: Part, shown: bool) -> None:
    assert sees(reader, part) is shown
    assert set(SEES) == set(Part)  # every part decided, none by default


NOTE: Final = complaint_note(
    "TS-20261201-00042",
    "12345",
    "我是1幢302，KTV太吵",
    "corroborated",
    "投诉属实: 测得 70.1 dB(A)",
    False,
)


@pytest.mark.parametrize(
    ("reader", "note", "shown"),
    [
        pytest.param(Reader.AUTHORITY, NOTE, "居民投诉 TS-20261201-00042 (12345): 我是1幢302，KTV太吵 — corroborated: 投诉属实: 测得 70.1 dB(A)", id="authority: the resident's words, unmarked"),
        pytest.param(Reader.MERCHANT, NOTE, f"居民投诉 {WITHHELD} — corroborated: 投诉属实: 测得 70.1 dB(A)", id="merchant: the verdict only"),
        pytest.param(Reader.PUBLIC, NOTE, f"居民投诉 {WITHHELD} — corroborated: 投诉属实: 测得 70.1 dB(A)", id="public: the verdict only"),
        pytest.param(Reader.MERCHANT, "并单 " + NOTE, f"并单 居民投诉 {WITHHELD} — corroborated: 投诉属实: 测得 70.1 dB(A)", id="joined: the same"),
        pytest.param(Reader.MERCHANT, f"回访 {quote('TS-1')}: 不满意. {quote('她说⟫还是吵')}", f"回访 {WITHHELD}: 不满意. {WITHHELD}", id="a quote's marks inside a quote cannot end it early"),
        pytest.param(Reader.MERCHANT, "已调低音量", "已调低音量", id="a note quoting nobody: whole"),
        pytest.param(Reader.MERCHANT, "⟪未闭合的引用", WITHHELD, id="an unclosed quote: withheld to the end"),
    ],
)  # fmt: skip
def test_a_note_as_each_reader_reads_it(reader: Reader, note: str, shown: str) -> None:
    assert note_for(reader, note) == shown


def test_a_note_from_before_the_marks_is_scrubbed_of_the_complaints_strings() -> None:
    old = "并单 居民投诉 TS-1 (12345): 我是1幢302，KTV太吵 — corroborated; 李秀英 13900001234"
    withheld = ("我是1幢302，KTV太吵", "TS-1", "李秀英", "13900001234", "x")
    shown = note_for(Reader.MERCHANT, old, withheld)
    assert (
        shown
        == f"并单 居民投诉 {WITHHELD} (12345): {WITHHELD} — corroborated; {WITHHELD} {WITHHELD}"
    )
    assert note_for(Reader.AUTHORITY, old, withheld) == old


@pytest.mark.parametrize(
    ("levels", "reader"),
    [
        pytest.param((Level.MERCHANT,), Reader.MERCHANT, id="the merchant's chat → merchant"),
        pytest.param((Level.GRID_WORKER,), Reader.AUTHORITY, id="the grid's chat → authority"),
        pytest.param((Level.COMMUNITY, Level.STREET), Reader.AUTHORITY, id="office and street → authority"),
        pytest.param((Level.GRID_WORKER, Level.MERCHANT), Reader.MERCHANT, id="a chat both share → the narrower, merchant"),
    ],
)  # fmt: skip
def test_a_message_is_rendered_for_the_narrowest_reader_of_its_levels(levels, reader) -> None:
    assert reader_of_levels(levels) is reader


def delivery(levels: tuple[Level, ...], to: tuple[str, ...], who: str) -> Delivery:
    return Delivery(
        key=f"k-{who}", case_id=1, event="case.reopened", channel="sms", to=to, levels=levels,
        who=who, title="【工单重新打开】", text="备注：…", link="https://x/board/cases/1",
        created_ms=0, sms={"site": "欢唱KTV"}, payload={"version": 1}, detail="OK 13800000001",
    )  # fmt: skip


MINE: Final = delivery((Level.MERCHANT,), ("13900000112",), "韩磊")
THEIRS: Final = delivery((Level.GRID_WORKER,), ("13800000001",), "王丽")


def test_a_merchant_sees_its_own_delivery_whole_and_another_levels_as_level_channel_state():
    assert delivery_for(Reader.MERCHANT, MINE) == MINE
    assert delivery_for(Reader.AUTHORITY, THEIRS) == THEIRS
    seen = delivery_for(Reader.MERCHANT, THEIRS)
    assert (seen.levels, seen.channel, seen.state, seen.event) == (
        THEIRS.levels, "sms", THEIRS.state, "case.reopened",
    )  # fmt: skip
    assert (seen.to, seen.who, seen.text, seen.link, seen.detail) == ((), "网格员", "", "", "")
    assert (dict(seen.sms), dict(seen.payload)) == ({}, {})


def test_the_timeline_note_of_a_delivery_as_a_merchant_reads_it() -> None:
    deliveries = [MINE, THEIRS]
    mine = told_note(MINE, "delivered", "OK")
    theirs = told_note(THEIRS, "retry in 60 s", "isv.BUSINESS_LIMIT_CONTROL 13800000001")
    assert tell_note_for(Reader.MERCHANT, mine, deliveries) == mine
    assert tell_note_for(Reader.MERCHANT, theirs, deliveries) == (
        "case.reopened → sms (网格员): retry in 60 s"
    )
    assert tell_note_for(Reader.AUTHORITY, theirs, deliveries) == theirs
    # a note of no delivery the reader is shown: nothing of it
    assert (
        tell_note_for(Reader.MERCHANT, "case.opened → sms (王丽) 13800000001: delivered: OK", [])
        == WITHHELD
    )


def test_the_strings_withheld_are_each_complaints_words_numbers_name_phone_and_record() -> None:
    resident = Resident(
        "我是1幢302，KTV太吵" * 20, "TS-1", "12345-0042", "1幢302室",
        {"name": "李秀英", "phone": "13900001234", "other": 7}, "她说还是吵",
    )  # fmt: skip
    got = withheld_of([resident, Resident("楼下油烟")])
    assert got == (
        "我是1幢302，KTV太吵" * 20, ("我是1幢302，KTV太吵" * 20)[:200], "TS-1", "12345-0042",
        "1幢302室", "她说还是吵", "李秀英", "13900001234", "楼下油烟",
    )  # fmt: skip
