"""The delivery worker: the outbox's deliveries sent on their channels, nothing lost.

The engine and the API write each case change's deliveries in the change's own
transaction (store/outbox.py). This worker takes the due ones, oldest first, and sends
them; what the service answered decides what happens next (notify/channel.py):
delivered, retry later (with backoff and jitter, or as long as the service asked), or
failed (a person must look). Every attempt is a timeline entry of its case.

**Grouping, never dropping.** A group chat's robot takes about 20 messages a minute
(DingTalk, WeCom). A channel's recipients (a group chat; a person's SMS or e-mail) get a
message at once when they had none in the last `group_wait_s` (30 s by default); what
arrives for them within that wait is held, and then sent as one digest naming each case
(rules/messages.py). A power cut's 400 last wills on one grid are a handful of messages
to its robot, each case named in one. A webhook gets each delivery on its own (the
receiver dedupes on `delivery`); a robot's channel gets at most `max_per_minute` a minute.

**A crash.** A delivery is marked `sending` (committed) before its channel sees it and
given its outcome after. At start, what was `sending` is sent again (it may arrive twice:
at most the one in flight), except an SMS: Aliyun's SendSms is not idempotent, so one in
flight at a crash is marked failed for a person to check, never sent twice on purpose.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Protocol

from linli.notify.channel import Answer, Channel, Message, Outcome
from linli.rules.delivery import BACKOFF_MAX_S, Delivery, DeliveryState, retry_in_s
from linli.rules.messages import digest
from linli.rules.routing import GROUP_TYPES, ChannelType
from linli.store.outbox import OutboxTx

log = logging.getLogger(__name__)

# What the worker reports of each send: the deliveries, the outcome ("delivered",
# "retry", "failed"), the service's answer in one line, when (epoch ms). The root wires
# it to InfluxDB (influx/deliveries.py) for the dashboards.
OnOutcome = Callable[[Sequence[Delivery], str, str, int], None]

GROUP_WAIT_S: Final = 30.0
MAX_PER_MINUTE: Final = 20  # DingTalk's and WeCom's robots: 20 messages a minute
DIGEST_MOST: Final = 100  # cases named in one digest (about 10 KB); more go in the next


class Outbox(Protocol):
    """Where the deliveries are (store.Database)."""

    def outbox(self) -> AbstractContextManager[OutboxTx]:
        """The outbox in one transaction."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What /health says of a channel."""

    ok: bool
    detail: str


