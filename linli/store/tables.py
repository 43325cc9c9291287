"""The relational schema, in SQLAlchemy Core, portable across SQLite and PostgreSQL.

The schema is created with `metadata.create_all` for now; Alembic migrations come with
a later issue, and this module is then their starting point.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

ID_LEN: Final = 64

grids = Table(
    "grids",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False, default=""),
    Column("workers", JSON, nullable=False),  # [{name, phone, channels}]
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("zone", String(4), nullable=False),
    Column("grid", String(ID_LEN), ForeignKey("grids.id"), nullable=False, index=True),
    Column("address", Text, nullable=False, default=""),
    Column("category", String(64), nullable=False, default=""),
    Column("merchant", JSON, nullable=True),  # {name, contacts: [{name, phone, channels}]}
    Column("cooking_heads", Float, nullable=True),
)

sensors = Table(
    "sensors",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("site", String(ID_LEN), ForeignKey("sites.id"), nullable=False, index=True),
)

# One row per key; `registry_version` rises on every registry change so that ingest
# reloads its snapshot only when something changed (rules/ports.RegistrySource).
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
REGISTRY_VERSION: Final = "registry_version"

rejections = Table(
    "rejections",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("sensor", String(ID_LEN), nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("batch_index", Integer, nullable=True),
    Column("payload", LargeBinary, nullable=False),  # CONTRACT §3: the first 64 KiB
    Column("payload_size", Integer, nullable=False),  # the size as received
    Index("ix_rejections_received_ms", "received_ms"),
    Index("ix_rejections_sensor_reason", "sensor", "reason"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("role", String(16), nullable=False),
    Column("grids", JSON, nullable=False),  # grid_worker scope: grid ids
    Column("site", String(ID_LEN), nullable=True),  # merchant scope: one site id
    Column("note", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
)
