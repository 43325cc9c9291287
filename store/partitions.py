"""The partition checkpoints: who owns a partition (the fencing epoch) and how far its
stream was committed (CONTRACT §12; the types are rules/checkpoint.py's).

`claim` bumps the epoch in a transaction of its own and returns the last committed
sequence; `advance` runs inside the caller's transaction (the engine's: rule state, cases
and outbox rows) as one conditional UPDATE on (stream, part, epoch, seq): no row matched
means another owner claimed the partition, or committed past this claim, and raises
`StaleOwner`, so the caller's transaction rolls back whole. On PostgreSQL the UPDATE waits
for a concurrent claim's or commit's row lock and then re-checks its condition against
the committed row (READ COMMITTED), so of two racing owners exactly one commits; SQLite
has one writer at a time. The caller advances FIRST in its transaction: the row lock then
makes a racing owner wait and fail before it has written anything (its rule state would
otherwise collide with the winner's on their keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, bindparam, insert, select, update

from linli.rules.checkpoint import Claim, StaleOwner
from linli.store.errors import Duplicate
from linli.store.tables import partition_checkpoints as table

if TYPE_CHECKING:
    from linli.store.database import Database

__all__ = [
    "Claim",
    "StaleOwner",
    "advance",
    "checkpoint_of",
    "checkpoints",
    "claim",
    "confirm",
    "superseded",
]

_ROW: Final = (table.c.stream == bindparam("stream_")) & (table.c.part == bindparam("part_"))
_BUMP: Final = (
    update(table)
    .where(_ROW)
    .values(epoch=table.c.epoch + 1, owner=bindparam("owner_"))
    .returning(table.c.epoch, table.c.seq)
)
_ADVANCE: Final = (
    update(table)
    .where(_ROW, table.c.epoch == bindparam("epoch_"), table.c.seq == bindparam("seq_"))
    .values(seq=bindparam("to_seq_"))
)


def claim(database: Database, stream: str, part: int, owner: str) -> Claim:
    """Take a partition: its epoch bumped (or the row made at epoch 1) in a transaction of
    its own; returns the claim with the last committed sequence (0 if none)."""
    try:
        with database.partitions() as conn:
            return _claim(conn, stream, part, owner)
    except Duplicate:  # another claimer made the row first: bump it instead
        with database.partitions() as conn:
            return _claim(conn, stream, part, owner)


def _claim(conn: Connection, stream: str, part: int, owner: str) -> Claim:
    keys = {"stream_": stream, "part_": part}
    row = conn.execute(_BUMP, {**keys, "owner_": owner}).first()
    if row is None:
        conn.execute(insert(table).values(stream=stream, part=part, epoch=1, seq=0, owner=owner))
        return Claim(stream, part, 1, 0)
    return Claim(stream, part, int(row.epoch), int(row.seq))


def advance(conn: Connection, claim: Claim, to_seq: int) -> Claim:
    """Move the checkpoint to `to_seq` inside the caller's transaction; raises
    `StaleOwner` when the row is no longer at this claim's (epoch, seq). Returns the
    claim at its new sequence (the caller's claim is not changed)."""
    found = conn.execute(
        _ADVANCE,
        {
            "stream_": claim.stream,
            "part_": claim.part,
            "epoch_": claim.epoch,
            "seq_": claim.seq,
            "to_seq_": to_seq,
        },
    )
    if found.rowcount != 1:
        raise StaleOwner(claim, to_seq)
    return Claim(claim.stream, claim.part, claim.epoch, to_seq)


def confirm(conn: Connection, claim: Claim) -> Claim:
    """Check inside the caller's transaction that the claim still holds (the checkpoint
    not moved): for what an owner commits without advancing (a tick, a state save)."""
    return advance(conn, claim, claim.seq)


def checkpoint_of(conn: Connection, stream: str, part: int) -> Claim | None:
    """The partition's row as committed, if any (for tools and tests)."""
    row = conn.execute(
        select(table.c.epoch, table.c.seq).where(table.c.stream == stream, table.c.part == part)
    ).first()
    return None if row is None else Claim(stream, part, int(row.epoch), int(row.seq))


def superseded(database: Database, claims: Iterable[Claim]) -> set[int]:
    """The partitions of `claims` another owner has claimed since (their epoch moved on):
    an owner that never commits (nothing to read) learns it here, not at a commit."""
    mine = {(c.stream, c.part): c.epoch for c in claims}
    if not mine:
        return set()
    streams = {stream for stream, _ in mine}
    with database.partitions() as conn:
        rows = conn.execute(
            select(table.c.stream, table.c.part, table.c.epoch).where(table.c.stream.in_(streams))
        )
        return {
            int(r.part)
            for r in rows
            if (r.stream, int(r.part)) in mine and int(r.epoch) != mine[(r.stream, int(r.part))]
        }


def checkpoints(database: Database) -> dict[tuple[str, int], tuple[str | None, int]]:
    """Every partition's last claimer and committed sequence, `(stream, part) → (owner,
    seq)` (for `linli nats status`)."""
    with database.partitions() as conn:
        rows = conn.execute(select(table.c.stream, table.c.part, table.c.owner, table.c.seq))
        return {(r.stream, int(r.part)): (r.owner, int(r.seq)) for r in rows}
