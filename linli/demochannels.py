"""`linli demo`'s channels: local stand-ins for every `[[channel]]`, and what they received
printed as its recipients would read it.

Each channel of the community file whose URL is an `env:` value gets a stand-in on a free
loopback port (linli/standins/: the DingTalk, WeCom and Feishu robots check signatures,
limits and answer with the services' errcodes; Aliyun's SendSms; a real SMTP server),
and its `env:` variables are set to point at it. They must be set before the engine's
child process and the notifier start: the child inherits the environment, and the
channels are built from it at start (linli/channels.py). A channel whose URL is written
in the file (a real service) is left alone: the demo never sends outside this machine.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TextIO

from linli.community import (
    ENV_PREFIX,
    ChannelConfig,
    Community,
    DingTalkConfig,
    EmailConfig,
    FeishuConfig,
    SmsConfig,
    WebhookConfig,
    WeComConfig,
)
from linli.rules.escape import terminal
from linli.standins import (
    AliyunSmsStandIn,
    DingTalkStandIn,
    FeishuStandIn,
    HttpStandIn,
    MailServer,
    WebhookReceiver,
    WeComStandIn,
)

log = logging.getLogger(__name__)

LINE_CHARS: Final = 2000  # a printed line of a message (its signed link is ~300)
SMS_PER_NUMBER_PER_MIN: Final = 1000  # Aliyun allows 1 a minute a number; a demo tells more
SMS_TEMPLATE: Final = "${site}: ${rule}。详情: ${link}"  # the template's text at Aliyun
KIND_NAMES: Final = {
    "dingtalk": "钉钉群",
    "wecom": "企业微信群",
    "feishu": "飞书群",
    "webhook": "webhook",
    "email": "邮件",
    "sms": "短信",
}


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message a stand-in took, as its recipient reads it."""

    at: float  # epoch seconds
    channel: str  # the channel id
    seq: int  # its place among the channel's messages
    kind: str  # the channel type
    to: tuple[str, ...]  # @-mentioned mobiles, the SMS numbers, the e-mail recipients
    text: str


@dataclass
class StandIns:
    """The stand-ins started for a community's channels, by channel id."""

    http: dict[str, HttpStandIn] = field(default_factory=dict)
    mail: dict[str, MailServer] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)  # what points the channels here
    skipped: dict[str, str] = field(default_factory=dict)  # channel id → why not stood in for

    def delivered(self) -> list[Delivered]:
        """Every message taken so far, oldest first."""
        out = [
            Delivered(c.at, cid, n, self.kinds[cid], c.reply.mentions, c.reply.text)
            for cid, stand_in in self.http.items()
            for n, c in enumerate(stand_in.accepted())
        ]
        for cid, server in self.mail.items():
            with server.lock:
                mails = list(server.mails)
            out += [
                Delivered(m.at, cid, n, "email", m.rcpt_tos, f"{m.subject}\n{m.text}")
                for n, m in enumerate(mails)
            ]
        return sorted(out, key=lambda d: d.at)

    def describe(self) -> list[str]:
        """One line per stand-in for the banner."""
        lines = []
        for cid, stand_in in self.http.items():
            lines.append(f"{cid:<16} {KIND_NAMES.get(self.kinds[cid], '')} {stand_in.base_url}")
        for cid, server in self.mail.items():
            lines.append(f"{cid:<16} {KIND_NAMES['email']} aiosmtpd smtp://127.0.0.1:{server.port}")
        for cid, why in self.skipped.items():
            lines.append(f"{cid:<16} not stood in for: {why}")
        return lines

    def stop(self) -> None:
        """Stop every stand-in."""
        for stand_in in self.http.values():
            stand_in.stop()
        for server in self.mail.values():
            server.stop()


def start_standins(community: Community) -> StandIns:
    """A started stand-in for each `env:`-configured channel, and the variables to set."""
    out = StandIns()
    try:
        for model in community.channel:
            _stand_in(model, out)
    except BaseException:
        out.stop()
        raise
    return out


