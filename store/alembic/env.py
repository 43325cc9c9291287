"""Alembic environment: migrations run on the connection `Database` hands in (or the URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from linli.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic upgrade head` from the command line (alembic.ini)
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///./var/linli.db"
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
