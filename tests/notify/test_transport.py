"""The shared pieces: fitting a body under a limit, mention addresses, markdown made plain."""

from __future__ import annotations

import pytest

from linli.notify import mentions
from linli.notify.markdown import plain
from linli.notify.transport import SHORTENED, fit, utf8_size


def test_fit_keeps_a_text_that_fits_whole() -> None:
    assert fit(lambda t: f"[{t}]", "短消息", 100, utf8_size) == "[短消息]"


def test_fit_cuts_the_text_to_the_longest_that_fits() -> None:
    body = fit(lambda t: f"title|{t}|link", "噪" * 100, 60, utf8_size)
    assert body is not None and utf8_size(body) <= 60
    kept = body.removeprefix("title|").removesuffix("|link").removesuffix(SHORTENED)
    assert (
        kept == "噪" * len(kept)
        and utf8_size(f"title|{'噪' * (len(kept) + 1)}{SHORTENED}|link") > 60
    )


def test_fit_gives_up_when_even_no_text_is_too_long() -> None:
    assert fit(lambda t: "x" * 50 + t, "abc", 40, utf8_size) is None


@pytest.mark.parametrize(
    ("address", "number"),
    [
        pytest.param("13800000001", "13800000001", id="bare"),
        pytest.param("138-0000-0001", "13800000001", id="dashes as in the community file"),
        pytest.param("+86 138 0000 0001", "13800000001", id="with +86 and spaces"),
        pytest.param("8613800000001", "13800000001", id="86 without plus"),
        pytest.param("wangli-tx", None, id="a DingTalk user id"),
        pytest.param("0571-8888-0000", None, id="a landline"),
    ],
)
def test_mobile(address: str, number: str | None) -> None:
    assert mentions.mobile(address) == number


def test_split_dedupes_in_order() -> None:
    assert mentions.split(["138-0000-0001", "u1", "13800000001", "u1", " "]) == (
        ["13800000001"],
        ["u1"],
    )


def test_plain() -> None:
    assert (
        plain("### 标题\n**超标** 见 [工单](http://x/1)\n> 引用")
        == "标题\n超标 见 工单 http://x/1\n引用"
    )
