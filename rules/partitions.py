"""Partitions of a cluster (CONTRACT §12): which partition a key is in, who owns which.

A reading is in partition `partition_of(sensor)` of the readings stream and, once
stored, in `partition_of(site)` of the stored-readings stream. NATS computes the first
itself, in a subject transform (`{{partition(P, 1)}}`); linli computes the same number
to find a sensor's or a site's partition, so the two must agree bit for bit: the hash is
nats-server's (server/subject_transform.go `getHashPartition`): 32-bit FNV-1a of the
key's bytes, modulo the partition count.

Ownership: every member computes `assign(members, count)` from the same list of live
members (sorted) and gets the same answer, with no coordinator: rendezvous hashing with
bounded load. Each partition ranks the members by a hash of (member, partition) and goes
to the first of its ranking not yet holding its share (`count // members`, one more for
the first `count % members` to reach it), so the shares differ by one at most and a
member joining or leaving moves few partitions (those it takes or gives up, and a few
around the bound).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

FNV_OFFSET_32 = 0x811C9DC5
FNV_PRIME_32 = 0x01000193


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a (Go's hash/fnv New32a)."""
    h = FNV_OFFSET_32
    for byte in data:
        h ^= byte
        h = (h * FNV_PRIME_32) & 0xFFFFFFFF
    return h


def partition_of(key: str, count: int) -> int:
    """The partition of `key` among `count`, as NATS's `partition(count, …)` mapping gives it
    for a subject whose hashed token is `key`."""
    if count <= 0:
        return 0
    return fnv1a_32(key.encode()) % count


def site_token(site: str) -> str:
    """A site id as one subject token: a site's id may hold '.', a token never does ('~' is
    in no id: store/registry_repo.py ENTRY_ID_PATTERN). Its partition is that token's."""
    return site.replace(".", "~")


def site_partition(site: str, count: int) -> int:
    """The partition of the stored stream a site's readings are in."""
    return partition_of(site_token(site), count)


def _rank(member: str, part: int) -> bytes:
    return hashlib.blake2b(f"{member}\x00{part}".encode(), digest_size=8).digest()


def assign(members: Iterable[str], count: int) -> dict[str, frozenset[int]]:
    """Partitions 0..count-1 among `members`: the same answer wherever it is computed."""
    ranked = sorted(set(members))
    if not ranked:
        return {}
    floor, extra = divmod(count, len(ranked))
    held: dict[str, set[int]] = {m: set() for m in ranked}
    for part in range(count):
        for member in sorted(ranked, key=lambda m: _rank(m, part), reverse=True):
            n = len(held[member])
            if n < floor or (n == floor and extra > 0):
                extra -= n == floor
                held[member].add(part)
                break
    return {m: frozenset(parts) for m, parts in held.items()}


def moved(before: Mapping[str, frozenset[int]], after: Mapping[str, frozenset[int]]) -> int:
    """How many partitions changed owner between two assignments."""
    owner_before = {p: m for m, parts in before.items() for p in parts}
    owner_after = {p: m for m, parts in after.items() for p in parts}
    return sum(1 for p, m in owner_after.items() if owner_before.get(p) != m)