def _stand_in(model: ChannelConfig, out: StandIns) -> None:
    env: dict[str, str] = {}

    def put(name: str, value: str) -> bool:
        """Point an `env:` field at `value`; False when the file writes it out."""
        written = getattr(model, name)
        if not isinstance(written, str) or not written.startswith(ENV_PREFIX):
            return False
        env[written.removeprefix(ENV_PREFIX)] = value
        return True

    def literal(name: str, default: str) -> str:
        written = getattr(model, name)
        if isinstance(written, str) and not written.startswith(ENV_PREFIX):
            return written
        put(name, default)
        return default

    if not (isinstance(model.url, str) and model.url.startswith(ENV_PREFIX)):
        out.skipped[model.id] = "its url is written in the file (a real service)"
        return
    secret = "SEC" + secrets.token_hex(16)
    stand_in: HttpStandIn
    match model:
        case DingTalkConfig():
            has_secret = model.secret is not None
            stand_in = DingTalkStandIn(secrets.token_hex(8), secret if has_secret else None)
            put("secret", secret)
        case WeComConfig():
            stand_in = WeComStandIn(secrets.token_hex(8))
        case FeishuConfig():
            has_secret = model.secret is not None
            stand_in = FeishuStandIn(secrets.token_hex(8), secret if has_secret else None)
            put("secret", secret)
        case WebhookConfig():
            stand_in = WebhookReceiver(literal("secret", secret))
        case SmsConfig():
            stand_in = AliyunSmsStandIn(
                literal("access_key_id", "LTAI-demo"),
                literal("access_key_secret", secret),
                literal("sign_name", "天新社区"),
                {literal("template", "SMS_000000"): SMS_TEMPLATE},
                per_number_per_min=SMS_PER_NUMBER_PER_MIN,
            )
        case EmailConfig():
            logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's chatter
            server = MailServer().start()
            out.mail[model.id] = server
            out.kinds[model.id] = "email"
            put("url", server.url)
            out.environ.update(env)
            return
        case _:
            out.skipped[model.id] = f"no stand-in for type {model.type!r}"
            return
    stand_in.start()
    out.http[model.id] = stand_in
    out.kinds[model.id] = model.type
    put("url", stand_in.url)
    out.environ.update(env)


def set_environ(environ: Mapping[str, str]) -> None:
    """Set the stand-ins' variables in this process (inherited by its children)."""
    os.environ.update(environ)


def names_of(community: Community) -> dict[str, str]:
    """Who an address or a group channel is, for the printout: mobile/e-mail → person,
    channel id → the group whose chat it is."""
    names: dict[str, str] = {}
    info = community.community
    for c in info.notify:
        names[c] = f"{info.name} 社区办"
    people = [*info.contacts]
    if community.street is not None:
        for c in community.street.notify:
            names[c] = community.street.name
        people += community.street.contacts
    for grid in community.grid:
        for c in grid.notify:
            names[c] = grid.name
        people += grid.workers
    for site in community.site:
        if site.merchant is not None:
            for c in site.merchant.notify:
                names[c] = f"{site.name}（{site.merchant.name}）"
            people += site.merchant.contacts
    for person in people:
        for address in person.channels.values():
            names.setdefault(address, person.name)
    return names


def render(d: Delivered, names: Mapping[str, str]) -> str:
    """A delivered message as its recipient reads it, with who received it."""
    kind = KIND_NAMES.get(d.kind, d.kind)

    def who(address: str) -> str:
        name = names.get(address)
        return terminal(f"{address}（{name}）" if name else address)

    if d.kind in ("sms", "email"):
        head = f"{kind} → " + ", ".join(who(a) for a in d.to)
    else:
        group = names.get(d.channel)
        head = f"{kind} {d.channel}" + (f"（{terminal(group)}）" if group else "")
        if d.to:
            head += "  @" + "  @".join(who(a) for a in d.to)
    # what a stand-in took is printed as text: no escape sequence reaches the terminal
    body = "\n".join("    " + terminal(line, LINE_CHARS) for line in d.text.strip().splitlines())
    return f"[demo] ▶ {head}\n{body}"


class Printer:
    """Prints each new message the stand-ins took, from a thread polling them."""

    def __init__(
        self,
        delivered: Callable[[], Sequence[Delivered]],
        names: Mapping[str, str],
        out: TextIO | None = None,
        poll_s: float = 0.5,
    ) -> None:
        self._delivered = delivered
        self._names = names
        self._out = out
        self._poll_s = poll_s
        self._seen: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Printer:
        """Poll in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="demo-printer", daemon=True)
        self._thread.start()
        return self

    def print_new(self) -> int:
        """Print what arrived since the last call; returns how many."""
        new = [d for d in self._delivered() if (d.channel, d.seq) not in self._seen]
        out = self._out or sys.stdout
        for d in new:
            print(render(d, self._names), file=out, flush=True)
            self._seen.add((d.channel, d.seq))
        return len(new)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.print_new()
            except Exception:  # printing never stops the demo
                log.exception("demo printer")

    def stop(self) -> None:
        """Stop polling, after printing what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.print_new()
