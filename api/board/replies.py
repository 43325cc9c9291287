"""A merchant's public reply (CONTRACT §11), from the board: the merchant writes it for
its own site's public page ("已加装隔音门，22:00 后关门营业"); staff and admin may edit it or
hide it. Bounded, escaped where it is shown (api/public/templates/site.html)."""

from __future__ import annotations

import time
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from linli.api import acting
from linli.api.board import sessions
from linli.api.board.sessions import Session
from linli.api.board.views import _csrf_refused, _login_redirect, _not_found, render
from linli.api.public.public import public
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.store import NotFound, Role, SiteRecord

router = APIRouter(prefix="/board", include_in_schema=False)

REPLY_CHARS: Final = 200
WRITERS: Final = frozenset({Role.MERCHANT, Role.STAFF, Role.ADMIN})
HIDERS: Final = frozenset({Role.STAFF, Role.ADMIN})


def _site(svc: Services, session: Session, site_id: str) -> SiteRecord:
    """The site in the reader's scope, whose reply the reader may write; NotFound."""
    if len(site_id) > 64 or session.grant.role not in WRITERS:
        raise NotFound(f"site {site_id!r} does not exist")
    return Scope(session.grant, svc.db).site(site_id)


@router.get("/sites/{site_id}/reply")
def reply_page(request: Request, site_id: str, ok: str | None = None) -> Response:
    """The site's public reply and the form to write it."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    try:
        site = _site(svc, session, site_id)
    except NotFound:
        return _not_found(session, "地点")
    return _page(svc, session, site, ok, None, 200)


def _page(
    svc: Services,
    session: Session,
    site: SiteRecord,
    ok: str | None,
    error: str | None,
    status: int,
) -> Response:
    with svc.db.public() as tx:
        reply = tx.reply(site.id)
    flash = ("error", error) if error else ("ok", "已保存。") if ok else None
    return render(
        "reply.html",
        status,
        session=session,
        site=site,
        reply=reply,
        flash=flash,
        chars=REPLY_CHARS,
        may_hide=session.grant.role in HIDERS,
    )


@router.post("/sites/{site_id}/reply")
async def post_reply(request: Request, site_id: str) -> Response:
    """Write the reply (a merchant for its own site, staff for any in scope), or hide it
    (staff); the public page shows the change at once."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=REPLY_CHARS * 8)
    if not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    try:
        site = _site(svc, session, site_id)
    except NotFound:
        return _not_found(session, "地点")
    now = time.time_ns() // 1_000_000
    hide = form.get("hide")
    if hide is not None:
        if session.grant.role not in HIDERS:
            return _page(svc, session, site, None, "只有社区工作人员可以隐藏答复。", 403)
        try:
            await run_in_threadpool(_hide, svc, site.id, hide == "1")
        except NotFound:
            return _page(svc, session, site, None, "还没有答复。", 409)
    else:
        text = " ".join(str(form.get("text") or "").split())
        if not text:
            return _page(svc, session, site, None, "答复不能为空。", 422)
        if len(text) > REPLY_CHARS:
            return _page(svc, session, site, None, f"答复太长：最多 {REPLY_CHARS} 字。", 413)
        await run_in_threadpool(_write, svc, site.id, text, now, acting.actor(session.grant))
    public(request).forget_site(site.id)
    return RedirectResponse(f"/board/sites/{site.id}/reply?ok=1", status_code=303)


def _hide(svc: Services, site_id: str, hidden: bool) -> None:
    with svc.db.public() as tx:
        tx.hide_reply(site_id, hidden)


def _write(svc: Services, site_id: str, text: str, at_ms: int, actor: str) -> None:
    with svc.db.public() as tx:
        tx.set_reply(site_id, text, at_ms, actor)
