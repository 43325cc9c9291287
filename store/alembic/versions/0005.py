"""The outbox: deliveries written in the transaction of the case change causing them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "deliveries",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("sms", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_deliveries_case_id", "deliveries", ["case_id"])
    op.create_index("ix_deliveries_state_due", "deliveries", ["state", "due_ms"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_deliveries_state_due", table_name="deliveries")
    op.drop_index("ix_deliveries_case_id", table_name="deliveries")
    op.drop_table("deliveries")
