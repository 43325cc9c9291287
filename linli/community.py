"""The community files (`--config FILE`): grids, sites and sensors in TOML, applied at start.

A street runs one linli for its communities (CONTRACT §9): `--config` may be given
several times, or name a directory of `*.toml` files, one community each, read into one
`Street` (`load_street`). Each file is a boundary, so it is read with pydantic; errors
name the file, the table and the field, and what is wrong between files (an id in two
communities, two `[street]` tables) is said naming both files. `apply_street` upserts
the files' communities and entries into the store: the files win for what they list,
and entries created through the API that they do not list are kept.
"""

from __future__ import annotations

import logging
import tomllib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from linli.rules.complaint import ComplaintRules, Deadline, Source
from linli.rules.constants import SENSOR_ID_PATTERN
from linli.rules.hj212_profile import (
    DEFAULT_PROFILE,
    MN_PATTERN,
    CrcMode,
    Hj212Link,
    Hj212Profile,
    Stamp,
    Stream,
    check_link,
)
from linli.rules.limits import FUME_METRICS, FumeStandard, NoiseStandard
from linli.rules.localtime import (
    MAX_BUSINESS_WINDOWS,
    MINUTES_PER_DAY,
    Calendar,
    Window,
    parse_hhmm,
)
from linli.rules.policy import Escalation, RulePolicy
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.store import CommunityRecord, Database, GridRecord, SiteRecord
from linli.store.registry_repo import COMMUNITY_ID_PATTERN, ENTRY_ID_PATTERN

log = logging.getLogger(__name__)

# What the simulator makes a site's sensors sound and smell like (firmware-sim/).
Profile = Literal["residential", "restaurant", "ktv", "bbq", "convenience", "traffic"]


class CommunityError(ValueError):
    """The community file cannot be read or breaks a rule; the message says where."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- channels (CONTRACT §6) -------------------------------------------------------------

ENV_PREFIX = "env:"  # a value "env:NAME" is read from the environment variable NAME at start
CHANNEL_TYPES = ("dingtalk", "wecom", "feishu", "webhook", "email", "sms")
URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "dingtalk": ("https", "http"),
    "wecom": ("https", "http"),
    "feishu": ("https", "http"),
    "webhook": ("https", "http"),
    "sms": ("https", "http"),
    "email": ("smtp", "smtps"),
}


def check_url(kind: str, value: str) -> str:
    """`value` if it is a URL a `kind` channel can use; ValueError saying what is wrong."""
    if value.startswith(ENV_PREFIX):
        return value  # checked once read (linli/channels.py)
    parts = urlsplit(value)
    schemes = URL_SCHEMES[kind]
    if parts.scheme not in schemes:
        raise ValueError(f"{value!r} is not a {' or '.join(s + '://' for s in schemes)} URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{value!r} has a port that is not a number") from None
    if not parts.hostname:
        raise ValueError(f"{value!r} names no host")
    return value


class _ChannelConfig(_Model):
    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$")
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    KIND: ClassVar[str]

    @field_validator("url", check_fields=False)
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(cls.KIND, value)


class DingTalkConfig(_ChannelConfig):
    """A DingTalk group robot (自定义机器人); `secret` for the 加签 security setting."""

    KIND: ClassVar[str] = "dingtalk"
    type: Literal["dingtalk"]
    url: str
    secret: str | None = None


class WeComConfig(_ChannelConfig):
    """A WeCom group robot; its `key=` is in the URL."""

    KIND: ClassVar[str] = "wecom"
    type: Literal["wecom"]
    url: str


class FeishuConfig(_ChannelConfig):
    """A Feishu custom bot; `secret` for the signature setting."""

    KIND: ClassVar[str] = "feishu"
    type: Literal["feishu"]
    url: str
    secret: str | None = None


class WebhookConfig(_ChannelConfig):
    """A signed JSON webhook (CONTRACT §6)."""

    KIND: ClassVar[str] = "webhook"
    type: Literal["webhook"]
    url: str
    secret: str


class EmailConfig(_ChannelConfig):
    """SMTP: `smtps://user:pass@host:465` or `smtp://host:port`."""

    KIND: ClassVar[str] = "email"
    type: Literal["email"]
    url: str
    sender: str = Field(alias="from", min_length=1)


class SmsConfig(_ChannelConfig):
    """Aliyun SendSms."""

    KIND: ClassVar[str] = "sms"
    type: Literal["sms"]
    url: str = "https://dysmsapi.aliyuncs.com"
    access_key_id: str
    access_key_secret: str
    sign_name: str = Field(min_length=1)
    template: str = Field(min_length=1)
    # the account's 验证码 template for a resident's one-time code (CONTRACT §11), with
    # `${code}`; none: the notification template carries it
    code_template: str | None = Field(default=None, min_length=1)


ChannelConfig = Annotated[
    DingTalkConfig | WeComConfig | FeishuConfig | WebhookConfig | EmailConfig | SmsConfig,
    Field(discriminator="type"),
]


class ContactModel(_Model):
    """A grid worker or a merchant's contact."""

    name: str = Field(min_length=1)
    phone: str | None = None
    channels: dict[str, str] = Field(default_factory=dict)


