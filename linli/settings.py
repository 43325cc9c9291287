"""The one typed settings object, built at the entry point and passed down (CONTRACT §1)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from linli.ingest.mqtt import MqttEndpoint
from linli.store.rejections import RejectLimits


class Settings(BaseSettings):
    """Every `LINLI_*` variable of the contract, plus the tunables linli adds."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "linli"
    influx_token: str | None = None
    influx_user: str | None = None
    influx_password: str | None = None
    db_url: str = "sqlite:///./var/linli.db"
    api_addr: str = "127.0.0.1:8000"
    admin_token: str | None = None
    tz: str = "Asia/Shanghai"
    public_url: str = "http://127.0.0.1:8000"  # links in messages (CONTRACT §6)

    # Ingest tunables (not in the contract; documented in the README).
    mqtt_client_id: str = "linli-ingest"
    mqtt_share_group: str | None = Field(
        default=None, description="subscribe through $share/<group>/ for several ingest workers"
    )
    topic_prefix: str = "linli/v1"
    spool_dir: Path = Path("./var/spool")
    spool_max_bytes: int = 1 << 30
    batch_max_readings: int = 5000
    batch_max_age_ms: int = 200
    influx_timeout_s: float = 5.0
    influx_retention: str = "400d"
    registry_refresh_s: float = 2.0
    engine_tick_s: float = 10.0  # how often the engine ages cases (escalation, verification)

    # Notifier tunables (issue 11; README "Notifications").
    notify_group_wait_s: float = 30.0  # a recipient's burst within this wait: one digest
    notify_retry_most_s: float = 600.0  # the longest backoff between a delivery's tries

    # The HTTP API facing the street (README "The HTTP API facing the street").
    api_max_body_bytes: int = Field(default=1 << 20, ge=1024)
    api_timeout_keep_alive_s: float = Field(default=5.0, gt=0)
    api_limit_concurrency: int = Field(default=1000, ge=1)
    api_forwarded_allow_ips: str = "127.0.0.1"  # the reverse proxy's address
    api_auth_failures: int = Field(default=10, ge=1)  # failed tokens per client per window
    api_auth_window_s: float = Field(default=60.0, gt=0)
    # The case board (README "Case board"): its signing key (none: a random one kept in
    # the case store), how long a message's link and a signed-in session last, photos.
    board_secret: str | None = Field(default=None, min_length=16)
    board_link_ttl_s: int = Field(default=7 * 86_400, ge=60)
    board_session_ttl_s: int = Field(default=12 * 3600, ge=60)
    board_max_photo_bytes: int = Field(default=5 << 20, ge=1024)
    board_max_photos: int = Field(default=6, ge=1)
    board_max_upload_bytes: int = Field(default=32 << 20, ge=1024)  # a form's whole body
    # Rejected records (README "Bad input"): kept this long and within this total, the
    # oldest messages evicted first (their counts kept); 0 turns a bound off.
    rejected_retention_days: float = Field(default=30.0, ge=0)
    rejected_max_bytes: int = Field(default=256 << 20, ge=0)
    # Day and night are not settings: they are the community file's [rules] night, the
    # one calendar of the engine, ingest's limit_db and the dashboards (service.py).

    # `linli dashboards push` (README "Dashboards").
    grafana_url: str | None = None
    grafana_token: str | None = None

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

    def api_host_port(self) -> tuple[str, int]:
        """Split `api_addr` into host and port."""
        host, _, port = self.api_addr.rpartition(":")
        return host or "127.0.0.1", int(port)
