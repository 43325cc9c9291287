"""The one typed settings object, built at the entry point and passed down (CONTRACT §1)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from linli.ingest.mqtt import MqttEndpoint
from linli.store.rejections import RejectLimits


class Settings(BaseSettings):
    """Every `LINLI_*` variable of the contract, plus the tunables linli adds."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    # CONTRACT §1: the variables other systems and people depend on.
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="the broker; `mqtts://user:pass@host:port` for TLS",
    )
    influx_url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB")
    influx_db: str = Field(
        default="linli", description="the database (1.x), or the bucket through DBRP (2.x, 3.x)"
    )
    influx_token: str | None = Field(
        default=None, description="InfluxDB's token (2.x, 3.x); or the user and password below"
    )
    influx_user: str | None = Field(default=None, description="InfluxDB 1.x user")
    influx_password: str | None = Field(default=None, description="InfluxDB 1.x password")
    db_url: str = Field(
        default="sqlite:///./var/linli.db",
        description="the case store, a SQLAlchemy URL (PostgreSQL for production: "
        "`postgresql+psycopg://…`)",
    )
    api_addr: str = Field(
        default="127.0.0.1:8000", description="where the HTTP API and the case board listen"
    )
    admin_token: str | None = Field(
        default=None,
        description="the bootstrap token with the `admin` role: 16 characters at least, "
        "32 or more advised (`openssl rand -hex 32`)",
    )
    tz: str = Field(
        default="Asia/Shanghai",
        description="the community's time zone: day and night and business hours are local; "
        "stored times are UTC",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where messages link to (`{LINLI_PUBLIC_URL}/board/cases/{id}?t=…`, "
        "CONTRACT §6); https makes the board's cookie `Secure`",
    )

    # Ingest (docs/operating.md).
    mqtt_client_id: str = Field(
        default="linli-ingest",
        description="the persistent session's client id: keep it stable, or the broker queues "
        "for a session nobody reads",
    )
    mqtt_share_group: str | None = Field(
        default=None,
        description="subscribe through `$share/<group>/` (`linli ingest --workers N` sets one)",
    )
    topic_prefix: str = Field(default="linli/v1", description="the topics' prefix")
    spool_dir: Path = Field(
        default=Path("./var/spool"),
        description="the local durable spool, used while InfluxDB is down or slow",
    )
    spool_max_bytes: int = Field(
        default=1 << 30,
        description="beyond this linli stops acknowledging; the broker holds the rest",
    )
    batch_max_readings: int = Field(default=5000, description="readings in a batch before a write")
    batch_max_age_ms: int = Field(default=200, description="a batch's age before a write")
    influx_timeout_s: float = Field(
        default=5.0, description="a write slower than this goes to the spool"
    )
    influx_retention: str = Field(
        default="400d",
        description="the raw readings' retention policy `raw` (enforcement evidence; InfluxDB 1.x)",
    )
    registry_refresh_s: float = Field(
        default=2.0,
        description="how often ingest reads the registry version for changes another process "
        "made (an unknown sensor is checked at once)",
    )
    engine_tick_s: float = Field(
        default=10.0,
        description="how often the rule engine ages cases (escalation, verification, "
        "complaints' deadlines)",
    )

    # HJ 212 monitors over TCP (CONTRACT §8, docs/devices.md).
    hj212_addr: str | None = Field(
        default=None,
        description="`host:port` where `linli serve` and `linli ingest` listen for HJ 212 "
        "monitors (e.g. `0.0.0.0:9212`); unset: no listener",
    )
    hj212_idle_s: float = Field(
        default=600.0,
        gt=0,
        description="an HJ 212 connection silent this long is closed (the monitor dials "
        "again); above the longest interval a monitor sends at (MinInterval, heartbeat)",
    )

    # Notifications (docs/notifications.md).
    notify_group_wait_s: float = Field(
        default=30.0,
        description="a recipient told within this wait of their last message gets the rest as "
        "one digest",
    )
    notify_retry_most_s: float = Field(
        default=600.0, description="the longest backoff between two tries of a delivery"
    )

    # The HTTP API facing the street (docs/api.md).
    api_max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="a request body over this is 413, before it is read"
    )
    api_timeout_keep_alive_s: float = Field(
        default=5.0, gt=0, description="uvicorn closes an idle keep-alive connection after this"
    )
    api_request_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="a request's head and body must be read within this of the connection's "
        "opening (or the previous answer), or it is closed; the app's own time does not count "
        "(api/slowclients.py)",
    )
    api_limit_concurrency: int = Field(
        default=1000, ge=1, description="connections served at once (503 beyond)"
    )
    api_forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="the reverse proxy whose `X-Forwarded-For` is trusted"
    )
    api_auth_failures: int = Field(
        default=10, ge=1, description="failed tokens a client may send per window before 429"
    )
    api_auth_window_s: float = Field(
        default=60.0, gt=0, description="the window of `LINLI_API_AUTH_FAILURES`"
    )

    # The case board (docs/board.md).
    board_secret: str | None = Field(
        default=None,
        min_length=16,
        description="the board's signing key (the same for every process on one store); none: "
        "a random key made once and kept in the case store",
    )
    board_link_ttl_s: int = Field(
        default=7 * 86_400, ge=60, description="how long a message's signed link opens its case"
    )
    board_session_ttl_s: int = Field(
        default=12 * 3600,
        ge=60,
        description="how long a board session lasts (never past its link's or token's expiry)",
    )
    board_max_photo_bytes: int = Field(default=5 << 20, ge=1024, description="one photo of a fix")
    board_max_photos: int = Field(default=6, ge=1, description="photos per form")
    board_max_upload_bytes: int = Field(
        default=32 << 20,
        ge=1024,
        description="a board form's whole body (413 before it is read; the JSON API keeps "
        "`LINLI_API_MAX_BODY_BYTES`)",
    )

    # Residents and the public (docs/public.md, CONTRACT §11).
    public_cache_s: float = Field(
        default=60.0,
        ge=0,
        description="how long a public page (a site's, a community's list) is served from "
        "memory before it is computed again; past days are kept until they change",
    )
    public_code_ttl_s: int = Field(
        default=300, ge=30, description="how long a report's SMS code can be entered"
    )
    public_code_tries: int = Field(
        default=5, ge=1, description="wrong codes a report may take before it is void"
    )
    public_window_s: float = Field(
        default=3600.0, gt=0, description="the window of the per-phone and per-client throttles"
    )
    public_reports_per_phone: int = Field(
        default=3, ge=1, description="reports (SMS codes) one phone number may ask per window"
    )
    public_reports_per_client: int = Field(
        default=10, ge=1, description="reports one client address may send per window"
    )
    public_sms_per_hour: int = Field(
        default=200,
        ge=0,
        description="SMS codes one community sends per hour at most (each costs money); "
        "0: reporting from the public page is off",
    )
    public_max_waiting: int = Field(
        default=500,
        ge=1,
        description="reports of one community waiting for their code at most (storage bound)",
    )

    # Rejected records (docs/devices.md): the oldest messages evicted first, their counts
    # kept; 0 turns a bound off.
    rejected_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="rejected records older than this (by the newest one received) are "
        "evicted; 0: kept for ever",
    )
    rejected_max_bytes: int = Field(
        default=256 << 20,
        ge=0,
        description="the rejected records' total size; beyond it the oldest messages are "
        "evicted; 0: no cap",
    )
    # Day and night are not settings: they are the community file's [rules] night, the
    # one calendar of the engine, ingest's limit_db and the dashboards (service.py).

    # A cluster on NATS JetStream (CONTRACT §12, docs/cluster.md).
    nats_url: str | None = Field(
        default=None,
        description="NATS servers (`nats://host:4222,nats://host2:4222`): when set, `linli "
        "ingest` and `linli engine` take their partitions from JetStream",
    )
    nats_partitions: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="partitions of the readings (by sensor) and of the stored readings (by "
        "site); fixed by `linli nats setup`: the most workers of a kind that share the work",
    )
    nats_name: str = Field(
        default="linli",
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="this linli's name in NATS: its streams, subjects and buckets begin with it",
    )
    nats_replicas: int = Field(
        default=3, ge=1, le=5, description="replicas of linli's streams and buckets"
    )
    nats_max_age_h: float = Field(
        default=72.0,
        gt=0,
        description="how long the partition streams keep a reading (a worker down longer "
        "than this loses what it had not taken)",
    )
    nats_member_ttl_s: float = Field(
        default=3.0,
        ge=1.0,
        description="a worker silent this long is taken for dead and its partitions are "
        "given to the others",
    )

    # `linli dashboards push` (docs/dashboards.md).
    grafana_url: str | None = Field(
        default=None, description="Grafana, for `linli dashboards push`"
    )
    grafana_token: str | None = Field(
        default=None,
        description="a Grafana service account token (Admin role), for `linli dashboards push`",
    )

    def mqtt_parts(self) -> MqttEndpoint:
        """Split `mqtt_url` into host, port, TLS flag and credentials."""
        parts = urlsplit(self.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"LINLI_MQTT_URL: scheme {parts.scheme!r} is not mqtt:// or mqtts://")
        tls = parts.scheme == "mqtts"
        return MqttEndpoint(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=parts.username,
            password=parts.password,
        )

    def reject_limits(self) -> RejectLimits:
        """The rejected records' retention and size cap (0: none)."""
        days = self.rejected_retention_days
        return RejectLimits(
            retention_ms=round(days * 86_400_000) if days else None,
            max_bytes=self.rejected_max_bytes or None,
        )

    @field_validator("hj212_addr")
    @classmethod
    def _hj212_addr(cls, value: str | None) -> str | None:
        if value:
            _host_port(value)
        return value or None

    def hj212_host_port(self) -> tuple[str, int] | None:
        """Split `hj212_addr` into host and port; None when it is unset (no listener)."""
        return None if not self.hj212_addr else _host_port(self.hj212_addr)

    def api_host_port(self) -> tuple[str, int]:
        """Split `api_addr` into host and port."""
        host, _, port = self.api_addr.rpartition(":")
        return host or "127.0.0.1", int(port)


def _host_port(value: str) -> tuple[str, int]:
    """`host:port` (`:port`: every interface) as a pair; ValueError saying what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{value!r} is not host:port (a port 0–65535)")
    return host or "0.0.0.0", int(port)
