"""Person-written text made safe for the channel it goes to, pure: one function per kind.

A merchant's note, a case's action note, a complaint's words, a site's or merchant's
name typed into the registry: whatever a person wrote reaches other people's phones. Put
raw into a message it could forge a line of its own (a newline and "当前级别：已结案"),
add a link or a tracking image to a group robot's markdown, or clear a terminal
(`\\x1b[2J`). So every such value, where it is put into a channel's text, goes through
the function of that channel's kind:

- `markdown`: DingTalk, WeCom markdown, Feishu;
- `plain`: SMS, WeCom's text message, an e-mail's subject and plain-text body;
- `terminal`: what the demo prints;
- `webhook`: a JSON string field (JSON carries any text as data: only bounded).

Each folds the value to one line (line breaks and tabs → one space), removes control
characters (C0, C1, DEL, and the bidirectional overrides that reorder what a reader
sees) and bounds it (`MAX_CHARS`, "…" at the cut). CJK text is kept as written.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_CHARS: Final = 200
ELLIPSIS: Final = "…"

# Unicode line and paragraph separators, and ASCII whitespace controls: one space.
_BREAKS: Final = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
# Explicit bidirectional formatting (Unicode UAX #9): they reorder the text a reader sees.
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# What markdown (CommonMark, and the robots' dialects) reads as markup, each replaced by
# its full-width form: a zh-CN reader reads the same sign, no dialect parses it (the
# robots do not all honour backslash escapes).
_MARKUP: Final = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "!": "！",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "&": "＆",
        "$": "＄",
    }
)
# A link the reader's app would make clickable by itself (autolinks: phones, mail
# clients, GFM's extension): its scheme's colon made full-width, so it stays text.
_AUTOLINK: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)|\b(www)\.(?=\S)")


def _fold(value: str, limit: int) -> str:
    """One line, no control character, at most `limit` characters."""
    text = _BREAKS.sub(" ", unicodedata.normalize("NFC", value))
    text = "".join(c for c in text if c not in _BIDI and unicodedata.category(c) != "Cc")
    text = text.strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return text


def _defang(text: str) -> str:
    return _AUTOLINK.sub(lambda m: f"{m[1]}：" if m[1] else f"{m[2]}．", text)


def terminal(value: str, limit: int = MAX_CHARS) -> str:
    """For a terminal: one line, no escape sequence (ESC and CSI are control characters)."""
    return _fold(value, limit)


def plain(value: str, limit: int = MAX_CHARS) -> str:
    """For plain text read on a phone or in a mail client (SMS, WeCom text, e-mail): one
    line, no control character, no address the reader's app would make a link of."""
    return _defang(_fold(value, limit))


def markdown(value: str, limit: int = MAX_CHARS) -> str:
    """For a robot's markdown (DingTalk, WeCom, Feishu): `plain`, and no markup: no link,
    image, heading, emphasis or HTML tag of the writer's."""
    return plain(value, limit).translate(_MARKUP)


def webhook(value: str, limit: int = MAX_CHARS) -> str:
    """For a JSON string field: one line, no control character, bounded."""
    return _fold(value, limit)
