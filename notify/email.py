"""E-mail over SMTP with the standard library: `smtps://` implicit TLS, `smtp://` plain
or STARTTLS whenever the server offers it.

The subject is the message's title, the body its text as plain text and the link.
SMTP's own classes decide the outcome (RFC 5321 §4.2.1): a 4xx reply or a connection
that fails is transient (retry), a 5xx reply permanent (failed). A duplicate e-mail is
harmless enough that a timeout after DATA is retried.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Final
from urllib.parse import unquote, urlsplit

from linli.notify.channel import Answer, Message, Outcome
from linli.notify.markdown import plain

SMTPS_PORT: Final = 465
SMTP_PORT: Final = 25


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to connect, from `smtps://user:pass@host:465` or `smtp://host:port`."""

    host: str
    port: int
    implicit_tls: bool
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse an smtp:// or smtps:// URL; ValueError naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"scheme {parts.scheme!r} is not smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("no host")
        tls = parts.scheme == "smtps"
        return cls(
            parts.hostname,
            parts.port or (SMTPS_PORT if tls else SMTP_PORT),
            tls,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


def _transient(code: int) -> bool:
    return 400 <= code < 500


class EmailChannel:
    """SMTP to the addresses in `to`, from the channel's `from`."""

    def __init__(
        self,
        id: str,
        url: str,
        sender: str,
        *,
        timeout_s: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._id = id
        self.server = SmtpServer.from_url(url)
        self.sender = sender
        self.timeout_s = timeout_s
        self.tls = tls or ssl.create_default_context()

    @property
    def id(self) -> str:
        """The channel's id in the community file."""
        return self._id

    def compose(self, message: Message, to: Sequence[str]) -> EmailMessage:
        """The e-mail: subject the title, plain text and the link."""
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(to)
        mail["Message-ID"] = make_msgid(idstring=message.delivery.replace("@", "."))
        mail["X-Linli-Delivery"] = message.delivery
        mail.set_content(f"{plain(message.text)}\n\n查看工单: {message.link}\n")
        return mail

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """Send one e-mail to every address; what the server answered."""
        recipients = [a.strip() for a in to if a.strip()]
        if not recipients:
            return Answer(Outcome.FAILED, "no e-mail address to send to")
        mail = self.compose(message, recipients)
        try:
            refused = self._deliver(mail)
        except smtplib.SMTPRecipientsRefused as err:  # every recipient refused
            codes = [code for code, _ in err.recipients.values()]
            outcome = Outcome.RETRY if all(map(_transient, codes)) else Outcome.FAILED
            return Answer(outcome, "recipients refused: " + _refusals(err.recipients))
        except smtplib.SMTPResponseException as err:  # sender, data, auth, helo
            said = (
                err.smtp_error.decode("utf-8", "replace")
                if isinstance(err.smtp_error, bytes)
                else str(err.smtp_error)
            )
            outcome = Outcome.RETRY if _transient(err.smtp_code) else Outcome.FAILED
            return Answer(outcome, f"SMTP {err.smtp_code}: {said}")
        except smtplib.SMTPNotSupportedError as err:  # AUTH on a server offering none
            return Answer(Outcome.FAILED, f"SMTP: {err}")
        except ssl.SSLError as err:  # a certificate not trusted, no TLS on the port
            return Answer(Outcome.FAILED, f"TLS with {self.server.host}:{self.server.port}: {err}")
        except (smtplib.SMTPException, OSError) as err:  # disconnects, refused, timeouts
            kind = (
                "timeout" if isinstance(err, socket.timeout | TimeoutError) else type(err).__name__
            )
            return Answer(
                Outcome.RETRY, f"SMTP {self.server.host}:{self.server.port}: {kind}: {err}"
            )
        if refused:
            return Answer(Outcome.DELIVERED, "accepted; refused: " + _refusals(refused))
        return Answer(Outcome.DELIVERED, f"250 accepted for {len(recipients)} recipient(s)")

    def _deliver(self, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
        server = self.server
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout_s, context=self.tls
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout_s)
        with smtp:
            smtp.ehlo()
            if not server.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self.tls)
                smtp.ehlo()
            if server.user is not None:
                smtp.login(server.user, server.password or "")
            return smtp.send_message(mail)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {text.decode('utf-8', 'replace')})"
        for address, (code, text) in refused.items()
    )
