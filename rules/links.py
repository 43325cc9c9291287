"""Signed, expiring links to the case board, pure.

A message's link carries a token: base64url JSON claims (who it is for, the scope they
may see, the case, when it expires) and an HMAC-SHA256 over them with the board's key.
Whoever holds the link opens the case as its reader, until it expires; anything altered
(a claim, the signature, the key) fails `verify`. The board's session cookie is the same
shape with `kind` "session", so a link cannot be replayed as a cookie nor the reverse.

The scope of a message's link is that of its notice's level: a merchant's notice, that
site's merchant; a grid worker's, a grid worker of the case's grid; the community's and
the street team's, staff (rules/routing.py says who is told at which level).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from linli.rules.case import LADDER, Case, Level

LINK: Final = "link"
SESSION: Final = "session"

# The roles as the API names them (store/tokens.Role; the core does not import the store).
MERCHANT: Final = "merchant"
GRID_WORKER: Final = "grid_worker"
STAFF: Final = "staff"
COMMUNITIES: Final = "cm"  # a claim's extra: the communities a staff reader sees (CONTRACT §9)
ADMIN: Final = "admin"
ROLES: Final = frozenset({MERCHANT, GRID_WORKER, STAFF, ADMIN})

MAX_TOKEN_CHARS: Final = 2048  # longer is not one of ours: refused before decoding


class BadLink(ValueError):
    """A token that is not linli's, was altered, is of the wrong kind or has expired."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a signed token says: the reader's role and scope, and until when."""

    role: str
    exp_s: int  # epoch seconds; refused from then on
    site: str | None = None  # a merchant's one site
    grids: tuple[str, ...] = ()  # a grid worker's grids
    case: int | None = None  # the case a link opens
    level: str | None = None  # the ladder level the message was for
    person: str = ""  # who it was for (the timeline's actor): the notice's names
    kind: str = LINK
    extra: dict[str, Any] = field(default_factory=dict)  # a session's id and token id
    # when a link was sent (epoch s): a token of its scope revoked since ends it (the
    # board checks); a link without it (signed before) counts as sent at 0
    sent_s: int | None = None

    def doc(self) -> dict[str, Any]:
        """The claims as the token's JSON (short keys: a link is read on a phone)."""
        out: dict[str, Any] = {"k": self.kind, "r": self.role, "x": self.exp_s}
        if self.site is not None:
            out["s"] = self.site
        if self.grids:
            out["g"] = list(self.grids)
        if self.case is not None:
            out["c"] = self.case
        if self.level is not None:
            out["l"] = self.level
        if self.person:
            out["p"] = self.person
        if self.extra:
            out["e"] = self.extra
        if self.sent_s is not None:
            out["i"] = self.sent_s
        return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def sign(key: bytes, claims: Claims) -> str:
    """`<base64url JSON claims>.<base64url HMAC-SHA256>`."""
    body = _b64(json.dumps(claims.doc(), separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now_s: float, kind: str = LINK) -> Claims:
    """The claims of a token signed with `key`, of `kind`, not expired; BadLink otherwise."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise BadLink("这不是邻里的链接")
    body, mac = token.split(".")
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, body).encode("ascii")):
        raise BadLink("链接无效或已被改动")
    try:
        doc = json.loads(_unb64(body))
        claims = Claims(
            role=str(doc["r"]),
            exp_s=int(doc["x"]),
            site=None if doc.get("s") is None else str(doc["s"]),
            grids=tuple(str(g) for g in doc.get("g", ())),
            case=None if doc.get("c") is None else int(doc["c"]),
            level=None if doc.get("l") is None else str(doc["l"]),
            person=str(doc.get("p", "")),
            kind=str(doc["k"]),
            extra=dict(doc.get("e", {})),
            sent_s=None if doc.get("i") is None else int(doc["i"]),
        )
    except (ValueError, KeyError, TypeError) as err:  # signed by us, yet unreadable
        raise BadLink("链接无效") from err
    if claims.kind != kind:
        raise BadLink("链接无效")
    if claims.role not in ROLES:
        raise BadLink("链接无效")
    if now_s >= claims.exp_s:
        raise BadLink("链接已过期，请在最新的消息中打开工单，或登录")
    return claims


def scope_of(case: Case, levels: Iterable[Level]) -> tuple[str, str | None, tuple[str, ...]]:
    """(role, site, grids) of a link for a notice at `levels`: the lowest level's (a chat
    named by two levels gets the narrower scope; its other readers can sign in)."""
    found = [lv for lv in levels if lv in LADDER]
    level = min(found, key=LADDER.index) if found else case.level
    if level is Level.MERCHANT:
        return MERCHANT, case.site, ()
    if level is Level.GRID_WORKER:
        return GRID_WORKER, None, (case.grid,)
    return STAFF, None, ()


@dataclass(frozen=True, slots=True)
class LinkSigner:
    """Signs the case links of messages: the board's key and how long a link lasts."""

    key: bytes
    ttl_s: int = 7 * 86_400

    def token(
        self,
        case: Case,
        levels: Iterable[Level],
        at_ms: int,
        person: str = "",
        community: str = "",
    ) -> str:
        """The token of a message about `case` to readers at `levels`, sent at `at_ms`. A
        message to the office of the case's `community` (CONTRACT §9) opens that community
        only (the claims' `extra["cm"]`, as a community staff's session); the street's,
        every community."""
        assert case.id is not None
        levels = tuple(levels)
        role, site, grids = scope_of(case, levels)
        found = [lv for lv in levels if lv in LADDER]
        level = min(found, key=LADDER.index) if found else case.level
        extra: dict[str, Any] = {}
        if role == STAFF and level is Level.COMMUNITY and community:
            extra[COMMUNITIES] = [community]
        claims = Claims(
            role=role,
            exp_s=at_ms // 1000 + self.ttl_s,
            site=site,
            grids=grids,
            case=case.id,
            level=level.value,
            person=person[:60],
            extra=extra,
            sent_s=at_ms // 1000,
        )
        return sign(self.key, claims)


def community_token(signer: LinkSigner, community: str, at_ms: int, person: str = "") -> str:
    """The token of a link to a page of one community (its monthly statistics): its staff's
    scope, that community only (CONTRACT §9), no case in it."""
    claims = Claims(
        role=STAFF,
        exp_s=at_ms // 1000 + signer.ttl_s,
        level=Level.COMMUNITY.value,
        person=person[:60],
        extra={COMMUNITIES: [community]},
        sent_s=at_ms // 1000,
    )
    return sign(signer.key, claims)


def with_token(link: str, token: str) -> str:
    """The link with its token (`?t=`): the board verifies it and drops it from the URL."""
    return f"{link}?t={token}"
