"""The three group robots against their stand-ins: the same answers mapped the same way.

Each row is one robot: its stand-in, how linli builds the channel, its "too fast" code
and wait, and the code it answers a wrong secret (or key) with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from linli.notify.channel import Answer, Channel, Outcome
from linli.notify.dingtalk import DingTalkRobot
from linli.notify.feishu import FeishuBot
from linli.notify.transport import SHORTENED
from linli.notify.wecom import WeComRobot
from linli.standins import DingTalkStandIn, FeishuStandIn, HttpStandIn, WeComStandIn
from tests.notify.conftest import LINK, message


@dataclass(frozen=True)
class Robot:
    name: str
    stand_in: Callable[..., HttpStandIn]  # (rate_per_min=...) -> a stand-in, not started
    channel: Callable[[HttpStandIn, bool, float], Channel]  # (stand-in, right secret?, timeout)
    too_fast_code: int
    wait_s: float
    wrong_code: int
    body_limit: int  # what the stand-in measures: the body (DingTalk, Feishu) or the content


def _ding(s: Any, right: bool, timeout_s: float) -> Channel:
    return DingTalkRobot("ding", s.url, s.secret if right else "SECwrong", timeout_s=timeout_s)


def _wecom(s: Any, right: bool, timeout_s: float) -> Channel:
    url = s.url if right else s.url.replace(s.key, "wrong-key")
    return WeComRobot("wecom", url, timeout_s=timeout_s)


def _feishu(s: Any, right: bool, timeout_s: float) -> Channel:
    return FeishuBot("feishu", s.url, s.secret if right else "wrong", timeout_s=timeout_s)


ROBOTS = [
    Robot(
        "dingtalk",
        lambda **kw: DingTalkStandIn("tok", "SECabc", **kw),
        _ding,
        130101,
        600.0,
        310000,
        20_000,
    ),
    Robot("wecom", lambda **kw: WeComStandIn("key-1", **kw), _wecom, 45009, 60.0, 93000, 2048),
    Robot(
        "feishu",
        lambda **kw: FeishuStandIn("hook", "fs-secret", **kw),
        _feishu,
        9499,
        60.0,
        19021,
        20 * 1024,
    ),
]
IDS = [r.name for r in ROBOTS]


@pytest.fixture(params=ROBOTS, ids=IDS)
def robot(request: pytest.FixtureRequest) -> Robot:
    return request.param


@pytest.fixture
def stand_in(robot: Robot) -> Iterator[HttpStandIn]:
    with robot.stand_in(rate_per_min=3) as s:
        yield s


def _send(channel: Channel, to: list[str] | None = None, **kw: Any) -> Answer:
    return channel.send(message(**kw), to if to is not None else ["138-0000-0001"])


def test_delivered_with_the_link_and_the_mention(robot: Robot, stand_in: HttpStandIn) -> None:
    answer = _send(
        robot.channel(stand_in, True, 5.0), ["ou_1" if robot.name == "feishu" else "13800000001"]
    )
    assert answer.outcome is Outcome.DELIVERED
    assert answer.detail.endswith("0: ok") or answer.detail == "code 0: success"
    [call] = stand_in.calls
    assert call.accepted and call.code == 0
    assert LINK in call.reply.text and "62.3 dB(A)" in call.reply.text
    assert call.reply.mentions == (("ou_1",) if robot.name == "feishu" else ("13800000001",))


def test_a_wrong_secret_fails_with_the_services_code(robot: Robot, stand_in: HttpStandIn) -> None:
    answer = _send(robot.channel(stand_in, False, 5.0))
    assert answer.outcome is Outcome.FAILED
    assert answer.detail.split(":")[0].endswith(str(robot.wrong_code))
    assert "configuration" in answer.detail
    assert stand_in.accepted() == []


def test_too_fast_is_retried_after_the_services_wait(robot: Robot, stand_in: HttpStandIn) -> None:
    channel = robot.channel(stand_in, True, 5.0)
    answers = [_send(channel, delivery=f"d{n}") for n in range(5)]
    assert [a.outcome for a in answers] == [Outcome.DELIVERED] * 3 + [Outcome.RETRY] * 2
    assert answers[3].retry_after_s == robot.wait_s
    assert str(robot.too_fast_code) in answers[3].detail
    assert len(stand_in.accepted()) == 3  # the rate limit: 3 a minute here, 20 by default
    assert [c.code for c in stand_in.calls[3:]] == [robot.too_fast_code] * 2


def test_told_too_fast_retries_and_then_delivers(robot: Robot, stand_in: HttpStandIn) -> None:
    channel = robot.channel(stand_in, True, 5.0)
    stand_in.too_fast()
    assert _send(channel).outcome is Outcome.RETRY
    stand_in.too_fast(False)
    assert _send(channel).outcome is Outcome.DELIVERED


def test_http_500_is_retried_and_then_delivered(robot: Robot, stand_in: HttpStandIn) -> None:
    channel = robot.channel(stand_in, True, 5.0)
    stand_in.fail_for(60)
    failed = _send(channel)
    assert (failed.outcome, failed.detail) == (Outcome.RETRY, "HTTP 500")
    stand_in.fail_for(0)
    assert _send(channel).outcome is Outcome.DELIVERED
    assert [c.reply.status for c in stand_in.calls] == [500, 200]


def test_garbage_is_retried_with_what_came(robot: Robot, stand_in: HttpStandIn) -> None:
    stand_in.answer_garbage()
    answer = _send(robot.channel(stand_in, True, 5.0))
    assert answer.outcome is Outcome.RETRY
    assert answer.detail.startswith(
        "HTTP 200, answer not a JSON object: '<html><body><h1>502 Bad Gateway"
    )


def test_an_answer_without_an_errcode_is_retried(
    robot: Robot, stand_in: HttpStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linli.standins import Reply

    monkeypatch.setattr(stand_in, "serve", lambda request: Reply(200, b'{"status": "fine"}'))
    answer = _send(robot.channel(stand_in, True, 5.0))
    assert answer.outcome is Outcome.RETRY
    assert "answer without an" in answer.detail and "fine" in answer.detail


def test_a_long_message_is_shortened_and_delivered(robot: Robot, stand_in: HttpStandIn) -> None:
    long_text = "夜间噪声超标，" * 5000  # 105,000 bytes of UTF-8
    answer = _send(robot.channel(stand_in, True, 5.0), text=long_text)
    assert answer.outcome is Outcome.DELIVERED
    [call] = stand_in.calls
    assert call.accepted  # never refused for its size
    measured = len(call.request.body) if robot.name != "wecom" else len(call.reply.text.encode())
    assert robot.body_limit - 200 < measured <= robot.body_limit
    assert SHORTENED.strip("…") in call.reply.text and LINK in call.reply.text
    assert call.reply.mentions  # the mention survives the cut


def test_a_refused_connection_is_retried(robot: Robot) -> None:
    with robot.stand_in() as s:
        channel = robot.channel(s, True, 5.0)
    # the stand-in is gone: its port refuses
    answer = _send(channel)
    assert answer.outcome is Outcome.RETRY
    assert answer.detail.startswith("cannot reach the service: ConnectError")


def test_a_timeout_is_retried(robot: Robot, stand_in: HttpStandIn) -> None:
    stand_in.answer_late(1.0)
    answer = _send(robot.channel(stand_in, True, 0.2))
    assert (answer.outcome, answer.detail) == (Outcome.RETRY, "timeout (ReadTimeout)")