class DeliveryWorker:
    """Sends the outbox's due deliveries; one thread, or `run_once` from a test."""

    def __init__(
        self,
        store: Outbox,
        channels: Mapping[str, Channel],
        types: Mapping[str, ChannelType],
        *,
        broken: Mapping[str, str] | None = None,
        group_wait_s: float = GROUP_WAIT_S,
        max_per_minute: int = MAX_PER_MINUTE,
        poll_s: float = 1.0,
        retry_s: float = 5.0,
        retry_most_s: float = BACKOFF_MAX_S,
        clock: Callable[[], int] | None = None,
        before_pass: Callable[[int], object] | None = None,
        on_outcome: OnOutcome | None = None,
        active: Callable[[], bool] | None = None,
    ) -> None:
        self._store = store
        # In a cluster only the lease's holder sends (CONTRACT §12: one active notifier,
        # the others standing by); None: this worker is the only one.
        self._active = active
        self._channels = dict(channels)
        self._types = dict(types)
        self._broken = dict(broken or {})
        self._wait_ms = int(group_wait_s * 1000)
        self._per_minute = max_per_minute
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._retry_most_s = retry_most_s
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self._before_pass = before_pass
        self._on_outcome = on_outcome
        self._last_sent: dict[tuple[str, ...], int] = {}
        self._sent: dict[str, deque[int]] = defaultdict(deque)  # per channel, the last minute
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running --------------------------------------------------------------------

    def start(self) -> DeliveryWorker:
        """Recover what a crash left in flight, then send in a thread."""
        self._thread = threading.Thread(target=self._run, name="linli-deliveries", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the message being sent, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wake(self) -> None:
        """Something was added to the outbox: look now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        recovered = False
        while not self._stop.is_set():
            if self._active is not None and not self._active():
                recovered = False  # taking over: recover what the last holder left sending
                self._stop.wait(self._poll_s)
                continue
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                self.run_once()
            except Exception:  # the store is down: try again; a channel never raises
                log.exception("delivery worker pass failed; retrying")
                self._stop.wait(self._retry_s)
                continue
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def recover(self) -> None:
        """What a crash left `sending`: sent again, but an SMS (not idempotent) failed."""
        now_ms = self._clock()
        with self._store.outbox() as tx:
            stuck = tx.in_state(DeliveryState.SENDING)
            sms = [d for d in stuck if self._types.get(d.channel) is ChannelType.SMS]
            again = [d.id for d in stuck if d not in sms and d.id is not None]
            tx.set_state(again, DeliveryState.PENDING)
            if sms:
                tx.record(
                    sms,
                    DeliveryState.FAILED,
                    "in flight when linli stopped; SendSms is not idempotent: not sent again, "
                    "check with the recipient",
                    now_ms,
                )
        if stuck:
            log.warning(
                "deliveries: %d in flight at the last stop: %d to send again, %d SMS failed",
                len(stuck),
                len(again),
                len(sms),
            )

    # -- one pass -------------------------------------------------------------------

    def run_once(self) -> int:
        """Send what is due now (held ones wait for their group); returns messages sent."""
        now_ms = self._clock()
        if self._before_pass is not None:
            try:
                self._before_pass(now_ms)  # the reminders: never in the way of sending
            except Exception:
                log.exception("before a delivery pass")
        with self._store.outbox() as tx:
            due = tx.due(now_ms)
        sent = 0
        for key, items in self._groups(due):
            if self._stop.is_set():
                break
            channel = key[0]
            if not self._may_send(key, channel, now_ms):
                continue
            # More held than one digest names: the rest follow at once (each under the
            # channel's rate), not one group wait apart each.
            for start in range(0, len(items), DIGEST_MOST):
                if start and (self._stop.is_set() or not self._under_rate(channel, now_ms)):
                    break
                sent += self._send(key, items[start : start + DIGEST_MOST], now_ms)
                now_ms = self._clock()
        return sent

    def _groups(self, due: Sequence[Delivery]) -> Iterator[tuple[tuple[str, ...], list[Delivery]]]:
        """Due deliveries by who receives them: a group chat's robot by channel, a person
        by (channel, address); a webhook's one by one."""
        grouped: dict[tuple[str, ...], list[Delivery]] = defaultdict(list)
        for d in due:
            kind = self._types.get(d.channel)
            if kind is ChannelType.WEBHOOK or d.case_id is None:
                # a webhook's receiver dedupes each; a report is a message of its own,
                # never a line of a digest of cases
                yield (d.channel, d.key), [d]
            elif kind in GROUP_TYPES:
                grouped[(d.channel,)].append(d)
            else:
                grouped[(d.channel, *d.to)].append(d)
        yield from grouped.items()

    def _may_send(self, key: tuple[str, ...], channel: str, now_ms: int) -> bool:
        """Not within the group wait of the last message to them, nor over the channel's
        messages per minute."""
        last = self._last_sent.get(key)
        if last is not None and now_ms - last < self._wait_ms:
            return False
        if self._types.get(channel) not in GROUP_TYPES:
            return True  # the robots' limit; a webhook, e-mail and SMS have their own answers
        return self._under_rate(channel, now_ms)

    def _under_rate(self, channel: str, now_ms: int) -> bool:
        """Fewer than the channel's messages per minute in the last minute."""
        recent = self._sent[channel]
        while recent and now_ms - recent[0] >= 60_000:
            recent.popleft()
        return len(recent) < self._per_minute

    def _send(self, key: tuple[str, ...], items: list[Delivery], now_ms: int) -> int:
        channel_id = key[0]
        with self._store.outbox() as tx:
            tx.set_state([d.id for d in items if d.id is not None], DeliveryState.SENDING)
        channel = self._channels.get(channel_id)
        if channel is None:
            why = self._broken.get(channel_id, f"channel {channel_id!r} is not configured")
            answer = Answer(Outcome.FAILED, why)
        else:
            answer = channel.send(self._message(items), _recipients(items))
        done_ms = self._clock()
        if answer.outcome is Outcome.DELIVERED:
            state, due = DeliveryState.DELIVERED, None
        elif answer.outcome is Outcome.RETRY:
            attempts = max(d.attempts for d in items) + 1
            wait_s = retry_in_s(attempts, answer.retry_after_s, most_s=self._retry_most_s)
            state, due = DeliveryState.PENDING, done_ms + int(wait_s * 1000)
        else:
            state, due = DeliveryState.FAILED, None
        with self._store.outbox() as tx:
            tx.record(items, state, answer.detail, done_ms, due_ms=due)
        self._report(items, answer, done_ms)
        if answer.outcome is not Outcome.DELIVERED:
            log.warning(
                "delivery on %s (%d cases): %s: %s",
                channel_id,
                len(items),
                answer.outcome.value,
                answer.detail,
            )
        self._last_sent[key] = now_ms
        self._sent[channel_id].append(now_ms)
        return 1

    def _report(self, items: Sequence[Delivery], answer: Answer, done_ms: int) -> None:
        """The outcome to the callback (InfluxDB's `delivery` points): never in the way."""
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(items, answer.outcome.value, answer.detail, done_ms)
        except Exception as err:  # InfluxDB down: the outbox has the outcome all the same
            log.warning("delivery outcome not reported: %s", err)

    def _message(self, items: Sequence[Delivery]) -> Message:
        first = items[0]
        if len(items) == 1:
            return Message(
                first.key,
                first.event,
                first.title,
                first.text,
                first.link,
                first.payload,
                first.sms,
            )
        d = digest(items)
        return Message(d.key, d.event, d.title, d.text, d.link, {}, d.sms)

    # -- health ---------------------------------------------------------------------

    def health(self) -> dict[str, ChannelHealth]:
        """Each channel: configured or why not, its last success and last failure."""
        with self._store.outbox() as tx:
            status = tx.channel_status()
        out: dict[str, ChannelHealth] = {}
        for channel_id in sorted({*self._types, *self._broken}):
            if channel_id in self._broken:
                out[channel_id] = ChannelHealth(False, self._broken[channel_id])
                continue
            last_ok, last_failed, why = status.get(channel_id, (None, None, ""))
            failing = last_failed is not None and (last_ok is None or last_failed > last_ok)
            parts = [f"last delivered {_ago(last_ok)}"]
            if last_failed is not None:
                parts.append(f"last failed {_ago(last_failed)}: {why}")
            out[channel_id] = ChannelHealth(not failing, "; ".join(parts))
        return out


def _recipients(items: Sequence[Delivery]) -> list[str]:
    return list(dict.fromkeys(a for d in items for a in d.to))


def _ago(ms: int | None) -> str:
    if ms is None:
        return "never"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
