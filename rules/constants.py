"""Names other systems depend on, in one place: topics, measurements, tags, fields, limits.

The writer, the API, the simulator tests and the dashboard tests all import these
(CONTRACT §2 and CONTRACT §4), so a rename happens here or nowhere.
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
# InfluxDB stores integers as int64 and floats as finite float64 ("unable to parse integer"
# otherwise, and the whole point is refused): every integer the parser accepts fits.
INT64_MAX: Final = (1 << 63) - 1
SEQ_MAX: Final = INT64_MAX

# CONTRACT §3: a rejected record keeps the first 64 KiB of the raw payload.
REJECT_RAW_KEEP_BYTES: Final = 64 * 1024

# CONTRACT §4: InfluxDB measurements, tags and fields.
M_NOISE: Final = "noise"
M_FUME: Final = "fume"
M_DEVICE: Final = "device"
M_CASE_EVENT: Final = "case_event"
# Extension to CONTRACT §4 (docs/devices.md): rejected messages counted per batch,
# sensor and reason, for the Devices dashboard.
M_REJECTED: Final = "rejected"
# Extension to CONTRACT §4 (docs/devices.md): one point per delivery outcome
# (notify/worker.py), tags channel, outcome, event; fields case_id, detail: the
# dashboards' failed deliveries and retries per channel.
M_DELIVERY: Final = "delivery"
# Hourly aggregates written by InfluxDB continuous queries (influx/retention.py) into the
# infinite retention policy; the dashboards read them for long ranges.
M_NOISE_1H: Final = "noise_1h"
M_FUME_1H: Final = "fume_1h"
# Extra fields of the fume aggregate, from their own CQs (InfluxQL has no conditional
# sum): seconds with the fan on, with the purifier on, and over the GB 18483 limit.
F_FAN_ON_S: Final = "fan_on_s"
F_PURIFIER_ON_S: Final = "purifier_on_s"
F_OIL_FUME_MAX: Final = "oil_fume_max"
F_READINGS: Final = "readings"

# InfluxDB 1.x retention policies: raw readings (LINLI_INFLUX_RETENTION, default 400 days:
# enforcement evidence) and the hourly aggregates, kept forever.
RP_RAW: Final = "raw"
RP_FOREVER: Final = "forever"

TAG_SENSOR: Final = "sensor"
TAG_SITE: Final = "site"
TAG_GRID: Final = "grid"
TAG_COMMUNITY: Final = "community"  # CONTRACT §9: on noise, fume, device, case_event
TAG_ZONE: Final = "zone"
TAG_REASON: Final = "reason"
TAG_RULE: Final = "rule"
TAG_KIND: Final = "kind"
TAG_CHANNEL: Final = "channel"
TAG_OUTCOME: Final = "outcome"
TAG_EVENT: Final = "event"
# The `outcome` tag's values: notify/channel.py's Outcome, as the worker writes them.
OUTCOME_DELIVERED: Final = "delivered"
OUTCOME_RETRY: Final = "retry"
OUTCOME_FAILED: Final = "failed"
# The `sensor` tag of a rejection whose topic names no registered sensor: a fixed value,
# so that a client inventing sensor ids cannot create series without bound.
UNREGISTERED_SENSOR: Final = "_unregistered"

# CONTRACT §2 and CONTRACT §4: metric fields (the same names as rules/reading.py METRICS).
F_LAEQ: Final = "laeq"
F_LAMAX: Final = "lamax"
F_LAMIN: Final = "lamin"
F_L90: Final = "l90"
F_OIL_FUME: Final = "oil_fume"
F_PM: Final = "pm"
F_NMHC: Final = "nmhc"
F_FAN_ON: Final = "fan_on"
F_PURIFIER_ON: Final = "purifier_on"
F_PURIFIER_CURRENT: Final = "purifier_current"

F_PERIOD_S: Final = "period_s"
# CONTRACT §8: a reading's HJ 212 data flag when it is not monitoring data (string field).
F_FLAG: Final = "flag"
# Extension to CONTRACT §4 (docs/devices.md): the reading's seq, kept so that
# seq accounting survives a restart and evidence names the exact reading.
F_SEQ: Final = "seq"
# Extension to CONTRACT §4 (docs/devices.md): the reading's A-weighted sound
# energy times its period, 10^(laeq/10)·period_s, so that InfluxQL can average dB
# energetically: Leq = 10·log10(sum(laeq_es) / sum(period_s)).
F_LAEQ_ES: Final = "laeq_es"
# Extension to CONTRACT §4 (docs/devices.md): with every noise reading, the GB 3096
# limit in force for its site's zone at its ts (day or night, local time), the seconds of
# its period that exceed that limit (period_s when laeq > limit_db, else 0) and the local
# hour of its ts, so that InfluxQL can compare, count and group by hour of day.
F_LIMIT_DB: Final = "limit_db"
F_EXCEED_S: Final = "exceed_s"
F_HOUR_LOCAL: Final = "hour_local"
F_COUNT: Final = "count"
F_ONLINE: Final = "online"
F_SEQ_GAPS: Final = "seq_gaps"
F_DUPLICATES: Final = "duplicates"
F_FW: Final = "fw"
HEALTH_FLOAT_FIELDS: Final = ("battery_v", "rssi_dbm", "temp_c")
HEALTH_INT_FIELDS: Final = ("uptime_s",)
# The span a health value must fall in to be stored (the contract names no ranges: these
# are physically plausible for a battery-powered sensor, and uptime_s fits an int64).
HEALTH_RANGES: Final[dict[str, tuple[float, float]]] = {
    "battery_v": (0.0, 60.0),
    "rssi_dbm": (-200.0, 50.0),
    "temp_c": (-80.0, 200.0),
    "uptime_s": (0, INT64_MAX),
}
# A status message's firmware version is stored as a string field; kept short.
FW_MAX_CHARS: Final = 128
F_BATTERY_V: Final = "battery_v"
F_RSSI_DBM: Final = "rssi_dbm"
# CONTRACT §4: case_event fields (Grafana annotations).
F_CASE_ID: Final = "case_id"
F_STATE: Final = "state"
F_TITLE: Final = "title"
# delivery fields: the service's answer in one line
F_DETAIL: Final = "detail"


def topic(sensor: str, channel: str, prefix: str = TOPIC_PREFIX) -> str:
    """The topic a sensor publishes `channel` on."""
    return f"{prefix}/{sensor}/{channel}"
