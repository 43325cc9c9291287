"""Small community files of one street (CONTRACT §9) for the tests: two communities, each
with its own grid, a shop and a building, a noise and a fume sensor, and a channel."""

from __future__ import annotations

from pathlib import Path


def community_toml(
    community_id: str | None, prefix: str, name: str, *, street: bool = False, extra: str = ""
) -> str:
    """One community's file; its ids start with `prefix` so that two never collide."""
    head = f'id = "{community_id}"\n' if community_id else ""
    street_table = (
        '[street]\nname = "笕桥街道综合执法队"\nnotify = ["street-ding"]\n\n'
        '[[channel]]\nid = "street-ding"\ntype = "webhook"\n'
        'url = "http://127.0.0.1:9/street"\nsecret = "s"\n\n'
        if street
        else ""
    )
    return f"""
[community]
{head}name = "{name}"
name_en = "{prefix} community"
notify = ["{prefix}-office"]

{street_table}[[channel]]
id = "{prefix}-office"
type = "webhook"
url = "http://127.0.0.1:9/{prefix}"
secret = "s"

[[grid]]
id = "{prefix}-g1"
name = "{name}一网格"
workers = [{{ name = "{prefix}网格员", phone = "138-0000-0001" }}]

[[site]]
id = "{prefix}-shop"
name = "{name}烧烤店"
kind = "shop"
zone = "2"
grid = "{prefix}-g1"
address = "{name}路1号"
merchant = {{ name = "{prefix}老板" }}
cooking_heads = 2

[[site]]
id = "{prefix}-home"
name = "{name}1幢"
kind = "residential"
zone = "2"
grid = "{prefix}-g1"
address = "{name}路8号"

[[sensor]]
id = "n-{prefix}-1"
kind = "noise"
site = "{prefix}-home"

[[sensor]]
id = "f-{prefix}-1"
kind = "fume"
site = "{prefix}-shop"
{extra}"""


def write_street(folder: Path) -> list[Path]:
    """Two community files, Tianxin-like (`tx`, with the `[street]`) and Huanding-like
    (`hd`), in `folder`; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    a = folder / "a-tianxin.toml"
    a.write_text(community_toml("tianxin", "tx", "天新", street=True), encoding="utf-8")
    b = folder / "b-huanding.toml"
    b.write_text(community_toml("huanding", "hd", "环丁"), encoding="utf-8")
    return [a, b]
