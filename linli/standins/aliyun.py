"""Aliyun's dysmsapi SendSms: the RPC request and its signature, then the SMS rules.

The signature is computed here with a percent-encoding of its own (not urllib's, which
linli/notify/sms.py uses), so a stand-in accepting linli's requests means something.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import orjson

from linli.standins.base import HttpStandIn, Reply, Request, json_reply


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent encoding of UTF-8, written out here (not urllib's), as Aliyun's
    RPC signing specifies: A–Z a–z 0–9 - _ . ~ kept, every other byte %XX upper-case."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value.encode())


def aliyun_signature(params: Mapping[str, str], secret: str, method: str) -> str:
    """What Aliyun computes for an RPC request's `Signature` (signature version 1.0)."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in pairs)
    to_sign = f"{method}&%2F&{aliyun_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsStandIn(HttpStandIn):
    """Aliyun's dysmsapi `SendSms` (RPC, 2017-05-25), GET or POST to `/`."""

    name = "sms"
    TIMESTAMP_SKEW_S: ClassVar[int] = 900  # Aliyun: within 15 minutes

    def __init__(
        self,
        access_key_id: str = "LTAI-standin",
        access_key_secret: str = "standin-secret",
        sign_name: str = "天新社区",
        templates: Mapping[str, str] | None = None,
        *,
        per_number_per_min: int = 1,  # Aliyun's default flow control: 1 a minute a number
        **kwargs: Any,
    ) -> None:
        super().__init__(rate_per_min=per_number_per_min, **kwargs)
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_name = sign_name
        self.templates = dict(templates or {"SMS_000000": "${site}: ${rule}。请处理: ${link}"})
        self._nonces: set[str] = set()

    @property
    def url(self) -> str:
        """The endpoint (https://dysmsapi.aliyuncs.com in production)."""
        return self.base_url

    def failing(self) -> Reply:
        """Aliyun's InternalError at HTTP 500."""
        said = {
            "Code": "InternalError",
            "Message": "The request processing has failed due to some unknown error.",
            "RequestId": str(uuid.uuid4()),
        }
        return json_reply(500, said, code="InternalError")

    def serve(self, request: Request) -> Reply:
        """Aliyun's checks, in its order: the RPC request, its signature, then SendSms."""
        params = dict(request.query)
        if request.method == "POST":
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        problem = self._rpc_problem(request.method, params) or self._sms_problem(params)
        if problem:
            status, code, message = problem
            return json_reply(
                status,
                {"Code": code, "Message": message, "RequestId": str(uuid.uuid4())},
                code=code,
            )
        numbers = params["PhoneNumbers"].split(",")
        for number in numbers:
            if not self.admit(number):
                msg = f"触发分钟级流控Permits:{self.rate_per_min}"
                said = {
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": msg,
                    "RequestId": str(uuid.uuid4()),
                }
                return json_reply(200, said, code="isv.BUSINESS_LIMIT_CONTROL")
        text = f"【{params['SignName']}】" + self._render(params)
        said = {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{secrets.randbelow(10**12):012d}^0",
            "RequestId": str(uuid.uuid4()),
        }
        return json_reply(200, said, code="OK", accepted=True, text=text, mentions=tuple(numbers))

    def _rpc_problem(self, method: str, params: Mapping[str, str]) -> tuple[int, str, str] | None:
        for name in (
            "AccessKeyId",
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "Version",
            "Action",
        ):
            if not params.get(name):
                return 400, f"Missing{name}", f"{name} is mandatory for this action."
        if params.get("Action") != "SendSms":
            return 404, "InvalidAction.NotFound", "Specified api is not found."
        if params.get("Version") != "2017-05-25":
            return 400, "InvalidVersion", "Specified parameter Version is not valid."
        if params.get("AccessKeyId") != self.access_key_id:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return 400, "InvalidParameter", "SignatureMethod HMAC-SHA1, SignatureVersion 1.0"
        try:
            when = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
        if abs(when.timestamp() - self.clock()) > self.TIMESTAMP_SKEW_S:
            return (
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date header is expired.",
            )
        expected = aliyun_signature(params, self.access_key_secret, method)
        if not hmac.compare_digest(params["Signature"], expected):
            return (
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
            self._nonces.add(params["SignatureNonce"])
        return None

    def _sms_problem(self, params: Mapping[str, str]) -> tuple[int, str, str] | None:
        numbers = [n for n in params.get("PhoneNumbers", "").split(",") if n]
        if not numbers:
            return 400, "MissingPhoneNumbers", "PhoneNumbers is mandatory for this action."
        if not all(n.isdigit() and len(n) == 11 and n.startswith("1") for n in numbers):
            return 200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"
        if params.get("SignName") != self.sign_name:
            return 200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"
        template = self.templates.get(params.get("TemplateCode", ""))
        if template is None:
            return 200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"
        try:
            values = orjson.loads(params.get("TemplateParam", "{}"))
        except orjson.JSONDecodeError:
            return 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        missing = [v for v in _template_vars(template) if v not in values]
        if missing:
            return 200, "isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {', '.join(missing)}"
        return None

    def _render(self, params: Mapping[str, str]) -> str:
        text = self.templates[params["TemplateCode"]]
        for name, value in orjson.loads(params.get("TemplateParam", "{}")).items():
            text = text.replace("${" + name + "}", value)
        return text


def _template_vars(template: str) -> list[str]:
    names, rest = [], template
    while "${" in rest:
        rest = rest.split("${", 1)[1]
        name, _, rest = rest.partition("}")
        names.append(name)
    return names
