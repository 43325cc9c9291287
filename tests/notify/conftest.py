"""Fixtures of the channel tests: messages, the stand-ins on free ports, a TLS certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linli.localservers import free_port
from linli.notify.channel import Message
from linli.standins import (
    AliyunSmsStandIn,
    DingTalkStandIn,
    FeishuStandIn,
    WebhookReceiver,
    WeComStandIn,
)

LINK = "http://127.0.0.1:8000/board/cases/42"
TEXT = (
    "**欢唱KTV**（新塘路70号 二楼）夜间噪声超标：22:40–23:10 等效声级 62.3 dB(A)，"
    "限值 55 dB(A)（GB 22337-2008 4a 类 夜间）。请商户立即降低音量，并在看板上确认。"
)


def message(text: str = TEXT, delivery: str = "dlv-1") -> Message:
    """A case.opened message as the routing stage renders it."""
    return Message(
        delivery=delivery,
        event="case.opened",
        title="欢唱KTV 夜间噪声超标",
        text=text,
        link=LINK,
        payload={"version": 1, "event": "case.opened", "delivery": delivery, "link": LINK},
        sms_params={"site": "欢唱KTV", "rule": "夜间噪声超标", "link": LINK},
    )


@pytest.fixture
def dingtalk() -> Iterator[DingTalkStandIn]:
    with DingTalkStandIn(token="tok-1", secret="SECabc123") as stand_in:
        yield stand_in


@pytest.fixture
def wecom() -> Iterator[WeComStandIn]:
    with WeComStandIn(key="key-1") as stand_in:
        yield stand_in


@pytest.fixture
def feishu() -> Iterator[FeishuStandIn]:
    with FeishuStandIn(token="hook-1", secret="feishu-s3cret") as stand_in:
        yield stand_in


@pytest.fixture
def sms() -> Iterator[AliyunSmsStandIn]:
    with AliyunSmsStandIn(access_key_id="LTAI-test", access_key_secret="sk-test") as stand_in:
        yield stand_in


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret="city-s3cret") as stand_in:
        yield stand_in


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    return f"http://127.0.0.1:{free_port()}/robot/send?access_token=x"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with `cryptography`."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context trusting only the self-signed certificate (verification on)."""
    return ssl.create_default_context(cafile=str(certificate[0]))
