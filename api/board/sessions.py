"""Who reads the board: a session cookie from a signed message link or a token sign-in.

The cookie `linli_session` is a signed token of kind "session" (rules/links.py): the
reader's role and scope, a random session id and its expiry, so no session table is
needed. HttpOnly, SameSite=Lax, Secure when LINLI_PUBLIC_URL is https, path /board.

A session knows what it came from, and checks it on every request:
- signed in with an issued token: the token's id and a prefix of its hash (`ts`); it ends
  when that very token is revoked or expires (an id alone could name another token);
- signed in with LINLI_ADMIN_TOKEN: that token's hash prefix; it ends when it changes;
- opened from a message's link: when the link was sent (`li`); it ends, like the link,
  when a token of its role and scope is revoked after that (store/tokens.revoked_since).
A cookie that says none of these is refused. Every form that changes something carries
`csrf`, an HMAC of the session id: a page of another site cannot know it, so a form
posted from there is refused.
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
from linli.rules.links import COMMUNITIES, SESSION, BadLink, Claims, sign, verify
from linli.store import Grant, Role
from linli.store.tokens import stamp_of

COOKIE: Final = "linli_session"
COOKIE_PATH: Final = "/board"
# The sign-in form's own proof (there is no session yet): a random nonce in a cookie only
# this site sets (SameSite=Strict, path /board/login), and its HMAC in the form. Another
# site's page can post a form, but can neither read nor set the cookie.
LOGIN_COOKIE: Final = "linli_login"
LOGIN_PATH: Final = "/board/login"
LOGIN_TTL_S: Final = 3600


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
    """The API's grant for signed claims (a link's or a session's): a staff reader limited
    to communities (`extra["cm"]`) stays limited to them."""
    communities = claims.extra.get(COMMUNITIES)
    return Grant(
        Role(claims.role),
        frozenset(claims.grids),
        claims.site,
        note=claims.person,
        id=claims.extra.get("tid"),
        communities=None
        if communities is None
        else frozenset(c for c in communities if isinstance(c, str))
        if isinstance(communities, list)
        else frozenset(),
    )


def current(request: Request, services: Services) -> Session | None:
    """The request's session, or None (no cookie, altered, expired, its token revoked)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    key = board_key(request)
    try:
        claims = verify(key, token, time.time(), kind=SESSION)
    except BadLink:
        return None
    sid = str(claims.extra.get("sid", ""))
    if not sid or not _alive(services, claims):
        return None
    return Session(grant_of(claims), sid, claims.exp_s, csrf_of(key, sid))


def _alive(services: Services, claims: Claims) -> bool:
    """Whether what the session came from (a token, a link) still holds."""
    tid, stamp, sent_s = (claims.extra.get(k) for k in ("tid", "ts", "li"))
    if isinstance(tid, int) and isinstance(stamp, str):
        return services.db.token_alive(tid, stamp)
    if tid is None and isinstance(stamp, str):  # LINLI_ADMIN_TOKEN's
        admin = services.config.admin_token
        if not admin:
            return False
        return hmac.compare_digest(stamp.encode(), stamp_of(admin).encode())
    if tid is None and stamp is None and isinstance(sent_s, int):
        return not link_revoked(services, claims, sent_s)
    return False


def link_revoked(services: Services, claims: Claims, sent_s: int) -> bool:
    """Whether a token of a link's role and scope was revoked since it was sent."""
    return services.db.link_revoked(Role(claims.role), claims.site, claims.grids, sent_s * 1000)


def start(
    request: Request,
    response: Response,
    services: Services,
    grant: Grant,
    exp_s: int,
    link_sent_s: int | None = None,
) -> None:
    """Set the session cookie for `grant` until `exp_s` (a new session id: a new CSRF
    token): from a token (its grant's id and stamp), or from a link sent at `link_sent_s`."""
    sid = secrets.token_urlsafe(16)
    extra: dict[str, object] = {"sid": sid}
    if grant.communities is not None:
        extra[COMMUNITIES] = sorted(grant.communities)
    if link_sent_s is not None:
        extra["li"] = link_sent_s
    else:
        assert grant.stamp, "a token's grant has its stamp"
        extra["ts"] = grant.stamp
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


def login_proof(request: Request) -> tuple[str, str]:
    """A new sign-in nonce (for the cookie) and its proof (for the form)."""
    nonce = secrets.token_urlsafe(16)
    return nonce, csrf_of(board_key(request), f"login|{nonce}")


def start_login(response: Response, services: Services, nonce: str) -> None:
    """Set the sign-in form's cookie."""
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_TTL_S,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=services.config.public_url.lower().startswith("https://"),
    )


def login_ok(request: Request, sent: object) -> bool:
    """Whether a sign-in form's `csrf` is the proof of this browser's sign-in cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not isinstance(sent, str):
        return False
    proof = csrf_of(board_key(request), f"login|{nonce}")
    return hmac.compare_digest(sent.encode(), proof.encode())


def csrf_ok(session: Session, sent: object) -> bool:
    """Whether a form's `csrf` field is this session's token."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf.encode())
