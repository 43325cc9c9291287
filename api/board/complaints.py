"""Residents' complaints on the case board: the community office's
form, the filed complaint with its verdict, and the follow-up call (回访).

The form is an edge like `POST /api/v1/complaints`: it checks the fields' shape and
hands an `Intake` to the same service (api/intake.py `receive`), which judges the
complaint and puts it on its case. Its `nonce` is the request's identity there (a form
sent twice is one complaint, kept once by the complaints table's unique fingerprint). A
refused form is the form again, 4xx, with what was typed kept and one sentence in
`<p id="flash" class="error">`. Merchants do not file or rate complaints (CONTRACT §5).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from linli.api import intake
from linli.api.board import pages, sessions
from linli.api.board.sessions import Session
from linli.api.board.views import (
    NONCE,
    Refused,
    _case_view,
    _csrf_refused,
    _login_redirect,
    _not_found,
    error_page,
    render,
    row_id_ok,
)
from linli.api.disclosure import reader_of
from linli.api.errors import neutral
from linli.api.params import MAX_TIME_MS, MIN_TIME_MS
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.rules.complaint import MAX_ADDRESS_CHARS, MAX_AGE_DAYS, MAX_TEXT_CHARS
from linli.rules.reading import SensorKind
from linli.store import Duplicate, Invalid, NotFound, Role
from linli.store.complaints import ComplaintRecord

router = APIRouter(prefix="/board", include_in_schema=False)

FIELDS: Final = (
    "site",
    "address",
    "kind",
    "from",
    "to",
    "text",
    "source",
    "external_id",
    "contact_name",
    "contact_phone",
)
# the sources a person at the office files (open311 comes from the city's platform)
BOARD_SOURCES: Final = ("walk_in", "phone", "12345", "web")
KIND_NAMES: Final = {"noise": "噪声", "fume": "油烟"}
EXTERNAL_ID_CHARS: Final = 128  # as the API's (api/complaint_schemas.py)
NAME_CHARS: Final = 100
PHONE_CHARS: Final = 40
TIME_CHARS: Final = 40
FILED_TEXT: Final = {
    "filed": "投诉已登记。",
    "dup": "这张表单已经提交过了（重复提交只登记一次），下面是登记的投诉。",
}
# the intake's window errors (rules/complaint.py `window_of`) as the office reads them
WINDOW_TEXT: Final = (
    ("starts in the future", "开始时间在未来：投诉的时间段只能是已经过去的时间。"),
    ("ends in the future", "结束时间在未来：投诉的时间段只能是已经过去的时间。"),
    ("must be after", "结束时间必须晚于开始时间。"),
    ("longer than", "时间段太长：最长 7 天。"),
    ("without 'from'", "只填了结束时间：请同时填写开始时间，或都留空（表示刚才 30 分钟）。"),
    ("days ago", f"开始时间太早：只受理 {MAX_AGE_DAYS} 天内的投诉。"),
)


def _may_file(session: Session) -> bool:
    return session.grant.role is not Role.MERCHANT


def _form_page(
    svc: Services,
    session: Session,
    *,
    kept: dict[str, str] | None = None,
    flash: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The complaint form: the sites in scope, a fresh nonce, what was typed (if refused)."""
    sites = Scope(session.grant, svc.db).sites()
    return render(
        "complaint_new.html",
        status,
        session=session,
        sites=sites,
        kinds=KIND_NAMES,
        sources={s: pages.SOURCE_NAMES[s] for s in BOARD_SOURCES},
        kept=kept or {"kind": "noise", "source": "walk_in"},
        flash=flash,
        nonce=secrets.token_urlsafe(16),
        text_chars=MAX_TEXT_CHARS,
        address_chars=MAX_ADDRESS_CHARS,
    )


@router.get("/complaints/new")
def complaint_form(request: Request) -> Response:
    """The community office's complaint form (grid workers, staff, admin)."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    if not _may_file(session):
        return _not_yours(session)
    return _form_page(svc, session)


def _not_yours(session: Session) -> Response:
    return error_page(
        403, "不能登记投诉", "商户不能登记或回访居民投诉（由网格员和社区工作人员登记）。", session
    )


def _local_ms(name: str, value: str, tz: ZoneInfo) -> int | None:
    """A `datetime-local` field ("2026-12-01T21:30") in the community's time, within the
    API's bounds (1970–2100, api/params.py); empty: None."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(422, f"{name}格式不对：「{value[:40]}」，应为 年-月-日 时:分。") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        ms = int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        ms = MIN_TIME_MS - 1
    if not MIN_TIME_MS <= ms < MAX_TIME_MS:
        raise Refused(422, f"{name}不在 1970–2100 年之间：「{value[:40]}」。")
    return ms


