"""The public pages (CONTRACT §11): a site's record, a community's red/green list of its
shops, and a site's QR code. No sign-in, no JavaScript, no cookie: they are the same for
everyone, so they are rendered once per `LINLI_PUBLIC_CACHE_S` and sent with
`Cache-Control: public` (docs/public.md)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2
import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from linli.api.public.public import Public, public
from linli.api.public.record import SitePublic, site_public
from linli.rules.month import Verdict
from linli.store import NotFound, SiteRecord

router = APIRouter(prefix="/public", include_in_schema=False)

TEMPLATES: Final = Path(__file__).parent / "templates"
ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # a merchant's reply, a site's name: escaped
    trim_blocks=True,
    lstrip_blocks=True,
)
VERDICT_WORDS: Final = {
    Verdict.WITHIN: "达标",
    Verdict.OVER: "超标",
    Verdict.UNKNOWN: "数据不足",
}
ENV.globals.update(verdict_words=VERDICT_WORDS)
# No script on a public page; its styles inline, its QR code from this site.
SECURITY: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a follow link never leaves in a Referer
}


def render(name: str, status: int = 200, cache_s: float = 0, **context: Any) -> HTMLResponse:
    """A public page with its security headers: cacheable by anyone for `cache_s`, or
    `no-store` (a form, a private link)."""
    body = ENV.get_template(name).render(**context)
    cache = f"public, max-age=0, s-maxage={int(cache_s)}" if cache_s > 0 else "no-store"
    return HTMLResponse(body, status_code=status, headers={**SECURITY, "Cache-Control": cache})


def not_found(what: str = "页面") -> HTMLResponse:
    """404 in plain words."""
    return render("message.html", 404, title=f"找不到这个{what}", message=f"这个{what}不存在。")


def _site(pub: Public, site_id: str) -> SiteRecord | None:
    if len(site_id) > 64:
        return None
    try:
        return pub.services.db.site(site_id)
    except NotFound:
        return None


def _cached(pub: Public, key: tuple[str, ...], make: Any) -> HTMLResponse:
    """A page from the cache, or made and kept for `public_cache_s`."""
    now_s = pub.clock()
    ttl = pub.services.config.public_cache_s
    body = pub.pages.get(key, now_s)
    if body is None:
        body, status = make()
        if status != 200:
            return HTMLResponse(body, status, headers={**SECURITY, "Cache-Control": "no-store"})
        if ttl > 0:
            pub.pages.put(key, body, now_s + ttl)
    cache = f"public, max-age=0, s-maxage={int(ttl)}" if ttl > 0 else "no-store"
    return HTMLResponse(body, 200, headers={**SECURITY, "Cache-Control": cache})


def _local_time(pub: Public, now_ms: int) -> str:
    tz = ZoneInfo(pub.services.config.tz)
    return datetime.fromtimestamp(now_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


@router.get("/sites/{site_id}")
def site_page(request: Request, site_id: str) -> Response:
    """A site's public record: 30 days, its open case, its merchant's reply, its standard."""
    pub = public(request)

    def make() -> tuple[str, int]:
        site = _site(pub, site_id)
        if site is None:
            return bytes(not_found("地点").body).decode(), 404
        now = pub.now_ms()
        record = site_public(pub, site, now)
        community = _community_name(pub, record.community)
        body = ENV.get_template("site.html").render(
            r=record,
            community=community,
            chart=_chart(record) if record.shows("numbers") else None,
            updated=_local_time(pub, now),
            reporting=pub.services.code_sender is not None,
        )
        return body, 200

    return _cached(pub, ("site", site_id), make)


def _community_name(pub: Public, community_id: str) -> tuple[str, str] | None:
    for c in pub.services.db.communities():
        if c.id == community_id:
            return c.id, c.name
    return None


@router.get("/communities/{community_id}")
def community_page(request: Request, community_id: str) -> Response:
    """A community's shops, the red/green list (红绿榜): each shop's days over the limits in
    the last 30 and its open case, linking to its page."""
    pub = public(request)

    def make() -> tuple[str, int]:
        named = _community_name(pub, community_id)
        if named is None:
            return bytes(not_found("社区").body).decode(), 404
        db = pub.services.db
        grids = {g.id for g in db.grids() if g.community == community_id}
        now = pub.now_ms()
        shops = [
            site_public(pub, s, now)
            for s in db.sites()
            if s.grid in grids and s.kind.value == "shop" and s.merchant is not None
        ]
        green = [r for r in shops if r.over == 0 and r.case is None]
        red = [r for r in shops if not (r.over == 0 and r.case is None)]
        red.sort(key=lambda r: (-r.over, r.site.name))
        green.sort(key=lambda r: (-r.within, r.site.name))
        body = ENV.get_template("community.html").render(
            name=named[1], red=red, green=green, updated=_local_time(pub, now)
        )
        return body, 200

    return _cached(pub, ("community", community_id), make)


@router.get("/sites/{site_id}/qr.svg")
def qr(request: Request, site_id: str) -> Response:
    """A QR code of the site's public page (its absolute URL, `LINLI_PUBLIC_URL`), an SVG
    to print and post at the door; the site's name under it."""
    pub = public(request)
    site = _site(pub, site_id)
    if site is None:
        return not_found("地点")
    svg = qr_svg(page_url(pub, site.id))
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def page_url(pub: Public, site_id: str) -> str:
    """The absolute URL of a site's public page."""
    from urllib.parse import quote

    return f"{pub.services.config.public_url.rstrip('/')}/public/sites/{quote(site_id, safe='')}"


def qr_svg(url: str) -> bytes:
    """`url` as a QR code (error correction M: a poster gets scratched), SVG, 8 px a module."""
    import io

    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=8, border=4)
    return out.getvalue()


def _chart(record: SitePublic) -> str | None:
    """A shop's 30 days as a small SVG: each day's Ld (and Ln) against the limit lines.
    Only where rules/disclosure.py shows `SitePart.NUMBERS` (a shop's: CONTRACT §11);
    the caller asks it."""
    points = [
        (i, d.figures.ld, d.figures.ln)
        for i, d in enumerate(record.days)
        if d.figures is not None and (d.figures.ld is not None or d.figures.ln is not None)
    ]
    if not points:
        return None
    w, h, lo, hi = 300, 120, 30.0, 90.0

    def y(v: float) -> float:
        return round(h - (min(max(v, lo), hi) - lo) / (hi - lo) * h, 1)

    def x(i: int) -> float:
        return round(5 + i * (w - 10) / 29, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'role="img" aria-label="近30天昼间、夜间等效声级">'
    ]
    last = record.days[-1].figures
    for value, color in (
        (None if last is None else last.limit_day, "#c60"),
        (None if last is None else last.limit_night, "#06c"),
    ):
        if value is not None:
            parts.append(
                f'<line x1="0" x2="{w}" y1="{y(value)}" y2="{y(value)}" '
                f'stroke="{color}" stroke-dasharray="4 3"/>'
            )
    for idx, color in ((1, "#c60"), (2, "#06c")):
        pts = " ".join(f"{x(int(p[0]))},{y(float(v))}" for p in points if (v := p[idx]) is not None)
        if pts:
            parts.append(f'<polyline fill="none" stroke="{color}" points="{pts}"/>')
    parts.append("</svg>")
    return "".join(parts)
