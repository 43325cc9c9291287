"""Who sees what of a resident (CONTRACT §7 "Who sees a resident"), in one table, pure.

A complainant's identity — name, phone, the complaint's own words (which often say who
and where they are: "我是1幢302"), the address they gave, and any number that leads back
to them (the hotline's `external_id`, the `reference` they were told) — stays with the
authority: admin, staff, the grid workers of the complaint's grid, and the grid,
community and street levels of a message. The site's merchant sees that its site has
complaints: how many, of which kind, which window, and the sensors' verdict. Nobody
without a token sees more than the merchant.

Every rendering asks this module: the API's schemas and the board (api/disclosure.py maps
a token's role to a `Reader`), Open311, the timeline, and the messages (the teller renders
each message for the narrowest reader of its notice: rules/engine/telling.py). Deliveries
to other levels are shown to a merchant as level, channel and state only: their
recipients are the grid workers' phones and addresses.

Notes that quote a resident (linli writes them when a complaint joins or opens a case, and
on a follow-up call) carry the resident's part between `QUOTE_OPEN` and `QUOTE_CLOSE`
(`quote`): the authority reads it without the marks, a merchant reads `WITHHELD` in its
place. Notes written before the marks existed, or a person's note that copies a
complaint, are scrubbed of the strings `withheld` names (the complaints' own texts,
phones, names, addresses and references).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from linli.rules.case import Level
from linli.rules.delivery import Delivery, told_prefix
from linli.rules.messages import LEVEL_NAMES


class Reader(StrEnum):
    """Who reads: the authority, the site's merchant, or anyone (no token)."""

    AUTHORITY = "authority"  # admin, staff, the complaint's grid workers; grid+ levels
    MERCHANT = "merchant"  # the site's merchant: its token, its level's messages
    PUBLIC = "public"  # no token: Open311's GET documents, public pages


class Part(StrEnum):
    """What of a complaint a reader may be shown."""

    # the resident: who complained and what they said
    CONTACT = "contact"  # name and phone
    TEXT = "text"  # the complaint's own words
    ADDRESS = "address"  # the address they gave
    EXTERNAL_ID = "external_id"  # the hotline's (12345) order number
    REFERENCE = "reference"  # TS-…: what the resident quotes when they call again
    FOLLOWUP_NOTE = "followup_note"  # the follow-up call's record, in the resident's words
    # the nuisance: what the site's merchant may know
    KIND = "kind"
    WINDOW = "window"
    VERDICT = "verdict"  # the corroboration: sensor, measured value, limit, clause
    SOURCE = "source"  # 12345, phone, walk-in, web, open311
    RECEIVED = "received"
    CASE = "case"  # the case it is on, its state, count and priority
    RESOLUTION = "resolution"  # the case's outcome written back
    FOLLOWUP_RATING = "followup_rating"  # satisfied or not


_AUTHORITY: Final = frozenset({Reader.AUTHORITY})
_SITE: Final = frozenset({Reader.AUTHORITY, Reader.MERCHANT})
_ANYONE: Final = frozenset(Reader)

# CONTRACT §7: the field-by-reader table. Anything not named here is shown to nobody.
SEES: Final[Mapping[Part, frozenset[Reader]]] = {
    Part.CONTACT: _AUTHORITY,
    Part.TEXT: _AUTHORITY,
    Part.ADDRESS: _AUTHORITY,
    Part.EXTERNAL_ID: _AUTHORITY,
    Part.REFERENCE: _AUTHORITY,
    Part.FOLLOWUP_NOTE: _AUTHORITY,
    Part.KIND: _ANYONE,
    Part.WINDOW: _ANYONE,
    Part.VERDICT: _ANYONE,
    Part.SOURCE: _ANYONE,
    Part.RECEIVED: _ANYONE,
    Part.CASE: _ANYONE,
    Part.RESOLUTION: _ANYONE,
    Part.FOLLOWUP_RATING: _SITE,
}

QUOTE_OPEN: Final = "⟪"
QUOTE_CLOSE: Final = "⟫"
WITHHELD: Final = "（居民信息不公开）"
MIN_SCRUBBED_CHARS: Final = 2  # shorter strings are not a resident's (and would garble)
_QUOTED: Final = re.compile(f"{QUOTE_OPEN}[^{QUOTE_CLOSE}]*(?:{QUOTE_CLOSE}|$)")


def sees(reader: Reader, part: Part) -> bool:
    """Whether `reader` may be shown `part` of a complaint."""
    return reader in SEES.get(part, frozenset())


def reader_of_level(level: Level) -> Reader:
    """The reader of a message to `level`'s people and groups."""
    return Reader.MERCHANT if level is Level.MERCHANT else Reader.AUTHORITY


def reader_of_levels(levels: Iterable[Level]) -> Reader:
    """The narrowest reader of a message to several levels (a chat two levels share)."""
    readers = {reader_of_level(level) for level in levels}
    return Reader.MERCHANT if Reader.MERCHANT in readers else Reader.AUTHORITY


# -- notes ------------------------------------------------------------------------------


def quote(text: str) -> str:
    """The resident's part of a note, marked so that a reader's rendering can withhold it."""
    inner = text.replace(QUOTE_OPEN, "").replace(QUOTE_CLOSE, "")
    return f"{QUOTE_OPEN}{inner}{QUOTE_CLOSE}"


