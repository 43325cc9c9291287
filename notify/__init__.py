"""Telling people: the channels (DingTalk, WeCom, Feishu, webhook, e-mail, SMS), one protocol."""
