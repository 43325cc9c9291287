"""SMS through Aliyun's SendSms (dysmsapi, RPC style, API version 2017-05-25).

A GET to `url` with the RPC common parameters and SendSms's own, signed as Aliyun's RPC
APIs are: StringToSign = "GET&%2F&" + percentEncode(the sorted, percent-encoded query),
Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

SendSms is not idempotent (its `OutId` is only echoed back in receipts, it does not
dedupe): once the request may have reached Aliyun, a lost answer is not retried, since
retrying could text every recipient twice. It is reported as failed, for a person to
look at. Only what surely did not reach Aliyun (no connection) is retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from linli.notify import mentions, transport
from linli.notify.channel import Answer, Message, Outcome

API_VERSION: Final = "2017-05-25"
DEFAULT_URL: Final = "https://dysmsapi.aliyuncs.com"
MAX_NUMBERS: Final = 1000  # PhoneNumbers per call
LOST: Final = "sent, answer lost: not retried (SendSms is not idempotent)"
# Too fast for a number: per minute, hour or day (Message: "触发分钟级流控Permits:1", ...).
LIMIT_WAIT_S: Final = {"天级": 86400.0, "小时级": 3600.0, "分钟级": 60.0}
RETRY_LATER: Final = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"})
SERVICE_DOWN: Final = frozenset({"ServiceUnavailable", "InternalError"})


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun signs: unreserved kept, space %20, '*' %2A, '~' kept."""
    return quote(value, safe="~")


def signed_query(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """The query string with its `Signature`, as Aliyun's RPC signing v1.0 makes it."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"Signature={percent_encode(base64.b64encode(digest).decode())}&{canonical}"


class AliyunSms(transport.HttpChannel):
    """SendSms with one sign name and template; `to` are the phone numbers."""

    def __init__(
        self,
        id: str,
        url: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template: str,
        *,
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
        code_template: str | None = None,
    ) -> None:
        super().__init__(id, url.rstrip("/") + "/", timeout_s=timeout_s, http=http)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template = template
        self.code_template = code_template  # a resident's one-time code (验证码模板)
        self.clock = clock
        self.nonce = nonce

    def params(self, message: Message, numbers: Sequence[str]) -> dict[str, str]:
        """SendSms's parameters, unsigned."""
        when = datetime.fromtimestamp(self.clock(), UTC)
        template_param = {k: str(v) for k, v in message.sms_params.items()}
        return {
            "Action": "SendSms",
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": self.nonce(),
            "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "PhoneNumbers": ",".join(numbers),
            "SignName": self.sign_name,
            "TemplateCode": message.sms_template or self.template,
            "TemplateParam": orjson.dumps(template_param).decode(),
            "OutId": message.delivery[:64],  # echoed in receipts; not a dedupe key
        }

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """One SendSms call for every number; Aliyun's `Code` as an outcome."""
        numbers = list(dict.fromkeys(mentions.mobile(a) or a.strip() for a in to if a.strip()))
        if not numbers:
            return Answer(Outcome.FAILED, "no phone number to send to")
        if len(numbers) > MAX_NUMBERS:
            return Answer(Outcome.FAILED, f"{len(numbers)} numbers: SendSms takes {MAX_NUMBERS}")
        query = signed_query(self.params(message, numbers), self.access_key_secret)
        try:
            response = self.http.get(f"{self.url}?{query}")
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            # No connection: the request surely did not reach Aliyun, so sending is safe.
            return Answer(Outcome.RETRY, f"not sent: {type(err).__name__}: {err}")
        except httpx.UnsupportedProtocol as err:
            return Answer(Outcome.FAILED, f"bad URL {self.url!r}: {err}")
        except httpx.TransportError as err:  # read/write timeouts, a dropped connection
            return Answer(Outcome.FAILED, f"{LOST}: {type(err).__name__}")
        return answer(response)


def answer(response: httpx.Response) -> Answer:
    """Aliyun's `{"Code": .., "Message": .., "RequestId": ..}` as an outcome."""
    try:
        doc: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("Code"), str):
        if response.status_code in (502, 503, 504):  # a gateway's page: Aliyun never saw it
            return Answer(Outcome.RETRY, f"HTTP {response.status_code}")
        # Aliyun may have taken it: an unreadable answer is a lost answer.
        return Answer(
            Outcome.FAILED,
            f"{LOST}: HTTP {response.status_code}, answer not Aliyun's JSON: "
            + transport.snippet(response.content),
        )
    code: str = doc["Code"]
    detail = f"{code}: {doc.get('Message', '')}" + (
        f" (BizId {doc['BizId']})" if doc.get("BizId") else ""
    )
    if code == "OK":
        return Answer(Outcome.DELIVERED, detail)
    if code in RETRY_LATER:
        said = str(doc.get("Message", ""))
        wait = next((s for word, s in LIMIT_WAIT_S.items() if word in said), 60.0)
        if code == "isv.DAY_LIMIT_CONTROL":
            wait = LIMIT_WAIT_S["天级"]
        return Answer(Outcome.RETRY, detail, retry_after_s=wait)
    if code.startswith("Throttling") or code in SERVICE_DOWN:  # refused before sending
        return Answer(Outcome.RETRY, detail)
    # isv.SMS_SIGNATURE_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL, isv.MOBILE_NUMBER_ILLEGAL,
    # InvalidAccessKeyId.NotFound, SignatureDoesNotMatch, isv.AMOUNT_NOT_ENOUGH, ...:
    # configuration or account problems a person must fix.
    return Answer(Outcome.FAILED, detail)
