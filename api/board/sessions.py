"""Who reads the board: a session cookie from a signed message link or a token sign-in.

The cookie `linli_session` is a signed token of kind "session" (rules/links.py): the
reader's role and scope, a random session id and its expiry, so no session table is
needed. HttpOnly, SameSite=Lax, Secure when LINLI_PUBLIC_URL is https, path /board.
A session signed in with an issued token names that token and ends when it is revoked
or expires. Every form that changes something carries `csrf`, an HMAC of the session
id: a page of another site cannot know it, so a form posted from there is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

from fastapi import Request, Response

from linli.api import acting
from linli.api.services import Services
from linli.rules.links import SESSION, BadLink, Claims, sign, verify
from linli.store import Grant, Role

COOKIE: Final = "linli_session"
COOKIE_PATH: Final = "/board"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in reader: their grant, and the session's CSRF token."""

    grant: Grant
    sid: str
    exp_s: int
    csrf: str

    @property
    def actor(self) -> str:
        """Who the timeline says acted (api/acting.py, as the API says it)."""
        return acting.actor(self.grant)


def board_key(request: Request) -> bytes:
    """The board's signing key (api/app.py keeps it on the app)."""
    key = request.app.state.board_key
    assert isinstance(key, bytes)
    return key


def csrf_of(key: bytes, sid: str) -> str:
    """The CSRF token of one session."""
    return hmac.new(key, f"csrf|{sid}".encode(), hashlib.sha256).hexdigest()[:32]


def grant_of(claims: Claims) -> Grant:
    """The API's grant for signed claims (a link's or a session's)."""
    return Grant(
        Role(claims.role),
        frozenset(claims.grids),
        claims.site,
        note=claims.person,
        id=claims.extra.get("tid"),
    )


def current(request: Request, services: Services) -> Session | None:
    """The request's session, or None (no cookie, altered, expired, token revoked)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    key = board_key(request)
    try:
        claims = verify(key, token, time.time(), kind=SESSION)
    except BadLink:
        return None
    sid = str(claims.extra.get("sid", ""))
    if not sid:
        return None
    tid = claims.extra.get("tid")
    if isinstance(tid, int) and not services.db.token_alive(tid):
        return None
    return Session(grant_of(claims), sid, claims.exp_s, csrf_of(key, sid))


def start(
    request: Request,
    response: Response,
    services: Services,
    grant: Grant,
    exp_s: int,
) -> None:
    """Set the session cookie for `grant` until `exp_s` (a new session id: a new CSRF token)."""
    sid = secrets.token_urlsafe(16)
    extra: dict[str, object] = {"sid": sid}
    if grant.id is not None:
        extra["tid"] = grant.id
    claims = Claims(
        role=grant.role.value,
        exp_s=exp_s,
        site=grant.site,
        grids=tuple(sorted(grant.grids)),
        person=grant.note[:60],
        kind=SESSION,
        extra=extra,
    )
    response.set_cookie(
        COOKIE,
        sign(board_key(request), claims),
        max_age=max(exp_s - int(time.time()), 0),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=services.config.public_url.lower().startswith("https://"),
    )


def end(response: Response, services: Services) -> None:
    """Remove the session cookie."""
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=services.config.public_url.lower().startswith("https://"),
    )


def csrf_ok(session: Session, sent: object) -> bool:
    """Whether a form's `csrf` field is this session's token."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf.encode())
