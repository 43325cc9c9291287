"""What a token's reader sees of a resident, for the API, the board and Open311.

The table is the core's (rules/disclosure.py, CONTRACT §7); this module maps a token's
role to its reader and applies the table to what the web edges render: a complaint's
view (api/intake.py `view`), a case's timeline, its deliveries. Scope is decided before
(api/scope.py): a grid worker reaches only their grids' complaints, and reads them whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Final

from linli.rules.case import Action, TimelineEntry
from linli.rules.delivery import Delivery
from linli.rules.disclosure import (
    Part,
    Reader,
    Resident,
    delivery_for,
    note_for,
    sees,
    tell_note_for,
)
from linli.rules.disclosure import withheld_of as rules_withheld_of
from linli.store import Grant, Role
from linli.store.complaints import ComplaintRecord

# A complaint view's fields (api/intake.py `view`) that belong to the resident: shown as
# null to a reader the table does not let see them.
WITHHELD_FIELDS: Final = {
    "contact": Part.CONTACT,
    "text": Part.TEXT,
    "address": Part.ADDRESS,
    "external_id": Part.EXTERNAL_ID,
    "reference": Part.REFERENCE,
}


def reader_of(grant: Grant | None) -> Reader:
    """The reader a token speaks for; no token: the public."""
    if grant is None:
        return Reader.PUBLIC
    return Reader.MERCHANT if grant.role is Role.MERCHANT else Reader.AUTHORITY


def complaint_view(reader: Reader, view: dict[str, Any]) -> dict[str, Any]:
    """A complaint's view (api/intake.py `view`) as `reader` may read it."""
    if reader is Reader.AUTHORITY:
        return view
    out = dict(view)
    # the case's resolution is a person's note: it may copy the resident's own strings
    contact = view.get("contact")
    withheld = rules_withheld_of(
        [
            Resident(
                view.get("text") or "",
                view.get("reference") or "",
                view.get("external_id"),
                view.get("address") or "",
                contact if isinstance(contact, dict) else None,
                (view.get("followup") or {}).get("note"),
            )
        ]
    )
    for name, part in WITHHELD_FIELDS.items():
        if name in out and not sees(reader, part):
            out[name] = None
    resolution = out.get("resolution")
    if resolution is not None:
        out["resolution"] = {**resolution, "note": note_for(reader, resolution["note"], withheld)}
    followup = out.get("followup")
    if followup is not None:
        if not sees(reader, Part.FOLLOWUP_RATING):
            out["followup"] = None
        elif not sees(reader, Part.FOLLOWUP_NOTE):
            out["followup"] = {**followup, "note": None}
    return out


def withheld_of(records: Iterable[ComplaintRecord]) -> tuple[str, ...]:
    """The strings of `records` a note must not show a reader who may not see residents
    (rules/disclosure.py `withheld_of`)."""
    return rules_withheld_of(
        Resident(r.text, r.reference, r.external_id, r.address, r.contact, r.followup_note)
        for r in records
    )


def timeline(
    reader: Reader,
    entries: Sequence[TimelineEntry],
    deliveries: Sequence[Delivery],
    withheld: Iterable[str] = (),
) -> list[TimelineEntry]:
    """A case's timeline as `reader` may read it: notes quoting a resident withheld, the
    outcomes of other levels' deliveries without their recipients."""
    if reader is Reader.AUTHORITY:
        return [_with(e, note_for(reader, e.note)) for e in entries]
    secrets = tuple(withheld)
    out = []
    for e in entries:
        if e.action is Action.TELL:
            out.append(_with(e, tell_note_for(reader, e.note, deliveries)))
        else:
            out.append(_with(e, note_for(reader, e.note, secrets)))
    return out


def deliveries(reader: Reader, found: Sequence[Delivery]) -> list[Delivery]:
    """A case's deliveries as `reader` may see them (rules/disclosure.py `delivery_for`)."""
    return [delivery_for(reader, d) for d in found]


def _with(entry: TimelineEntry, note: str) -> TimelineEntry:
    return entry if note == entry.note else dataclasses.replace(entry, note=note)