class MerchantModel(_Model):
    """The business running a shop."""

    name: str = Field(min_length=1)
    contacts: list[ContactModel] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)  # [[channel]] ids: the shop's group


class CommunityInfo(_Model):
    """The `[community]` table."""

    # CONTRACT §9: required when several files are loaded; a file alone may leave it out,
    # and its community's id is then "community" (DEFAULT_COMMUNITY_ID)
    id: str | None = Field(default=None, pattern=f"^{COMMUNITY_ID_PATTERN}$")
    name: str = Field(min_length=1)
    name_en: str = ""
    notify: list[str] = Field(default_factory=list)  # the community office's channels
    contacts: list[ContactModel] = Field(default_factory=list)
    # The community's zone is LINLI_TZ (CONTRACT §1); a file may state it, and must then
    # agree (linli/service.py checks), so that the file cannot silently mean another zone.
    tz: str | None = None

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


class GridModel(_Model):
    """A `[[grid]]` entry."""

    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$")
    name: str = Field(min_length=1)
    name_en: str = ""
    workers: list[ContactModel] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)  # the grid's group chat


class StreetModel(_Model):
    """The `[street]` table: the street's enforcement team (街道综合执法), the last level."""

    name: str = Field(min_length=1)
    contacts: list[ContactModel] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)


class SiteModel(_Model):
    """A `[[site]]` entry."""

    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$")
    name: str = Field(min_length=1)
    name_en: str = ""
    kind: SiteKind
    category: str = ""
    profile: Profile | None = None
    zone: Zone
    grid: str
    address: str = ""
    merchant: MerchantModel | None = None
    cooking_heads: float | None = Field(default=None, ge=0)
    # sites whose sensors may bear out a complaint here (the KTV beside a building)
    near: list[str] = Field(default_factory=list)


class Hj212ProfileModel(_Model):
    """A `[[hj212_profile]]` entry: one HJ 212 monitor model (CONTRACT §8)."""

    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$")
    crc: CrcMode = CrcMode.HJ212
    stamp: Stamp = Stamp.START
    rtd_period_s: int = Field(default=60, gt=0)
    min_period_s: int = Field(default=600, gt=0)
    codes: dict[str, str] = Field(default_factory=dict)
    states: dict[str, str] = Field(default_factory=dict)
    readings: Stream = Stream.MINUTE

    @model_validator(mode="after")
    def _a_profile(self) -> Hj212ProfileModel:
        self.profile()  # its codes name metrics, its states fan_on/purifier_on
        return self

    def profile(self) -> Hj212Profile:
        """The profile as the core takes it; ValueError saying what is wrong."""
        return Hj212Profile(
            self.id,
            self.crc,
            self.stamp,
            self.rtd_period_s,
            self.min_period_s,
            dict(self.codes),
            dict(self.states),
            self.readings,
        )


class Hj212Model(_Model):
    """A sensor's `hj212 = { mn, pw, profile }`: it is an HJ 212 monitor (CONTRACT §8)."""

    mn: str = Field(pattern=f"^{MN_PATTERN}$")
    pw: str
    profile: str = DEFAULT_PROFILE.id

    @model_validator(mode="after")
    def _a_link(self) -> Hj212Model:
        why = check_link(self.mn, self.pw)
        if why is not None:
            raise ValueError(why)
        return self

    def link(self) -> Hj212Link:
        """The block as the registry keeps it."""
        return Hj212Link(self.mn, self.pw, self.profile)


