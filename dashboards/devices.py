"""设备 Devices: last seen, online, battery, RSSI, seq gaps and rejected messages per sensor,
and the notifications that failed or wait for a retry, per channel."""

from __future__ import annotations

from linli.dashboards import grafana as g
from linli.dashboards import queries as q
from linli.dashboards.options import Options
from linli.rules.constants import (
    F_BATTERY_V,
    F_CASE_ID,
    F_COUNT,
    F_DUPLICATES,
    F_FW,
    F_ONLINE,
    F_RSSI_DBM,
    F_SEQ,
    F_SEQ_GAPS,
    M_DELIVERY,
    M_DEVICE,
    M_FUME,
    M_NOISE,
    M_REJECTED,
    OUTCOME_FAILED,
    OUTCOME_RETRY,
    TAG_CHANNEL,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_OUTCOME,
    TAG_REASON,
    TAG_SENSOR,
    TAG_SITE,
    UNREGISTERED_SENSOR,
)

UID = "linli-devices"


def build(opts: Options) -> g.Json:
    """The devices dashboard."""
    device = q.ident(M_DEVICE)
    per_sensor = (q.by_time(), *q.tags(TAG_SENSOR))
    layout = g.Layout()
    last_seen = q.select(
        f'last("{F_SEQ}") AS "seq"',
        f"{q.ident(M_NOISE)}, {q.ident(M_FUME)}",
        q.SENSOR,
        group=q.tags(TAG_SENSOR),
    )
    layout.add(
        g.table(
            "最后上报",
            "Each sensor's latest reading in the past 7 days: the time column is when it was "
            "last seen, seq its last sequence number.",
            [g.table_target(last_seen)],
            time_from="7d",
        ),
        12,
        9,
    )
    state = q.select(
        f'last("{F_ONLINE}") AS "在线 online", last("{F_FW}") AS "固件 fw"',
        device,
        q.SENSOR,
        group=q.tags(TAG_SENSOR),
    )
    layout.add(
        g.table(
            "在线状态",
            "Last connection state (status message or last will) and firmware per sensor.",
            [g.table_target(state)],
            time_from="7d",
        ),
        12,
        9,
    )
    battery = q.select(
        f'mean("{F_BATTERY_V}") AS "电池"', device, q.SENSOR, group=per_sensor, fill="none"
    )
    layout.add(
        g.timeseries(
            "电池电压",
            "Battery voltage from the health messages.",
            [g.target(battery, "A", alias="$tag_sensor")],
            unit=g.UNIT_VOLT,
            decimals=2,
        ),
        12,
        8,
    )
    rssi = q.select(
        f'min("{F_RSSI_DBM}") AS "RSSI"', device, q.SENSOR, group=per_sensor, fill="none"
    )
    layout.add(
        g.timeseries(
            "信号强度",
            "Received signal strength: the weakest value in each interval (dBm is "
            "logarithmic, so not averaged).",
            [g.target(rssi, "A", alias="$tag_sensor")],
            unit=g.UNIT_DBM,
            decimals=0,
        ),
        12,
        8,
    )
    gaps = q.select(
        f'sum("{F_SEQ_GAPS}") AS "丢失 lost", sum("{F_DUPLICATES}") AS "重复 duplicates"',
        device,
        q.SENSOR,
        group=q.tags(TAG_SENSOR),
    )
    layout.add(
        g.table(
            "序号缺口与重复",
            "Readings confirmed lost at source (gaps in seq, after a 10-minute grace) and "
            "duplicates received, per sensor in the selected range.",
            [g.table_target(gaps)],
        ),
        12,
        8,
    )
    rejected_sensor = f"({q.SENSOR} OR \"{TAG_SENSOR}\" = '{UNREGISTERED_SENSOR}')"
    rejected = q.select(
        f'sum("{F_COUNT}") AS "拒收"',
        q.ident(M_REJECTED),
        rejected_sensor,
        group=q.tags(TAG_SENSOR, TAG_REASON),
    )
    layout.add(
        g.table(
            "拒收消息",
            f"Rejected messages per sensor and reason code (CONTRACT §3) in the selected "
            f"range; topics naming no registered sensor count as {UNREGISTERED_SENSOR}. The "
            "records themselves: GET /api/v1/rejected.",
            [g.table_target(rejected)],
        ),
        12,
        8,
    )
    rejected_over_time = q.select(
        f'sum("{F_COUNT}") AS "拒收"',
        q.ident(M_REJECTED),
        rejected_sensor,
        group=(q.by_time(), *q.tags(TAG_SENSOR, TAG_REASON)),
        fill="none",
    )
    layout.add(
        g.timeseries(
            "拒收消息趋势",
            "Rejected messages over time, per sensor and reason.",
            [g.target(rejected_over_time, "A", alias="$tag_sensor $tag_reason")],
            decimals=0,
            custom={"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1},
        ),
        24,
        8,
    )
    not_delivered = f"{q.ident(TAG_OUTCOME)} =~ /^({OUTCOME_FAILED}|{OUTCOME_RETRY})$/"
    undelivered = q.select(
        f'count("{F_CASE_ID}") AS "次数"',
        q.ident(M_DELIVERY),
        not_delivered,
        group=q.tags(TAG_CHANNEL, TAG_OUTCOME),
    )
    layout.add(
        g.table(
            "通知投递失败与重试",
            "Notifications not delivered in the selected range, per channel: failed "
            "(permanent: a configuration error or a refused message, a person must look) "
            "and retry (too fast, the service down; sent again later). The deliveries "
            "themselves: GET /api/v1/deliveries?state=failed; each channel: /health.",
            [g.table_target(undelivered)],
        ),
        12,
        8,
    )
    undelivered_over_time = q.select(
        f'count("{F_CASE_ID}") AS "次数"',
        q.ident(M_DELIVERY),
        not_delivered,
        group=(q.by_time(), *q.tags(TAG_CHANNEL, TAG_OUTCOME)),
        fill="none",
    )
    layout.add(
        g.timeseries(
            "通知投递失败与重试趋势",
            "Failed deliveries and retries over time, per channel and outcome.",
            [g.target(undelivered_over_time, "A", alias="$tag_channel $tag_outcome")],
            decimals=0,
            custom={"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1},
        ),
        12,
        8,
    )
    variables = [
        g.community_variable(q.show_tag_values(TAG_COMMUNITY)),
        g.query_variable("grid", "网格 grid", q.show_tag_values(TAG_GRID, q.COMMUNITY)),
        g.query_variable("site", "站点 site", q.show_tag_values(TAG_SITE, q.GRID)),
        g.query_variable("sensor", "传感器 sensor", q.show_tag_values(TAG_SENSOR, q.SITE)),
    ]
    return g.dashboard(
        UID,
        "设备",
        "Sensor health: last seen, online, battery, signal, readings lost at source and "
        "rejected messages; notifications failed or waiting for a retry.",
        layout,
        variables=variables,
        annotations=[],
        tz=opts.tz,
    )
