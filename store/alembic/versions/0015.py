"""A delivery about no case: the monthly statistics message (CONTRACT §10 `[[report]]`);
the timeline indexed for the statistics.

`deliveries.case_id` may be NULL: a community's monthly report goes through the outbox
like a case's messages (its unique `key`, one per community, report and month, makes it
exactly once), but it is about no case, so it has no timeline to be recorded on.

`ix_timeline_case_action` (case, to state, action, time) answers the statistics' two
questions of each case, when it was first taken up and whether it was ever reopened,
without reading the timeline's rows (store/stats.py).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_index(
        "ix_timeline_case_action", "timeline", ["case_id", "to_state", "action", "at_ms"]
    )


def downgrade() -> None:
    """Revert: the reports' deliveries go (they belong to no case)."""
    op.drop_index("ix_timeline_case_action", table_name="timeline")
    op.execute("DELETE FROM deliveries WHERE case_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.BigInteger(), nullable=False)