class SensorModel(_Model):
    """A `[[sensor]]` entry."""

    id: str = Field(pattern=f"^{SENSOR_ID_PATTERN}$")
    kind: SensorKind
    site: str
    hj212: Hj212Model | None = None


def _span(text: str) -> Window:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a span HH:MM-HH:MM")
    return Window(parse_hhmm(start.strip()), parse_hhmm(end.strip()))


class RulesModel(_Model):
    """The `[rules]` table: what this community changes about the rule engine's defaults."""

    night: str = "22:00-06:00"
    business_hours: list[str] = Field(default_factory=list, max_length=MAX_BUSINESS_WINDOWS)
    noise_standard_residential: NoiseStandard = NoiseStandard.GB3096
    noise_standard_shop: NoiseStandard = NoiseStandard.GB22337
    fume_standard: FumeStandard = FumeStandard.GB18483
    site_noise_standard: dict[str, NoiseStandard] = Field(default_factory=dict)
    site_fume_standard: dict[str, FumeStandard] = Field(default_factory=dict)
    fume_limit_mg: dict[str, float] = Field(default_factory=dict)
    leq_window_s: int = Field(default=600, ge=0)
    leq_sustain_s: int = Field(default=0, ge=0)
    leq_hysteresis_db: float = Field(default=2.0, ge=0)
    min_coverage: float = Field(default=0.75, ge=0, le=1)
    fume_window_s: int = Field(default=600, ge=0)
    fume_business_hours_only: bool = False
    purifier_off_s: int = Field(default=600, ge=0)
    purifier_current_min_a: float = Field(default=0.5, ge=0)
    offline_periods: int = Field(default=5, ge=1)
    stuck_repeats: int = Field(default=5, ge=0)
    verification_s: int = Field(default=24 * 3600, ge=0)
    escalate_unacknowledged_s: int = Field(default=30 * 60, ge=0)
    escalate_unresolved_s: list[int] = Field(default_factory=lambda: [24 * 3600, 72 * 3600])
    remind_unacknowledged_s: int = Field(default=30 * 60, ge=0)  # 0: no reminders

    @field_validator("night")
    @classmethod
    def _night_span(cls, value: str) -> str:
        night = _span(value)
        if night.start_min % MINUTES_PER_DAY == night.end_min % MINUTES_PER_DAY:
            raise ValueError(
                f"night {value!r} leaves no day (or no night): GB 3096 judges both, e.g. "
                '"22:00-06:00"'
            )
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for span in value:
            _span(span)
        return value

    @field_validator("fume_limit_mg")
    @classmethod
    def _fume_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(FUME_METRICS))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of {', '.join(FUME_METRICS)}")
        return value

    def policy(self, tz: str) -> RulePolicy:
        """The rule policy this table describes, in time zone `tz` (LINLI_TZ)."""
        night = _span(self.night)
        calendar = Calendar(
            tz, night.start_min, night.end_min, tuple(_span(b) for b in self.business_hours)
        )
        return RulePolicy(
            calendar=calendar,
            noise_standard_residential=self.noise_standard_residential,
            noise_standard_shop=self.noise_standard_shop,
            fume_standard=self.fume_standard,
            site_noise_standard=dict(self.site_noise_standard),
            site_fume_standard=dict(self.site_fume_standard),
            fume_limit_mg=dict(self.fume_limit_mg),
            leq_window_s=self.leq_window_s,
            leq_sustain_s=self.leq_sustain_s,
            leq_hysteresis_db=self.leq_hysteresis_db,
            min_coverage=self.min_coverage,
            fume_window_s=self.fume_window_s,
            fume_business_hours_only=self.fume_business_hours_only,
            purifier_off_s=self.purifier_off_s,
            purifier_current_min_a=self.purifier_current_min_a,
            offline_periods=self.offline_periods,
            stuck_repeats=self.stuck_repeats,
            verification_s=self.verification_s,
            escalation=Escalation(
                self.escalate_unacknowledged_s,
                tuple(self.escalate_unresolved_s),
                self.remind_unacknowledged_s,
            ),
        )


