"""docs/configuration.md, generated: every `LINLI_*` variable and every community-file key.

The variables come from `Settings` (each field's default and description, the one place
they are written); the community file's tables and keys from the pydantic models of
linli/community.py, their meanings from `KEY_MEANINGS` below. A key without a meaning is
an error, so a new setting or key cannot go undocumented: `linli config docs` prints the
page, and tests/test_docs.py fails when the committed page differs.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from annotated_types import Ge, Gt, Le, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from linli.community import (
    Community,
    CommunityInfo,
    ComplaintsModel,
    ContactModel,
    DeadlineModel,
    DingTalkConfig,
    EmailConfig,
    FeishuConfig,
    GridModel,
    Hj212Model,
    Hj212ProfileModel,
    MerchantModel,
    ReportModel,
    RulesModel,
    SensorModel,
    SiteModel,
    SmsConfig,
    StreetModel,
    WebhookConfig,
    WeComConfig,
)
from linli.settings import Settings

DOC_PATH: Final = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

# What each community-file key means, by "<model>.<key>" (a channel's common keys by its
# base, `_ChannelConfig`). The models themselves say type, default and bounds.
KEY_MEANINGS: Final[dict[str, str]] = {
    "Community.community": "the community itself",
    "Community.street": "the street's enforcement team, the ladder's last level",
    "Community.rules": "what this community changes about the rule engine's defaults",
    "Community.channel": "the channels people are told on",
    "Community.grid": "the grids (网格)",
    "Community.site": "the sites: shops and residential buildings",
    "Community.sensor": "the sensors",
    "Community.hj212_profile": "HJ 212 monitor models: how each one's logger speaks "
    "(docs/devices.md)",
    "Community.complaints": "residents' complaints",
    "CommunityInfo.id": "its id in the street's linli (`[a-z0-9][a-z0-9-]{1,31}`, e.g. "
    "`tianxin`): what tokens' `communities` and `POST /grids` name; required when several "
    'files are loaded, else `"community"` (CONTRACT §9)',
    "CommunityInfo.name": "the community's name, as messages say it",
    "CommunityInfo.name_en": "its English name",
    "CommunityInfo.notify": "the community office's channels (a case's third level)",
    "CommunityInfo.contacts": "the community office's people (a case's third level)",
    "CommunityInfo.tz": "if set, must name the zone of `LINLI_TZ`, or linli refuses to start",
    "StreetModel.name": "the team's name",
    "StreetModel.contacts": "its people (a case's last level)",
    "StreetModel.notify": "its channels",
    "ContactModel.name": "the person's name",
    "ContactModel.phone": "a phone number to show (not an address: see `channels`)",
    "ContactModel.channels": '`{ <channel id> = "<address>" }`: a mobile for SMS and robot '
    "mentions (a DingTalk user id works for DingTalk), an e-mail address, a Feishu open_id",
    "GridModel.id": "the grid's id",
    "GridModel.name": "its name",
    "GridModel.name_en": "its English name",
    "GridModel.workers": "its grid workers (网格员: a case's second level)",
    "GridModel.notify": "the grid's group chat(s)",
    "SiteModel.id": "the site's id",
    "SiteModel.name": "its name",
    "SiteModel.name_en": "its English name",
    "SiteModel.kind": "a shop is judged by GB 22337 and starts at its merchant; a building by "
    "GB 3096 and starts at the grid worker",
    "SiteModel.category": "free text (restaurant, ktv, residential, …)",
    "SiteModel.profile": "what the simulator makes its sensors sound and smell like",
    "SiteModel.zone": "its GB 3096-2008 zone class: the noise limits",
    "SiteModel.grid": "the `[[grid]]` it belongs to",
    "SiteModel.address": "its address, which complaints are matched against",
    "SiteModel.merchant": "the business running a shop (a case's first level)",
    "SiteModel.cooking_heads": "GB 18483-2001 reference cooking heads (small 1–3, medium 3–6, "
    "large ≥ 6): the purifier efficiency required",
    "SiteModel.near": "sites whose sensors may bear out a complaint here (either way round)",
    "MerchantModel.name": "the business's name",
    "MerchantModel.contacts": "its people",
    "MerchantModel.notify": "the shop's own group chat(s)",
    "SensorModel.id": "the sensor's id: its MQTT client id and username (CONTRACT §2)",
    "SensorModel.kind": "what it measures",
    "SensorModel.site": "the `[[site]]` it is installed at",
    "SensorModel.hj212": "`{ mn, pw, profile }`: the sensor is an HJ 212 monitor (CONTRACT §8)",
    "Hj212Model.mn": "the monitor's MN, exactly as it sends it; one sensor's only",
    "Hj212Model.pw": "its password (PW); a frame with another is refused (`bad_password`)",
    "Hj212Model.profile": "the `[[hj212_profile]]` of its model; `gb-noise` (built in) for a "
    "noise station speaking the standard's codes",
    "Hj212ProfileModel.id": "the profile's id, as a sensor's `hj212.profile` names it",
    "Hj212ProfileModel.crc": "the frames' checksum: the standard's, CRC-16/MODBUS, or MODBUS "
    "with its bytes swapped",
    "Hj212ProfileModel.stamp": "whether period data's DataTime is the period's start (the "
    "standard) or its end",
    "Hj212ProfileModel.rtd_period_s": "the period a 2011 real-time value stands for",
    "Hj212ProfileModel.min_period_s": "the period of 2051 minute data (the device's MinInterval)",
    "Hj212ProfileModel.codes": '`{ <device code> = "<metric>" }` (any case): the codes that '
    "differ from the GB noise codes",
    "Hj212ProfileModel.states": '`{ <state code> = "fan_on" | "purifier_on" }`: 1 is on',
    "Hj212ProfileModel.readings": "the CN whose data become readings: `2011` (real-time), "
    "`2051` (minute data) or `2061` (hour data); the others are answered and not stored",
    "_ChannelConfig.id": "the channel's id, as people's `channels` and `notify` lists name it",
    "_ChannelConfig.timeout_s": "how long a send may take",
    "DingTalkConfig.type": "DingTalk group robot (自定义机器人)",
    "DingTalkConfig.url": "the robot's webhook URL (its access_token is a secret: use `env:`)",
    "DingTalkConfig.secret": "the 加签 secret, when the robot has that security setting",
    "WeComConfig.type": "WeCom group robot",
    "WeComConfig.url": "the robot's webhook URL, its `key=` in it",
    "FeishuConfig.type": "Feishu custom bot",
    "FeishuConfig.url": "the bot's webhook URL",
    "FeishuConfig.secret": "the signature secret, when the bot has that setting",
    "WebhookConfig.type": "a signed JSON webhook (CONTRACT §6)",
    "WebhookConfig.url": "where the JSON is posted",
    "WebhookConfig.secret": "the key of `X-Linli-Signature` (HMAC-SHA256)",
    "EmailConfig.type": "e-mail over SMTP",
    "EmailConfig.url": "`smtps://user:pass@host:465` (implicit TLS) or `smtp://host:port` "
    "(STARTTLS when offered)",
    "EmailConfig.from": "the sender address",
    "SmsConfig.type": "Aliyun SendSms",
    "SmsConfig.url": "the SendSms endpoint",
    "SmsConfig.access_key_id": "the AccessKey id",
    "SmsConfig.access_key_secret": "the AccessKey secret",
    "SmsConfig.sign_name": "the approved signature (签名)",
    "SmsConfig.template": "the approved template code",
    "SmsConfig.code_template": "the approved 验证码 template code (with `${code}`) for a "
    "resident's one-time code on the public page (docs/public.md); none: the notification "
    "template carries it",
    "RulesModel.night": "night in local time (GB 3096-2008 §3.7; a county may move it); "
    "also `limit_db` and the dashboards' day/night split (whole hours there)",
    "RulesModel.business_hours": "up to three `HH:MM-HH:MM` windows; empty: all day "
    "(`purifier_off` is judged inside them)",
    "RulesModel.noise_standard_residential": "the noise standard of residential buildings",
    "RulesModel.noise_standard_shop": "the noise standard of shops",
    "RulesModel.fume_standard": "the cooking-fume standard",
    "RulesModel.site_noise_standard": '`{ <site id> = "<standard>" }`: a site\'s own noise '
    "standard",
    "RulesModel.site_fume_standard": '`{ <site id> = "<standard>" }`: a site\'s own fume standard',
    "RulesModel.fume_limit_mg": "`{ <metric> = <mg/m³> }` for `oil_fume`, `pm` or `nmhc`: the "
    "community's own fume limits",
    "RulesModel.leq_window_s": "`noise_leq`: the rolling LAeq's window; also joins episodes",
    "RulesModel.leq_sustain_s": "`noise_leq`: how much longer it must stay over",
    "RulesModel.leq_hysteresis_db": "`noise_leq`: cleared this far below the limit",
    "RulesModel.min_coverage": "`noise_leq` is judged once readings cover this share of its "
    "window (HJ 906's valid-data rate)",
    "RulesModel.fume_window_s": "`fume_conc`: the mean's window (readings with the fan on)",
    "RulesModel.fume_business_hours_only": "`fume_conc` judged inside business hours only",
    "RulesModel.purifier_off_s": "`purifier_off`: fan on, purifier off this long",
    "RulesModel.purifier_current_min_a": "a purifier drawing less than this is off",
    "RulesModel.offline_periods": "`device_offline`: no reading for this many periods",
    "RulesModel.stuck_repeats": "`device_stuck`: this many identical readings in a row "
    "(under 2: off)",
    "RulesModel.verification_s": "a resolved case closes when this passes without a recurrence",
    "RulesModel.escalate_unacknowledged_s": "a case not acknowledged this long after opening "
    "goes one level up",
    "RulesModel.escalate_unresolved_s": "one more level for each of these, counted from "
    "opening, that passes before it is resolved",
    "RulesModel.remind_unacknowledged_s": "an unacknowledged case's level is told again this "
    "often; 0: never",
    "ComplaintsModel.window_min": "a complaint without a time window means the last this many "
    "minutes",
    "ComplaintsModel.min_coverage": "a sensor whose readings cover less of the window is a "
    "`data_gap`",
    "ComplaintsModel.rejudge_h": "a `data_gap` complaint is judged again while its window ended "
    "less than this ago",
    "ComplaintsModel.deadlines": "`[complaints.deadlines.<source>]`: time limits by source "
    "(12345, phone, walk_in, web, open311)",
    "ComplaintsModel.default_deadline": "the time limits of the sources not listed",
    "DeadlineModel.sign_for_h": "sign for (acknowledge) within this many hours",
    "DeadlineModel.handle_working_days": "handle within this many working days (China's public "
    "holidays off)",
    "Community.report": "statistics sent on a schedule (docs/statistics.md)",
    "ReportModel.id": "the report's id in this file; with the community and the month it makes "
    "each message's identity, so a restart never sends it twice",
    "ReportModel.every": '`"monthly"`: on the 1st at 09:00 local (`LINLI_TZ`), the last month\'s '
    "figures (CONTRACT §10)",
    "ReportModel.to": "the [[channel]] ids it goes to (a group robot, a webhook; an e-mail or "
    "SMS channel reaches the `[community]` contacts' addresses on it)",
}

# The community file's tables, in the order the page lists them: (heading, model, note).
TABLES: Final[tuple[tuple[str, type[BaseModel], str], ...]] = (
    ("[community]", CommunityInfo, "Required."),
    (
        "[street]",
        StreetModel,
        "Optional; in one file only when several are loaded (one street per deployment).",
    ),
    ("[[grid]]", GridModel, ""),
    ("[[site]]", SiteModel, ""),
    ("[site.merchant]", MerchantModel, "A shop's `merchant = { … }` inline table."),
    ("[[sensor]]", SensorModel, ""),
    ("[sensor.hj212]", Hj212Model, "A monitor's `hj212 = { … }` inline table."),
    ("[[hj212_profile]]", Hj212ProfileModel, ""),
    (
        "contacts and workers",
        ContactModel,
        "Each entry of a `contacts` or `workers` list: "
        "`{ name = …, phone = …, channels = { … } }`.",
    ),
    ("[rules]", RulesModel, ""),
    ('[[channel]] type = "dingtalk"', DingTalkConfig, ""),
    ('[[channel]] type = "wecom"', WeComConfig, ""),
    ('[[channel]] type = "feishu"', FeishuConfig, ""),
    ('[[channel]] type = "webhook"', WebhookConfig, ""),
    ('[[channel]] type = "email"', EmailConfig, ""),
    ('[[channel]] type = "sms"', SmsConfig, ""),
    ("[complaints]", ComplaintsModel, ""),
    (
        "[complaints.deadlines.<source>], [complaints.default_deadline]",
        DeadlineModel,
        "",
    ),
    ("[[report]]", ReportModel, ""),
)

HEADER: Final = """# Configuration

