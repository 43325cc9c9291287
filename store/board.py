"""The case board's rows: the shared signing key, photos of a fix, nonces."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from linli.store.errors import NotFound
from linli.store.tables import board_nonces, board_secrets, case_photos

BOARD_KEY: Final = "board_key"
NONCE_KEEP_MS: Final = 7 * 86_400_000  # a form's nonce is remembered this long


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """A stored photo without its bytes."""

    id: int
    case_id: int
    at_ms: int
    actor: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Photo:
    """A stored photo with its bytes."""

    info: PhotoInfo
    data: bytes


def secret(conn: Connection, name: str) -> str | None:
    """A stored secret, or None."""
    return conn.execute(select(board_secrets.c.value).where(board_secrets.c.name == name)).scalar()


def make_secret(conn: Connection, name: str) -> bool:
    """Store a new random secret under `name`; False when one is there already (a race)."""
    try:
        with conn.begin_nested():
            conn.execute(insert(board_secrets).values(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        return False
    return True


def use_nonce(conn: Connection, nonce: str, case_id: int, at_ms: int) -> bool:
    """Record a form's nonce; False when it was used already (the form was sent twice)."""
    held = conn.execute(select(board_nonces.c.nonce).where(board_nonces.c.nonce == nonce)).first()
    if held is not None:
        return False
    conn.execute(delete(board_nonces).where(board_nonces.c.at_ms < at_ms - NONCE_KEEP_MS))
    conn.execute(insert(board_nonces).values(nonce=nonce, case_id=case_id, at_ms=at_ms))
    return True


def add_photo(
    conn: Connection, case_id: int, at_ms: int, actor: str, content_type: str, data: bytes
) -> int:
    """Keep one photo of a case; returns its id."""
    key = conn.execute(
        insert(case_photos).values(
            case_id=case_id,
            at_ms=at_ms,
            actor=actor,
            content_type=content_type,
            size=len(data),
            data=data,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


_INFO: Final = (
    case_photos.c.id,
    case_photos.c.case_id,
    case_photos.c.at_ms,
    case_photos.c.actor,
    case_photos.c.content_type,
    case_photos.c.size,
)


def photos_of(conn: Connection, case_id: int) -> list[PhotoInfo]:
    """A case's photos, oldest first, without their bytes."""
    rows = conn.execute(
        select(*_INFO).where(case_photos.c.case_id == case_id).order_by(case_photos.c.id)
    )
    return [
        PhotoInfo(int(r.id), int(r.case_id), int(r.at_ms), r.actor, r.content_type, int(r.size))
        for r in rows
    ]


def photo(conn: Connection, photo_id: int) -> Photo:
    """One photo with its bytes; raises NotFound."""
    r = conn.execute(select(*_INFO, case_photos.c.data).where(case_photos.c.id == photo_id)).first()
    if r is None:
        raise NotFound(f"photo {photo_id} does not exist")
    info = PhotoInfo(int(r.id), int(r.case_id), int(r.at_ms), r.actor, r.content_type, int(r.size))
    return Photo(info, bytes(r.data))
