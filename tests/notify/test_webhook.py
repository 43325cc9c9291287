"""The signed webhook (CONTRACT §6) against a receiver checking X-Linli-Signature."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from linli.notify.channel import Outcome
from linli.notify.transport import retry_after
from linli.notify.webhook import SignedWebhook, signature
from linli.standins import Reply, WebhookReceiver
from tests.notify.conftest import message


def test_delivered_the_payload_signed(receiver: WebhookReceiver) -> None:
    answer = SignedWebhook("city", receiver.url, "city-s3cret").send(message(), [])
    assert (answer.outcome, answer.detail) == (Outcome.DELIVERED, "HTTP 200")
    [call] = receiver.calls
    assert orjson.loads(call.request.body) == dict(message().payload)
    mac = hmac.new(b"city-s3cret", call.request.body, hashlib.sha256).hexdigest()
    assert call.request.headers["x-linli-signature"] == f"sha256={mac}"
    assert call.request.headers["x-linli-delivery"] == "dlv-1"
    assert receiver.deliveries == {"dlv-1": 1}


def test_a_wrong_secret_fails_with_401(receiver: WebhookReceiver) -> None:
    answer = SignedWebhook("city", receiver.url, "wrong").send(message(), [])
    assert (answer.outcome, answer.detail) == (
        Outcome.FAILED,
        """HTTP 401 '{"error":"bad signature"}'""",
    )
    assert receiver.deliveries == {}


def test_429_is_retried_after_its_retry_after() -> None:
    with WebhookReceiver("s", rate_per_min=1) as receiver:
        hook = SignedWebhook("city", receiver.url, "s")
        assert hook.send(message(), []).outcome is Outcome.DELIVERED
        answer = hook.send(message(delivery="dlv-2"), [])
        assert (answer.outcome, answer.detail, answer.retry_after_s) == (
            Outcome.RETRY,
            "HTTP 429",
            30.0,
        )


def test_500_is_retried_and_a_resend_can_be_deduped(receiver: WebhookReceiver) -> None:
    hook = SignedWebhook("city", receiver.url, "city-s3cret")
    receiver.fail_for(60)
    assert hook.send(message(), []).outcome is Outcome.RETRY
    receiver.fail_for(0)
    assert hook.send(message(), []).outcome is Outcome.DELIVERED
    assert hook.send(message(), []).outcome is Outcome.DELIVERED  # at least once: twice here
    assert receiver.deliveries == {"dlv-1": 2}


def test_other_4xx_fail(receiver: WebhookReceiver) -> None:
    receiver.serve = lambda request: Reply(404, b"no such hook")  # type: ignore[method-assign]
    answer = SignedWebhook("city", receiver.url, "city-s3cret").send(message(), [])
    assert (answer.outcome, answer.detail) == (Outcome.FAILED, "HTTP 404 'no such hook'")


def test_a_2xx_is_delivered_whatever_its_body(receiver: WebhookReceiver) -> None:
    # The contract's webhook is judged by its status (CONTRACT §6), unlike the robots.
    receiver.answer_garbage()
    assert (
        SignedWebhook("city", receiver.url, "city-s3cret").send(message(), []).outcome
        is Outcome.DELIVERED
    )


def test_signature_and_retry_after_forms() -> None:
    assert signature("k", b"{}") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 02 Dec 2026 00:01:40 GMT", now=1_796_169_600.0) == 100.0
    assert retry_after("soon") is None and retry_after(None) is None
