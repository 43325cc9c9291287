"""Aliyun SendSms against the stand-in, which signs as Aliyun does (computed on its own)."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest

from linli.localservers import free_port
from linli.notify.channel import Outcome
from linli.notify.sms import LOST, AliyunSms, signed_query
from linli.standins import AliyunSmsStandIn, aliyun_signature
from tests.notify.conftest import LINK, message

# Aliyun's worked example of RPC signing for SendSms (its documentation's parameters,
# AccessKeySecret "testSecret"): both implementations must give its published signature.
EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
EXAMPLE_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_both_signers_give_aliyuns_published_signature() -> None:
    assert aliyun_signature(EXAMPLE, "testSecret", "GET") == EXAMPLE_SIGNATURE
    assert signed_query(EXAMPLE, "testSecret").startswith(
        "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&"
    )


def _sms(stand_in: AliyunSmsStandIn, **kw: object) -> AliyunSms:
    args: dict[str, object] = {
        "access_key_id": stand_in.access_key_id,
        "access_key_secret": stand_in.access_key_secret,
        "sign_name": stand_in.sign_name,
        "template": "SMS_000000",
        **kw,
    }
    return AliyunSms("sms", stand_in.url, **args)  # type: ignore[arg-type]


def test_delivered_as_the_recipient_reads_it(sms: AliyunSmsStandIn) -> None:
    answer = _sms(sms).send(message(), ["139-0000-0112", "13800000001"])
    assert answer.outcome is Outcome.DELIVERED
    assert answer.detail.startswith("OK: OK (BizId ")
    [call] = sms.calls
    assert call.reply.text == f"【天新社区】欢唱KTV: 夜间噪声超标。请处理: {LINK}"
    assert call.reply.mentions == ("13900000112", "13800000001")
    query = call.request.query
    assert (query["Action"], query["Version"], query["Format"]) == ("SendSms", "2017-05-25", "JSON")
    assert (
        query["TemplateParam"] == '{"site":"欢唱KTV","rule":"夜间噪声超标","link":"' + LINK + '"}'
    )
    assert query["OutId"] == "dlv-1"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param(
            {"access_key_secret": "wrong"},
            "SignatureDoesNotMatch",
            id="a wrong secret → SignatureDoesNotMatch",
        ),
        pytest.param(
            {"access_key_id": "LTAI-nobody"},
            "InvalidAccessKeyId.NotFound",
            id="an unknown key → InvalidAccessKeyId.NotFound",
        ),
        pytest.param(
            {"sign_name": "别的社区"},
            "isv.SMS_SIGNATURE_ILLEGAL",
            id="a sign name not approved → isv.SMS_SIGNATURE_ILLEGAL",
        ),
        pytest.param(
            {"template": "SMS_999"},
            "isv.SMS_TEMPLATE_ILLEGAL",
            id="an unknown template → isv.SMS_TEMPLATE_ILLEGAL",
        ),
        pytest.param(
            {"clock": lambda: time.time() - 1000},
            "InvalidTimeStamp.Expired",
            id="a clock 16 min off → InvalidTimeStamp.Expired",
        ),
    ],
)
def test_configuration_errors_fail_with_aliyuns_code(
    sms: AliyunSmsStandIn, change: dict[str, object], code: str
) -> None:
    answer = _sms(sms, **change).send(message(), ["13800000001"])
    assert answer.outcome is Outcome.FAILED
    assert answer.detail.split(":")[0] == code
    assert sms.accepted() == []


def test_a_template_parameter_missing_fails(sms: AliyunSmsStandIn) -> None:
    short = replace(message(), sms_params={"site": "欢唱KTV"})
    answer = _sms(sms).send(short, ["13800000001"])
    assert (answer.outcome, answer.detail.split(":")[0]) == (
        Outcome.FAILED,
        "isv.TEMPLATE_MISSING_PARAMETERS",
    )


def test_a_nonce_used_twice_is_refused(sms: AliyunSmsStandIn) -> None:
    channel = _sms(sms, nonce=lambda: "same-nonce")
    assert channel.send(message(), ["13800000001"]).outcome is Outcome.DELIVERED
    again = channel.send(message(), ["13800000002"])
    assert (again.outcome, again.detail.split(":")[0]) == (Outcome.FAILED, "SignatureNonceUsed")


def test_business_limit_control_is_retried_after_a_minute(sms: AliyunSmsStandIn) -> None:
    channel = _sms(sms)
    assert channel.send(message(), ["13800000001"]).outcome is Outcome.DELIVERED
    again = channel.send(message(), ["13800000001"])
    assert again.outcome is Outcome.RETRY and again.retry_after_s == 60.0
    assert again.detail == "isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控Permits:1"
    assert channel.send(message(), ["13800000002"]).outcome is Outcome.DELIVERED  # per number


def test_http_500_internal_error_is_retried(sms: AliyunSmsStandIn) -> None:
    sms.fail_for(60)
    answer = _sms(sms).send(message(), ["13800000001"])
    assert answer.outcome is Outcome.RETRY
    assert answer.detail.startswith("InternalError: ")


def test_garbage_is_not_retried_since_aliyun_may_have_sent(sms: AliyunSmsStandIn) -> None:
    sms.answer_garbage()
    answer = _sms(sms).send(message(), ["13800000001"])
    assert answer.outcome is Outcome.FAILED
    assert answer.detail.startswith(f"{LOST}: HTTP 200, answer not Aliyun's JSON: '<html>")


def test_a_timeout_after_sending_is_failed_not_retried(sms: AliyunSmsStandIn) -> None:
    sms.answer_late(1.0)
    answer = _sms(sms, timeout_s=0.2).send(message(), ["13800000001"])
    assert (answer.outcome, answer.detail) == (Outcome.FAILED, f"{LOST}: ReadTimeout")
    time.sleep(1.0)
    assert len(sms.calls) == 1 and sms.calls[0].accepted  # it was sent: a retry would send twice


def test_a_refused_connection_is_retried() -> None:
    channel = AliyunSms("sms", f"http://127.0.0.1:{free_port()}", "a", "b", "c", "d")
    answer = channel.send(message(), ["13800000001"])
    assert answer.outcome is Outcome.RETRY and answer.detail.startswith("not sent: ConnectError")


def test_no_number_fails() -> None:
    channel = AliyunSms("sms", "http://127.0.0.1:9", "a", "b", "c", "d")
    assert channel.send(message(), []).detail == "no phone number to send to"


def test_the_stand_in_checks_a_post_signed_for_post(sms: AliyunSmsStandIn) -> None:
    params = _sms(sms).params(message(), ["13800000001"])
    params["Signature"] = aliyun_signature(params, sms.access_key_secret, "POST")
    ok = httpx.post(sms.url + "/", data=params).json()
    assert ok["Code"] == "OK"
    params["SignatureNonce"] += "-2"  # signed for GET, sent as POST
    params["Signature"] = aliyun_signature(params, sms.access_key_secret, "GET")
    refused = httpx.post(sms.url + "/", data=params).json()
    assert refused["Code"] == "SignatureDoesNotMatch"
