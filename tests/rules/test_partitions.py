"""Partitions: NATS's hash, the same assignment everywhere, even shares, few moves."""

from __future__ import annotations

import itertools

import pytest

from linli.rules.partitions import assign, fnv1a_32, moved, partition_of, site_partition, site_token

# FNV-1a 32 test vectors (the algorithm's reference: http://www.isthe.com/chongo/tech/comp/fnv/)
FNV = [
    pytest.param(b"", 0x811C9DC5, id="empty → the offset basis"),
    pytest.param(b"a", 0xE40C292C, id="'a'"),
    pytest.param(b"foobar", 0xBF9CF968, id="'foobar'"),
]


@pytest.mark.parametrize(("data", "expected"), FNV)
def test_fnv1a_32_matches_the_reference(data, expected):
    assert fnv1a_32(data) == expected


def test_partition_is_the_hash_modulo_the_count():
    assert partition_of("foobar", 16) == 0xBF9CF968 % 16
    assert partition_of("foobar", 1) == 0
    assert partition_of("anything", 0) == 0


def test_a_site_with_a_dot_is_one_token_and_hashed_as_such():
    assert site_token("blk.3") == "blk~3"
    assert site_partition("blk.3", 16) == partition_of("blk~3", 16)
    assert site_partition("rest-1", 16) == partition_of("rest-1", 16)


MEMBERS = [f"ingest-{i}" for i in range(6)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("count", [1, 7, 16, 64])
def test_every_partition_has_one_owner_and_shares_differ_by_one_at_most(n, count):
    owners = assign(MEMBERS[:n], count)
    parts = [p for held in owners.values() for p in held]
    assert sorted(parts) == list(range(count))
    sizes = [len(held) for held in owners.values()]
    assert max(sizes) - min(sizes) <= 1
    assert set(owners) == set(MEMBERS[:n])


def test_the_same_answer_whatever_order_the_members_are_listed_in():
    expected = assign(MEMBERS[:4], 16)
    for order in itertools.permutations(MEMBERS[:4]):
        assert assign(order, 16) == expected


def test_no_members_no_owners():
    assert assign([], 16) == {}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_a_member_joining_moves_little_more_than_its_share(n):
    before = assign(MEMBERS[:n], 16)
    after = assign(MEMBERS[: n + 1], 16)
    share = len(after[MEMBERS[n]])
    # what the newcomer takes, and at most a couple around the bound of the shares
    assert share <= moved(before, after) <= share + 3


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_a_member_leaving_moves_its_partitions_and_few_others(n):
    before = assign(MEMBERS[:n], 16)
    gone = MEMBERS[n - 1]
    after = assign(MEMBERS[: n - 1], 16)
    lost = len(before[gone])
    assert lost <= moved(before, after) <= lost + 3
