"""A revoked token keeps its row and its id (`revoked_ms`); SQLite never reuses a token id.

Before, revoking deleted the row, and SQLite (an INTEGER PRIMARY KEY without
AUTOINCREMENT) gave the largest id again to the next token issued: a board session that
named the revoked token by id came alive again with its old role and scope. On SQLite
the table is rebuilt with AUTOINCREMENT; PostgreSQL's sequence never gives an id twice.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "tokens",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.add_column(sa.Column("revoked_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert: revoked tokens are deleted, as revoking did before."""
    op.execute(sa.text("DELETE FROM tokens WHERE revoked_ms IS NOT NULL"))
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "tokens",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": False} if sqlite else {},
    ) as batch_op:
        batch_op.drop_column("revoked_ms")
