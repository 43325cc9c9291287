"""HTTP request and response bodies (the API boundary); values inside are the core's types."""

from __future__ import annotations

import base64
import codecs
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from linli.api.telemetry import SensorStatus
from linli.rules.constants import SENSOR_ID_PATTERN
from linli.rules.delivery import Delivery
from linli.rules.hj212_profile import DEFAULT_PROFILE, MN_PATTERN, PW_PATTERN, Hj212Link
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.rules.rejection import ReasonCode
from linli.store import (
    Grant,
    GridRecord,
    RejectedMessage,
    RejectionCount,
    RejectionRecord,
    Role,
    SiteRecord,
)
from linli.store.registry_repo import COMMUNITY_ID_PATTERN, ENTRY_ID_PATTERN
from linli.store.tables import ID_LEN

# Bounds of what a body may hold (no 10 MB comment, no 10 MB site name).
NAME_CHARS: Final = 200
TEXT_CHARS: Final = 2000
PHONE_CHARS: Final = 32
MAX_CONTACTS: Final = 50
MAX_CHANNELS: Final = 16
MAX_GRIDS: Final = 500
MAX_COOKING_HEADS: Final = 1000.0

Name = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
OptionalText = Annotated[str, Field(max_length=NAME_CHARS)]
LongText = Annotated[str, Field(max_length=TEXT_CHARS)]
RefId = Annotated[str, Field(min_length=1, max_length=ID_LEN)]
CommunityId = Annotated[str, Field(pattern=f"^{COMMUNITY_ID_PATTERN}$", max_length=32)]
MAX_COMMUNITIES: Final = 100
ChannelName = Annotated[str, Field(min_length=1, max_length=32)]
ChannelAddress = Annotated[str, Field(max_length=NAME_CHARS)]
# GB 18483's size classes count cooking heads: a finite number (Infinity was stored as inf)
CookingHeads = Annotated[float, Field(ge=0, le=MAX_COOKING_HEADS, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null_but_nullable(schema: dict[str, Any], cls: type) -> None:
    """The OpenAPI document of a patch: a field that may be left out but not sent as null
    is documented without `null` (else a schema-valid `"site": null` would be refused)."""
    nullable: frozenset[str] = getattr(cls, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in prop:
            continue
        options = [o for o in prop["anyOf"] if o != {"type": "null"}]
        del prop["anyOf"]
        if len(options) == 1:
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        if prop.get("default", 0) is None:
            del prop["default"]


class _Patch(_In):
    """A partial update: only the fields sent change; `null` only where a field allows it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_null_but_nullable)
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null(self) -> _Patch:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise ValueError(f"{name} cannot be null")
        return self

    def sent(self) -> dict[str, Any]:
        """The fields the client sent."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class ContactBody(BaseModel):
    """A grid worker or a merchant's contact."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    phone: Annotated[str, Field(max_length=PHONE_CHARS)] | None = None
    channels: dict[ChannelName, ChannelAddress] = Field(
        default_factory=dict, max_length=MAX_CHANNELS
    )

    def value(self) -> Contact:
        """The core's Contact."""
        return Contact(self.name, self.phone, dict(self.channels))

    @classmethod
    def of(cls, contact: Contact) -> ContactBody:
        """The body of a Contact."""
        return cls(name=contact.name, phone=contact.phone, channels=dict(contact.channels))


class MerchantBody(BaseModel):
    """The business running a shop."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    contacts: list[ContactBody] = Field(default_factory=list, max_length=MAX_CONTACTS)

    def value(self) -> Merchant:
        """The core's Merchant."""
        return Merchant(self.name, tuple(c.value() for c in self.contacts))

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantBody:
        """The body of a Merchant."""
        return cls(name=merchant.name, contacts=[ContactBody.of(c) for c in merchant.contacts])


# -- grids ---------------------------------------------------------------------------


class GridOut(BaseModel):
    """A grid (网格) and its grid workers."""

    id: str
    name: str
    name_en: str
    community: str = Field(description="the community the grid belongs to (CONTRACT §9)")
    workers: list[ContactBody]

    @classmethod
    def of(cls, grid: GridRecord) -> GridOut:
        """The body of a stored grid."""
        return cls(
            id=grid.id,
            name=grid.name,
            name_en=grid.name_en,
            community=grid.community,
            workers=[ContactBody.of(w) for w in grid.workers],
        )


class GridCreate(_In):
    """A new grid."""

    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$", max_length=ID_LEN)
    name: Name
    name_en: OptionalText = ""
    community: CommunityId | None = Field(
        default=None,
        description="the community it belongs to (CONTRACT §9); may be left out while the "
        "street has one community",
    )
    workers: list[ContactBody] = Field(default_factory=list, max_length=MAX_CONTACTS)

    def record(self, community: str) -> GridRecord:
        """The grid to store, in `community`."""
        workers = tuple(w.value() for w in self.workers)
        return GridRecord(self.id, self.name, workers, name_en=self.name_en, community=community)


class GridPatch(_Patch):
    """Changes to a grid."""

    name: Name | None = None
    name_en: OptionalText | None = None
    community: CommunityId | None = Field(
        default=None, description="move the grid (and its sites) to another community"
    )
    workers: list[ContactBody] | None = Field(default=None, max_length=MAX_CONTACTS)

    def changes(self) -> dict[str, Any]:
        """The changed fields as the core's values."""
        sent = self.sent()
        if self.workers is not None:
            sent["workers"] = tuple(w.value() for w in self.workers)
        return sent


class CommunityOut(BaseModel):
    """A community of the street (CONTRACT §9) and what of it the token sees, counted."""

    id: str
    name: str
    name_en: str
    sites: int
    sensors: int
    open_cases: int = Field(description="cases not closed")


# -- sites ---------------------------------------------------------------------------


class SiteOut(BaseModel):
    """A shop or residential building."""

    id: str
    name: str
    name_en: str
    kind: SiteKind
    category: str
    zone: Zone
    grid: str
    community: str = Field(description="the community of its grid (CONTRACT §9)")
    address: str
    merchant: MerchantBody | None
    cooking_heads: float | None

    @classmethod
    def of(cls, site: SiteRecord, community: str) -> SiteOut:
        """The body of a stored site, of `community`."""
        return cls(
            id=site.id,
            name=site.name,
            name_en=site.name_en,
            kind=site.kind,
            category=site.category,
            zone=site.zone,
            grid=site.grid,
            community=community,
            address=site.address,
            merchant=None if site.merchant is None else MerchantBody.of(site.merchant),
            cooking_heads=site.cooking_heads,
        )


class SiteCreate(_In):
    """A new site, in an existing grid."""

    id: str = Field(pattern=f"^{ENTRY_ID_PATTERN}$", max_length=ID_LEN)
    name: Name
    name_en: OptionalText = ""
    kind: SiteKind
    category: Annotated[str, Field(max_length=64)] = ""
    zone: Zone
    grid: RefId
    address: LongText = ""
    merchant: MerchantBody | None = None
    cooking_heads: CookingHeads | None = None

    def record(self) -> SiteRecord:
        """The site to store."""
        return SiteRecord(
            id=self.id,
            name=self.name,
            kind=self.kind,
            zone=self.zone,
            grid=self.grid,
            address=self.address,
            category=self.category,
            merchant=None if self.merchant is None else self.merchant.value(),
            cooking_heads=self.cooking_heads,
            name_en=self.name_en,
        )


class SitePatch(_Patch):
    """Changes to a site; `merchant` and `cooking_heads` may be set to null."""

    nullable: ClassVar[frozenset[str]] = frozenset({"merchant", "cooking_heads"})

    name: Name | None = None
    name_en: OptionalText | None = None
    kind: SiteKind | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    zone: Zone | None = None
    grid: RefId | None = None
    address: LongText | None = None
    merchant: MerchantBody | None = None
    cooking_heads: CookingHeads | None = None

    def changes(self) -> dict[str, Any]:
        """The changed fields as the core's values."""
        sent = self.sent()
        if self.merchant is not None:
            sent["merchant"] = self.merchant.value()
        return sent


# -- sensors -------------------------------------------------------------------------


class Hj212In(_In):
    """An HJ 212 monitor's MN, password and profile (CONTRACT §8)."""

    mn: str = Field(pattern=f"^{MN_PATTERN}$", max_length=ID_LEN)
    pw: str = Field(pattern=f"^{PW_PATTERN}$", max_length=ID_LEN)  # no `;,=&`: they end a field
    profile: RefId = DEFAULT_PROFILE.id

    def link(self) -> Hj212Link:
        """The block as the registry keeps it."""
        return Hj212Link(self.mn, self.pw, self.profile)


class Hj212Out(BaseModel):
    """A monitor's MN and profile; its password is never given back."""

    mn: str
    profile: str


class SensorOut(BaseModel):
    """A sensor: its id is its MQTT client id and username; `hj212` for an HJ 212 monitor."""

    id: str
    kind: SensorKind
    site: str
    hj212: Hj212Out | None = None
    community: str = Field(description="the community of its site (CONTRACT §9)")

    @model_serializer(mode="wrap")
    def _hj212_only_for_a_monitor(self, handler: SerializerFunctionWrapHandler) -> Any:
        body = handler(self)
        if isinstance(body, dict) and body.get("hj212") is None:
            body.pop("hj212", None)  # an MQTT sensor's body as it always was
        return body

    @classmethod
    def of(cls, sensor: Sensor, community: str) -> SensorOut:
        """The body of a stored sensor, of `community`."""
        return cls(
            id=sensor.id,
            kind=sensor.kind,
            site=sensor.site,
            hj212=hj212_out(sensor),
            community=community,
        )


def hj212_out(sensor: Sensor) -> Hj212Out | None:
    """What a sensor's body shows of its HJ 212 block: not the password."""
    link = sensor.hj212
    return None if link is None else Hj212Out(mn=link.mn, profile=link.profile)


class SensorDetail(SensorOut):
    """A sensor with what InfluxDB knows of it; status `unknown` when InfluxDB does not answer."""

    status: SensorStatus
    online: bool | None
    last_seen_ms: int | None
    last_reading_ms: int | None


class SensorCreate(_In):
    """A new sensor, at an existing site."""

    id: str = Field(pattern=f"^{SENSOR_ID_PATTERN}$", max_length=ID_LEN)
    kind: SensorKind
    site: RefId
    hj212: Hj212In | None = None

    def record(self) -> Sensor:
        """The sensor to store."""
        return Sensor(
            self.id, self.kind, self.site, None if self.hj212 is None else self.hj212.link()
        )


class SensorPatch(_Patch):
    """Changes to a sensor: its kind, its site, its HJ 212 block (`null`: none)."""

    nullable: ClassVar[frozenset[str]] = frozenset({"hj212"})

    kind: SensorKind | None = None
    site: RefId | None = None
    hj212: Hj212In | None = None

    def changes(self) -> dict[str, Any]:
        """The changed fields as the core's values."""
        sent = self.sent()
        if "hj212" in sent:
            sent["hj212"] = None if self.hj212 is None else self.hj212.link()
        return sent


# -- readings ------------------------------------------------------------------------


class Point(BaseModel):
    """One bucket of a series: its start, its aggregate and how many readings made it."""

    ts_ms: int
    value: float
    count: int


class SensorSeries(BaseModel):
    """One sensor's buckets."""

    sensor: str
    points: list[Point]


class Readings(BaseModel):
    """A site's series of one metric; dB metrics are averaged energetically (CONTRACT §4)."""

    site: str
    metric: str
    unit: str
    aggregate: str
    every_ms: int
    from_ms: int
    to_ms: int
    series: list[SensorSeries]


# -- rejected records ------------------------------------------------------------------


class RejectionOut(BaseModel):
    """A rejected record; its payload is in the page's `messages`, under `message`."""

    id: int
    message: int = Field(description="the id of the message it came in (`messages`)")
    topic: str
    sensor: str | None
    received_ms: int
    reason: ReasonCode
    detail: str
    index: int | None

    @classmethod
    def of(cls, r: RejectionRecord) -> RejectionOut:
        """The body of a stored rejected record."""
        return cls(
            id=r.id,
            message=r.message_id,
            topic=r.topic,
            sensor=r.sensor,
            received_ms=r.received_ms,
            reason=r.reason,
            detail=r.detail,
            index=r.index,
        )


class RejectedMessageOut(BaseModel):
    """A rejected message's kept head (the first 64 KiB): text when UTF-8, else base64."""

    id: int
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    payload_size: int = Field(description="the size as received")
    payload_truncated: bool

    @classmethod
    def of(cls, m: RejectedMessage) -> RejectedMessageOut:
        """The body of a kept message head."""
        encoding: Literal["utf-8", "base64"] = "utf-8"
        try:
            # A kept head may end inside a multi-byte character: decode it as unfinished.
            payload = codecs.getincrementaldecoder("utf-8")().decode(
                m.payload, final=not m.truncated
            )
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(m.payload).decode("ascii"), "base64"
        return cls(
            id=m.id,
            payload=payload,
            payload_encoding=encoding,
            payload_size=m.payload_size,
            payload_truncated=m.truncated,
        )


class RejectionPage(BaseModel):
    """A page of rejected records, newest first, and the messages they came in: a
    message's payload is shown once, however many of its elements were rejected."""

    items: list[RejectionOut]
    messages: list[RejectedMessageOut]
    limit: int
    offset: int


class RejectionCountOut(BaseModel):
    """How many records were rejected for one sensor and reason."""

    sensor: str | None
    reason: ReasonCode
    count: int = Field(description="every record ever rejected, the evicted included")
    evicted: int = Field(description="of them, no longer kept (retention or size cap)")

    @classmethod
    def of(cls, c: RejectionCount) -> RejectionCountOut:
        """The body of a count."""
        return cls(sensor=c.sensor, reason=c.reason, count=c.count, evicted=c.evicted)


# -- tokens and health -----------------------------------------------------------------


class _TokenIn(_In):
    note: OptionalText = ""
    expires_in_s: int | None = Field(
        default=None,
        ge=60,
        le=5 * 366 * 86_400,
        description="refused this many seconds after issue; none: valid until revoked",
    )


class AdminTokenIn(_TokenIn):
    """An admin's token: no grids, site or communities."""

    role: Literal["admin"]

    def scope(self) -> tuple[list[str], str | None]:
        """The grids and the site the token is limited to."""
        return [], None


class StaffTokenIn(_TokenIn):
    """A staff token: with `communities` it sees those communities only (a community
    office); without, every one (the street)."""

    role: Literal["staff"]
    communities: list[CommunityId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_COMMUNITIES,
        description="the communities it sees (CONTRACT §9); none: every one",
    )

    def scope(self) -> tuple[list[str], str | None]:
        """The grids and the site the token is limited to."""
        return [], None


class GridWorkerTokenIn(_TokenIn):
    """A grid worker's token: its grids."""

    role: Literal["grid_worker"]
    grids: list[RefId] = Field(min_length=1, max_length=MAX_GRIDS)

    def scope(self) -> tuple[list[str], str | None]:
        """The grids and the site the token is limited to."""
        return self.grids, None


class MerchantTokenIn(_TokenIn):
    """A merchant's token: its one site."""

    role: Literal["merchant"]
    site: RefId

    def scope(self) -> tuple[list[str], str | None]:
        """The grids and the site the token is limited to."""
        return [], self.site


# A token to issue: grid workers name their grids, merchants their site (by `role`).
TokenCreate = Annotated[
    AdminTokenIn | StaffTokenIn | GridWorkerTokenIn | MerchantTokenIn,
    Field(discriminator="role"),
]


class TokenOut(BaseModel):
    """An issued token; `token` is shown only in this answer."""

    id: int = Field(description="for DELETE /api/v1/tokens/{id}")
    token: str
    role: Role
    grids: list[str]
    site: str | None
    communities: list[str] | None = Field(description="staff: its communities; null: every one")
    note: str
    created_ms: int
    expires_ms: int | None

    @classmethod
    def of(cls, token: str, grant: Grant) -> TokenOut:
        """The body of a newly issued token."""
        assert grant.id is not None
        return cls(
            id=grant.id,
            token=token,
            role=grant.role,
            grids=sorted(grant.grids),
            site=grant.site,
            communities=None if grant.communities is None else sorted(grant.communities),
            note=grant.note,
            created_ms=grant.created_ms,
            expires_ms=grant.expires_ms,
        )


class Part(BaseModel):
    """One dependency's status; the detail only for an admin's or staff's token."""

    ok: bool
    detail: str | None = Field(default=None, description="with an admin or staff token only")


class Health(BaseModel):
    """The status of the broker, InfluxDB and the case store, and what the spool holds."""

    status: Literal["ok", "degraded"]
    broker: Part
    influxdb: Part
    case_store: Part
    spool: SpoolPart
    channels: dict[str, Part] = Field(
        default_factory=dict,
        description="each notification channel: configured or why not, its last success and "
        "last failure (the overall status does not depend on them: ingest and the rules go on)",
    )


class DeliveryOut(BaseModel):
    """One delivery of the outbox: a message owed to one channel's recipients."""

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        """From the store's delivery."""
        return cls(
            key=d.key,
            case_id=d.case_id,
            event=d.event,
            channel=d.channel,
            to=list(d.to),
            levels=[level.value for level in d.levels],
            who=d.who,
            title=d.title,
            state=d.state.value,
            created_ms=d.created_ms,
            due_ms=d.due_ms,
            attempts=d.attempts,
            detail=d.detail,
            done_ms=d.done_ms,
        )

    key: str = Field(description="unique; a webhook's `delivery`")
    case_id: int | None = Field(description="null: a community's monthly report")
    event: str
    channel: str
    to: list[str]
    levels: list[str]
    who: str
    title: str
    state: Literal["pending", "sending", "delivered", "failed"]
    created_ms: int
    due_ms: int
    attempts: int
    detail: str = Field(description="what the service answered last")
    done_ms: int | None


class SpoolPart(BaseModel):
    """The local spool: batches waiting for InfluxDB, and batches set aside for a person.

    `ok` is false while failed/ holds anything (GET /api/v1/spool/failed lists it); the
    overall status does not depend on it, since ingest goes on.
    """

    ok: bool
    detail: str | None = Field(default=None, description="with an admin or staff token only")
    waiting: int | None = Field(default=None, description="with an admin or staff token only")
    failed: int | None = Field(default=None, description="with an admin or staff token only")


class FailedBatchOut(BaseModel):
    """A batch set aside in the spool's failed/ directory."""

    name: str
    bytes: int
    lines: int
    modified_ms: int
    head: str
