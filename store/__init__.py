"""The relational store (SQLAlchemy 2): registry, rejected records and API tokens."""

from linli.store.database import Database
from linli.store.errors import (
    Dangling,
    Duplicate,
    Invalid,
    NotFound,
    StateConflict,
    StoreError,
)
from linli.store.records import (
    CommunityRecord,
    GridRecord,
    RejectedMessage,
    RejectionCount,
    RejectionRecord,
    SiteRecord,
    StoredRejection,
)
from linli.store.rejections import RejectLimits
from linli.store.tokens import Grant, Role

__all__ = [
    "CommunityRecord",
    "Dangling",
    "Database",
    "Duplicate",
    "Grant",
    "GridRecord",
    "Invalid",
    "NotFound",
    "RejectLimits",
    "RejectedMessage",
    "RejectionCount",
    "RejectionRecord",
    "Role",
    "SiteRecord",
    "StateConflict",
    "StoreError",
    "StoredRejection",
]
