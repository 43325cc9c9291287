"""Reporting without an account (CONTRACT §11): a resident's report from a site's public
page, confirmed by an SMS code, filed through the one intake (api/intake.py), answered
with the sensors' verdict and a private link to follow it and rate the follow-up.

Abuse, bounded (docs/public.md):
- a code is 6 digits, stored as a keyed hash, valid `LINLI_PUBLIC_CODE_TTL_S`, and at most
  `LINLI_PUBLIC_CODE_TRIES` wrong ones void its report;
- reports are throttled per phone and per client address (api/throttle.py, one clock);
- each community sends at most `LINLI_PUBLIC_SMS_PER_HOUR` codes an hour and keeps at
  most `LINLI_PUBLIC_MAX_WAITING` reports waiting (expired ones are deleted);
- the same phone about the same site, kind and night (a day runs 06:00 to 06:00) is one
  complaint (its intake key), however often it is sent.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from linli.api import intake
from linli.api.public.pages import render
from linli.api.public.public import CSRF_COOKIE, CSRF_TTL_S, Public, client_of, public
from linli.rules.case import CaseState
from linli.rules.complaint import Source
from linli.rules.corroboration import Verdict
from linli.rules.disclosure import SiteClass, SitePart, public_sees, site_class
from linli.rules.messages import LEVEL_NAMES
from linli.rules.reading import SensorKind
from linli.store import Duplicate, Invalid, NotFound, SiteRecord, StateConflict

router = APIRouter(prefix="/public", include_in_schema=False)

TEXT_CHARS: Final = 300  # "a few words"
PHONE: Final = re.compile(r"1[3-9][0-9]{9}")
TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{20,64}")
CODE: Final = re.compile(r"[0-9]{6}")
NONCE: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
DAY_STARTS_H: Final = 6  # a resident's "night" runs into the next morning
KIND_WORDS: Final = {SensorKind.NOISE: "噪声", SensorKind.FUME: "油烟"}
RATINGS: Final = {
    "satisfied": (True, "满意"),
    "basic": (True, "基本满意"),
    "unsatisfied": (False, "不满意"),
}
VERDICT_WORDS: Final = {
    Verdict.CORROBORATED: "监测数据证实了您反映的情况",
    Verdict.NOT_CORROBORATED: "监测数据没有超标，网格员将到现场核查",
    Verdict.NO_COVERAGE: "这里没有相应的监测设备，网格员将到现场核查",
    Verdict.DATA_GAP: "那段时间监测数据不足，数据补齐后会再判定，网格员将到现场核查",
}


def phone_of(text: str) -> str | None:
    """A mainland mobile number (11 digits, spaces, dashes and +86 allowed), or None."""
    digits = re.sub(r"[\s-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if PHONE.fullmatch(digits) else None


def night_of(ts_ms: int, tz: ZoneInfo) -> str:
    """The resident's "night" a time belongs to: the local date of a day running 06:00 to
    06:00 (so 23:30 and 01:00 are the same night)."""
    local = datetime.fromtimestamp(ts_ms / 1000, tz) - timedelta(hours=DAY_STARTS_H)
    return local.date().isoformat()


def verdict_sentence(c: dict[str, Any], cls: SiteClass, told: str | None) -> str:
    """The corroboration in one plain sentence for the resident; the numbers only at a
    shop (a flat's sensor is not a public microphone: rules/disclosure.py)."""
    verdict = Verdict(c["verdict"])
    words = VERDICT_WORDS[verdict]
    numbers_shown = public_sees(cls, SitePart.NUMBERS)
    if numbers_shown and c.get("measured") is not None and c.get("limit") is not None:
        unit = c.get("unit") or ""
        numbers = f"测得 {float(c['measured']):.1f} {unit}，限值 {float(c['limit']):g}"
        words = f"{numbers}（{c.get('clause') or c.get('standard') or ''}）：{words}"
    if verdict is Verdict.CORROBORATED and told:
        words += f"，已通知{told}"
    return words + "。"


def _form_response(pub: Public, request: Request, name: str, status: int, **ctx: Any) -> Response:
    """A form page with its CSRF proof (and the cookie, when the browser has none yet)."""
    nonce, new = pub.csrf_nonce(request)
    response = render(name, status, csrf=pub.csrf_of(nonce), **ctx)
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            max_age=CSRF_TTL_S,
            path="/public",
            httponly=True,
            samesite="strict",
            secure=pub.services.config.public_url.lower().startswith("https://"),
        )
    return response


