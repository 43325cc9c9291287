"""Residents and the public (CONTRACT §11): merchants' public replies, residents'
reports waiting for their SMS code, and the private links that follow a complaint.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "public_replies",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "public_reports",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("community", sa.String(32), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_public_reports_phone_hash", "public_reports", ["phone_hash"])
    op.create_index("ix_public_reports_created_ms", "public_reports", ["created_ms"])
    op.create_index(
        "ix_public_reports_community_created", "public_reports", ["community", "created_ms"]
    )
    op.create_table(
        "public_follows",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_public_follows_complaint_id", "public_follows", ["complaint_id"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("public_follows")
    op.drop_table("public_reports")
    op.drop_table("public_replies")
