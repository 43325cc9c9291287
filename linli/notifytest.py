"""`linli notify test`: one test message on one channel, and what the service answered."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from linli.channels import ChannelConfigError, build_channel
from linli.community import Community
from linli.notify.channel import Answer, Message

NEEDS_ADDRESS = ("email", "sms")  # a robot or a webhook has its group; these need someone


def test_message(community: str, public_url: str, now: datetime) -> Message:
    """The test message: says what it is, when, and links the board."""
    delivery = f"test-{uuid.uuid4()}"
    when = now.strftime("%Y-%m-%d %H:%M")
    link = f"{public_url.rstrip('/')}/board/cases"
    return Message(
        delivery=delivery,
        event="test",
        title=f"{community} linli 测试消息",
        text=f"这是一条测试消息（{when}），收到即说明本通道配置正确，无需处理。",
        link=link,
        payload={
            "version": 1,
            "event": "test",
            "delivery": delivery,
            "at": now.isoformat(),
            "link": link,
        },
        sms_params={"site": community, "rule": "测试消息", "link": link},
    )


def probe(
    community: Community,
    channel_id: str,
    to: Sequence[str],
    message: Message,
    environ: Mapping[str, str] | None = None,
) -> tuple[Answer | None, str]:
    """Send `message` on the channel: the answer (None: not sent) and the line to print."""
    models = {c.id: c for c in community.channel}
    model = models.get(channel_id)
    if model is None:
        known = ", ".join(sorted(models)) or "none"
        return None, f"no [[channel]] with id {channel_id!r} (the file has: {known})"
    if model.type in NEEDS_ADDRESS and not to:
        return None, f"channel {channel_id!r} ({model.type}): give --to ADDRESS"
    try:
        channel = build_channel(model, environ)
    except ChannelConfigError as err:
        return None, str(err)
    answer: Answer = channel.send(message, list(to))
    close = getattr(channel, "close", None)
    if callable(close):
        close()
    wait = f" (retry after {answer.retry_after_s:g} s)" if answer.retry_after_s else ""
    line = f"channel {channel_id!r} ({model.type}): {answer.outcome}: {answer.detail}{wait}"
    return answer, line
