"""A rejected message's payload kept once, the rejected records capped and counted.

Before, every rejected element of a batch kept its own 64 KiB copy of the message (20
bad messages of 259 KB grew a store by 2.7 GB). Each existing record becomes a message
of its own (the same id), so nothing kept is lost; new ones share their message's.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ROW_BYTES = 64  # store/rejections.py ROW_BYTES when this was written


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "rejected_messages",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rejected_messages_received_ms", "rejected_messages", ["received_ms"])
    op.execute(
        "INSERT INTO rejected_messages (id, topic, received_ms, payload, payload_size, "
        "stored_bytes) SELECT id, topic, received_ms, payload, payload_size, "
        f"length(payload) + length(topic) + length(detail) + {2 * _ROW_BYTES} FROM rejections"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('rejected_messages', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM rejected_messages"
        )
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE rejections SET message_id = id")
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.alter_column("message_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_foreign_key(
            "fk_rejections_message_id", "rejected_messages", ["message_id"], ["id"]
        )
        batch_op.drop_column("topic")
        batch_op.drop_column("payload")
        batch_op.drop_column("payload_size")
        batch_op.create_index("ix_rejections_message_id", ["message_id"])
    op.create_table(
        "rejections_evicted",
        sa.Column("sensor", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO meta (key, value) SELECT 'rejected_bytes', coalesce(sum(stored_bytes), 0) "
        "FROM rejected_messages"
    )


def downgrade() -> None:
    """Revert (each record gets its message's payload again; the evicted counts are lost)."""
    op.execute("DELETE FROM meta WHERE key = 'rejected_bytes'")
    op.drop_table("rejections_evicted")
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("payload_size", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE rejections SET "
        "topic = (SELECT m.topic FROM rejected_messages m WHERE m.id = rejections.message_id), "
        "payload = (SELECT m.payload FROM rejected_messages m WHERE m.id = rejections.message_id), "
        "payload_size = (SELECT m.payload_size FROM rejected_messages m "
        "WHERE m.id = rejections.message_id)"
    )
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.drop_index("ix_rejections_message_id")
        batch_op.drop_constraint("fk_rejections_message_id", type_="foreignkey")
        batch_op.drop_column("message_id")
        batch_op.alter_column("topic", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("payload", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("payload_size", existing_type=sa.Integer(), nullable=False)
    op.drop_table("rejected_messages")
