"""Local stand-ins for the services linli tells people on, for the demo and the tests.

DingTalk, WeCom and Feishu robots, Aliyun's SendSms and a webhook receiver as HTTP
servers on free 127.0.0.1 ports (each in a thread), and a real SMTP server (aiosmtpd).
Each behaves as the service does where linli depends on it: it checks the signature and
the timestamp, the body's limits and the required fields, answers with the service's
own codes (HTTP 200 with an errcode for the robots), keeps the rate limit (20 messages
a minute per robot), and can be told to answer "too fast", to fail with HTTP 500 for a
while, to answer garbage or to answer late. It records every call: the message as its
reader would read it, who was @-mentioned, what it answered, and when.

The signatures are computed here independently of linli/notify/ (its own percent
encoding for Aliyun), so that a stand-in accepting linli's requests means something.
"""

from linli.standins.aliyun import AliyunSmsStandIn, aliyun_percent_encode, aliyun_signature
from linli.standins.base import Call, HttpStandIn, Reply, Request
from linli.standins.robots import DingTalkStandIn, FeishuStandIn, WeComStandIn
from linli.standins.smtp import Mail, MailServer
from linli.standins.webhook import WebhookReceiver

__all__ = [
    "AliyunSmsStandIn",
    "Call",
    "DingTalkStandIn",
    "FeishuStandIn",
    "HttpStandIn",
    "Mail",
    "MailServer",
    "Reply",
    "Request",
    "WeComStandIn",
    "WebhookReceiver",
    "aliyun_percent_encode",
    "aliyun_signature",
]
