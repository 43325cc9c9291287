"""The relational schema, in SQLAlchemy Core, portable across SQLite and PostgreSQL.

Alembic migrations (store/alembic/versions) create and change it; this module is
the schema's current shape, and a test checks that the migrations arrive at it.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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
    UniqueConstraint,
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
    # the community the grid belongs to (CONTRACT §9, migration 0012)
    Column("community", String(32), nullable=False, server_default="", index=True),
)

# The street's communities (CONTRACT §9), written at start from their files (0012).
communities = Table(
    "communities",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False, default=""),
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
    # CONTRACT §8: an HJ 212 monitor's MN (one sensor each), password and profile id
    Column("hj212_mn", String(ID_LEN), nullable=True),
    Column("hj212_pw", String(ID_LEN), nullable=True),
    Column("hj212_profile", String(ID_LEN), nullable=True),
    UniqueConstraint("hj212_mn", name="uq_sensors_hj212_mn"),
)

# HJ 212 device profiles (CONTRACT §8), from the community file: one per monitor model.
hj212_profiles = Table(
    "hj212_profiles",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    # {crc, stamp, rtd_period_s, min_period_s, codes, states, readings}; a doc stored
    # before `readings` existed reads as 2051
    Column("doc", JSON, nullable=False),
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

# CONTRACT §3: a rejected message's raw head is kept once, however many of its batch's
# elements were rejected (not a 64 KiB copy for each element).
rejected_messages = Table(
    "rejected_messages",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # CONTRACT §3: the first 64 KiB
    Column("payload_size", Integer, nullable=False),  # the size as received
    Column("stored_bytes", BigInteger, nullable=False),  # what the size cap counts
    Index("ix_rejected_messages_received_ms", "received_ms"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("rejected_messages.id"), nullable=False),
    Column("sensor", String(ID_LEN), nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("batch_index", Integer, nullable=True),
    Index("ix_rejections_received_ms", "received_ms"),
    Index("ix_rejections_sensor_reason", "sensor", "reason"),
    Index("ix_rejections_message_id", "message_id"),
)

# Records evicted by the retention or the size cap, counted per sensor ("" for none) and
# reason, so that the counts stay exact.
rejections_evicted = Table(
    "rejections_evicted",
    metadata,
    Column("sensor", String(ID_LEN), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)
REJECTED_BYTES: Final = "rejected_bytes"  # meta: the stored_bytes of every kept message

tokens = Table(
    "tokens",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("role", String(16), nullable=False),
    Column("grids", JSON, nullable=False),  # grid_worker scope: grid ids
    Column("site", String(ID_LEN), nullable=True),  # merchant scope: one site id
    # staff scope (0012): the community ids it sees; NULL: every community (the street)
    Column("communities", JSON, nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),  # none: until revoked
    # a revoked token's row stays (0010): its id is never given again, and a board link
    # sent before to a reader of its scope dies with it
    Column("revoked_ms", BigInteger, nullable=True),
    sqlite_autoincrement=True,  # SQLite reuses the largest rowid after a delete otherwise
)

# -- cases (CONTRACT §5) -------------------------------------------------------------

cases = Table(
    "cases",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("site", String(ID_LEN), nullable=False),
    Column("grid", String(ID_LEN), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("sensor", String(ID_LEN), nullable=True),
    Column("state", String(16), nullable=False),
    Column("level", String(24), nullable=False),
    Column("first_level", String(24), nullable=False),
    Column("title", Text, nullable=False),
    Column("opened_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("acknowledged_ms", BigInteger, nullable=True),
    Column("resolved_ms", BigInteger, nullable=True),
    Column("closed_ms", BigInteger, nullable=True),
    Column("late", Boolean, nullable=False),
    Column("occurrences", Integer, nullable=False),
    # residents' complaints on the case and a complaint's time limits (migration 0009)
    Column("complaints", Integer, nullable=False, server_default="0"),
    Column("sign_by_ms", BigInteger, nullable=True),
    Column("handle_by_ms", BigInteger, nullable=True),
    # "site/rule" while the case is not closed, NULL once closed: the unique index makes
    # "at most one case not closed per (site, rule)" a fact of the schema, on SQLite and
    # PostgreSQL alike (NULLs are distinct).
    Column("open_key", String(2 * ID_LEN + 1), nullable=True, unique=True),
    Index("ix_cases_site_rule", "site", "rule"),
    Index("ix_cases_state", "state"),
    Index("ix_cases_opened_ms", "opened_ms"),
)

occurrences = Table(
    "occurrences",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at_ms", BigInteger, nullable=False),  # when linli noticed
    Column("sensor", String(ID_LEN), nullable=False),
    Column("start_ms", BigInteger, nullable=False),  # the episode's window: its start,
    Column("end_ms", BigInteger, nullable=False),  # and the end of its latest breaching reading
    Column("measured", Float, nullable=False),  # the episode's worst
    Column("late", Boolean, nullable=False),
    # An occurrence is an episode, found again by its start as it grows; a breach
    # replayed after a crash adds nothing (rules/engine/engine.py).
    UniqueConstraint("case_id", "sensor", "start_ms", name="uq_occurrences_episode"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    # indexed: an episode's evidence is found by its occurrence each time it grows
    Column("occurrence_id", BigInteger, ForeignKey("occurrences.id"), nullable=False, index=True),
    Column("sensor", String(ID_LEN), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("measured", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("limit_value", Float, nullable=True),
    Column("limit_metric", String(32), nullable=True),
    Column("standard", String(32), nullable=True),
    Column("clause_zh", Text, nullable=True),
    Column("clause_en", Text, nullable=True),
    Column("summary", Text, nullable=False),
    Column("late", Boolean, nullable=False),
    # the readings from `evidence_margin_s` before to after the window, kept so the case
    # proves itself after InfluxDB's retention has dropped the raw data
    Column("snapshot", JSON, nullable=False),
    Column("snapshot_until_ms", BigInteger, nullable=False),
    Column("snapshot_done", Boolean, nullable=False),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("level", String(24), nullable=False),
    Column("note", Text, nullable=False),
)

# Residents' complaints (CONTRACT §7). `external_key` (a hash of the order's source and
# id in its partition: the site's grid, api/intake.py `partition`; "source/external_id"
# on rows kept before) is set on the first complaint of an outside id only,
# `fingerprint` (a hash of the whole request in its partition) on every one: both
# unique, so the same request twice at once is stored once, by the schema and not by a
# check before the insert. A repeat of an outside id with new text is a complaint of its
# own, `merged_into` the first (并单).
complaints = Table(
    "complaints",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("reference", String(32), nullable=True, unique=True),
    Column("site", String(ID_LEN), nullable=True),
    Column("grid", String(ID_LEN), nullable=True),
    Column("address", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("external_id", String(128), nullable=True),
    Column("external_key", String(160), nullable=True, unique=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("from_ms", BigInteger, nullable=False),
    Column("to_ms", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("contact", JSON, nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=True, index=True),
    Column("merged_into", BigInteger, nullable=True),
    Column("verdict", String(20), nullable=False),
    Column("corroboration", JSON, nullable=False),  # the verdict's numbers (CONTRACT §7)
    Column("readings", JSON, nullable=False),  # the evidence: store/snapshots.snapshot_doc
    Column("judged_ms", BigInteger, nullable=False),
    Column("followup_satisfied", Boolean, nullable=True),
    Column("followup_note", Text, nullable=True),
    Column("followup_ms", BigInteger, nullable=True),
    Index("ix_complaints_verdict_to", "verdict", "to_ms"),
    Index("ix_complaints_site", "site"),
)

# The rule engine's memory per sensor (rules/judge.SensorState), so that a restart in
# the middle of a breach neither repeats nor misses a case.
rule_state = Table(
    "rule_state",
    metadata,
    Column("sensor", String(ID_LEN), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# -- the partitions a worker owns (CONTRACT §12): the fencing epoch and the checkpoint --

partition_checkpoints = Table(
    "partition_checkpoints",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("epoch", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("owner", Text, nullable=True),
)

# -- the outbox (CONTRACT §6): deliveries written with the case change that causes them --

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, unique=True),  # the webhook's `delivery`
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("event", String(24), nullable=False),
    Column("channel", String(ID_LEN), nullable=False),
    Column("recipients", JSON, nullable=False),  # addresses on the channel
    Column("levels", JSON, nullable=False),
    Column("who", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("sms", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(12), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("done_ms", BigInteger, nullable=True),
    Index("ix_deliveries_state_due", "state", "due_ms"),
)

# -- the case board ----------------------------------------------------------------

# Secrets the processes of one store share: the board's signing key (rules/links.py),
# made once at random unless LINLI_BOARD_SECRET is set, so the engine's child (which
# signs the links in messages) and the API (which verifies them) agree.
board_secrets = Table(
    "board_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

# Photos of a fix (整改照片), kept with the case; `at_ms` is their timeline entry's.
case_photos = Table(
    "case_photos",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# Each board form's nonce, used once: a form submitted twice is applied once.
board_nonces = Table(
    "board_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False, index=True),
)
