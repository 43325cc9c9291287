"""A token may expire: `expires_ms`, none for one valid until it is revoked.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_ms")
