"""A resident's one-time code (CONTRACT §11) sent on their community's `sms` channel.

The API asks for it (api/public/report.py) through the `CodeSender` port; this builds
it from the community files and the notifier's channels. A code is sent at once, not
through the outbox: it is worth nothing after its few minutes, and SendSms is not
idempotent, so a lost answer is reported to the resident, who asks again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from linli.api.services import CodeSender
from linli.community import Street, load_street
from linli.notify.channel import Channel, Message, Outcome
from linli.notify.sms import AliyunSms
from linli.wiring import ConfigArg, given

log = logging.getLogger(__name__)


def sms_channels(street: Street, ready: Mapping[str, Channel]) -> dict[str, AliyunSms]:
    """Each community's first `sms` channel that could be built, by community id."""
    out: dict[str, AliyunSms] = {}
    for community in street.communities:
        for model in community.channel:
            channel = ready.get(model.id)
            if model.type == "sms" and isinstance(channel, AliyunSms):
                out.setdefault(community.id, channel)
                break
    return out


def code_sender(config: ConfigArg, ready: Mapping[str, Channel]) -> CodeSender | None:
    """The code sender of a deployment; None when no community has an `sms` channel."""
    if config is None or not given(config):
        return None
    street = load_street(config)
    channels = sms_channels(street, ready)
    if not channels:
        return None
    names = {c.id: c.community.name for c in street.communities}
    fallback = next(iter(channels.values()))

    def send(community: str, phone: str, code: str, ttl_min: int) -> str | None:
        channel = channels.get(community, fallback)
        text = f"验证码 {code}，{ttl_min} 分钟内有效。如非本人操作请忽略。"
        params = (
            {"code": code}
            if channel.code_template
            else {"site": names.get(community, ""), "rule": text, "link": "—"}
        )
        message = Message(
            delivery=uuid.uuid4().hex,
            event="public.code",
            title="验证码",
            text=text,
            link="",
            sms_params=params,
            sms_template=channel.code_template,
        )
        answer = channel.send(message, [phone])
        if answer.outcome is Outcome.DELIVERED:
            return None
        log.warning("a resident's code on %s: %s", channel.id, answer.detail)
        return answer.detail

    return send
