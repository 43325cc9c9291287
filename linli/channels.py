"""Channels from the community file's `[[channel]]` tables (CONTRACT §6).

`env:NAME` values are read here, at start, from the environment given; a variable that
is not set, or a URL that is not one once read, is a `ChannelConfigError` naming the
channel and the field. `build_channels` builds what it can and reports the rest, one
line each: a misconfigured channel never stops ingest or the rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from linli.community import (
    ENV_PREFIX,
    ChannelConfig,
    DingTalkConfig,
    EmailConfig,
    FeishuConfig,
    SmsConfig,
    WebhookConfig,
    WeComConfig,
    check_url,
)
from linli.notify.channel import Channel
from linli.notify.dingtalk import DingTalkRobot
from linli.notify.email import EmailChannel
from linli.notify.feishu import FeishuBot
from linli.notify.sms import AliyunSms
from linli.notify.webhook import SignedWebhook
from linli.notify.wecom import WeComRobot


class ChannelConfigError(ValueError):
    """A channel cannot be built: the message names the channel and the field."""


@dataclass(frozen=True, slots=True)
class Channels:
    """The channels built, and each one that could not be with its one-line reason."""

    ready: Mapping[str, Channel] = field(default_factory=dict)
    broken: Mapping[str, str] = field(default_factory=dict)


def build_channels(
    models: Sequence[ChannelConfig], environ: Mapping[str, str] | None = None
) -> Channels:
    """Every channel of the file: built, or its configuration problem."""
    ready: dict[str, Channel] = {}
    broken: dict[str, str] = {}
    for model in models:
        try:
            ready[model.id] = build_channel(model, environ)
        except ChannelConfigError as err:
            broken[model.id] = str(err)
    return Channels(ready, broken)


def build_channel(model: ChannelConfig, environ: Mapping[str, str] | None = None) -> Channel:
    """One channel from its table, `env:` values read; ChannelConfigError naming the field."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        value = getattr(model, name)
        assert isinstance(value, str)
        return _resolve(model, name, value, env)

    def optional(name: str) -> str | None:
        return None if getattr(model, name) is None else get(name)

    def url() -> str:
        value = get("url")
        try:
            return check_url(model.type, value)
        except ValueError as err:
            raise ChannelConfigError(f"channel {model.id!r} field 'url': {err}") from None

    timeout_s = model.timeout_s
    match model:
        case DingTalkConfig():
            return DingTalkRobot(model.id, url(), optional("secret"), timeout_s=timeout_s)
        case WeComConfig():
            return WeComRobot(model.id, url(), timeout_s=timeout_s)
        case FeishuConfig():
            return FeishuBot(model.id, url(), optional("secret"), timeout_s=timeout_s)
        case WebhookConfig():
            return SignedWebhook(model.id, url(), get("secret"), timeout_s=timeout_s)
        case EmailConfig():
            return EmailChannel(model.id, url(), get("sender"), timeout_s=timeout_s)
        case SmsConfig():
            return AliyunSms(
                model.id,
                url(),
                get("access_key_id"),
                get("access_key_secret"),
                get("sign_name"),
                get("template"),
                timeout_s=timeout_s,
                code_template=model.code_template,
            )
    raise ChannelConfigError(f"channel {model.id!r} field 'type': {model.type!r} is not known")


def _resolve(model: ChannelConfig, name: str, value: str, env: Mapping[str, str]) -> str:
    field_name = "from" if name == "sender" else name
    if not value.startswith(ENV_PREFIX):
        return value
    var = value.removeprefix(ENV_PREFIX)
    found = env.get(var)
    if found is None:
        raise ChannelConfigError(
            f"channel {model.id!r} field {field_name!r}: environment variable {var} is not set"
        )
    if not found.strip():
        raise ChannelConfigError(
            f"channel {model.id!r} field {field_name!r}: environment variable {var} is empty"
        )
    return found.strip()
