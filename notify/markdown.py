"""Markdown as the plain text of e-mail and WeCom's text message."""

from __future__ import annotations

import re
from typing import Final

_LINK: Final = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_MARKS: Final = re.compile(r"^#+\s*|\*\*|__|^>\s?", re.MULTILINE)


def plain(markdown: str) -> str:
    """`[a](u)` → `a u`, headings, bold and quote marks removed; the rest as written."""
    return _MARKS.sub("", _LINK.sub(r"\1 \2", markdown))
