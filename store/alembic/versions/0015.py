"""A delivery about no case: the monthly statistics message (CONTRACT §10 `[[report]]`).

`deliveries.case_id` may be NULL: a community's monthly report goes through the outbox
like a case's messages (its unique `key`, one per community, report and month, makes it
exactly once), but it is about no case, so it has no timeline to be recorded on.

Revision ID: 0015
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    """Revert: the reports' deliveries go (they belong to no case)."""
    op.execute("DELETE FROM deliveries WHERE case_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.BigInteger(), nullable=False)
