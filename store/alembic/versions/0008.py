"""The case board: its signing key, photos of a fix, the forms' nonces.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "board_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "case_photos",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_case_photos_case_id", "case_photos", ["case_id"])
    op.create_table(
        "board_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_board_nonces_at_ms", "board_nonces", ["at_ms"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_board_nonces_at_ms", "board_nonces")
    op.drop_table("board_nonces")
    op.drop_index("ix_case_photos_case_id", "case_photos")
    op.drop_table("case_photos")
    op.drop_table("board_secrets")
