"""A partition's checkpoint as its owner holds it: the fencing epoch and the last committed
sequence (CONTRACT §12).

One worker owns a partition at a time. Claiming it bumps the epoch; every commit of the
owner advances the checkpoint with a conditional update on (epoch, seq) in the commit's own
transaction (store/partitions.py), so an owner another worker has claimed since, or one
whose commit another owner's overtook, commits nothing: `StaleOwner`, and its whole
transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    """A partition as claimed: `seq` is its last committed stream sequence (0: none)."""

    stream: str
    part: int
    epoch: int
    seq: int


class StaleOwner(Exception):
    """The partition was claimed by another owner (or its checkpoint moved) since this
    claim: nothing of the transaction may commit, and the partition must be dropped."""

    def __init__(self, claim: Claim, to_seq: int) -> None:
        super().__init__(
            f"partition {claim.stream}/{claim.part}: epoch {claim.epoch} at seq {claim.seq} "
            f"is no longer the owner's; not advanced to {to_seq}"
        )
        self.claim = claim
        self.to_seq = to_seq