def _message(status: int, title: str, message: str, back: str | None = None) -> HTMLResponse:
    return render("message.html", status, title=title, message=message, back=back)


def _refused_csrf() -> HTMLResponse:
    return _message(403, "请求被拒绝", "表单已过期或来自其他网站。请重新打开页面再提交。")


def _site(pub: Public, site_id: str) -> SiteRecord | None:
    if len(site_id) > 64:
        return None
    try:
        return pub.services.db.site(site_id)
    except NotFound:
        return None


# -- the report form ----------------------------------------------------------------------


@router.get("/sites/{site_id}/report")
def report_form(request: Request, site_id: str) -> Response:
    """The report form: kind, when, a few words, a phone number."""
    pub = public(request)
    site = _site(pub, site_id)
    if site is None:
        return _message(404, "找不到这个地点", "这个地点不存在。")
    return _form_response(
        pub, request, "report.html", 200, site=site, kept={}, error=None, text_chars=TEXT_CHARS
    )


@dataclass(frozen=True, slots=True)
class Report:
    """A report as the form gave it, checked."""

    kind: SensorKind
    from_ms: int | None
    text: str
    phone: str


class FormError(Exception):
    """What is wrong with the form, in one sentence for the page."""


def _checked(pub: Public, form: Any) -> Report:
    try:
        kind = SensorKind(str(form.get("kind") or ""))
    except ValueError:
        raise FormError("请选择反映的是噪声还是油烟。") from None
    text = str(form.get("text") or "").strip()
    if not text:
        raise FormError("请用几句话说明情况。")
    if len(text) > TEXT_CHARS:
        raise FormError(f"说明太长：最多 {TEXT_CHARS} 字。")
    phone = phone_of(str(form.get("phone") or ""))
    if phone is None:
        raise FormError("请填写正确的手机号码（11 位），用于接收验证码。")
    when = str(form.get("when") or "").strip()
    from_ms = None
    if when:
        try:
            local = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(pub.services.config.tz))
        except ValueError:
            raise FormError("时间格式不对。") from None
        from_ms = int(local.timestamp() * 1000)
        now = pub.now_ms()
        if from_ms > now + 60_000:
            raise FormError("时间不能在将来。")
        if from_ms < now - 7 * 86_400_000:
            raise FormError("只能反映 7 天内的情况。")
    return Report(kind, from_ms, text, phone)


