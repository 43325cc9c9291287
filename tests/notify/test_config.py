"""`[[channel]]` tables (CONTRACT §6): parsed, `env:` read at start, references checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from linli.channels import ChannelConfigError, build_channel, build_channels
from linli.community import Community, CommunityError, load_community
from linli.notify.dingtalk import DingTalkRobot
from linli.notify.email import EmailChannel
from linli.notify.feishu import FeishuBot
from linli.notify.sms import AliyunSms
from linli.notify.webhook import SignedWebhook
from linli.notify.wecom import WeComRobot

TIANXIN = Path(__file__).parents[2] / "community" / "tianxin.toml"

BASE = """\
[community]
name = "测试社区"

[[grid]]
id = "g1"
name = "一网格"
workers = [{ name = "王丽", channels = { ding = "13800000001", sms = "13800000001" } }]
notify = ["ding"]

[[channel]]
id = "ding"
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=t"
secret = "env:T_DING_SECRET"

[[channel]]
id = "sms"
type = "sms"
access_key_id = "env:T_AK"
access_key_secret = "env:T_SK"
sign_name = "测试社区"
template = "SMS_1"
"""

ALL_KINDS = (
    BASE
    + """
[[channel]]
id = "wecom"
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"

[[channel]]
id = "feishu"
type = "feishu"
url = "https://open.feishu.cn/open-apis/bot/v2/hook/h"
secret = "s"
timeout_s = 3

[[channel]]
id = "mail"
type = "email"
url = "env:T_SMTP_URL"
from = "测试社区 <linli@x.example>"

[[channel]]
id = "city"
type = "webhook"
url = "https://city.example/linli"
secret = "env:T_CITY"
"""
)

ENV = {
    "T_DING_SECRET": "SECd",
    "T_AK": "ak",
    "T_SK": "sk",
    "T_SMTP_URL": "smtps://u:p@mail.x.example",
    "T_CITY": "c",
}


def _load(tmp_path: Path, text: str) -> Community:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_community(path)


def test_every_kind_is_built_with_its_env_values(tmp_path: Path) -> None:
    channels = build_channels(_load(tmp_path, ALL_KINDS).channel, ENV)
    assert channels.broken == {}
    kinds = {cid: type(ch) for cid, ch in channels.ready.items()}
    assert kinds == {
        "ding": DingTalkRobot,
        "sms": AliyunSms,
        "wecom": WeComRobot,
        "feishu": FeishuBot,
        "mail": EmailChannel,
        "city": SignedWebhook,
    }
    ding, sms, mail = channels.ready["ding"], channels.ready["sms"], channels.ready["mail"]
    assert isinstance(ding, DingTalkRobot) and ding.secret == "SECd"
    assert isinstance(sms, AliyunSms) and (sms.url, sms.access_key_id, sms.access_key_secret) == (
        "https://dysmsapi.aliyuncs.com/",
        "ak",
        "sk",
    )
    assert isinstance(mail, EmailChannel) and (mail.server.host, mail.server.port, mail.sender) == (
        "mail.x.example",
        465,
        "测试社区 <linli@x.example>",
    )
    feishu = channels.ready["feishu"]
    assert isinstance(feishu, FeishuBot) and feishu.http.timeout.read == 3.0


def test_a_missing_variable_breaks_only_its_channel(tmp_path: Path) -> None:
    channels = build_channels(
        _load(tmp_path, ALL_KINDS).channel, {k: v for k, v in ENV.items() if k != "T_DING_SECRET"}
    )
    assert channels.broken == {
        "ding": "channel 'ding' field 'secret': environment variable T_DING_SECRET is not set"
    }
    assert set(channels.ready) == {"sms", "wecom", "feishu", "mail", "city"}


def test_an_empty_variable_is_named(tmp_path: Path) -> None:
    [_, sms, *_] = _load(tmp_path, ALL_KINDS).channel
    with pytest.raises(ChannelConfigError) as caught:
        build_channel(sms, {**ENV, "T_SK": "  "})
    assert (
        str(caught.value)
        == "channel 'sms' field 'access_key_secret': environment variable T_SK is empty"
    )


def test_a_bad_url_read_from_the_environment_is_named(tmp_path: Path) -> None:
    mail = next(c for c in _load(tmp_path, ALL_KINDS).channel if c.id == "mail")
    with pytest.raises(ChannelConfigError) as caught:
        build_channel(mail, {**ENV, "T_SMTP_URL": "https://mail.x.example"})
    assert (
        str(caught.value)
        == "channel 'mail' field 'url': 'https://mail.x.example' is not a smtp:// or smtps:// URL"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'type = "dingtalk"',
            'type = "pager"',
            "[[channel]] #1 'ding' field 'type': 'pager' is not one of dingtalk, wecom, feishu, webhook, email, sms",
            id="an unknown type",
        ),
        pytest.param(
            'type = "dingtalk"\n',
            "",
            "[[channel]] #1 'ding' field 'type': Field required (one of dingtalk, wecom, feishu, webhook, email, sms)",
            id="no type",
        ),
        pytest.param(
            'url = "https://oapi',
            'url = "ftp://oapi',
            "[[channel]] #1 'ding' field 'url': Value error, 'ftp://oapi.dingtalk.com/robot/send?access_token=t' is not a https:// or http:// URL",
            id="a URL of another scheme",
        ),
        pytest.param(
            'url = "https://oapi.dingtalk.com/robot/send?access_token=t"',
            'url = "https://:80/x"',
            "[[channel]] #1 'ding' field 'url': Value error, 'https://:80/x' names no host",
            id="a URL without host",
        ),
        pytest.param(
            'sign_name = "测试社区"\n',
            "",
            "[[channel]] #2 'sms' field 'sign_name': Field required",
            id="an SMS channel without sign_name",
        ),
        pytest.param(
            'secret = "env:T_DING_SECRET"',
            'secret = "env:T_DING_SECRET"\ntemplate = "x"',
            "[[channel]] #1 'ding' field 'template': Extra inputs are not permitted",
            id="a field of another type",
        ),
        pytest.param(
            'id = "sms"',
            'id = "ding"',
            "[[channel]] #2 field 'id': 'ding' appears twice\n[[grid]] #1 'g1' worker '王丽' field 'channels': 'sms' is not a [[channel]] id",
            id="a channel id twice (and so no 'sms')",
        ),
        pytest.param(
            'channels = { ding = "13800000001", sms',
            'channels = { dingding = "13800000001", sms',
            "[[grid]] #1 'g1' worker '王丽' field 'channels': 'dingding' is not a [[channel]] id",
            id="a person's unknown channel",
        ),
        pytest.param(
            'notify = ["ding"]',
            'notify = ["ding", "wecom"]',
            "[[grid]] #1 'g1' field 'notify': 'wecom' is not a [[channel]] id",
            id="a grid's notify naming an unknown channel",
        ),
        pytest.param(
            "[[grid]]",
            '[street]\nname = "笕桥街道综合执法队"\nnotify = ["city"]\n\n[[grid]]',
            "[street] field 'notify': 'city' is not a [[channel]] id",
            id="the street's notify naming an unknown channel",
        ),
    ],
)
def test_errors_name_the_channel_and_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in BASE
    with pytest.raises(CommunityError) as caught:
        _load(tmp_path, BASE.replace(old, new, 1))
    path = tmp_path / "c.toml"
    assert str(caught.value) == "\n".join(f"{path}: {line}" for line in message.split("\n"))


def test_a_merchants_unknown_channel_is_named(tmp_path: Path) -> None:
    text = (
        BASE
        + """