def complaint_note(
    reference: str, source: str, text: str, verdict: str, summary: str, on_site_check: bool
) -> str:
    """A timeline note for a complaint joining or opening a case: the resident's part
    quoted (reference, source, their words), the verdict for everyone."""
    check = " 请网格员现场核查 (on-site check)." if on_site_check else ""
    resident = quote(f"{reference} ({source}): {text[:200]}")
    return f"居民投诉 {resident} — {verdict}: {summary}{check}"


@dataclass(frozen=True, slots=True)
class Resident:
    """What of one complaint names its resident: the strings no note may show a merchant."""

    text: str
    reference: str = ""
    external_id: str | None = None
    address: str = ""
    contact: Mapping[str, Any] | None = None
    followup_note: str | None = None


def withheld_of(residents: Iterable[Resident]) -> tuple[str, ...]:
    """The strings `note_for` scrubs: each complaint's words (whole, and as a note quotes
    them), reference, hotline number, address, name and phone, follow-up record."""
    out: list[str] = []
    for r in residents:
        out += [r.text, r.text[:200], r.reference, r.external_id or "", r.address]
        out += [r.followup_note or ""]
        out += [v for v in (r.contact or {}).values() if isinstance(v, str)]
    return tuple(dict.fromkeys(s for s in out if s))


def note_for(reader: Reader, note: str, withheld: Iterable[str] = ()) -> str:
    """A timeline note as `reader` may read it (see the module's docstring)."""
    if reader is Reader.AUTHORITY:
        return note.replace(QUOTE_OPEN, "").replace(QUOTE_CLOSE, "")
    shown = _QUOTED.sub(WITHHELD, note).replace(QUOTE_CLOSE, "")
    for secret in sorted({s.strip() for s in withheld}, key=len, reverse=True):
        if len(secret) >= MIN_SCRUBBED_CHARS:
            shown = shown.replace(secret, WITHHELD)
    return shown


# -- deliveries --------------------------------------------------------------------------


def owns(reader: Reader, levels: Iterable[Level]) -> bool:
    """Whether a delivery to `levels` is wholly `reader`'s: shown to them in full."""
    if reader is Reader.AUTHORITY:
        return True
    found = set(levels)
    return reader is Reader.MERCHANT and found == {Level.MERCHANT}


def delivery_for(reader: Reader, d: Delivery) -> Delivery:
    """A delivery as `reader` may see it: in full when it is theirs, else its levels,
    channel and state (no recipients, names, body, link or the service's answer)."""
    if owns(reader, d.levels):
        return d
    return dataclasses.replace(
        d,
        to=(),
        who="、".join(LEVEL_NAMES[level] for level in d.levels),
        text="",
        link="",
        sms={},
        payload={},
        detail="",
    )


def tell_note_for(reader: Reader, note: str, deliveries: Sequence[Delivery]) -> str:
    """A timeline entry of a delivery's outcome (store/outbox.py `record`, rules/delivery.py
    `told_note`) as `reader` may read it: in full for their own delivery, else its event,
    channel, levels and outcome; one that names no delivery of the case, not at all."""
    if reader is Reader.AUTHORITY:
        return note
    for d in deliveries:
        prefix = told_prefix(d)
        if note.startswith(prefix):
            if owns(reader, d.levels):
                return note
            outcome = note[len(prefix) :].partition(": ")[0]
            shown = delivery_for(reader, d)
            return f"{d.event} → {d.channel} ({shown.who}): {outcome}"
    return WITHHELD


# -- a site's public record (CONTRACT §11) ---------------------------------------------


class SitePart(StrEnum):
    """What of a site its public page may show."""

    DAYS = "days"  # each day of the last 30 within the limits or not
    STANDARD = "standard"  # the limits that apply and their standard
    CASE = "case"  # its open case and that case's state, in plain words
    REPLY = "reply"  # the merchant's public reply
    NUMBERS = "numbers"  # readings finer than a day's verdict: a day's dB, the case's measure


class SiteClass(StrEnum):
    """Whether someone answers for a site in public: a shop's merchant does; a flat's
    sensor is not a public microphone (CONTRACT §11, docs/public.md)."""

    SHOP = "shop"
    RESIDENTIAL = "residential"


# The public reader's table of a site, by its class. Anything not named: shown to nobody.
PUBLIC_SITE: Final[Mapping[SitePart, frozenset[SiteClass]]] = {
    SitePart.DAYS: frozenset(SiteClass),
    SitePart.STANDARD: frozenset(SiteClass),
    SitePart.CASE: frozenset(SiteClass),
    SitePart.REPLY: frozenset({SiteClass.SHOP}),
    SitePart.NUMBERS: frozenset({SiteClass.SHOP}),
}


def public_sees(site: SiteClass, part: SitePart) -> bool:
    """Whether the public (no token: the site's page, its QR code, a resident's own
    follow page) may be shown `part` of a site of class `site`."""
    return site in PUBLIC_SITE.get(part, frozenset())


def site_class(kind: str, has_merchant: bool) -> SiteClass:
    """A registry site's class: a shop with a merchant answers in public; anything else
    (residential, or a shop nobody is registered for) is residential, the safe default."""
    return SiteClass.SHOP if kind == "shop" and has_merchant else SiteClass.RESIDENTIAL
