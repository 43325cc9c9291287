"""A street's communities (CONTRACT §9): the communities table, a grid's community, a
token's communities.

Grids kept from before get the community "" here: at start, a deployment of one
community gives them its id (`Database.adopt_grids`), so an existing single-community
file and store keep working unchanged. A token's `communities` is NULL for every
token issued before: the street's, every community, as a token without it is.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "communities",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("community", sa.String(32), nullable=False, server_default="")
        )
        batch_op.create_index("ix_grids_community", ["community"])
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("communities", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert: grids and tokens forget their communities."""
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("communities")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): a rebuilt grids table could not be
    # dropped under the sites' foreign key
    op.drop_index("ix_grids_community", table_name="grids")
    op.drop_column("grids", "community")
    op.drop_table("communities")