<!-- Generated by `linli config docs` from linli/settings.py and linli/community.py: edit
those, then run `.venv/bin/linli config docs > docs/configuration.md`. tests/test_docs.py
fails when this page differs from what they say. -->

linli reads its settings from environment variables and each community's inventory,
rules and channels from a TOML file given as `--config FILE` (given again, or naming a
directory of `*.toml` files, for a street's communities). How they are used when running
linli: [operating.md](operating.md).
"""

ENV_INTRO: Final = """## Environment variables

CONTRACT §1's variables ([contract.md](contract.md)) come first, then `LINLI_PUBLIC_URL`
(CONTRACT §6), then linli's own tunables. Sizes are in bytes, durations in seconds unless
the name says otherwise.
"""

FILE_INTRO: Final = """## The community file

`--config FILE` names a TOML file (`community/tianxin.toml` is the demo's): the community,
its grids, sites and sensors, its rules, its channels and how complaints are handled.
It is applied at every start: entries in it are created or updated, entries created
through the API and absent from the file stay. Loading it checks every table (an unknown
key, a missing field, a reference to an id the file does not have: one line each naming
the table, the entry and the field).

A street's communities (CONTRACT §9) are one file each: `--config a.toml --config
b.toml`, or `--config DIR` for every `*.toml` in `DIR` by name. Each file names its
community's `id`; grid, site, sensor and channel ids are unique across the files, and
one `[street]` table stands in one of them. What breaks this stops linli at start with
one message, a line for each problem naming the file, the table, the entry and the key
(the other file too, for an id given twice). The rule engine judges each community's
sites by its own `[rules]` (its night, standards, escalation schedule), and the API and
the board show each site's limits and countdowns by them; the first file's `[rules]`
also give ingest's `limit_db`, the dashboards' day and night and the reminders' period,
and its `[complaints]` apply to every community (a warning says so when another file's
differ).

Any string of a `[[channel]]` table may be `"env:NAME"`: it is read from the environment
variable `NAME` at start (secrets, and robots' URLs, which carry their tokens). A channel
whose variable is not set is reported broken on `/health` and by `linli notify test`; it
stops nothing else.
"""


def generate() -> str:
    """The whole page, as committed in docs/configuration.md."""
    lines = [HEADER, ENV_INTRO, "| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{name} has no description")
        meaning = _cell(info.description) + _bounds(info)
        lines.append(f"| `LINLI_{name.upper()}` | {_default(info)} | {meaning} |")
    lines += ["", FILE_INTRO]
    _check_every_table_listed()
    for heading, model, note in TABLES:
        lines += [f"### {heading}", ""]
        if note:
            lines += [note, ""]
        lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        for key, info in _fields(model):
            meaning = _cell(_meaning(model, key)) + _bounds(info)
            lines.append(f"| `{key}` | {_type(info.annotation)} | {_default(info)} | {meaning} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _cell(text: str) -> str:
    """Text for a table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")


def _fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """A model's keys as the file spells them (an alias wins: `from`)."""
    for name, info in model.model_fields.items():
        yield info.alias or name, info


def _meaning(model: type[BaseModel], key: str) -> str:
    for cls in model.__mro__:
        meaning = KEY_MEANINGS.get(f"{cls.__name__}.{key}")
        if meaning is not None:
            return meaning
    raise ValueError(f"community file key {model.__name__}.{key} has no meaning in KEY_MEANINGS")


def _check_every_table_listed() -> None:
    """Every model reachable from `Community` is a table of the page, and has its meaning."""
    listed = {model for _, model, _ in TABLES}
    for key, info in _fields(Community):
        _meaning(Community, key)
        for model in _models_in(info.annotation):
            if model not in listed:
                raise ValueError(f"community file table {key!r} ({model.__name__}) not listed")
    for model in list(listed):
        for _, info in _fields(model):
            for inner in _models_in(info.annotation):
                if inner not in listed:
                    raise ValueError(f"{model.__name__}: {inner.__name__} not listed")


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _type(annotation: Any) -> str:
    """A key's type in the file's words."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [_type(a) for a in args if a is not type(None)]
        return " or ".join(kinds)
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"table of {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f'`"{e.value}"`' for e in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}.get(
        annotation, str(annotation)
    )


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    return _value(value)


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return ", ".join(f"{k} = {_value(v)}" for k, v in value.model_dump().items())
    if isinstance(value, dict):
        if not value:
            return "`{}`"
        return "; ".join(f"`{k}`: {_value(v)}" for k, v in value.items())
    if isinstance(value, enum.Enum):
        return f'`"{value.value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        size = f"{value >> 30} GiB" if value % (1 << 30) == 0 else f"{value >> 20} MiB"
        return f"`{value}` ({size})"
    if isinstance(value, str | Path):
        return f'`"{value}"`' if isinstance(value, str) and value == "" else f"`{value}`"
    return f"`{value}`"


def _bounds(info: FieldInfo) -> str:
    """The bounds pydantic checks, said once after the meaning."""
    said = []
    for bound in info.metadata:
        if isinstance(bound, Ge):
            said.append(f"at least {bound.ge}")
        elif isinstance(bound, Gt):
            said.append(f"above {bound.gt}")
        elif isinstance(bound, Le):
            said.append(f"at most {bound.le}")
        elif isinstance(bound, MinLen) and bound.min_length > 1:
            said.append(f"{bound.min_length} characters or more")
        elif isinstance(bound, MaxLen):
            said.append(f"at most {bound.max_length} entries")
    return f" ({', '.join(said)})" if said else ""


def main() -> int:
    """Print the page (`python -m linli.configdocs`, `linli config docs`)."""
    print(generate(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
