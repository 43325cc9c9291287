"""What a message about a case says (CONTRACT §6): site, rule, value against the limit with
its standard, the local window, what is expected of the reader, the link."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

from linli.rules.case import Case, CaseKind, CaseState, Level
from linli.rules.delivery import Delivery
from linli.rules.messages import SMS_TEXT_CHARS, Facts, digest, render
from linli.rules.routing import Event

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = 1_764_513_600_000  # 2025-11-30 22:40 in Shanghai

KTV = Case(
    "tc-ktv",
    "g-tc-south",
    "noise_night_max",
    CaseKind.BREACH,
    "n-ktv-1",
    "声动KTV: 夜间突发噪声 night noise peaks",
    T0,
    id=12,
)
FACTS = Facts(
    event=Event.OPENED,
    case=KTV,
    site_name="声动KTV",
    link="http://127.0.0.1:8000/board/cases/12",
    tz=SHANGHAI,
    measured=88.0,
    unit="dB(A)",
    limit=70.0,
    standard="GB 22337-2008",
    clause="4.1 夜间突发噪声最大声级超过限值的幅度不得高于15 dB(A)",
    window=(T0, T0 + 30 * 60_000),
)


def test_an_opened_case_tells_the_merchant_what_was_measured_and_what_to_do():
    m = render(FACTS)
    assert m.title == "【新工单】声动KTV: 夜间突发噪声 night noise peaks"
    assert "- 地点：声动KTV" in m.text
    assert "- 测得 88.0 dB(A)，限值 70 dB(A)（GB 22337-2008 4.1 夜间突发噪声" in m.text
    assert "- 时段 11-30 22:40–23:10" in m.text
    assert "请立即检查并整改" in m.text  # the merchant's level
    # the title and the link are each channel's frame, not repeated in the text
    assert m.title not in m.text and FACTS.link not in m.text
    assert m.sms["case"] == "12" and m.sms["link"] == FACTS.link
    assert all(len(v) <= SMS_TEXT_CHARS for k, v in m.sms.items() if k != "link")


def test_an_escalation_says_who_did_not_act_and_asks_the_next_level():
    up = dataclasses.replace(
        FACTS,
        event=Event.ESCALATED,
        case=dataclasses.replace(KTV, level=Level.GRID_WORKER),
        who_did_not_act="商户 30 分钟未签收（自 11-30 22:40）",
    )
    m = render(up)
    assert m.title.startswith("【工单升级】")
    assert "- 商户 30 分钟未签收（自 11-30 22:40）" in m.text
    assert "当前级别：网格员" in m.text
    assert "请到场核查" in m.text


def test_a_resolution_is_for_information_with_its_note_and_a_window_over_midnight():
    done = dataclasses.replace(
        FACTS,
        event=Event.RESOLVED,
        case=dataclasses.replace(KTV, state=CaseState.RESOLVED),
        note="已加装隔音门",
        window=(T0, T0 + 3 * 3600_000),
    )
    m = render(done)
    assert "- 备注：已加装隔音门" in m.text
    assert "仅供知悉，无需操作。" in m.text
    assert "请立即检查" not in m.text
    assert "- 时段 11-30 22:40–12-01 01:40" in m.text


def test_a_device_case_without_evidence_still_reads_whole():
    offline = Facts(
        event=Event.OPENED,
        case=dataclasses.replace(
            KTV, rule="device_offline", title="声动KTV: 设备离线 sensor offline"
        ),
        site_name="声动KTV",
        link="http://x/board/cases/12",
        tz=SHANGHAI,
    )
    m = render(offline)
    assert "测得" not in m.text and "时段" not in m.text
    assert m.sms["what"] == "声动KTV: 设备离线 sensor offline"


def test_a_digest_names_every_case_with_its_link():
    items = [
        Delivery(
            key=f"k{i}",
            case_id=100 + i,
            event=Event.OPENED.value,
            channel="ding-grid",
            to=("13800000006",),
            levels=(Level.GRID_WORKER,),
            who="红街天城南网格 网格员",
            title=f"【新工单】店{i}: 设备离线 sensor offline",
            text="…",
            link=f"http://x/board/cases/{100 + i}",
            created_ms=T0,
        )
        for i in range(5)
    ]
    m = digest(items)
    assert m.title == "【5 件工单】红街天城南网格 网格员"
    for i in range(5):
        assert (
            f"- 【新工单】店{i}: 设备离线 sensor offline [#{100 + i}](http://x/board/cases/{100 + i})"
            in m.text
        )
    assert "签收并处理" in m.text
    assert m.key == "k0+k1+k2+k3+k4"
    assert all(len(v) <= SMS_TEXT_CHARS for k, v in m.sms.items() if k != "link")
    told = [dataclasses.replace(d, event=Event.RESOLVED.value) for d in items]
    assert "仅供知悉" in digest(told).text


def test_a_clause_naming_its_standard_does_not_repeat_it():
    facts = dataclasses.replace(FACTS, clause="GB 22337-2008 表1 4类 夜间 55 dB(A)")
    assert "（GB 22337-2008 表1 4类 夜间 55 dB(A)）" in render(facts).text


FORGED = "已整改\n当前级别：已结案\n[点此](http://evil.example) ![](http://evil.example/p.png)"


def test_what_a_person_wrote_is_one_line_of_text_in_every_part_of_the_message():
    # a site's name typed into the registry, the case's title with it, a merchant's note
    typed = dataclasses.replace(
        FACTS,
        event=Event.RESOLVED,
        case=dataclasses.replace(KTV, title="声动KTV\n当前级别：已结案 <b>x</b>", level=Level.GRID_WORKER),
        site_name="声动KTV\n- 当前级别：已结案",
        note=FORGED + "\x1b[2J" + "吵" * 500,
    )  # fmt: skip
    m = render(typed)
    lines = m.text.splitlines()
    assert [line[:5] for line in lines] == ["- 地点：", "- 工单：", "- 测得 ", "- 时段 ", "- 备注：", "- 仅供知"]  # fmt: skip
    assert not any(line.lstrip("- ").startswith("当前级别") for line in lines)
    assert "[" not in m.text and "](" not in m.text and "<b>" not in m.title and "\n" not in m.title
    assert "http://" not in m.text and "\x1b" not in m.text
    (note,) = [line for line in lines if line.startswith("- 备注：")]
    assert note.endswith("吵…") and len(note) == len("- 备注：") + 200
    assert all("\n" not in v and len(v) <= SMS_TEXT_CHARS for k, v in m.sms.items() if k != "link")
    assert m.sms["site"] == "声动KTV - 当前级别：已结案"
    many = digest([
        Delivery(key="k", case_id=1, event=Event.OPENED.value, channel="ding", to=(), levels=(),
                 who="网格\n当前级别：已结案 [x](http://evil.example)", title=m.title, text=m.text,
                 link="http://x/board/cases/1", created_ms=T0)
    ])  # fmt: skip
    assert "\n" not in many.title and "](http://evil" not in many.title
