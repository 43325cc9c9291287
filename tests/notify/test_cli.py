"""`linli notify test` end to end: the command in a subprocess against the stand-ins."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.standins import DingTalkStandIn, MailServer

CONFIG = """\
[community]
name = "测试社区"

[[grid]]
id = "g1"
name = "一网格"
workers = [{ name = "王丽", channels = { ding = "13800000001", mail = "wangli@x.example" } }]

[[channel]]
id = "ding"
type = "dingtalk"
url = "env:T_DING_URL"
secret = "env:T_DING_SECRET"

[[channel]]
id = "mail"
type = "email"
url = "env:T_SMTP_URL"
from = "测试社区 <linli@x.example>"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "community.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def robot() -> Iterator[DingTalkStandIn]:
    with DingTalkStandIn("tok", "SECcli") as stand_in:
        yield stand_in


def _run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linli", "notify", "test", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LINLI_PUBLIC_URL": "http://board.example", **env},
    )


def test_delivered_exits_0_with_the_answer(config: Path, robot: DingTalkStandIn) -> None:
    done = _run(
        config,
        "--channel",
        "ding",
        "--to",
        "13800000001",
        T_DING_URL=robot.url,
        T_DING_SECRET="SECcli",
    )
    assert (done.returncode, done.stdout) == (
        0,
        "channel 'ding' (dingtalk): delivered: errcode 0: ok\n",
    )
    [call] = robot.accepted()
    assert "测试社区 linli 测试消息" in call.reply.text
    assert "http://board.example/board/cases" in call.reply.text
    assert call.reply.mentions == ("13800000001",)


def test_a_wrong_secret_exits_2_with_the_errcode(config: Path, robot: DingTalkStandIn) -> None:
    done = _run(config, "--channel", "ding", T_DING_URL=robot.url, T_DING_SECRET="SECwrong")
    assert done.returncode == 2
    assert done.stdout.startswith(
        "channel 'ding' (dingtalk): failed: errcode 310000: sign not match"
    )
    assert robot.accepted() == []


def test_too_fast_exits_2_saying_when_to_retry(config: Path, robot: DingTalkStandIn) -> None:
    robot.too_fast()
    done = _run(config, "--channel", "ding", T_DING_URL=robot.url, T_DING_SECRET="SECcli")
    assert done.returncode == 2
    assert done.stdout == (
        "channel 'ding' (dingtalk): retry: errcode 130101: send too fast, "
        "exceed 20 times per minute (retry after 600 s)\n"
    )


def test_email_through_the_local_smtp_server(config: Path) -> None:
    with MailServer() as server:
        done = _run(config, "--channel", "mail", "--to", "wangli@x.example", T_SMTP_URL=server.url)
        assert (done.returncode, done.stdout) == (
            0,
            "channel 'mail' (email): delivered: 250 accepted for 1 recipient(s)\n",
        )
        [mail] = server.mails
        assert mail.subject == "测试社区 linli 测试消息" and mail.rcpt_tos == ("wangli@x.example",)


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        pytest.param(
            ["--channel", "nope"],
            {},
            "no [[channel]] with id 'nope' (the file has: ding, mail)",
            id="an unknown channel id",
        ),
        pytest.param(
            ["--channel", "ding"],
            {"T_DING_URL": "http://127.0.0.1:9/robot/send?access_token=t"},
            "channel 'ding' field 'secret': environment variable T_DING_SECRET is not set",
            id="a missing variable",
        ),
        pytest.param(
            ["--channel", "ding"],
            {"T_DING_URL": "ftp://x", "T_DING_SECRET": "s"},
            "channel 'ding' field 'url': 'ftp://x' is not a https:// or http:// URL",
            id="a bad URL from the environment",
        ),
        pytest.param(
            ["--channel", "mail"],
            {"T_SMTP_URL": "smtp://127.0.0.1:9"},
            "channel 'mail' (email): give --to ADDRESS",
            id="e-mail without an address",
        ),
    ],
)
def test_configuration_problems_exit_2_in_one_line(
    config: Path, args: list[str], env: dict[str, str], line: str
) -> None:
    done = _run(config, *args, **env)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"linli: {config}: {line}\n")


def test_a_broken_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(CONFIG.replace('type = "dingtalk"', 'type = "pager"'), encoding="utf-8")
    done = _run(path, "--channel", "ding")
    assert done.returncode == 2
    assert (
        done.stderr
        == f"linli: {path}: [[channel]] #1 'ding' field 'type': 'pager' is not one of dingtalk, wecom, feishu, webhook, email, sms\n"
    )
