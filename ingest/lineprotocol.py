"""Ingest's line protocol: readings, statuses, health and rejection counts, built as
strings on the hot path (no per-point objects), and a batch read back (the spool).

The escaping and formatting are influx/lineprotocol.py's.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

from linli.influx.lineprotocol import (
    escape_measurement,
    escape_tag,
    finish,
    parse_line,
    quote_string,
)
from linli.rules.constants import (
    F_COUNT,
    F_DUPLICATES,
    F_EXCEED_S,
    F_FLAG,
    F_FW,
    F_HOUR_LOCAL,
    F_LAEQ_ES,
    F_LIMIT_DB,
    F_ONLINE,
    F_PERIOD_S,
    F_SEQ,
    F_SEQ_GAPS,
    M_DEVICE,
    M_REJECTED,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_REASON,
    TAG_SENSOR,
    TAG_SITE,
    TAG_ZONE,
    UNREGISTERED_SENSOR,
)
from linli.rules.energy import sound_energy
from linli.rules.localtime import LocalClock
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import METRICS, DeviceHealth, DeviceStatus, Reading, SensorKind
from linli.rules.registry import Registry, SensorTags
from linli.rules.rejection import Rejection

# Where each field of a Reading and of a DeviceStatus goes in a line, by name:
# `LineBuilder` writes it there and `parse_stored` reads it back from there
# (tests/test_codecs.py compares the names with `Reading._fields` / `DeviceStatus._fields`).
READING_FIELDS: Final = {
    "sensor": f"tag {TAG_SENSOR}",
    "kind": "the measurement (noise, fume)",
    "ts_ms": "the timestamp (ms)",
    "seq": f"field {F_SEQ} (integer)",
    "period_s": f"field {F_PERIOD_S} (integer)",
    "metrics": "a field per metric, named as in rules/reading.METRICS",
    "flag": f"field {F_FLAG} (string), only when the reading has one",
}
STATUS_FIELDS: Final = {
    "sensor": f"tag {TAG_SENSOR}",
    "ts_ms": "the timestamp (ms)",
    "online": f"field {F_ONLINE} of measurement {M_DEVICE}",
    "fw": f"field {F_FW}, when given",
}


class LineBuilder:
    """Turns domain values into line protocol, caching each sensor's escaped tag set.

    `policy` is the rule engine's (its calendar and standards): a noise reading is written
    with the LAeq limit in force for its site and the period it measured, from
    `SiteLimits.noise` by `Calendar.period_of`, the very limit the rules judge it by
    (docs/devices.md). `use(registry)` gives it the sites; the default policy is
    GB 3096's 06:00/22:00 in Asia/Shanghai with GB 22337 for shops.
    """

    __slots__ = (
        "_clock",
        "_heads",
        "_limits",
        "_policy",
        "_registry",
        "_rejected_last_ms",
        "_rejected_lock",
    )

    def __init__(self, policy: RulePolicy | None = None, registry: Registry | None = None) -> None:
        self._heads: dict[tuple[str, str], str] = {}
        self._policy = policy or RulePolicy()
        self._clock = LocalClock(self._policy.calendar)
        self._limits: dict[str, SiteLimits] = {}
        self._registry = registry or Registry()
        self._rejected_last_ms: dict[tuple[str, str], int] = {}
        # `rejected` is also called by the writer (rejections decided there): one clock.
        self._rejected_lock = threading.Lock()

    def use(self, registry: Registry) -> None:
        """Take a new registry snapshot: forget cached tag sets and limits."""
        self._registry = registry
        self._heads.clear()
        self._limits.clear()

    def _site_limits(self, site_id: str) -> SiteLimits:
        limits = self._limits.get(site_id)
        if limits is None:
            site = self._registry.sites[site_id]  # tags exist only for a registered site
            limits = self._limits[site_id] = self._policy.site_limits(site)
        return limits

    def _head(self, measurement: str, tags: SensorTags) -> str:
        key = (measurement, tags.sensor)
        head = self._heads.get(key)
        if head is None:
            pairs = {TAG_SENSOR: tags.sensor, TAG_SITE: tags.site, TAG_GRID: tags.grid}
            if tags.community:  # CONTRACT §9; an empty tag value is not line protocol
                pairs[TAG_COMMUNITY] = tags.community
            if measurement == SensorKind.NOISE:
                pairs[TAG_ZONE] = tags.zone
            head = escape_measurement(measurement) + "".join(
                f",{k}={escape_tag(v)}" for k, v in sorted(pairs.items())
            )
            self._heads[key] = head
        return head

    def reading(self, reading: Reading, tags: SensorTags) -> str:
        """A reading: its metrics, period_s and seq (CONTRACT §4)."""
        fields = []
        for name, value in reading.metrics.items():
            if value is True:
                fields.append(f"{name}=true")
            elif value is False:
                fields.append(f"{name}=false")
            else:
                fields.append(f"{name}={float(value)!r}")
        laeq = reading.metrics.get("laeq")
        if laeq is not None:
            energy = sound_energy(float(laeq), reading.period_s)
            hour, period = self._clock.hour_period(reading.ts_ms, reading.period_s)
            limit = float(self._site_limits(tags.site).noise(period).value)
            exceed_s = reading.period_s if laeq > limit else 0
            fields.append(
                f"{F_LAEQ_ES}={energy!r},{F_LIMIT_DB}={limit!r},"
                f"{F_EXCEED_S}={exceed_s}i,{F_HOUR_LOCAL}={hour}i"
            )
        fields.append(f"{F_PERIOD_S}={reading.period_s}i,{F_SEQ}={reading.seq}i")
        if reading.flag is not None:
            fields.append(f"{F_FLAG}={quote_string(reading.flag)}")
        return f"{self._head(reading.kind, tags)} {','.join(fields)} {reading.ts_ms}"

    def status(self, status: DeviceStatus, tags: SensorTags) -> str | None:
        """A status message or last will: online, and the firmware version when given."""
        fields: dict[str, object] = {F_ONLINE: status.online}
        if status.fw is not None:
            fields[F_FW] = status.fw
        return finish(self._head(M_DEVICE, tags), fields.items(), status.ts_ms)

    def health(self, health: DeviceHealth, tags: SensorTags) -> str | None:
        """A health message: battery, RSSI, temperature, uptime."""
        return finish(self._head(M_DEVICE, tags), health.values.items(), health.ts_ms)

    def accounting(self, tags: SensorTags, seq_gaps: int, duplicates: int, ts_ms: int) -> str:
        """Readings confirmed lost at source and duplicates seen, since the last such point."""
        head = self._head(M_DEVICE, tags)
        return f"{head} {F_SEQ_GAPS}={seq_gaps}i,{F_DUPLICATES}={duplicates}i {ts_ms}"

    def rejected(
        self, rejections: Sequence[Rejection], registered: Mapping[str, SensorTags]
    ) -> list[str]:
        """A batch's rejections counted per sensor and reason (docs/devices.md).

        Each point is stamped with its last rejection's receive time, moved on by a
        millisecond where needed so that a later batch never overwrites an earlier
        point of the same sensor and reason.
        """
        counts: Counter[tuple[str, str]] = Counter()
        last_ms: dict[tuple[str, str], int] = {}
        for rejection in rejections:
            sensor = rejection.sensor
            if sensor is None or sensor not in registered:
                sensor = UNREGISTERED_SENSOR
            key = (sensor, str(rejection.reason))
            counts[key] += 1
            last_ms[key] = max(last_ms.get(key, 0), rejection.received_ms)
        lines = []
        for key, n in counts.items():
            with self._rejected_lock:
                ts_ms = max(last_ms[key], self._rejected_last_ms.get(key, -1) + 1)
                self._rejected_last_ms[key] = ts_ms
            sensor, reason = key
            head = (
                f"{escape_measurement(M_REJECTED)},{TAG_REASON}={escape_tag(reason)},"
                f"{TAG_SENSOR}={escape_tag(sensor)}"
            )
            lines.append(f"{head} {F_COUNT}={n}i {ts_ms}")
        return lines


# -- reading a batch back (the spool at start) ------------------------------------------


_KINDS: Final = {k.value: k for k in SensorKind}


def parse_stored(body: bytes) -> list[Reading | DeviceStatus]:
    """The readings and status messages in a batch this module wrote, in their order.

    For the spool at start: batches made durable there were acknowledged and handed to
    the rule engine, whose queue a crash loses; they are judged again from here. A
    status (a last will, a device back online) keeps its place among the readings.
    """
    out: list[Reading | DeviceStatus] = []
    for point in map(parse_line, body.decode().splitlines()):
        if point is None:
            continue
        kind = _KINDS.get(point.measurement)
        if kind is None and point.measurement != M_DEVICE:
            continue
        values = point.fields
        sensor = point.tags.get(TAG_SENSOR, "")
        if kind is None:  # the device measurement: only a status carries `online`
            online, fw = values.get(F_ONLINE), values.get(F_FW)
            if isinstance(online, bool):
                version = fw if isinstance(fw, str) else None
                out.append(DeviceStatus(sensor, point.ts, online, version))
            continue
        metrics = {
            name: value
            for name, value in values.items()
            if name in METRICS and METRICS[name].kind is kind and isinstance(value, float | bool)
        }
        seq, period_s = values.get(F_SEQ, 0), values.get(F_PERIOD_S, 60)
        assert isinstance(seq, int) and isinstance(period_s, int)
        flag = values.get(F_FLAG)
        out.append(
            Reading(
                sensor,
                kind,
                point.ts,
                seq,
                period_s,
                metrics,
                flag if isinstance(flag, str) else None,
            )
        )
    return out
