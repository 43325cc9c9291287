"""E-mail against a real SMTP server (aiosmtpd): plain, STARTTLS, implicit TLS, SMTP replies."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from linli.localservers import free_port
from linli.notify.channel import Outcome
from linli.notify.email import EmailChannel, SmtpServer
from linli.standins import MailServer
from tests.notify.conftest import LINK, message

SENDER = "天新社区 <linli@tianxin.example>"


@pytest.fixture
def plain_server() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


def test_plain_smtp_delivers_subject_text_and_link(plain_server: MailServer) -> None:
    channel = EmailChannel("mail", plain_server.url, SENDER)
    answer = channel.send(message(), ["wang.li@tianxin.example"])
    assert (answer.outcome, answer.detail) == (Outcome.DELIVERED, "250 accepted for 1 recipient(s)")
    [mail] = plain_server.mails
    assert mail.subject == "欢唱KTV 夜间噪声超标"
    assert mail.rcpt_tos == ("wang.li@tianxin.example",)
    assert mail.mail_from == "linli@tianxin.example"
    assert "欢唱KTV（新塘路70号 二楼）夜间噪声超标" in mail.text  # plain: no ** marks
    assert mail.text.rstrip().endswith(f"查看工单: {LINK}")
    assert mail.message["X-Linli-Delivery"] == "dlv-1"
    assert not mail.tls


def test_starttls_when_offered_with_auth(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with MailServer(tls=server_tls, user="linli", password="pw") as server:
        url = f"smtp://linli:pw@127.0.0.1:{server.port}"
        answer = EmailChannel("mail", url, SENDER, tls=client_tls).send(message(), ["a@x.example"])
        assert answer.outcome is Outcome.DELIVERED
        [mail] = server.mails
        assert (mail.tls, mail.user) == (True, "linli")


def test_implicit_tls_smtps(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    with MailServer(tls=server_tls, implicit_tls=True, user="linli", password="pw") as server:
        assert server.url.startswith("smtps://linli:pw@")
        answer = EmailChannel("mail", server.url, SENDER, tls=client_tls).send(
            message(), ["a@x.example", "b@x.example"]
        )
        assert (answer.outcome, answer.detail) == (
            Outcome.DELIVERED,
            "250 accepted for 2 recipient(s)",
        )
        [mail] = server.mails
        assert mail.tls and mail.rcpt_tos == ("a@x.example", "b@x.example")


def test_a_wrong_password_fails_with_535(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with MailServer(tls=server_tls, user="linli", password="pw") as server:
        url = f"smtp://linli:nope@127.0.0.1:{server.port}"
        answer = EmailChannel("mail", url, SENDER, tls=client_tls).send(message(), ["a@x.example"])
        assert answer.outcome is Outcome.FAILED
        assert answer.detail.startswith("SMTP 535")
        assert server.mails == []


def test_an_untrusted_certificate_fails(server_tls: ssl.SSLContext) -> None:
    with MailServer(tls=server_tls, implicit_tls=True) as server:
        answer = EmailChannel("mail", server.url, SENDER).send(message(), ["a@x.example"])
        assert answer.outcome is Outcome.FAILED
        assert "CERTIFICATE_VERIFY_FAILED" in answer.detail
        assert server.mails == []


def test_a_4xx_data_reply_is_retried(plain_server: MailServer) -> None:
    plain_server.data_reply = "451 4.3.0 Mailbox temporarily unavailable"
    answer = EmailChannel("mail", plain_server.url, SENDER).send(message(), ["a@x.example"])
    assert (answer.outcome, answer.detail) == (
        Outcome.RETRY,
        "SMTP 451: 4.3.0 Mailbox temporarily unavailable",
    )


def test_a_5xx_for_every_recipient_fails(plain_server: MailServer) -> None:
    plain_server.refuse_rcpt["a@x.example"] = "550 5.1.1 No such user"
    answer = EmailChannel("mail", plain_server.url, SENDER).send(message(), ["a@x.example"])
    assert answer.outcome is Outcome.FAILED
    assert answer.detail == "recipients refused: a@x.example (550 5.1.1 No such user)"


def test_one_recipient_refused_the_others_get_it(plain_server: MailServer) -> None:
    plain_server.refuse_rcpt["gone@x.example"] = "550 5.1.1 No such user"
    answer = EmailChannel("mail", plain_server.url, SENDER).send(
        message(), ["a@x.example", "gone@x.example"]
    )
    assert answer.outcome is Outcome.DELIVERED
    assert answer.detail == "accepted; refused: gone@x.example (550 5.1.1 No such user)"
    assert plain_server.mails[0].rcpt_tos == ("a@x.example",)


def test_a_refused_connection_is_retried() -> None:
    answer = EmailChannel("mail", f"smtp://127.0.0.1:{free_port()}", SENDER).send(
        message(), ["a@x.example"]
    )
    assert answer.outcome is Outcome.RETRY
    assert "ConnectionRefusedError" in answer.detail


def test_no_address_fails_without_connecting() -> None:
    answer = EmailChannel("mail", f"smtp://127.0.0.1:{free_port()}", SENDER).send(message(), [" "])
    assert (answer.outcome, answer.detail) == (Outcome.FAILED, "no e-mail address to send to")


@pytest.mark.parametrize(
    ("url", "server"),
    [
        pytest.param(
            "smtps://u:p%40ss@mail.example:465",
            SmtpServer("mail.example", 465, True, "u", "p@ss"),
            id="smtps with an escaped password",
        ),
        pytest.param(
            "smtps://mail.example",
            SmtpServer("mail.example", 465, True),
            id="smtps defaults to 465",
        ),
        pytest.param(
            "smtp://mail.example", SmtpServer("mail.example", 25, False), id="smtp defaults to 25"
        ),
        pytest.param(
            "smtp://mail.example:587",
            SmtpServer("mail.example", 587, False),
            id="smtp submission port",
        ),
    ],
)
def test_urls(url: str, server: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == server
