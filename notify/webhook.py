"""The signed webhook for city platforms (CONTRACT §6).

The body is the message's payload as JSON (`{"version": 1, "event": .., "delivery": ..,
...}`), signed in `X-Linli-Signature: sha256=<hex HMAC-SHA256 of the body>`; receivers
dedupe on `delivery`. 2xx delivered; 429 and 5xx retry (honouring Retry-After); any
other answer failed: the receiver refused this body, and it would refuse it again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

import httpx

from linli.notify import transport
from linli.notify.channel import Answer, Message, Outcome

SIGNATURE_HEADER: Final = "X-Linli-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header's value: "sha256=" and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SignedWebhook(transport.HttpChannel):
    """A JSON POST to one receiver; `to` is unused (the receiver is the URL)."""

    def __init__(
        self,
        id: str,
        url: str,
        secret: str,
        *,
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(id, url, timeout_s=timeout_s, http=http)
        self.secret = secret

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """POST the payload, signed; what the receiver's status said."""
        body = transport.dumps(message.payload)
        headers = {
            SIGNATURE_HEADER: signature(self.secret, body),
            "X-Linli-Event": message.event,
            "X-Linli-Delivery": message.delivery,
        }
        response = transport.post(self.http, self.url, body, headers)
        if isinstance(response, Answer):
            return response
        status = response.status_code
        detail = f"HTTP {status}"
        if 200 <= status < 300:
            return Answer(Outcome.DELIVERED, detail)
        wait = transport.retry_after(response.headers.get("Retry-After"))
        if status == 429 or status >= 500:
            return Answer(Outcome.RETRY, detail, retry_after_s=wait)
        said = transport.snippet(response.content) if response.content else ""
        return Answer(Outcome.FAILED, f"{detail} {said}".rstrip())
