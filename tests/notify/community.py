"""Community files for the notifier's end-to-end tests: channels pointing at the stand-ins
(their secrets as `env:` values), a grid whose workers have phones and e-mail, shops whose
merchants have a group robot and SMS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

WORKERS = (("王丽", "13800000001", "wangli@grid.example"), ("陈刚", "13800000002", None))
MERCHANT = ("李老板", "13900000001")


def _v(value: object) -> str:
    """A TOML value (strings, numbers, lists and inline tables of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_v(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_v(v) for v in value) + "]"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    return str(value)


def _table(header: str, values: Mapping[str, object]) -> str:
    return "\n".join([header, *(f"{k} = {_v(v)}" for k, v in values.items())]) + "\n"


@dataclass
class File:
    """A community file being written."""

    rules: dict[str, object] = field(default_factory=dict)
    channels: list[dict[str, object]] = field(default_factory=list)
    grid_notify: list[str] = field(default_factory=list)
    worker_channels: Mapping[str, str] = field(default_factory=dict)  # channel → "phone"/"email"
    shops: list[tuple[str, str, list[str]]] = field(default_factory=list)  # id, name, notify
    merchant_channels: Mapping[str, str] = field(default_factory=dict)  # channel → "phone"
    # site ids of buildings, each with one noise sensor n-<id>; "probe" is on grid g0
    residential: Iterable[str] = ()
    community_notify: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The TOML."""
        out = [_table("[community]", {"name": "红街社区", "notify": self.community_notify})]
        if self.rules:
            out.append(_table("[rules]", self.rules))
        for channel in self.channels:
            out.append(_table("[[channel]]", channel))
        out.append(
            _table("[[grid]]", {"id": "g1", "name": "红街一网格", "notify": self.grid_notify})
        )
        for name, phone, email in WORKERS:
            addresses = {"phone": phone, "email": email}
            channels = {c: addresses[k] for c, k in self.worker_channels.items() if addresses[k]}
            worker = {"name": name, "phone": phone, "channels": channels}
            out.append(_table("[[grid.workers]]", worker))
        for site_id, name, notify in self.shops:
            site = {"id": site_id, "name": name, "kind": "shop", "zone": "2", "grid": "g1"}
            out.append(_table("[[site]]", {**site, "cooking_heads": 2}))
            out.append(_table("[site.merchant]", {"name": name, "notify": notify}))
            person, phone = MERCHANT
            channels = dict.fromkeys(self.merchant_channels, phone)
            contact = {"name": person, "phone": phone, "channels": channels}
            out.append(_table("[[site.merchant.contacts]]", contact))
            out.append(
                _table("[[sensor]]", {"id": f"f-{site_id}", "kind": "fume", "site": site_id})
            )
        if "probe" in self.residential:  # a grid of its own that nobody is told about
            out.append(_table("[[grid]]", {"id": "g0", "name": "探针网格"}))
        for site_id in self.residential:
            site = {"id": site_id, "name": f"红街公寓{site_id}", "kind": "residential"}
            grid = "g0" if site_id == "probe" else "g1"
            out.append(_table("[[site]]", {**site, "zone": "2", "grid": grid}))
            out.append(
                _table("[[sensor]]", {"id": f"n-{site_id}", "kind": "noise", "site": site_id})
            )
        return "\n".join(out)
