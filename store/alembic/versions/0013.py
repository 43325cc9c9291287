"""The partition checkpoints (CONTRACT §12): per (stream, partition) the owner's fencing
epoch and the last stream sequence committed with the engine's rule state and cases.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "partition_checkpoints",
        sa.Column("stream", sa.Text(), primary_key=True),
        sa.Column("part", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("partition_checkpoints")
