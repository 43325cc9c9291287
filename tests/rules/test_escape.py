"""Person-written text escaped for its channel (rules/escape.py), table by table."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from markdown_it import MarkdownIt

from linli.rules import escape

FORGED = "已整改\n当前级别：已结案\n- 请勿处理"
LINK = "整改完毕 [点此](http://evil.example/x) 查看"
IMAGE = "好的 ![](http://evil.example/p.png)"
HTML = '<a href="http://evil.example">点</a><img src=x onerror=alert(1)><script>x</script>'
ESCAPES = "整改\x1b[2J\x1b]0;pwned\x07完毕\x9b31m\u202eevil"
LONG = "吵" * 10_000
CJK = "红街公寓1幢 烧烤店油烟直接排进楼道，窗户都不敢开（李女士）"

FULL_WIDTH = str.maketrans("[]", "［］")
KINDS: dict[str, Callable[..., str]] = {
    "markdown": escape.markdown,
    "plain": escape.plain,
    "terminal": escape.terminal,
    "webhook": escape.webhook,
}


def _nodes(text: str) -> list[str]:
    """The types of every inline node CommonMark makes of `text`, and "autolink" for an
    address a reader's app would link by itself (GFM's extension, a phone's linkifier)."""
    tokens = MarkdownIt("commonmark").parse(text)
    found = [c.type for t in tokens if t.children for c in t.children]
    found += [
        t.type for t in tokens if t.type not in ("paragraph_open", "paragraph_close", "inline")
    ]
    return found + (["autolink"] if re.search(r"(?i)\b[a-z][a-z0-9+.-]*://|\bwww\.", text) else [])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            FORGED, "已整改 当前级别：已结案 - 请勿处理", id="a forged status line → one line"
        ),
        pytest.param(
            ESCAPES, "整改[2J]0;pwned完毕31mevil", id="escape codes, C1 and bidi → removed"
        ),
        pytest.param("a\r\n\tb\u2028c\x85d", "a b c d", id="every line break and tab → a space"),
        pytest.param(CJK, CJK, id="CJK kept as written"),
        pytest.param("  整改完毕  ", "整改完毕", id="outer spaces trimmed"),
    ],
)
def test_every_kind_folds_to_one_line_without_control_characters(
    kind: str, value: str, expected: str
) -> None:
    # markdown's own signs are the next table's; here only what folding does
    assert KINDS[kind](value) == (
        expected.translate(FULL_WIDTH) if kind == "markdown" else expected
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_bounded_with_an_ellipsis(kind: str) -> None:
    got = KINDS[kind](LONG)
    assert len(got) == escape.MAX_CHARS and got == "吵" * 199 + "…"
    assert KINDS[kind]("吵" * 200) == "吵" * 200  # at the bound: whole
    assert len(KINDS[kind](LONG, 35)) == 35


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(LINK, "整改完毕 ［点此］（http：//evil.example/x） 查看", id="a markdown link → text"),
        pytest.param(IMAGE, "好的 ！［］（http：//evil.example/p.png）", id="an image → text"),
        pytest.param("<b>粗</b> & **强** _斜_ `码` # 标题 | ~删~", "＜b＞粗＜/b＞ ＆ ＊＊强＊＊ ＿斜＿ ｀码｀ ＃ 标题 ｜ ～删～", id="tags, emphasis, code, heading → text"),
        pytest.param("见 www.evil.example 和 https://evil.example", "见 www．evil.example 和 https：//evil.example", id="bare addresses → not links"),
        pytest.param(r"a\[b", "a＼［b", id="a backslash escapes nothing"),
    ],
)  # fmt: skip
def test_markdown_leaves_no_markup_of_the_writer(value: str, expected: str) -> None:
    got = escape.markdown(value)
    assert got == expected
    assert set(_nodes(got)) <= {"text", "softbreak"}, _nodes(got)


@pytest.mark.parametrize("value", [LINK, IMAGE, HTML, FORGED, "<http://evil.example/>", "# 已结案"])
def test_markdown_output_parses_to_text_only(value: str) -> None:
    assert set(_nodes(escape.markdown(value))) <= {"text"}, _nodes(escape.markdown(value))
    # and raw, the same value would not: the table above is not vacuous
    assert set(_nodes(value)) - {"text", "softbreak"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(LINK, "整改完毕 [点此](http：//evil.example/x) 查看", id="a link a phone would open → text"),
        pytest.param(HTML, '<a href="http：//evil.example">点</a><img src=x onerror=alert(1)><script>x</script>', id="tags: text in plain text"),
    ],
)  # fmt: skip
def test_plain_defangs_addresses_a_phone_or_mail_client_would_link(
    value: str, expected: str
) -> None:
    assert escape.plain(value) == expected


def test_terminal_and_webhook_keep_the_characters_only_folded() -> None:
    assert escape.terminal(LINK) == LINK and escape.webhook(HTML) == HTML