@router.post("/sites/{site_id}/report")
async def report(request: Request, site_id: str) -> Response:
    """Check the form and the throttles, keep the report waiting, text its code."""
    pub = public(request)
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    if not pub.csrf_ok(request, form.get("csrf")):
        return _refused_csrf()
    site = _site(pub, site_id)
    if site is None:
        return _message(404, "找不到这个地点", "这个地点不存在。")
    kept = {k: str(form.get(k) or "") for k in ("kind", "when", "text", "phone")}

    def again(status: int, error: str) -> Response:
        return _form_response(
            pub,
            request,
            "report.html",
            status,
            site=site,
            kept=kept,
            error=error,
            text_chars=TEXT_CHARS,
        )

    try:
        checked = _checked(pub, form)
    except FormError as err:
        return again(422, str(err))
    if pub.services.code_sender is None:
        return again(503, "本社区暂未开通短信验证，请拨打 12345 或联系社区。")
    client = client_of(request)
    phone_key = pub.hashed("phone", checked.phone)
    for throttle, key in ((pub.clients, client), (pub.phones, phone_key)):
        wait_s = throttle.retry_after_s(key)
        if wait_s is not None:
            minutes = max(1, (wait_s + 59) // 60)
            return again(429, f"提交太频繁，请 {minutes} 分钟后再试。")
    try:
        token, code = await run_in_threadpool(_keep, pub, site, checked, phone_key)
    except FormError as err:
        return again(429, str(err))
    pub.clients.failed(client)  # counted once kept: every kept report costs an SMS
    pub.phones.failed(phone_key)
    cfg = pub.services.config
    community = pub.services.db.community_of_site(site.id)
    sender = pub.services.code_sender
    failed = await run_in_threadpool(
        sender, community, checked.phone, code, max(1, cfg.public_code_ttl_s // 60)
    )
    if failed is not None:
        return again(502, "验证码短信发送失败，请稍后再试。")
    return RedirectResponse(f"/public/reports/{token}", status_code=303)


def _keep(pub: Public, site: SiteRecord, r: Report, phone_key: str) -> tuple[str, str]:
    """Keep the report waiting for its code, inside the community's budgets."""
    cfg = pub.services.config
    now = pub.now_ms()
    community = pub.services.db.community_of_site(site.id)
    token = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    token_hash = pub.hashed("report", token)
    with pub.services.db.public() as tx:
        tx.forget_expired(now, keep_ms=3_600_000)  # an hour after expiry: the budget's window
        if tx.count_since(community, now - 3_600_000) >= cfg.public_sms_per_hour:
            raise FormError("本社区这一小时的验证短信已达上限，请稍后再试，或拨打 12345。")
        if tx.count_waiting(community, now) >= cfg.public_max_waiting:
            raise FormError("待确认的反映太多，请稍后再试，或拨打 12345。")
        tx.add_report(
            token_hash,
            community,
            phone_key,
            pub.hashed("code", f"{token_hash}|{code}"),
            now,
            now + cfg.public_code_ttl_s * 1000,
            {
                "site": site.id,
                "kind": r.kind.value,
                "from_ms": r.from_ms,
                "text": r.text,
                "phone": r.phone,
            },
        )
    return token, code


# -- the code --------------------------------------------------------------------------------


@router.get("/reports/{token}")
def code_form(request: Request, token: str) -> Response:
    """Where the resident types the code the SMS brought."""
    pub = public(request)
    if not TOKEN.fullmatch(token):
        return _message(404, "找不到这份反映", "链接不完整或已失效。")
    return _form_response(pub, request, "code.html", 200, token=token, error=None)


@router.post("/reports/{token}")
async def confirm(request: Request, token: str) -> Response:
    """Check the code; the report becomes a complaint through the one intake, and the
    resident is sent to its private follow page (the answer: the sensors' verdict)."""
    pub = public(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
    if not pub.csrf_ok(request, form.get("csrf")):
        return _refused_csrf()
    if not TOKEN.fullmatch(token):
        return _message(404, "找不到这份反映", "链接不完整或已失效。")
    code = str(form.get("code") or "").strip()
    outcome = await run_in_threadpool(_confirm, pub, token, code)
    if isinstance(outcome, str):
        return RedirectResponse(outcome, status_code=303)
    status, error, final = outcome
    if final:
        return _message(status, "无法确认", error)
    return _form_response(pub, request, "code.html", status, token=token, error=error)


def _confirm(pub: Public, token: str, code: str) -> str | tuple[int, str, bool]:
    """The follow page's URL, or (status, what is wrong, whether the report is void)."""
    cfg = pub.services.config
    now = pub.now_ms()
    token_hash = pub.hashed("report", token)
    with pub.services.db.public() as tx:
        try:
            pending = tx.report(token_hash)
        except NotFound:
            return 404, "这份反映不存在或已过期，请重新提交。", True
        if pending.complaint_id is not None:
            return 409, "这份反映已经确认过了：请打开确认后页面上的跟进链接。", True
        if pending.expires_ms <= now:
            return 410, "验证码已过期，请重新提交反映。", True
        if pending.tries >= cfg.public_code_tries:
            return 429, "验证码错误次数过多，这份反映已作废，请重新提交。", True
        if (
            not CODE.fullmatch(code)
            or pub.hashed("code", f"{token_hash}|{code}") != pending.code_hash
        ):
            tx.tried(pending.id)
            left = cfg.public_code_tries - pending.tries - 1
            if left <= 0:
                return 429, "验证码错误次数过多，这份反映已作废，请重新提交。", True
            return 400, f"验证码不对，还可以再试 {left} 次。", False
        report = dict(pending.report)
    site = _site(pub, str(report["site"]))
    if site is None:
        return 404, "这个地点已不存在。", True
    tz = ZoneInfo(pub.services.policy_of(site.id).calendar.tz)
    when_ms = report["from_ms"] if report["from_ms"] is not None else now
    kind = SensorKind(report["kind"])
    # the same phone about the same site, kind and night is one complaint (its key)
    key = "|".join(("public", pending.phone_hash, site.id, kind.value, night_of(when_ms, tz)))
    try:
        filed = intake.receive_public(
            pub.services,
            site,
            intake.Intake(
                kind=kind,
                text=str(report["text"]),
                source=Source.WEB.value,
                site=site.id,
                from_ms=report["from_ms"],
                contact={"name": None, "phone": report["phone"]},
                request_id=pub.hashed("same-night", key)[:64],
            ),
        )
    except Invalid as err:
        return 422, f"无法受理：{err}", True
    follow = secrets.token_urlsafe(24)
    with pub.services.db.public() as tx:
        tx.confirmed(pending.id, filed.record.id)
        tx.add_follow(pub.hashed("follow", follow), filed.record.id, now)
    pub.forget_site(site.id)  # its case may have opened: the page is computed again
    return f"/public/follow/{follow}?{'new' if filed.new else 'same'}=1"


# -- following it ------------------------------------------------------------------------------


def _complaint_of(pub: Public, token: str) -> int | None:
    if not TOKEN.fullmatch(token):
        return None
    try:
        with pub.services.db.public() as tx:
            return tx.follow(pub.hashed("follow", token))
    except NotFound:
        return None


@router.get("/follow/{token}")
def follow(
    request: Request,
    token: str,
    new: str | None = None,
    same: str | None = None,
    rated: str | None = None,
) -> Response:
    """The resident's private page: their complaint's verdict and state, its case's state,
    and the follow-up rating once the case is resolved. Nothing of theirs is shown (not
    the words, not the phone): a link passed on reveals nobody."""
    pub = public(request)
    complaint_id = _complaint_of(pub, token)
    if complaint_id is None:
        return _message(404, "找不到这份反映", "链接不完整或已失效。")
    return _follow_page(pub, request, token, complaint_id, new, same, rated, None, 200)


def _follow_page(
    pub: Public,
    request: Request,
    token: str,
    complaint_id: int,
    new: str | None,
    same: str | None,
    rated: str | None,
    error: str | None,
    status: int,
) -> Response:
    svc = pub.services
    with svc.db.complaints() as tx:
        record = tx.complaint(complaint_id)
        case = None if record.case_id is None else tx.get(record.case_id)
    site = None if record.site is None else _site(pub, record.site)
    cls = site_class(site.kind.value, site.merchant is not None) if site else SiteClass.RESIDENTIAL
    told = None if case is None else LEVEL_NAMES[case.level]
    tz = ZoneInfo(svc.config.tz)
    from linli.api.public.record import STATE_WORDS

    case_state = None if case is None else STATE_WORDS[case.state].format(level=told)
    may_rate = case is not None and case.state in (CaseState.RESOLVED, CaseState.CLOSED)
    flash = None
    if new:
        flash = "已收到您的反映。"
    elif same:
        flash = "您已就同一晚的情况反映过，这是同一件反映（不重复计数）。"
    elif rated:
        flash = "谢谢，您的评价已记录。"
    return _form_response(
        pub,
        request,
        "follow.html",
        status,
        token=token,
        site=site,
        kind=KIND_WORDS.get(SensorKind(record.kind), record.kind),
        window=datetime.fromtimestamp(record.from_ms / 1000, tz).strftime("%m-%d %H:%M")
        + " – "
        + datetime.fromtimestamp(record.to_ms / 1000, tz).strftime("%m-%d %H:%M"),
        verdict=verdict_sentence(record.corroboration, cls, told),
        case_state=case_state,
        may_rate=may_rate,
        rating=None
        if record.followup_satisfied is None
        else ("满意" if record.followup_satisfied else "不满意"),
        flash=flash,
        error=error,
        nonce=secrets.token_urlsafe(16),
    )


@router.post("/follow/{token}/rate")
async def rate(request: Request, token: str) -> Response:
    """The resident's own follow-up rating (回访: 满意, 基本满意, 不满意), the same record staff
    keep after a call; "not satisfied" reopens the case."""
    pub = public(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
    if not pub.csrf_ok(request, form.get("csrf")):
        return _refused_csrf()
    complaint_id = _complaint_of(pub, token)
    if complaint_id is None:
        return _message(404, "找不到这份反映", "链接不完整或已失效。")
    choice = RATINGS.get(str(form.get("rating") or ""))
    nonce = str(form.get("nonce") or "")
    if choice is None or not NONCE.fullmatch(nonce):
        return _follow_page(
            pub, request, token, complaint_id, None, None, None, "请选择一项评价。", 422
        )
    satisfied, words = choice
    try:
        record = await run_in_threadpool(
            intake.followup_public, pub.services, complaint_id, satisfied, words, nonce
        )
    except Duplicate:
        pass  # the same form twice: applied once
    except StateConflict:
        return _follow_page(
            pub,
            request,
            token,
            complaint_id,
            None,
            None,
            None,
            "工单办结后才能评价。",
            409,
        )
    else:
        if record.site is not None:
            pub.forget_site(record.site)
    return RedirectResponse(f"/public/follow/{token}?rated=1", status_code=303)
