"""Residents' complaints: the complaints table; a case's complaints and deadlines.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complaints", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sign_by_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("handle_by_ms", sa.BigInteger(), nullable=True))
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "complaints",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(32), nullable=True, unique=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("grid", sa.String(64), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("external_key", sa.String(160), nullable=True, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("from_ms", sa.BigInteger(), nullable=False),
        sa.Column("to_ms", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("corroboration", sa.JSON(), nullable=False),
        sa.Column("readings", sa.JSON(), nullable=False),
        sa.Column("judged_ms", sa.BigInteger(), nullable=False),
        sa.Column("followup_satisfied", sa.Boolean(), nullable=True),
        sa.Column("followup_note", sa.Text(), nullable=True),
        sa.Column("followup_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_complaints_case_id", "complaints", ["case_id"])
    op.create_index("ix_complaints_verdict_to", "complaints", ["verdict", "to_ms"])
    op.create_index("ix_complaints_site", "complaints", ["site"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("complaints")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("handle_by_ms")
        batch_op.drop_column("sign_by_ms")
        batch_op.drop_column("complaints")
