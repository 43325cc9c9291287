"""A real local SMTP server (aiosmtpd) recording what it receives: the e-mail stand-in.

Plain, STARTTLS (given a TLS context) or implicit TLS (`implicit_tls=True`), with AUTH
when a user is given (aiosmtpd allows AUTH only over TLS, as servers should). It can be
told to answer a recipient or DATA with a reply of choice (451 transient, 550
permanent), so the e-mail channel's mapping is tested against real SMTP replies.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from linli.localservers import free_port


@dataclass(frozen=True, slots=True)
class Mail:
    """One e-mail received: the envelope and the message as its reader reads it."""

    at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    user: str | None  # who authenticated, if anyone

    @property
    def subject(self) -> str:
        """The Subject header, decoded."""
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """The plain-text body."""
        body = self.message.get_body(("plain",))
        return "" if body is None else str(body.get_content())


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.server.refuse_rcpt.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        tls = smtp.transport is not None and smtp.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data  # what _authenticate returned: the login
        user = login.decode() if isinstance(login, bytes) else None
        mail = Mail(
            time.time(), str(envelope.mail_from), tuple(envelope.rcpt_tos), message, tls, user
        )
        with self.server.lock:
            self.server.mails.append(mail)
        return "250 Message accepted for delivery"


class MailServer:
    """aiosmtpd on a free 127.0.0.1 port, in its own thread; `mails` are what it received."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.tls, self.implicit_tls = tls, implicit_tls
        self.user, self.password = user, password
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.refuse_rcpt: dict[str, str] = {}  # address → reply, e.g. "550 5.1.1 no such user"
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try again later"
        self.port = free_port()
        self._controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    def start(self) -> MailServer:
        """Start serving."""
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs["authenticator"] = self._authenticate
        if self.tls is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls
            # aiosmtpd counts only STARTTLS as TLS for AUTH; the whole session is TLS here.
            kwargs["auth_require_tls"] = False
        elif self.tls is not None:
            kwargs["tls_context"] = self.tls
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The channel's URL: smtps:// for implicit TLS, smtp:// otherwise, with the user."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        auth = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"
