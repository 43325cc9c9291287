"""One partition of a stream read in order from a stream sequence on.

The owner's checkpoint (store/partitions.py) is the partition's last committed stream
sequence; reading starts just after it, through a consumer of this owner's alone (one
replica, in memory, gone when idle: the checkpoint, not the consumer, is what lasts).
Every message is checked to be the next one: a consumer sequence that skips or a
message delivered a second time (`Gap`) means this reading can no longer be trusted to
be in order, and the owner reads again from its checkpoint (`restart`). Acknowledging
(`ack`, after the commit) acknowledges everything up to that message at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ServiceUnavailableError

CHECK_QUIET_S = 5.0  # nothing fetched this long: look whether the consumer still exists
NO_RESPONDER_S = 0.1  # before asking again when the consumer did not answer (503)
NOT_ANSWERING_S = 1.0  # before trying again to make a consumer NATS did not make


class Gap(RuntimeError):
    """The partition's messages did not come one after the other: read again."""


@dataclass(frozen=True, slots=True)
class Message:
    """A message of the partition: its stream sequence, subject and body."""

    seq: int
    subject: str
    data: bytes
    msg: Msg


class PartitionReader:
    """Reads one partition (`filter`) of `stream` from `after + 1` on, in order."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        filter_subject: str,
        after: int,
        *,
        batch: int = 1000,
        ack_wait_s: float = 60.0,
        idle_s: float = 30.0,
    ) -> None:
        self._js = js
        self.stream = stream
        self.filter = filter_subject
        self.after = after
        self._batch = batch
        self._ack_wait_s = ack_wait_s
        self._idle_s = idle_s
        self._sub: JetStreamContext.PullSubscription | None = None
        self._consumer: str | None = None
        self._delivered = 0
        self._quiet_s = 0.0  # since the last message or look at the consumer

    async def _open(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.after + 1,
            ack_policy=AckPolicy.ALL,
            ack_wait=self._ack_wait_s,
            max_ack_pending=-1,
            filter_subject=self.filter,
            inactive_threshold=self._idle_s,
            num_replicas=1,
            mem_storage=True,
        )
        self._delivered = 0
        sub = await self._js.pull_subscribe(
            self.filter, durable=None, stream=self.stream, config=config
        )
        self._consumer = config.name  # named by pull_subscribe: deleted again by close
        return sub

    async def fetch(self, timeout_s: float = 1.0) -> list[Message]:
        """The next messages in order (none when there is nothing new within the timeout);
        raises Gap when they are not the next ones."""
        if self._sub is None:
            try:
                self._sub = await self._open()
            except (NatsTimeout, TimeoutError, NoRespondersError, ServiceUnavailableError):
                # NATS or the stream's leader not answering (a node lost, all of NATS
                # lost): nothing to read yet; the owner asks again
                await asyncio.sleep(NOT_ANSWERING_S)
                return []
        try:
            msgs = await self._sub.fetch(self._batch, timeout=timeout_s)
        except (NatsTimeout, TimeoutError):  # nothing new (nats-py raises either)
            await self._quiet(timeout_s)
            return []
        except ServiceUnavailableError:
            # no responder for the pull request: a consumer just made whose leader is not
            # listening yet (seen on a loaded machine), or one whose node is gone; the
            # first answers soon, the second is found out as a quiet one is
            await asyncio.sleep(NO_RESPONDER_S)
            await self._quiet(NO_RESPONDER_S)
            return []
        self._quiet_s = 0.0
        out = []
        for m in msgs:
            meta = m.metadata
            self._delivered += 1
            if meta.num_delivered != 1 or meta.sequence.consumer != self._delivered:
                raise Gap(
                    f"{self.stream} {self.filter}: message {meta.sequence.stream} delivered "
                    f"{meta.num_delivered}x as consumer seq {meta.sequence.consumer}, "
                    f"expected {self._delivered}"
                )
            out.append(Message(meta.sequence.stream, m.subject, m.data, m))
        return out

    async def _quiet(self, for_s: float) -> None:
        """Nothing came for `for_s` more: after CHECK_QUIET_S, look at the consumer."""
        self._quiet_s += for_s
        if self._quiet_s >= CHECK_QUIET_S:
            self._quiet_s = 0.0
            await self._check()

    async def _check(self) -> None:
        """Nothing new for a while: is the consumer still there? Its one replica lives on
        one node; when that node dies a fetch only times out, as if nothing came."""
        assert self._sub is not None
        try:
            await self._sub.consumer_info()
        except Exception as err:
            raise Gap(f"{self.stream} {self.filter}: the consumer is gone ({err!r})") from err

    async def ack(self, upto: Message) -> None:
        """Acknowledge every message up to `upto` (after its commit)."""
        await upto.msg.ack()

    async def restart(self, after: int) -> None:
        """Read again from `after + 1` (the checkpoint), on a new consumer."""
        await self.close()
        self.after = after

    async def close(self) -> None:
        """Drop the consumer: unsubscribe, and delete it on the server at once (left to its
        inactivity threshold, a worker that gains, loses and re-reads partitions often
        piles up consumers until the stream refuses new ones: JetStream's 10026)."""
        sub, self._sub = self._sub, None
        name, self._consumer = self._consumer, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if name is not None:
            with contextlib.suppress(Exception):  # its node gone: the threshold ends it
                await self._js.delete_consumer(self.stream, name)