class DeadlineModel(_Model):
    """A complaint source's time limits: sign for within hours, handle within
    working days (China's public holidays off: rules/workdays.py)."""

    sign_for_h: float = Field(default=2.0, gt=0)
    handle_working_days: int = Field(default=5, ge=1)


class ComplaintsModel(_Model):
    """The `[complaints]` table: residents' complaints (CONTRACT §7)."""

    window_min: int = Field(default=30, ge=1, le=7 * 24 * 60)  # "now": the last 30 min
    min_coverage: float = Field(default=0.75, gt=0, le=1)
    rejudge_h: float = Field(default=24, ge=0)  # data_gap complaints judged again this long
    deadlines: dict[str, DeadlineModel] = Field(
        default_factory=lambda: {"12345": DeadlineModel(sign_for_h=2, handle_working_days=5)}
    )
    default_deadline: DeadlineModel = Field(default_factory=DeadlineModel)

    @field_validator("deadlines")
    @classmethod
    def _sources(cls, value: dict[str, DeadlineModel]) -> dict[str, DeadlineModel]:
        known = {s.value for s in Source}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a complaint source: {', '.join(sorted(known))}"
            )
        return value


class ReportModel(_Model):
    """A `[[report]]` table: the community's statistics sent on a schedule (CONTRACT §10):
    the last month's figures and a link to the board's statistics page, on the 1st at
    09:00 local, exactly once (the outbox: linli/monthly.py)."""

    id: str = Field(default="monthly", pattern=f"^{ENTRY_ID_PATTERN}$")
    every: Literal["monthly"]
    to: list[str] = Field(min_length=1)  # [[channel]] ids


class Community(_Model):
    """A whole community file."""

    community: CommunityInfo
    street: StreetModel | None = None
    rules: RulesModel = Field(default_factory=RulesModel)
    channel: list[ChannelConfig] = Field(default_factory=list)
    grid: list[GridModel] = Field(default_factory=list)
    site: list[SiteModel] = Field(default_factory=list)
    sensor: list[SensorModel] = Field(default_factory=list)
    hj212_profile: list[Hj212ProfileModel] = Field(default_factory=list)
    complaints: ComplaintsModel = Field(default_factory=ComplaintsModel)
    report: list[ReportModel] = Field(default_factory=list)

    def complaint_rules(self) -> ComplaintRules:
        """The complaints' settings as the core takes them."""
        c = self.complaints
        return ComplaintRules(
            window_s=c.window_min * 60,
            min_coverage=c.min_coverage,
            rejudge_s=int(c.rejudge_h * 3600),
            deadlines={
                k: Deadline(v.sign_for_h, v.handle_working_days) for k, v in c.deadlines.items()
            },
            default_deadline=Deadline(
                c.default_deadline.sign_for_h, c.default_deadline.handle_working_days
            ),
            near={s.id: tuple(s.near) for s in self.site if s.near},
        )

    @property
    def id(self) -> str:
        """The community's id ("" only for a file read alone, before `load_street`)."""
        return self.community.id or ""

    def record(self) -> CommunityRecord:
        """The community as the store keeps it."""
        return CommunityRecord(self.id, self.community.name, self.community.name_en)

    def grid_records(self) -> list[GridRecord]:
        """The grids as the store keeps them, each of this community."""
        return [
            GridRecord(g.id, g.name, contacts_of(g.workers), name_en=g.name_en, community=self.id)
            for g in self.grid
        ]

    def site_records(self) -> list[SiteRecord]:
        """The sites as the store keeps them."""
        return [
            SiteRecord(
                id=s.id,
                name=s.name,
                kind=s.kind,
                zone=s.zone,
                grid=s.grid,
                address=s.address,
                category=s.category,
                merchant=None
                if s.merchant is None
                else Merchant(s.merchant.name, contacts_of(s.merchant.contacts)),
                cooking_heads=s.cooking_heads,
                name_en=s.name_en,
            )
            for s in self.site
        ]

    def sensor_records(self) -> list[Sensor]:
        """The sensors as the store keeps them."""
        return [
            Sensor(s.id, s.kind, s.site, None if s.hj212 is None else s.hj212.link())
            for s in self.sensor
        ]

    def hj212_profiles(self) -> list[Hj212Profile]:
        """The HJ 212 device profiles (the built-in `gb-noise` needs no entry)."""
        return [p.profile() for p in self.hj212_profile]


