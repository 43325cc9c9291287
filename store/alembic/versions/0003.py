"""One occurrence per (case, sensor, window end): a replayed breach adds nothing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_occurrences_window", ["case_id", "sensor", "end_ms"])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_constraint("uq_occurrences_window", type_="unique")
