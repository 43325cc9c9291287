"""Names other systems depend on, in one place: topics, measurements, tags, fields, limits.

The writer, the API, the simulator tests and the dashboard tests all import these
(CONTRACT §2 and §4), so a rename happens here or nowhere.
"""

from __future__ import annotations

from typing import Final

# CONTRACT §2: topics are linli/v1/{sensor}/{channel}.
TOPIC_PREFIX: Final = "linli/v1"
CHANNEL_TELEMETRY: Final = "telemetry"
CHANNEL_STATUS: Final = "status"
CHANNEL_HEALTH: Final = "health"
CHANNEL_CONFIG: Final = "config"
INGEST_CHANNELS: Final = (CHANNEL_TELEMETRY, CHANNEL_STATUS, CHANNEL_HEALTH)

SENSOR_ID_PATTERN: Final = r"[a-z0-9][a-z0-9-]{2,63}"

# CONTRACT §2: limits on a message.
MAX_PAYLOAD_BYTES: Final = 256 * 1024
MAX_BATCH_READINGS: Final = 1000
TS_MAX_AGE_MS: Final = 7 * 24 * 3600 * 1000
TS_MAX_AHEAD_MS: Final = 5 * 60 * 1000
PERIOD_S_MIN: Final = 1
PERIOD_S_MAX: Final = 3600

# CONTRACT §3: a rejected record keeps the first 64 KiB of the raw payload.
REJECT_RAW_KEEP_BYTES: Final = 64 * 1024

# CONTRACT §4: InfluxDB measurements, tags and fields.
M_NOISE: Final = "noise"
M_FUME: Final = "fume"
M_DEVICE: Final = "device"
M_CASE_EVENT: Final = "case_event"

TAG_SENSOR: Final = "sensor"
TAG_SITE: Final = "site"
TAG_GRID: Final = "grid"
TAG_ZONE: Final = "zone"

F_PERIOD_S: Final = "period_s"
# Extension to CONTRACT §4 (README "Stored schema"): the reading's seq, kept so that
# seq accounting survives a restart and evidence names the exact reading.
F_SEQ: Final = "seq"
# Extension to CONTRACT §4 (README "Stored schema"): the reading's A-weighted sound
# energy times its period, 10^(laeq/10)·period_s, so that InfluxQL can average dB
# energetically: Leq = 10·log10(sum(laeq_es) / sum(period_s)).
F_LAEQ_ES: Final = "laeq_es"
F_ONLINE: Final = "online"
F_SEQ_GAPS: Final = "seq_gaps"
F_DUPLICATES: Final = "duplicates"
F_FW: Final = "fw"
HEALTH_FLOAT_FIELDS: Final = ("battery_v", "rssi_dbm", "temp_c")
HEALTH_INT_FIELDS: Final = ("uptime_s",)


def topic(sensor: str, channel: str, prefix: str = TOPIC_PREFIX) -> str:
    """The topic a sensor publishes `channel` on."""
    return f"{prefix}/{sensor}/{channel}"