def _intake_of(kept: dict[str, str], tz: ZoneInfo, nonce: str) -> intake.Intake:
    """The form's fields as the intake takes them, or Refused saying what is wrong."""
    text = kept["text"]
    if kept["kind"] not in KIND_NAMES:
        raise Refused(422, "请选择投诉类型：噪声或油烟。")
    if kept["source"] not in BOARD_SOURCES:
        raise Refused(422, "请选择投诉来源：来访、电话、12345 热线或网上。")
    if len(text) > MAX_TEXT_CHARS:
        raise Refused(
            413,
            f"投诉内容太长：{len(text):,} 字，最多 {MAX_TEXT_CHARS:,} 字。"
            "请删减后再提交；投诉没有登记。",
        )
    if not text.strip():
        raise Refused(422, "请填写投诉内容（居民反映的情况）。")
    if len(kept["address"]) > MAX_ADDRESS_CHARS:
        raise Refused(413, f"地址太长：最多 {MAX_ADDRESS_CHARS} 字。")
    if not kept["site"] and not kept["address"].strip():
        raise Refused(422, "请选择点位，或填写居民说的地址。")
    if len(kept["external_id"]) > EXTERNAL_ID_CHARS:
        raise Refused(422, f"外部编号太长：最多 {EXTERNAL_ID_CHARS} 个字符。")
    if len(kept["contact_name"]) > NAME_CHARS or len(kept["contact_phone"]) > PHONE_CHARS:
        raise Refused(422, f"联系人姓名最多 {NAME_CHARS} 字，电话最多 {PHONE_CHARS} 个字符。")
    if len(kept["from"]) > TIME_CHARS or len(kept["to"]) > TIME_CHARS:
        raise Refused(422, "时间格式不对，应为 年-月-日 时:分。")
    name, phone = kept["contact_name"].strip(), kept["contact_phone"].strip()
    return intake.Intake(
        kind=SensorKind(kept["kind"]),
        text=text,
        source=kept["source"],
        site=kept["site"] or None,
        address=kept["address"].strip() or None,
        from_ms=_local_ms("开始时间", kept["from"], tz),
        to_ms=_local_ms("结束时间", kept["to"], tz),
        external_id=kept["external_id"].strip() or None,
        contact={"name": name or None, "phone": phone or None} if name or phone else None,
        request_id=nonce,
    )


def _file(svc: Services, session: Session, received: intake.Intake) -> tuple[int, bool]:
    """The complaint filed by the intake (or found: the form was sent before); its id and
    whether it was this request that filed it."""
    scope = Scope(session.grant, svc.db)
    assert received.request_id is not None
    try:
        filed = intake.receive(svc, scope, received)
        return filed.record.id, filed.new
    except Duplicate:  # still racing another request after the intake's tries
        raise Refused(409, "同一外部编号的投诉正在登记，请稍后查看投诉列表。") from None
    except NotFound:
        raise Refused(404, f"点位「{received.site}」不存在，或不在您的范围内。") from None
    except Invalid as err:
        detail = str(err)
        for words, text in WINDOW_TEXT:
            if words in detail:
                raise Refused(422, text) from None
        raise Refused(422, f"投诉没有登记：{neutral(422, detail)}") from None


@router.post("/complaints/new")
async def file_complaint(request: Request) -> Response:
    """File the form's complaint through the intake, then show it (303)."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return error_page(401, "请先登录", "会话已过期或未登录：请重新登录后再登记。")
    if not _may_file(session):
        return _not_yours(session)
    form = await request.form(max_files=0, max_fields=20, max_part_size=1 << 20)
    if not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    kept = {k: str(form.get(k) or "") for k in FIELDS}
    nonce = str(form.get("nonce") or "")
    try:
        if not NONCE.fullmatch(nonce):
            raise Refused(400, "表单不完整（缺少提交编号）。请刷新页面后再提交；投诉没有登记。")
        received = _intake_of(kept, ZoneInfo(svc.config.tz), nonce)
        complaint_id, first = await run_in_threadpool(_file, svc, session, received)
    except Refused as err:
        return _form_page(svc, session, kept=kept, flash=("error", err.message), status=err.status)
    ok = "filed" if first else "dup"
    with svc.db.complaints() as tx:
        record = tx.complaint(complaint_id)
    try:
        intake.in_scope(Scope(session.grant, svc.db), record)
    except NotFound:
        if record.site is not None:  # never: the intake files only in the filer's scope
            return _not_found(session, "投诉")
        # an address matching none of the filer's sites: kept for the whole community's
        # readers (CONTRACT §5), so its page is this answer, not a later one
        return _shown(svc, session, record, ("ok", FILED_TEXT[ok]), 201 if first else 200)
    return RedirectResponse(f"/board/complaints/{complaint_id}?ok={ok}", status_code=303)


@router.get("/complaints/{complaint_id}")
def complaint_page(request: Request, complaint_id: int, ok: str | None = None) -> Response:
    """One complaint: its reference, the verdict with its numbers, standard and clause, and
    its case (as `GET /api/v1/complaints/{id}` gives them: api/intake.py `view`)."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    scope = Scope(session.grant, svc.db)
    try:
        if not row_id_ok(complaint_id):
            raise NotFound(f"complaint {complaint_id} does not exist")
        with svc.db.complaints() as tx:
            record = tx.complaint(complaint_id)
        intake.in_scope(scope, record)
    except NotFound:
        return _not_found(session, "投诉")
    flash = ("ok", FILED_TEXT[ok]) if ok in FILED_TEXT else None
    return _shown(svc, session, record, flash)


