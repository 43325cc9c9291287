"""A city platform's webhook receiver (CONTRACT §6)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from linli.standins.base import HttpStandIn, Reply, Request, json_body, json_reply


class WebhookReceiver(HttpStandIn):
    """A city platform's receiver: checks `X-Linli-Signature`, dedupes on `delivery`."""

    name = "webhook"

    def __init__(self, secret: str = "city-secret", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret
        self.deliveries: dict[str, int] = {}  # delivery id → times received

    @property
    def url(self) -> str:
        """Where linli posts."""
        return f"{self.base_url}/linli"

    def serve(self, request: Request) -> Reply:
        """401 on a bad signature, 400 on a body without `delivery`, 429 too fast, else 200."""
        if request.method != "POST":
            return Reply(405, b"POST only")
        mac = hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-linli-signature", ""), f"sha256={mac}"):
            return json_reply(401, {"error": "bad signature"}, code=401)
        doc = json_body(request)
        if doc is None or not isinstance(doc.get("delivery"), str):
            return json_reply(400, {"error": "a JSON object with a delivery"}, code=400)
        if not self.admit("receiver"):
            return Reply(429, b"slow down", code=429, headers={"Retry-After": "30"})
        with self._lock:
            self.deliveries[doc["delivery"]] = self.deliveries.get(doc["delivery"], 0) + 1
        text = f"{doc.get('event', '')} {doc.get('delivery')}"
        return json_reply(200, {"ok": True}, code=200, accepted=True, text=text)
