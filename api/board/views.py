"""The case board's pages: server-rendered, zh-CN, no JavaScript needed.

URLs and DOM ids are those docs/board.md names (the browser tests rely on them). Scope is
the API's (api/scope.py): outside it, a case or a photo does not exist (404). Every
form that changes something carries the session's `csrf` and a `nonce` of its own; a
form sent twice is applied once.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from linli.api import acting, disclosure
from linli.api.auth import Unauthorized, authenticate
from linli.api.board import pages, sessions
from linli.api.board import photos as photo_check
from linli.api.board.sessions import Session
from linli.api.case_schemas import NOTE_CHARS
from linli.api.params import MAX_ROW_ID
from linli.api.permissions import may_act
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.rules.case import (
    TRANSITIONS,
    Action,
    Case,
    CaseKind,
    CaseState,
)
from linli.rules.complaint import MAX_TEXT_CHARS, priority
from linli.rules.disclosure import Part, Reader, sees
from linli.rules.links import BadLink, Claims, verify
from linli.rules.names import STATE_NAMES, rule_name
from linli.store import Duplicate, Grant, NotFound, Role, SiteRecord, StateConflict

router = APIRouter(prefix="/board", include_in_schema=False)

TEMPLATES: Final = Path(__file__).parent / "templates"
STATIC: Final = Path(__file__).parent / "static"
ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every text a person or a registry wrote is escaped
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(
    state_name=STATE_NAMES,
    action_name=pages.ACTION_NAMES,
    rule_name=rule_name,
    level_name=pages.level_name,
    status_name=pages.STATUS_NAMES,
    source_name=lambda s: pages.SOURCE_NAMES.get(s, s),
    verdict_name=lambda v: pages.VERDICT_NAMES.get(v, v),
    state_name_of=lambda v: STATE_NAMES.get(CaseState(v), v) if v else "",
    priority_name=pages.PRIORITY_NAMES,
)
# No script runs on a board page; inline SVG and styles from linli only.
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a link's token never leaves in a Referer
    "Cache-Control": "no-store",
}
NONCE: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
# the one form that carries photos (`act`): api/guard.py allows it the larger upload
# bound, LINLI_BOARD_MAX_UPLOAD_BYTES, with a valid session only
UPLOAD_PATH: Final = re.compile(r"/board/cases/[0-9]{1,20}/actions")
LIST_CLOSED: Final = 50  # closed cases shown under the others
COMPLAINTS_SHOWN: Final = 200  # a case's complaints on its page, newest first
OK_TEXT: Final = {
    Action.ACKNOWLEDGE: "已签收。",
    Action.START: "已开始处置。",
    Action.RESOLVE: "已办结，等待核验。",
    Action.COMMENT: "备注已添加。",
    Action.REOPEN: "工单已重新打开。",
    Action.CLOSE: "工单已结案。",
}
DUPLICATE_TEXT: Final = "这次提交已经处理过了（重复提交只生效一次）。"
FOLLOWUP_TEXT: Final = {  # after a follow-up call's form (api/board/complaints.py)
    "followup_satisfied": "回访已记录：满意。",
    "followup_unsatisfied": "回访已记录：不满意，工单已重新打开。",
    "followup_new_case": "回访已记录：不满意。原工单已结案，投诉已转入这件工单。",
}


def _tz(svc: Services) -> ZoneInfo:
    return ZoneInfo(svc.config.tz)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


now_ms = _now_ms  # the board's clock, for its other pages


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with the board's security headers."""
    body = ENV.get_template(name).render(**context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def error_page(
    status: int, title: str, message: str, session: Session | None = None
) -> HTMLResponse:
    """A page saying what went wrong, in one sentence, and where to go."""
    return render("error.html", status, title=title, message=message, session=session)


def login_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, and back to this page after."""
    return _login_redirect(request)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/board/login?next={quote(target, safe='')}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a board page of this site (never `//elsewhere`)."""
    if (
        target
        and target.startswith("/board/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return OVERVIEW_PAGE


OVERVIEW_PAGE: Final = "/board/overview"
STREET_PAGE: Final = "/board/street"


def landing(scope: Scope, communities: int) -> str:
    """Where a signed-in reader starts: the street's page (api/board/street.py) for
    staff or admin who see more than one of the street's `communities`, else the
    overview of what they see (one community's staff: their own community's)."""
    if scope.grant.role in (Role.ADMIN, Role.STAFF) and communities > 1:
        return STREET_PAGE
    return OVERVIEW_PAGE


def _landing(svc: Services, grant: Grant) -> str:
    scope = Scope(grant, svc.db)
    return landing(scope, sum(1 for c in svc.db.communities() if scope.sees_community(c.id)))


def _site_ids(scope: Scope) -> set[str] | None:
    return None if scope.whole else {s.id for s in scope.sites()}


def row_id_ok(n: int) -> bool:
    """Whether an id from a board URL can name a row at all (1 to 2⁶³−1): larger ones
    would overflow the store's integer, so they are simply not found (404)."""
    return 1 <= n <= MAX_ROW_ID


def _case_in_scope(svc: Services, session: Session, case_id: int) -> Case:
    """The case, or NotFound when it does not exist or is outside the reader's scope."""
    if not row_id_ok(case_id):
        raise NotFound(f"case {case_id} does not exist")
    with svc.db.cases() as tx:
        case = tx.get(case_id)
    sites = _site_ids(Scope(session.grant, svc.db))
    if sites is not None and case.site not in sites:
        raise NotFound(f"case {case_id} does not exist")
    return case


def not_found(session: Session | None, what: str = "工单") -> HTMLResponse:
    """The page of a thing that does not exist or is outside the reader's scope (404)."""
    return _not_found(session, what)


def _not_found(session: Session | None, what: str = "工单") -> HTMLResponse:
    return error_page(404, f"找不到这个{what}", f"这个{what}不存在，或不在您的范围内。", session)


# -- signing in ------------------------------------------------------------------------


@router.get("")
def board_home(request: Request) -> Response:
    """The overview when signed in, else the sign-in page."""
    svc = services(request)
    session = sessions.current(request, svc)
    target = "/board/login" if session is None else _landing(svc, session.grant)
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form: an API token, once (with its sign-in CSRF token and cookie)."""
    return _login_form(request, _safe_next(next))


def _login_form(
    request: Request, target: str, status: int = 200, error: str | None = None
) -> Response:
    """The sign-in form with a fresh proof that it is this site's page that is sent."""
    svc = services(request)
    nonce, proof = sessions.login_proof(request)
    response = render(
        "login.html",
        status,
        next=target,
        error=error,
        session=None,
        csrf=proof,
    )
    sessions.start_login(response, svc, nonce)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the form's sign-in proof, then the token (throttled like the API's: only
    failures count, and a valid token passes even from a throttled address), and set the
    session cookie."""
    svc = services(request)
    form = await request.form(max_files=0, max_fields=10)
    token = str(form.get("token") or "").strip()
    target = _safe_next(str(form.get("next") or ""))
    if not sessions.login_ok(request, form.get("csrf")):
        # another site's form (or a page too old): nobody is signed in or out by it
        message = "登录表单已过期或来自其他网站，请在本页重新输入令牌。"
        return _login_form(request, target, 403, message)
    client = request.client.host if request.client else "?"
    try:
        grant = await run_in_threadpool(authenticate, svc, f"Bearer {token}")
    except Unauthorized:
        wait_s = svc.failed_attempts.retry_after_s(client)
        svc.failed_attempts.failed(client)
        if wait_s is not None:
            message = f"失败次数过多，请 {wait_s} 秒后再试。"
            return _login_form(request, target, 429, message)
        message = "令牌无效或已过期，请检查后重试。"
        return _login_form(request, target, 401, message)
    exp_s = int(time.time()) + svc.config.board_session_ttl_s
    if grant.expires_ms is not None:
        exp_s = min(exp_s, grant.expires_ms // 1000)
    if target == OVERVIEW_PAGE:  # no page asked for: where this reader starts
        target = await run_in_threadpool(_landing, svc, grant)
    response = RedirectResponse(target, status_code=303)
    sessions.start(request, response, svc, grant, exp_s)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the form carries its CSRF token)."""
    svc = services(request)
    session = sessions.current(request, svc)
    form = await request.form(max_files=0, max_fields=10)
    if session is not None and not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    response = RedirectResponse("/board/login", status_code=303)
    sessions.end(response, svc)
    return response


def _csrf_refused(session: Session | None) -> HTMLResponse:
    return error_page(
        403,
        "请求被拒绝",
        "表单缺少有效的安全令牌（可能来自其他网站，或页面已过期）。请重新打开工单页面再提交；工单没有改变。",
        session,
    )


# -- the overview ----------------------------------------------------------------------


def site_statuses(
    scope: Scope, svc: Services, sites: Sequence[SiteRecord], now_ms: int, tz: ZoneInfo
) -> list[pages.SiteNow]:
    """Each of `sites` with its state now (pages.site_status), by its community's rules:
    the overview's and the street's rows, computed once."""
    site_ids = {s.id for s in sites}
    sensors = [s for s in svc.db.sensors() if s.site in site_ids]
    with svc.db.cases() as tx:
        states = tx.load_states(newest_only=True)
        not_closed = [c for c in tx.not_closed() if c.site in site_ids]
    by_site: dict[str, list[Case]] = {}
    for c in not_closed:
        by_site.setdefault(c.site, []).append(c)
    kinds = {s.id: s.kind for s in sensors}
    of_site: dict[str, list[str]] = {}
    for s in sensors:
        of_site.setdefault(s.site, []).append(s.id)
    return [
        pages.site_status(
            site,
            of_site.get(site.id, []),
            kinds,
            states,
            by_site.get(site.id, []),
            svc.policy.of(scope.community_of_grid(site.grid)),  # its community's rules
            tz,
            now_ms,
        )
        for site in sites
    ]


@router.get("/overview")
def overview(request: Request, t: str | None = None, community: str | None = None) -> Response:
    """Every site's state now, grouped by grid, linking to its cases; a signed link of its
    own (`?t=`, no case in it: `linli demo` prints one) signs the reader in first.
    `?community=` narrows it to one community of the street (CONTRACT §9): 404 when the
    reader's scope does not reach it."""
    svc = services(request)
    if t is not None:
        return _open_link(request, svc, None, t)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    scope = Scope(session.grant, svc.db)
    grids = scope.grids() if session.grant.role is not Role.MERCHANT else []
    sites = scope.sites()
    communities = {c.id: c.name for c in svc.db.communities() if scope.sees_community(c.id)}
    heading = None
    if community is not None:
        if community not in communities:
            return _not_found(session, "社区")
        heading = communities[community]
        grids = [g for g in grids if g.community == community]
        sites = [s for s in sites if scope.community_of_grid(s.grid) == community]
    elif len(communities) == 1:
        heading = next(iter(communities.values()))
    now = _now_ms()
    tz = _tz(svc)
    statuses = site_statuses(scope, svc, sites, now, tz)
    names = {g.id: g.name for g in svc.db.grids()}
    grid_ids = [g.id for g in grids] or sorted({s.grid for s in sites})
    groups = []
    for gid in grid_ids:
        members = [n for n in statuses if n.site.grid == gid]
        if members:
            groups.append((gid, names.get(gid, gid), members, Counter(n.status for n in members)))
    totals = Counter(n.status for n in statuses)
    return render(
        "overview.html",
        session=session,
        groups=groups,
        totals=totals,
        heading=heading,
        street=len(communities) > 1 and session.grant.role in (Role.ADMIN, Role.STAFF),
        report_months=pages.report_months(now, svc.policy.calendar.tz),
        stats=session.grant.role in (Role.ADMIN, Role.STAFF),  # api/board/stats.py READERS
    )


# -- my cases --------------------------------------------------------------------------


def _choice(value: str | None, allowed: type[CaseState] | type[CaseKind]) -> Any:
    if not value:
        return None
    try:
        return allowed(value)
    except ValueError:
        return None


@router.get("/cases")
def case_list(
    request: Request,
    state: str | None = None,
    grid: str | None = None,
    site: str | None = None,
    kind: str | None = None,
) -> Response:
    """The reader's cases: those not done first, each with its countdown; filters."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    scope = Scope(session.grant, svc.db)
    in_scope = scope.sites()
    allowed = None if scope.whole else [s.id for s in in_scope]
    want_state: CaseState | None = _choice(state, CaseState)
    want_kind: CaseKind | None = _choice(kind, CaseKind)
    site = site or None
    grid = grid or None
    now = _now_ms()
    tz = _tz(svc)

    def keep(c: Case) -> bool:
        return (
            (allowed is None or c.site in allowed)
            and (site is None or c.site == site)
            and (grid is None or c.grid == grid)
            and (want_kind is None or c.kind is want_kind)
            and (want_state is None or c.state is want_state)
        )

    with svc.db.cases() as tx:
        not_closed = [c for c in tx.not_closed() if allowed is None or c.site in allowed]
        shown = sorted(
            (c for c in not_closed if keep(c)),
            key=lambda c: (c.state not in pages.ACTIVE, -c.opened_ms, -(c.id or 0)),
        )
        closed_total = 0
        if want_state in (None, CaseState.CLOSED):
            closed, closed_total = tx.list_cases(
                state=CaseState.CLOSED,
                site=site,
                grid=grid,
                kind=want_kind,
                sites=allowed,
                limit=LIST_CLOSED,
            )
            shown += closed
    names = {s.id: s.name for s in in_scope}
    rows = [
        {
            "case": c,
            "site_name": names.get(c.site, c.site),
            "age": pages.duration_text(now - c.opened_ms),
            "countdown": pages.next_escalation(
                c, svc.policy.of(scope.community_of_site(c.site)).escalation, now
            ),
            "deadlines": pages.deadlines(c, now, tz),
        }
        for c in shown
    ]
    counts = None
    if scope.whole:
        grid_names = {g.id: g.name for g in scope.grids()}
        per: dict[str, Counter[str]] = {gid: Counter() for gid in grid_names}
        for c in not_closed:
            per.setdefault(c.grid, Counter())[
                "active" if c.state in pages.ACTIVE else "resolved"
            ] += 1
        counts = [(gid, grid_names.get(gid, gid), n) for gid, n in sorted(per.items())]
    filters = {"state": want_state, "grid": grid, "site": site, "kind": want_kind}
    grids = scope.grids() if session.grant.role is not Role.MERCHANT else []
    return render(
        "cases.html",
        session=session,
        rows=rows,
        counts=counts,
        filters=filters,
        states=list(CaseState),
        kinds=list(CaseKind),
        grids=grids,
        sites=in_scope,
        closed_total=closed_total,
        closed_shown=LIST_CLOSED,
    )


# -- one case --------------------------------------------------------------------------


def open_link(request: Request, svc: Services, token: str, target: str) -> Response:
    """A signed link without a case (the monthly report's, api/board/stats.py): verified,
    its session started, and the reader sent on to `target` (a board page)."""
    return _open_link(request, svc, None, token, _safe_next(target))


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: int, t: str | None = None, ok: str | None = None
) -> Response:
    """A message link (`?t=`) signs the reader in and drops the token from the URL; else the
    case page of a signed-in reader."""
    svc = services(request)
    if t is not None:
        return _open_link(request, svc, case_id, t)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    try:
        flash = None
        if ok == "dup":
            flash = ("ok", DUPLICATE_TEXT)
        elif ok in FOLLOWUP_TEXT:
            flash = ("ok", FOLLOWUP_TEXT[ok])
        elif ok is not None:
            try:
                flash = ("ok", OK_TEXT[Action(ok)])
            except (ValueError, KeyError):
                flash = None
        return _case_view(svc, session, case_id, flash=flash)
    except NotFound:
        return _not_found(session)


def _open_link(
    request: Request,
    svc: Services,
    case_id: int | None,
    token: str,
    target: str | None = None,
) -> Response:
    """Verify a signed link, start its session, and send the reader to the clean URL.

    A browser already signed in as someone else keeps its session: the page asks which
    to use (a link is a URL anyone can make a browser open, so opening one must not
    silently change who this browser acts as)."""
    try:
        claims = _link_claims(request, svc, case_id, token)
    except BadLink as err:
        return error_page(403, "链接无法打开", str(err) + "。")
    grant = sessions.grant_of(claims)
    target = target or _link_target(case_id)  # a page's own link (the monthly statistics)
    session = sessions.current(request, svc)
    if session is None:
        return _start_link(request, svc, claims, target)
    if _same_reader(session.grant, grant):
        return RedirectResponse(target, status_code=303)  # already signed in as the link's
    return render(
        "link.html",
        session=session,
        link=grant,
        token=token,
        case_id=case_id,
        target=target,
    )


@router.post("/link")
async def switch_to_link(request: Request) -> Response:
    """The reader chose to use the link's identity instead of the session's (the form of
    `link.html`, with the current session's CSRF token)."""
    svc = services(request)
    form = await request.form(max_files=0, max_fields=10)
    session = sessions.current(request, svc)
    if session is None or not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    raw_case = str(form.get("case") or "")
    case_id = int(raw_case) if raw_case.isdigit() and len(raw_case) < 20 else None
    try:
        claims = _link_claims(request, svc, case_id, str(form.get("t") or ""))
    except BadLink as err:
        return error_page(403, "链接无法打开", str(err) + "。", session)
    return _start_link(request, svc, claims, _link_target(case_id))


def _link_claims(request: Request, svc: Services, case_id: int | None, token: str) -> Claims:
    """A link's claims, if it is linli's, unaltered, unexpired, for this case, and no token
    of its scope was revoked since it was sent; BadLink otherwise."""
    claims = verify(sessions.board_key(request), token, time.time())
    if claims.case != case_id:
        raise BadLink("链接无效或已被改动")
    if sessions.link_revoked(svc, claims, claims.sent_s or 0):
        raise BadLink("链接已失效（收件人的令牌已被撤销），请在最新的消息中打开工单，或登录")
    return claims


def _link_target(case_id: int | None) -> str:
    return "/board/overview" if case_id is None else f"/board/cases/{case_id}"


def _same_reader(a: Grant, b: Grant) -> bool:
    return (a.role, a.site, a.grids) == (b.role, b.site, b.grids)


def _start_link(request: Request, svc: Services, claims: Claims, target: str) -> Response:
    grant = sessions.grant_of(claims)
    exp_s = min(claims.exp_s, int(time.time()) + svc.config.board_session_ttl_s)
    response = RedirectResponse(target, status_code=303)
    sessions.start(request, response, svc, grant, exp_s, link_sent_s=claims.sent_s or 0)
    return response


def _case_view(
    svc: Services,
    session: Session,
    case_id: int,
    *,
    flash: tuple[str, str] | None = None,
    status: int = 200,
    kept: dict[str, str] | None = None,
) -> HTMLResponse:
    """The case page (raises NotFound outside the reader's scope)."""
    case = _case_in_scope(svc, session, case_id)
    with svc.db.cases() as tx:
        detail = tx.detail(case_id)
        photos = tx.photos_of(case_id)
    with svc.db.outbox() as box:
        told = box.of_case(case_id)
    with svc.db.complaints() as ctx:
        complaints, _ = ctx.list_complaints(case_id=case_id, limit=COMPLAINTS_SHOWN)
    case = detail.case
    tz = _tz(svc)
    now = _now_ms()
    site = svc.db.site(case.site)
    ev = pages.latest(detail.evidence)
    # CONTRACT §7: a merchant reads no resident's words, and other levels' deliveries
    # without their recipients (api/disclosure.py)
    reader = disclosure.reader_of(session.grant)
    withheld = () if reader is Reader.AUTHORITY else disclosure.withheld_of(complaints)
    timeline = disclosure.timeline(reader, detail.timeline, told, withheld)
    told = disclosure.deliveries(reader, told)
    entries: list[dict[str, Any]] = []
    for e in timeline:
        if e.action is Action.TELL:
            continue  # each delivery is shown once, below, with its state
        entries.append(
            {
                "at_ms": e.at_ms,
                "action": e.action.value,
                "title": pages.ACTION_NAMES.get(e.action, e.action.value),
                "actor": e.actor,
                "note": e.note,
                "to_state": e.to_state,
                "level": e.level,
                "photos": [p for p in photos if p.at_ms == e.at_ms and e.action is Action.RESOLVE],
            }
        )
    for d in told:
        entries.append(
            {
                "at_ms": d.created_ms,
                "action": "tell",
                "title": "通知",
                "actor": d.who,
                "note": f"{d.event} → {d.channel}：{d.state.value}"
                + (f"（{d.detail}）" if d.detail else ""),
                "to_state": None,
                "level": None,
                "photos": [],
                "delivery": d.state.value,
            }
        )
    entries.sort(key=lambda e: e["at_ms"])
    actions = pages.allowed_actions(session.grant.role, case.state)
    kept = dict(kept or {})
    if kept.get("note") and kept.get("action") not in {a.value for a in actions}:
        # the refused action's form is gone (the case moved on): the note into a comment
        kept["action"] = Action.COMMENT.value if Action.COMMENT in actions else ""
    policy = svc.policy_of(case.site)  # its community's rules (CONTRACT §9)
    svg = pages.chart(svc.influx, policy, case, site, ev, tz, now)
    return render(
        "case.html",
        status,
        session=session,
        case=case,
        site=site,
        summary=pages.summary(case, site.name, ev, tz),
        chart=svg,
        occurrences=detail.occurrences,
        entries=entries,
        actions=actions,
        age=pages.duration_text(now - case.opened_ms),
        countdown=pages.next_escalation(case, policy.escalation, now),
        deadlines=pages.deadlines(case, now, tz),
        complaints=complaints,
        sees=lambda part: sees(reader, Part(part)),
        priority=priority(case.complaints).value,
        may_rate=session.grant.role is not Role.MERCHANT
        and case.state in (CaseState.RESOLVED, CaseState.CLOSED),
        text_chars=MAX_TEXT_CHARS,
        flash=flash,
        nonce=secrets.token_urlsafe(16),
        kept=kept,
        max_photo_mb=svc.config.board_max_photo_bytes / (1 << 20),
        max_photos=svc.config.board_max_photos,
        note_chars=NOTE_CHARS,
        local=lambda ms, fmt="%m-%d %H:%M": pages.shown_time(ms, tz, fmt),
        report_months=pages.report_months(now, policy.calendar.tz),
    )


# -- acting on a case ------------------------------------------------------------------


class Refused(Exception):
    """A form the board cannot apply: its status and one sentence for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@router.post("/cases/{case_id}/actions")
async def act(request: Request, case_id: int) -> Response:
    """One action on a case, with its note (and, to resolve, photos of the fix)."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return error_page(401, "请先登录", "会话已过期或未登录：请重新打开消息中的链接，或登录。")
    cfg = svc.config
    form = await request.form(
        max_files=cfg.board_max_photos + 1,
        max_fields=20,
        max_part_size=max(1 << 20, NOTE_CHARS * 8),
    )
    if not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    note = str(form.get("note") or "")
    kept = {"note": note, "action": str(form.get("action") or "")}
    try:
        action, photos = await _checked(svc, session, form, note)
        message = await run_in_threadpool(
            _apply, svc, session, case_id, action, note, str(form.get("nonce") or ""), photos
        )
    except NotFound:
        return _not_found(session)
    except Refused as err:
        refused = err
    else:
        return RedirectResponse(f"/board/cases/{case_id}?ok={message}", status_code=303)
    try:  # the page again, saying what was wrong, the note kept in its form
        return await run_in_threadpool(
            lambda: _case_view(
                svc,
                session,
                case_id,
                flash=("error", refused.message),
                status=refused.status,
                kept=kept,
            )
        )
    except NotFound:
        return _not_found(session)


async def _checked(
    svc: Services, session: Session, form: Any, note: str
) -> tuple[Action, list[tuple[str, bytes]]]:
    """The form's action and photos, or Refused with what is wrong."""
    cfg = svc.config
    try:
        action = Action(str(form.get("action") or ""))
    except ValueError:
        raise Refused(422, "未知的操作。") from None
    if action not in pages.BOARD_ACTIONS:
        raise Refused(422, "未知的操作。")
    if not may_act(session.grant.role, action):
        raise Refused(403, f"您的角色不能{pages.ACTION_NAMES[action]}这个工单。")
    if len(note) > NOTE_CHARS:
        raise Refused(
            413,
            f"备注太长：{len(note):,} 字，最多 {NOTE_CHARS:,} 字。请删减后再提交；工单没有改变。",
        )
    if not NONCE.fullmatch(str(form.get("nonce") or "")):
        raise Refused(400, "表单不完整（缺少提交编号）。请刷新页面后再提交；工单没有改变。")
    photos: list[tuple[str, bytes]] = []
    files = [
        f for f in form.getlist("photos") if isinstance(f, UploadFile) and (f.filename or f.size)
    ]
    if files and action is not Action.RESOLVE:
        raise Refused(422, "只有办结时可以上传整改照片。")
    if len(files) > cfg.board_max_photos:
        raise Refused(413, f"照片太多：最多 {cfg.board_max_photos} 张。工单没有改变。")
    for f in files:
        data = await f.read(cfg.board_max_photo_bytes + 1)
        name = f.filename or "照片"
        if len(data) > cfg.board_max_photo_bytes:
            mb = cfg.board_max_photo_bytes / (1 << 20)
            raise Refused(413, f"照片「{name}」超过 {mb:g} MB，请压缩后重新选择。工单没有改变。")
        try:  # decoded, bounded and re-encoded off the event loop (api/board/photos.py)
            photos.append(await run_in_threadpool(photo_check.keep, data))
        except photo_check.PhotoTooLarge:
            mp = photo_check.MAX_PIXELS // 10**6
            raise Refused(
                413,
                f"照片「{name}」像素过多（最多 {mp} 百万像素），请缩小后重新选择。工单没有改变。",
            ) from None
        except photo_check.PhotoRefused:
            raise Refused(
                415,
                f"「{name}」不是图片（只接受 JPEG、PNG、WebP、GIF）。请重新选择；工单没有改变。",
            ) from None
    return action, photos


def _apply(
    svc: Services,
    session: Session,
    case_id: int,
    action: Action,
    note: str,
    nonce: str,
    photos: list[tuple[str, bytes]],
) -> str:
    """Apply the action in one transaction with its nonce, photos and deliveries; returns
    the page's `ok` code ("dup" when this form was applied already)."""
    _case_in_scope(svc, session, case_id)
    now = _now_ms()
    try:
        with svc.db.cases() as tx:
            case = tx.get(case_id)
            if not tx.use_nonce(nonce, case_id, now):
                return "dup"
            if (case.state, action) not in TRANSITIONS:
                raise Refused(
                    409,
                    f"工单现在是「{STATE_NAMES[case.state]}」，不能{pages.ACTION_NAMES[action]}。",
                )
            try:
                _, entry = acting.act(svc, tx, case, action, now, session.actor, note)
            except StateConflict as err:
                raise Refused(409, str(err)) from err
            for kind, data in photos:
                tx.add_photo(case_id, entry.at_ms, session.actor, kind, data)
    except Duplicate:
        return "dup"  # the same form at the same moment: its nonce is there now
    return action.value


# -- photos ----------------------------------------------------------------------------


@router.get("/photos/{photo_id}")
def photo(request: Request, photo_id: int) -> Response:
    """A stored photo of a fix, to readers who may see its case."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return error_page(401, "请先登录", "请重新打开消息中的链接，或登录。")
    try:
        if not row_id_ok(photo_id):
            raise NotFound(f"photo {photo_id} does not exist")
        with svc.db.cases() as tx:
            found = tx.photo(photo_id)
        _case_in_scope(svc, session, found.info.case_id)
    except NotFound:
        return _not_found(session, "照片")
    return Response(
        found.data,
        media_type=found.info.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400",
            "Content-Disposition": f'inline; filename="photo-{photo_id}"',
        },
    )
