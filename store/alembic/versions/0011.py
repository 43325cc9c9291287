"""HJ 212 monitors: a sensor's MN, password and profile; the device profiles.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hj212_mn", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("hj212_pw", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("hj212_profile", sa.String(64), nullable=True))
        batch_op.create_unique_constraint("uq_sensors_hj212_mn", ["hj212_mn"])
    op.create_table(
        "hj212_profiles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("doc", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("hj212_profiles")
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sensors_hj212_mn", type_="unique")
        batch_op.drop_column("hj212_profile")
        batch_op.drop_column("hj212_pw")
        batch_op.drop_column("hj212_mn")
