"""The case board's rows on SQLite and PostgreSQL: one key per store, photos, nonces."""

from __future__ import annotations

from linli.rules.case import Case, CaseKind, open_case
from linli.store import Database
from linli.store.board import NONCE_KEEP_MS


def _case(db: Database) -> int:
    case, entry = open_case(Case("s1", "g1", "device_offline", CaseKind.DEVICE, None, "离线", 1000))
    with db.cases() as tx:
        stored = tx.insert_case(case)
        assert stored.id is not None
        tx.add_timeline(stored.id, entry)
    return stored.id


def test_the_board_key_is_made_once_and_shared_by_every_opener(store_url: str) -> None:
    first, second = Database(store_url), Database(store_url)
    try:
        key = first.board_key()
        assert len(key) == 64 and second.board_key() == key == first.board_key()
    finally:
        first.close()
        second.close()


def test_photos_are_kept_with_their_case_and_a_nonce_is_used_once(store_url: str) -> None:
    db = Database(store_url)
    try:
        case_id = _case(db)
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        with db.cases() as tx:
            photo_id = tx.add_photo(case_id, 2000, "merchant:s1", "image/png", data)
        with db.cases() as tx:
            (info,) = tx.photos_of(case_id)
            got = tx.photo(photo_id)
        assert (info.id, info.at_ms, info.size, info.content_type) == (
            photo_id,
            2000,
            len(data),
            "image/png",
        )
        assert got.data == data and got.info == info
        with db.cases() as tx:
            assert tx.use_nonce("abc-comment", case_id, 3000)
        with db.cases() as tx:
            assert not tx.use_nonce("abc-comment", case_id, 4000)
            assert tx.use_nonce(
                "abd-comment", case_id, 3000 + NONCE_KEEP_MS + 1
            )  # the old one goes
        with db.cases() as tx:
            assert tx.use_nonce("abc-comment", case_id, 3000 + NONCE_KEEP_MS + 2)
    finally:
        db.close()