def load_community(path: Path | str) -> Community:
    """Read and check a community file; raises CommunityError naming file, table and field."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CommunityError(f"{path}: cannot read: {err.strerror or err}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CommunityError(f"{path}: not valid TOML: {err}") from err
    try:
        community = Community.model_validate(doc)
    except ValidationError as err:
        lines = [_line(doc, e) for e in err.errors()]
        raise CommunityError(f"{path}: " + f"\n{path}: ".join(lines)) from None
    problems = _cross_check(community)
    if problems:
        raise CommunityError(f"{path}: " + f"\n{path}: ".join(problems))
    return community


def apply_community(db: Database, community: Community) -> None:
    """Upsert the file's community, grids, sites and sensors; the registry version rises
    only on change."""
    if not community.id:
        community = _with_id(community, DEFAULT_COMMUNITY_ID)
    apply_street(db, Street([community], community.street, [Path("-")]))


# -- a street: several community files (CONTRACT §9) -----------------------------------

DEFAULT_COMMUNITY_ID: Final = "community"  # the id of a file alone without one


@dataclass(frozen=True)
class Street:
    """The communities of one deployment, each from its file, and the one `[street]`."""

    communities: list[Community]
    street: StreetModel | None
    files: list[Path] = dc_field(default_factory=list)  # communities[i] came from files[i]

    def community(self, community_id: str) -> Community:
        """One community by id; KeyError if there is none."""
        for c in self.communities:
            if c.id == community_id:
                return c
        raise KeyError(community_id)

    def merged(self) -> Community:
        """Every community's channels, grids, sites and sensors in one `Community`, with
        the first file's `[community]`, `[rules]` and `[complaints]` and the `[street]`:
        what the parts that do not look per community take (the complaint settings; the
        rule engine takes each community's `[rules]`, linli/wiring.load_policy)."""
        first = self.communities[0]
        return Community.model_construct(
            community=first.community,
            street=self.street,
            rules=first.rules,
            channel=[c for m in self.communities for c in m.channel],
            grid=[g for m in self.communities for g in m.grid],
            site=[x for m in self.communities for x in m.site],
            sensor=[x for m in self.communities for x in m.sensor],
            hj212_profile=[p for m in self.communities for p in m.hj212_profile],
            complaints=first.complaints,
            report=[r for m in self.communities for r in m.report],
        )


def config_files(paths: Sequence[Path | str]) -> list[Path]:
    """The community files `--config` names: each file itself, each directory's `*.toml`
    by name; CommunityError for a directory without one."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not found:
                raise CommunityError(f"{path}: a directory without community files (*.toml)")
            files += found
        else:
            files.append(path)
    return files


def load_street(paths: Path | str | Sequence[Path | str]) -> Street:
    """Read and check every community file, then what must hold between them; raises one
    CommunityError whose lines name each file and key at fault."""
    files = config_files([paths] if isinstance(paths, Path | str) else paths)
    if not files:
        raise CommunityError("no community file given")
    communities: list[Community] = []
    problems: list[str] = []
    for path in files:
        try:
            communities.append(load_community(path))
        except CommunityError as err:
            problems.append(str(err))
    if problems:
        raise CommunityError("\n".join(problems))
    if len(communities) == 1 and not communities[0].id:
        communities[0] = _with_id(communities[0], DEFAULT_COMMUNITY_ID)
    problems = _across(files, communities)
    if problems:
        raise CommunityError("\n".join(problems))
    streets = [c.street for c in communities if c.street is not None]
    street = Street(communities, streets[0] if streets else None, files)
    for path, c in zip(files[1:], communities[1:], strict=True):
        if c.complaints != communities[0].complaints:
            log.warning(
                "%s: its [complaints] differ from %s's; the first file's apply to every community",
                path,
                files[0],
            )
    return street


def load_config(config: Path | str | Sequence[Path | str] | None) -> Community | None:
    """`--config` as one `Community` (`Street.merged`), or None when none is given."""
    if config is None or (not isinstance(config, Path | str) and not config):
        return None
    return load_street(config).merged()


def apply_street(db: Database, street: Street) -> None:
    """Upsert the street's communities, then their grids, sites and sensors; the registry
    version rises only on change. A deployment of one community gives it the grids kept
    from before communities."""
    db.apply_communities(c.record() for c in street.communities)
    changed = db.apply_registry(
        [g for c in street.communities for g in c.grid_records()],
        [s for c in street.communities for s in c.site_records()],
        [s for c in street.communities for s in c.sensor_records()],
        [p for c in street.communities for p in c.hj212_profiles()],
    )
    db.prune_communities(c.id for c in street.communities)
    for community in street.communities:
        log.info(
            "community %s (%s): %d grids, %d sites, %d sensors applied (%s)",
            community.id,
            community.community.name,
            len(community.grid),
            len(community.site),
            len(community.sensor),
            "changed" if changed else "unchanged",
        )


def _with_id(community: Community, community_id: str) -> Community:
    info = community.community.model_copy(update={"id": community_id})
    return community.model_copy(update={"community": info})


def _across(files: Sequence[Path], communities: Sequence[Community]) -> list[str]:
    """What must hold between the files: ids, one `[street]`, ids unique across them."""
    problems: list[str] = []
    several = len(communities) > 1
    owner: dict[str, Path] = {}
    street_file: Path | None = None
    for path, c in zip(files, communities, strict=True):
        if several and not c.community.id:
            problems.append(
                f"{path}: [community] field 'id': required when several community files are "
                f"loaded (lowercase letters, digits, '-': {COMMUNITY_ID_PATTERN})"
            )
        elif c.community.id in owner:
            problems.append(
                f"{path}: [community] field 'id': {c.community.id!r} is also the id of "
                f"{owner[c.community.id]}"
            )
        elif c.community.id:
            owner[c.community.id] = path
        if c.street is not None:
            if street_file is not None:
                problems.append(
                    f"{path}: [street]: a second [street] table, the first is in {street_file} "
                    "(one street per deployment: keep it in one file)"
                )
            else:
                street_file = path
    for table in ("grid", "site", "sensor", "channel"):
        first: dict[str, Path] = {}
        for path, c in zip(files, communities, strict=True):
            entries: Sequence[Any] = getattr(c, table)
            for n, entry in enumerate(entries, 1):
                if entry.id in first and first[entry.id] != path:
                    problems.append(
                        f"{path}: [[{table}]] #{n} field 'id': {entry.id!r} is also a "
                        f"[[{table}]] id in {first[entry.id]} (ids are unique across the street)"
                    )
                first.setdefault(entry.id, path)
    return problems


def contacts_of(models: Sequence[ContactModel]) -> tuple[Contact, ...]:
    """People of the file as the core's contacts."""
    return tuple(Contact(m.name, m.phone, dict(m.channels)) for m in models)


def _line(doc: dict[str, Any], error: Any) -> str:
    """One pydantic error as `<where>: <what>`; a channel's type is named as a field."""
    loc, msg = tuple(error["loc"]), error["msg"]
    if error["type"] == "union_tag_invalid":  # [[channel]] type = "pager"
        loc += ("type",)
        msg = f"{error['ctx']['tag']!r} is not one of {', '.join(CHANNEL_TYPES)}"
    elif error["type"] == "union_tag_not_found":
        loc += ("type",)
        msg = f"Field required (one of {', '.join(CHANNEL_TYPES)})"
    elif loc[:1] == ("channel",) and len(loc) > 2 and loc[2] in CHANNEL_TYPES:
        loc = loc[:2] + loc[3:]  # pydantic names the union member: the file does not
    return _where(doc, loc) + f": {msg}"


def _where(doc: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """`[[site]] #3 'hj-1' field 'zone'` from a pydantic error location."""
    if not loc:
        return "file"
    table, rest = str(loc[0]), list(loc[1:])
    entries = doc.get(table)
    index = rest[0] if rest else None
    if isinstance(entries, list) and isinstance(index, int):
        rest.pop(0)
        entry = entries[index] if index < len(entries) else None
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        place = f"[[{table}]] #{index + 1}" + (f" {entry_id!r}" if entry_id else "")
    else:
        place = f"[{table}]"
    if rest:
        return f"{place} field {'.'.join(str(p) for p in rest)!r}"
    return place


def _cross_check(community: Community) -> list[str]:
    """Ids are unique per table and every reference points at an entry of the file."""
    problems: list[str] = []
    for table, ids in (
        ("grid", [g.id for g in community.grid]),
        ("site", [s.id for s in community.site]),
        ("sensor", [s.id for s in community.sensor]),
        ("channel", [c.id for c in community.channel]),
        ("hj212_profile", [p.id for p in community.hj212_profile]),
    ):
        seen: set[str] = set()
        for n, entry_id in enumerate(ids, 1):
            if entry_id in seen:
                problems.append(f"[[{table}]] #{n} field 'id': {entry_id!r} appears twice")
            seen.add(entry_id)
    grid_ids = {g.id for g in community.grid}
    site_ids = {s.id for s in community.site}
    for n, site in enumerate(community.site, 1):
        if site.grid not in grid_ids:
            problems.append(
                f"[[site]] #{n} {site.id!r} field 'grid': {site.grid!r} is not a [[grid]] id"
            )
        for near in site.near:
            if near not in site_ids or near == site.id:
                problems.append(
                    f"[[site]] #{n} {site.id!r} field 'near': {near!r} is not another [[site]] id"
                )
    for n, sensor in enumerate(community.sensor, 1):
        if sensor.site not in site_ids:
            problems.append(
                f"[[sensor]] #{n} {sensor.id!r} field 'site': {sensor.site!r} is not a [[site]] id"
            )
    problems += _channel_references(community)
    problems += _hj212_references(community)
    return problems


def _hj212_references(community: Community) -> list[str]:
    """A monitor's profile is a `[[hj212_profile]]` (or the built-in one); an MN is one
    sensor's (CONTRACT §8); the built-in profile's id is not taken."""
    problems: list[str] = []
    profiles = {p.id for p in community.hj212_profile}
    for n, profile in enumerate(community.hj212_profile, 1):
        if profile.id == DEFAULT_PROFILE.id:
            problems.append(
                f"[[hj212_profile]] #{n} field 'id': {profile.id!r} is built in (GB noise "
                "codes, the standard's CRC): give yours another id"
            )
    holders: dict[str, str] = {}
    for n, sensor in enumerate(community.sensor, 1):
        link = sensor.hj212
        if link is None:
            continue
        place = f"[[sensor]] #{n} {sensor.id!r} field 'hj212'"
        if link.profile not in profiles and link.profile != DEFAULT_PROFILE.id:
            problems.append(
                f"{place}: profile {link.profile!r} is not a [[hj212_profile]] id "
                f"(nor the built-in {DEFAULT_PROFILE.id!r})"
            )
        if link.mn in holders:
            problems.append(f"{place}: mn {link.mn!r} is sensor {holders[link.mn]!r}'s already")
        holders.setdefault(link.mn, sensor.id)
    return problems


def _channel_references(community: Community) -> list[str]:
    """Every channel a person's `channels` or a `notify` list names is a [[channel]] id."""
    known = {c.id for c in community.channel}
    problems: list[str] = []

    def check(place: str, notify: Sequence[str], people: Sequence[ContactModel], role: str) -> None:
        for channel in notify:
            if channel not in known:
                problems.append(f"{place} field 'notify': {channel!r} is not a [[channel]] id")
        for person in people:
            for channel in person.channels:
                if channel not in known:
                    problems.append(
                        f"{place} {role} {person.name!r} field 'channels': {channel!r} is not "
                        "a [[channel]] id"
                    )

    info = community.community
    check("[community]", info.notify, info.contacts, "contact")
    if community.street is not None:
        check("[street]", community.street.notify, community.street.contacts, "contact")
    for n, grid in enumerate(community.grid, 1):
        check(f"[[grid]] #{n} {grid.id!r}", grid.notify, grid.workers, "worker")
    for n, site in enumerate(community.site, 1):
        if site.merchant is not None:
            merchant = site.merchant
            check(
                f"[[site]] #{n} {site.id!r} merchant", merchant.notify, merchant.contacts, "contact"
            )
    reports: set[str] = set()
    for n, report in enumerate(community.report, 1):
        for channel in report.to:
            if channel not in known:
                problems.append(
                    f"[[report]] #{n} {report.id!r} field 'to': {channel!r} is not a [[channel]] id"
                )
        if report.id in reports:
            problems.append(
                f"[[report]] #{n} field 'id': {report.id!r} is another [[report]]'s already "
                "(give each report of the file its own id)"
            )
        reports.add(report.id)
    return problems
