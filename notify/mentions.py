"""Who a group robot @-mentions: a person's address on a robot channel (CONTRACT §6)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

_MOBILE: Final = re.compile(r"\+?(?:86)?(1\d{10})")
_SEPARATORS: Final = re.compile(r"[\s-]")


def mobile(address: str) -> str | None:
    """The 11-digit mainland mobile in `address` ("138-0000-0001", "+8613800000001"), or None."""
    match = _MOBILE.fullmatch(_SEPARATORS.sub("", address))
    return match.group(1) if match else None


def split(to: Sequence[str]) -> tuple[list[str], list[str]]:
    """The mobiles and the other addresses (user ids) among `to`, each once, in order."""
    mobiles: list[str] = []
    others: list[str] = []
    for address in to:
        number = mobile(address)
        bucket, value = (mobiles, number) if number else (others, address.strip())
        if value and value not in bucket:
            bucket.append(value)
    return mobiles, others
