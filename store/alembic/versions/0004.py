"""An occurrence is an episode: one per (case, sensor, window start), not window end.

The engine finds an episode's occurrence again by where its window starts, to grow its
end and worst value (rules/engine/engine.py), and its evidence by the occurrence (indexed now:
each lookup scanned every evidence row, snapshots and all); a replayed BREACH finds it
the same way.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _refuse_duplicates(*columns: str) -> None:
    """Stop, naming them, if two occurrences share what is to be unique (nothing changed)."""
    keys = ", ".join(columns)
    found = op.get_bind().execute(
        sa.text(f"SELECT {keys}, count(*) FROM occurrences GROUP BY {keys} HAVING count(*) > 1")
    )
    rows = found.fetchall()
    if rows:
        raise RuntimeError(
            f"occurrences: {len(rows)} set(s) share ({keys}), e.g. {tuple(rows[0])[:-1]}; "
            "they cannot be told apart by that key: merge or remove them by hand, then start again"
        )


def upgrade() -> None:
    """Apply."""
    _refuse_duplicates("case_id", "sensor", "start_ms")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_constraint("uq_occurrences_window", type_="unique")
        batch_op.create_unique_constraint(
            "uq_occurrences_episode", ["case_id", "sensor", "start_ms"]
        )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_occurrence_id"), ["occurrence_id"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    _refuse_duplicates("case_id", "sensor", "end_ms")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_occurrence_id"))
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_constraint("uq_occurrences_episode", type_="unique")
        batch_op.create_unique_constraint("uq_occurrences_window", ["case_id", "sensor", "end_ms"])