def _shown(
    svc: Services,
    session: Session,
    record: ComplaintRecord,
    flash: tuple[str, str] | None,
    status: int = 200,
) -> Response:
    with svc.db.complaints() as tx:
        shown = intake.view(svc, tx, record, reader_of(session.grant))
    tz = ZoneInfo(svc.config.tz)
    return render(
        "complaint.html",
        status,
        session=session,
        c=shown,
        flash=flash,
        site_name=_site_name(svc, record.site),
        received=pages.shown_time(record.received_ms, tz, "%Y-%m-%d %H:%M"),
        window=f"{pages.shown_time(record.from_ms, tz)}–"
        f"{pages.shown_time(record.to_ms, tz, '%H:%M')}",
        expected=None if record.case_id is None else _expected(shown, tz),
    )


def _site_name(svc: Services, site: str | None) -> str | None:
    if site is None:
        return None
    try:
        return svc.db.site(site).name
    except NotFound:
        return site


def _expected(shown: dict[str, Any], tz: ZoneInfo) -> str | None:
    if not shown.get("expected"):
        return None
    at = datetime.fromisoformat(shown["expected"]).astimezone(tz)
    return at.strftime("%m-%d %H:%M")


# -- the follow-up call ---------------------------------------------------------------------


@router.post("/complaints/{complaint_id}/followup")
async def followup(request: Request, complaint_id: int) -> Response:
    """The follow-up call's rating (回访) from the case page; "not satisfied" reopens the
    case (api/intake.py `followup`, as `POST /api/v1/complaints/{id}/followup`)."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return error_page(401, "请先登录", "会话已过期或未登录：请重新登录后再回访。")
    if not _may_file(session):
        return _not_yours(session)
    form = await request.form(max_files=0, max_fields=10, max_part_size=1 << 20)
    if not sessions.csrf_ok(session, form.get("csrf")):
        return _csrf_refused(session)
    scope = Scope(session.grant, svc.db)
    try:
        if not row_id_ok(complaint_id):
            raise NotFound(f"complaint {complaint_id} does not exist")
        with svc.db.complaints() as tx:
            record = tx.complaint(complaint_id)
        intake.in_scope(scope, record)
    except NotFound:
        return _not_found(session, "投诉")
    if record.case_id is None:
        message = "这件投诉没有工单（无监测覆盖的地址），无需回访。"
        return error_page(409, "不能回访", message, session)
    case_id = record.case_id
    note = str(form.get("note") or "")
    rating = str(form.get("satisfied") or "")
    nonce = str(form.get("nonce") or "")
    try:
        if rating not in ("yes", "no"):
            raise Refused(422, "请选择回访结果：满意或不满意。")
        if len(note) > MAX_TEXT_CHARS:
            raise Refused(413, f"回访记录太长：{len(note):,} 字，最多 {MAX_TEXT_CHARS:,} 字。")
        if not NONCE.fullmatch(nonce):
            raise Refused(400, "表单不完整（缺少提交编号）。请刷新页面后再提交。")
        satisfied = rating == "yes"
        try:
            rated = await run_in_threadpool(
                intake.followup, svc, scope, complaint_id, satisfied, note, nonce
            )
        except Duplicate:
            return RedirectResponse(f"/board/cases/{case_id}?ok=dup", status_code=303)
        except Invalid:
            raise Refused(409, "工单还没有办结，办结后才能回访。") from None
    except Refused as err:
        refused = err
    else:
        ok = "followup_satisfied" if satisfied else "followup_unsatisfied"
        if rated.case_id is not None and rated.case_id != case_id:
            # its case was closed: the complaint is on a case opened (or joined) again
            case_id, ok = rated.case_id, "followup_new_case"
        return RedirectResponse(f"/board/cases/{case_id}?ok={ok}", status_code=303)
    try:
        return await run_in_threadpool(
            lambda: _case_view(
                svc,
                session,
                case_id,
                flash=("error", refused.message),
                status=refused.status,
                kept={"followup": str(complaint_id), "followup_note": note},
            )
        )
    except NotFound:
        return _not_found(session)
