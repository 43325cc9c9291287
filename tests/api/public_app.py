"""A street of one community for the public pages' tests: a shop with a merchant (rest-1),
a residential building (hj-b1), and an `sms` channel on the Aliyun stand-in."""

from __future__ import annotations

from pathlib import Path

from linli.standins import AliyunSmsStandIn

CODE_TEMPLATE = "SMS_CODE"


def community_file(tmp: Path, sms: AliyunSmsStandIn) -> Path:
    """The community file, its `sms` channel on `sms`."""
    path = tmp / "tianxin.toml"
    path.write_text(
        f"""
[community]
id = "tianxin"
name = "天新社区"

[[channel]]
id = "sms"
type = "sms"
url = "{sms.url}"
access_key_id = "{sms.access_key_id}"
access_key_secret = "{sms.access_key_secret}"
sign_name = "{sms.sign_name}"
template = "SMS_000000"
code_template = "{CODE_TEMPLATE}"

[[grid]]
id = "g1"
name = "东网格"
workers = [{{ name = "王丽", phone = "138-0000-0001" }}]

[[site]]
id = "rest-1"
name = "蜀味小馆"
kind = "shop"
zone = "4a"
grid = "g1"
address = "天城路101号"
category = "restaurant"
cooking_heads = 2
merchant = {{ name = "周老板", contacts = [{{ name = "周强", phone = "139-0000-0101" }}] }}

[[site]]
id = "hj-b1"
name = "红街公寓1幢"
kind = "residential"
zone = "2"
grid = "g1"
address = "红街公寓1幢"

[[sensor]]
id = "n-rest-01"
kind = "noise"
site = "rest-1"

[[sensor]]
id = "n-hj-01"
kind = "noise"
site = "hj-b1"
""",
        encoding="utf-8",
    )
    return path


def sms_stand_in() -> AliyunSmsStandIn:
    """The SMS stand-in with the code template; no per-number flow control to wait out."""
    return AliyunSmsStandIn(
        templates={
            "SMS_000000": "${site}: ${rule}。请处理: ${link}",
            CODE_TEMPLATE: "您的验证码为${code}，5分钟内有效。",
        },
        per_number_per_min=1000,
    )


def code_in(stand_in: AliyunSmsStandIn, phone: str) -> str:
    """The newest code the stand-in texted to `phone`."""
    import re

    texts = [c.reply.text for c in stand_in.accepted() if phone in c.reply.mentions]
    assert texts, f"no SMS to {phone}"
    found = re.search(r"验证码为(\d{6})", texts[-1])
    assert found, texts[-1]
    return found.group(1)
