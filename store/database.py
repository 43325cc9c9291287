"""`Database`: the relational store behind ingest's ports and the API (rules/ports.py).

Schema: Alembic migrations (`upgrade head`) at open (store/migrate.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from linli.rules.hj212_profile import Hj212Profile
from linli.rules.registry import Registry, Sensor
from linli.rules.rejection import ReasonCode, Rejection
from linli.store import board, migrate
from linli.store import registry_repo as repo
from linli.store import rejections as rejected
from linli.store import tokens as tokens_repo
from linli.store.cases import CaseTx
from linli.store.complaints import ComplaintTx
from linli.store.connect import open_engine
from linli.store.errors import Duplicate, NotFound, StoreError
from linli.store.outbox import OutboxTx
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

log = logging.getLogger(__name__)

# What a write that lost a race on a unique key answers: the driver's message names the
# table, the constraint and the SQL, which go to the log only (never to a client).
CONCURRENT_CHANGE = "conflicts with a concurrent change to the same entry; try again"


class Database:
    """The store at one SQLAlchemy URL (SQLite by default, PostgreSQL in production)."""

    def __init__(self, url: str, *, reject_limits: RejectLimits | None = None) -> None:
        self._engine = open_engine(url)
        self._reject_limits = reject_limits or RejectLimits()
        # registry changes committed through this object (ports.RegistrySource)
        self.changes_here = 0
        self._changes_lock = threading.Lock()
        try:
            migrate.upgrade(self._engine)
            with self._engine.begin() as conn:
                repo.ensure_version(conn)
        except IntegrityError:
            pass  # another process starting at the same moment wrote the version row first
        except OperationalError as err:
            # another process starting at the same moment migrated first: check once more
            try:
                migrate.upgrade(self._engine)
            except SQLAlchemyError:
                raise StoreError(f"store at {self._engine.url!r}: {err}") from err
        except SQLAlchemyError as err:
            raise StoreError(f"store at {self._engine.url!r}: {err}") from err

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def ping(self) -> None:
        """A trivial SELECT; raises StoreError when the store does not answer."""
        with self._reading() as conn:
            conn.execute(text("SELECT 1"))

    # -- registry (ports.RegistrySource) --------------------------------------------

    def registry_version(self) -> int:
        """A number that rises whenever grids, sites or sensors change."""
        with self._reading() as conn:
            return repo.read_version(conn) or 0

    def load_registry(self) -> Registry:
        """A consistent snapshot of grids, sites, sensors and HJ 212 profiles, with its version."""
        with self._transaction() as conn:  # one transaction: one consistent snapshot
            return Registry(
                repo.list_entries(conn, GridRecord),
                repo.list_entries(conn, SiteRecord),
                repo.list_entries(conn, Sensor),
                version=repo.read_version(conn) or 0,
                profiles=repo.list_entries(conn, Hj212Profile),
            )

    def hj212_profiles(self) -> list[Hj212Profile]:
        """Every HJ 212 device profile of the community file, by id (the built-in one not)."""
        with self._reading() as conn:
            return repo.list_entries(conn, Hj212Profile)

    def grids(self) -> list[GridRecord]:
        """Every grid, by id."""
        with self._reading() as conn:
            return repo.list_entries(conn, GridRecord)

    def sites(self) -> list[SiteRecord]:
        """Every site, by id."""
        with self._reading() as conn:
            return repo.list_entries(conn, SiteRecord)

    def sensors(self) -> list[Sensor]:
        """Every sensor, by id."""
        with self._reading() as conn:
            return repo.list_entries(conn, Sensor)

    def grid(self, grid_id: str) -> GridRecord:
        """One grid; raises NotFound."""
        with self._reading() as conn:
            return repo.get_entry(conn, GridRecord, grid_id)

    def site(self, site_id: str) -> SiteRecord:
        """One site; raises NotFound."""
        with self._reading() as conn:
            return repo.get_entry(conn, SiteRecord, site_id)

    def sensor(self, sensor_id: str) -> Sensor:
        """One sensor; raises NotFound."""
        with self._reading() as conn:
            return repo.get_entry(conn, Sensor, sensor_id)

    # -- communities (CONTRACT §9) ----------------------------------------------------

    def communities(self) -> list[CommunityRecord]:
        """Every community of the street, by id."""
        with self._reading() as conn:
            return repo.list_communities(conn)

    def community_of_site(self, site_id: str) -> str:
        """The id of the community a site's grid belongs to; raises NotFound."""
        with self._reading() as conn:
            return repo.community_of_site(conn, site_id)

    def grid_communities(self) -> dict[str, str]:
        """Every grid's community id, by grid id ("" for a grid of no community)."""
        with self._reading() as conn:
            return repo.grid_communities(conn)

    def apply_communities(self, communities: Iterable[CommunityRecord]) -> bool:
        """Insert or overwrite these communities; True if anything changed. With exactly
        one community, grids kept from before communities existed become its own."""
        communities = list(communities)
        with self._transaction() as conn:
            changed = [repo.upsert_community(conn, c) for c in communities]
            if len(communities) == 1 and repo.adopt_grids(conn, communities[0].id):
                repo.bump_version(conn)
                changed.append(True)
        if any(changed):
            self._changed_here()
        return any(changed)

    def prune_communities(self, keep: Iterable[str]) -> None:
        """Forget the communities not in `keep` that no grid belongs to any more."""
        with self._transaction() as conn:
            repo.prune_communities(conn, keep)

    def create_grid(self, grid: GridRecord) -> GridRecord:
        """Add a grid; raises Duplicate or Invalid."""
        return self._create(grid)

    def create_site(self, site: SiteRecord) -> SiteRecord:
        """Add a site to an existing grid; raises Duplicate or Invalid."""
        return self._create(site)

    def create_sensor(self, sensor: Sensor) -> Sensor:
        """Add a sensor to an existing site; raises Duplicate or Invalid."""
        return self._create(sensor)

    def patch_grid(self, grid_id: str, changes: Mapping[str, Any]) -> GridRecord:
        """Change some fields of a grid; raises NotFound or Invalid."""
        return self._patch(GridRecord, grid_id, changes)

    def patch_site(self, site_id: str, changes: Mapping[str, Any]) -> SiteRecord:
        """Change some fields of a site; raises NotFound or Invalid."""
        return self._patch(SiteRecord, site_id, changes)

    def patch_sensor(self, sensor_id: str, changes: Mapping[str, Any]) -> Sensor:
        """Change some fields of a sensor; raises NotFound or Invalid."""
        return self._patch(Sensor, sensor_id, changes)

    def apply_registry(
        self,
        grids: Iterable[GridRecord],
        sites: Iterable[SiteRecord],
        sensors: Iterable[Sensor],
        profiles: Iterable[Hj212Profile] = (),
    ) -> bool:
        """Insert or overwrite these entries in one transaction; True if anything changed.

        Two processes applying the same file to a new store at once (`linli api` and
        `linli ingest` started together) race on the inserts: the one that loses tries
        again once, and finds the entries there. An HJ 212 MN the file moves from one of
        its sensors to another is freed first.
        """
        grids, sites, sensors = list(grids), list(sites), list(sensors)
        profiles = list(profiles)
        for attempt in range(2):
            try:
                with self._transaction() as conn:
                    changed = [repo.upsert_entry(conn, p) for p in profiles]
                    changed += [repo.upsert_entry(conn, g) for g in grids]
                    changed += [repo.upsert_entry(conn, s) for s in sites]
                    repo.release_mns(conn, sensors)
                    changed += [repo.upsert_entry(conn, s) for s in sensors]
                    if any(changed):
                        repo.bump_version(conn)
                break
            except Duplicate:
                if attempt:
                    raise
        if any(changed):
            self._changed_here()
        return any(changed)

    def _changed_here(self) -> None:
        """After a registry change committed: ingest in this process sees it at once."""
        with self._changes_lock:
            self.changes_here += 1

    def _create(self, entry: repo.Entry) -> repo.Entry:
        with self._transaction() as conn:
            repo.insert_entry(conn, entry)
            repo.bump_version(conn)
        self._changed_here()
        return entry

    def _patch(
        self, kind: type[repo.Entry], entry_id: str, changes: Mapping[str, Any]
    ) -> repo.Entry:
        with self._transaction() as conn:
            entry, changed = repo.patch_entry(conn, kind, entry_id, changes)
            if changed:
                repo.bump_version(conn)
        if changed:
            self._changed_here()
        return entry

    # -- rejected records (ports.RejectSink) ----------------------------------------

    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Store rejected records in one transaction; raises StoreError on failure."""
        with self._transaction() as conn:
            rejected.add_rejections(conn, rejections, self._reject_limits)

    def list_rejections(
        self,
        *,
        sensor: str | None = None,
        reason: ReasonCode | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        sensors: Collection[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredRejection]:
        """Rejected records, newest first; `sensors` limits them to a scope's sensors."""
        with self._reading() as conn:
            return rejected.list_rejections(
                conn,
                sensor=sensor,
                reason=reason,
                since_ms=since_ms,
                until_ms=until_ms,
                sensors=sensors,
                limit=limit,
                offset=offset,
            )

    def list_rejection_page(
        self,
        *,
        sensor: str | None = None,
        reason: ReasonCode | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        sensors: Collection[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[RejectionRecord], list[RejectedMessage]]:
        """Rejected records, newest first, and the messages they came in (each once)."""
        with self._reading() as conn:
            return rejected.list_rejection_page(
                conn,
                sensor=sensor,
                reason=reason,
                since_ms=since_ms,
                until_ms=until_ms,
                sensors=sensors,
                limit=limit,
                offset=offset,
            )

    def rejection_counts(self, *, sensors: Collection[str] | None = None) -> list[RejectionCount]:
        """Rejected records counted per sensor and reason."""
        with self._reading() as conn:
            return rejected.count_rejections(conn, sensors=sensors)

    def rejected_bytes(self) -> int:
        """What the kept rejected records count against `RejectLimits.max_bytes`."""
        with self._reading() as conn:
            return rejected.rejected_bytes(conn)

    # -- tokens ---------------------------------------------------------------------

    def create_token(
        self,
        role: Role,
        *,
        grids: Iterable[str] = (),
        site: str | None = None,
        communities: Iterable[str] | None = None,
        note: str = "",
        now_ms: int | None = None,
        expires_ms: int | None = None,
    ) -> tuple[str, Grant]:
        """Issue a token for a role and scope; the token itself is returned once, never kept."""
        created_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._transaction() as conn:
            return tokens_repo.create_token(
                conn,
                role,
                grid_ids=grids,
                site=site,
                communities=communities,
                note=note,
                now_ms=created_ms,
                expires_ms=expires_ms,
            )

    def resolve_token(self, token: str, now_ms: int | None = None) -> Grant | None:
        """The role and scope of a token, or None if linli did not issue it or it expired."""
        at_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._reading() as conn:
            return tokens_repo.resolve_token(conn, token, at_ms)

    def revoke_token(self, token_id: int, now_ms: int | None = None) -> None:
        """Revoke an issued token: refused from the next request on, its board sessions and
        the links of its scope sent before end too; raises NotFound (also when revoked)."""
        at_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._transaction() as conn:
            if not tokens_repo.revoke_token(conn, token_id, at_ms):
                raise NotFound(f"token {token_id} does not exist")

    def token_alive(self, token_id: int, stamp: str, now_ms: int | None = None) -> bool:
        """Whether the issued token of this id and hash stamp is still valid (a board
        session signed in with it ends when it is revoked or expires)."""
        at_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._reading() as conn:
            return tokens_repo.token_alive(conn, token_id, stamp, at_ms)

    def link_revoked(
        self, role: Role, site: str | None, grids: Iterable[str], sent_ms: int
    ) -> bool:
        """Whether a token of a board link's role and scope was revoked since it was sent."""
        with self._reading() as conn:
            return tokens_repo.revoked_since(conn, role, site, grids, sent_ms)

    # -- the case board --------------------------------------------------------------

    def board_key(self) -> str:
        """The board's signing key, made once at random and kept here, so every process
        on this store (the engine's child signing links, the API verifying them) shares it."""
        with self._transaction() as conn:
            found = board.secret(conn, board.BOARD_KEY)
            if found is None:
                board.make_secret(conn, board.BOARD_KEY)
                found = board.secret(conn, board.BOARD_KEY)
        assert found is not None
        return found

    # -- cases (CONTRACT §5) -----------------------------------------------------------

    @contextmanager
    def cases(self) -> Iterator[CaseTx]:
        """The case store in one transaction: committed together, or not at all."""
        with self._transaction() as conn:
            yield CaseTx(conn)

    @contextmanager
    def complaints(self) -> Iterator[ComplaintTx]:
        """Complaints and the cases they join in one transaction (a `CaseTx` too)."""
        with self._transaction() as conn:
            yield ComplaintTx(conn)

    @contextmanager
    def outbox(self) -> Iterator[OutboxTx]:
        """The outbox (deliveries to send) in one transaction."""
        with self._transaction() as conn:
            yield OutboxTx(conn)

    @contextmanager
    def partitions(self) -> Iterator[Connection]:
        """One transaction for the partition checkpoints (store/partitions.py `claim`)."""
        with self._transaction() as conn:
            yield conn

    # -- plumbing -------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back and translated on error."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except IntegrityError as err:
            # Only reachable in a race: the checks before each write name the usual cases.
            log.info("a write lost a race on a unique key: %s", err.orig)
            raise Duplicate(CONCURRENT_CHANGE) from err
        except SQLAlchemyError as err:
            raise StoreError(f"store at {self._engine.url!r}: {err}") from err

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads, its errors translated."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as err:
            raise StoreError(f"store at {self._engine.url!r}: {err}") from err