[[site]]
id = "ktv"
name = "欢唱KTV"
kind = "shop"
zone = "4a"
grid = "g1"
merchant = { name = "欢唱", notify = ["wecom"], contacts = [{ name = "韩磊", channels = { mail = "h@x.example" } }] }
"""
    )
    with pytest.raises(CommunityError) as caught:
        _load(tmp_path, text)
    assert str(caught.value).split("\n") == [
        f"{tmp_path / 'c.toml'}: [[site]] #1 'ktv' merchant field 'notify': 'wecom' is not a [[channel]] id",
        f"{tmp_path / 'c.toml'}: [[site]] #1 'ktv' merchant contact '韩磊' field 'channels': 'mail' is not a [[channel]] id",
    ]


def test_tianxin_names_only_its_channels_and_they_wait_for_the_environment() -> None:
    community = load_community(TIANXIN)
    assert [(c.id, c.type) for c in community.channel] == [
        ("dingtalk", "dingtalk"),
        ("ding-hj-east", "dingtalk"),
        ("ding-hj-west", "dingtalk"),
        ("ding-tc-north", "dingtalk"),
        ("ding-tc-south", "dingtalk"),
        ("wecom-huanchang", "wecom"),
        ("sms", "sms"),
        ("mail", "email"),
    ]
    missing = build_channels(community.channel, {})
    assert missing.broken["dingtalk"] == (
        "channel 'dingtalk' field 'url': environment variable LINLI_TIANXIN_DINGTALK_URL is not set"
    )
    assert missing.broken["sms"] == (
        "channel 'sms' field 'url': environment variable LINLI_TIANXIN_SMS_URL is not set"
    )
    assert set(missing.broken) == {c.id for c in community.channel} and not missing.ready
    env = {
        "LINLI_TIANXIN_DINGTALK_URL": "http://127.0.0.1:1/robot/send?access_token=t",
        "LINLI_TIANXIN_DINGTALK_SECRET": "SECx",
        "LINLI_TIANXIN_SMS_URL": "http://127.0.0.1:2",
        "LINLI_TIANXIN_SMS_AK": "ak",
        "LINLI_TIANXIN_SMS_SK": "sk",
    }
    assert set(build_channels(community.channel, env).ready) == {"dingtalk", "sms"}


def test_tianxin_people_on_a_group_robot_are_mobile_numbers_and_every_grid_has_its_chat() -> None:
    """CONTRACT §6: a group robot @-mentions by mobile; each grid's chat is in its notify."""
    community = load_community(TIANXIN)
    robots = {c.id for c in community.channel if c.type in ("dingtalk", "wecom", "feishu")}
    people = [*community.community.contacts]
    for grid in community.grid:
        assert len(grid.notify) == 1 and grid.notify[0] in robots
        people += grid.workers
    people += [p for s in community.site if s.merchant for p in s.merchant.contacts]
    on_robots = [a for p in people for c, a in p.channels.items() if c in robots]
    assert on_robots and all(a.isdigit() and len(a) == 11 for a in on_robots)
    (ktv,) = [s for s in community.site if s.id == "ktv-huanchang"]
    assert ktv.merchant is not None and ktv.merchant.notify == ["wecom-huanchang"]


def test_the_reminder_interval_is_the_rules_table_s(tmp_path):
    from linli.community import load_community

    path = tmp_path / "c.toml"
    path.write_text('[community]\nname = "x"\n[rules]\nremind_unacknowledged_s = 600\n')
    assert load_community(path).rules.remind_unacknowledged_s == 600
    path.write_text('[community]\nname = "x"\n')
    assert load_community(path).rules.remind_unacknowledged_s == 1800  # 30 min
    path.write_text('[community]\nname = "x"\n[rules]\nremind_unacknowledged_s = 0\n')
    assert load_community(path).rules.policy("Asia/Shanghai").escalation.remind_s == 0  # never
