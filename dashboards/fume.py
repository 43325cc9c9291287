"""油烟 Cooking fume: oil fume against GB 18483, particulate and NMHC, fan and purifier."""

from __future__ import annotations

from linli.dashboards import grafana as g
from linli.dashboards import queries as q
from linli.dashboards.noise import case_annotation
from linli.dashboards.options import Options
from linli.rules.constants import (
    F_FAN_ON,
    F_FAN_ON_S,
    F_NMHC,
    F_OIL_FUME,
    F_OIL_FUME_MAX,
    F_PERIOD_S,
    F_PM,
    F_PURIFIER_ON,
    F_PURIFIER_ON_S,
    M_FUME,
    M_FUME_1H,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_SENSOR,
    TAG_SITE,
)

UID = "linli-fume"
ON_OFF = [
    {
        "type": "value",
        "options": {
            "true": {"color": "green", "index": 0, "text": "开 on"},
            "false": {"color": "red", "index": 1, "text": "关 off"},
        },
    }
]


def variables() -> list[g.Json]:
    """community → grid → site → sensor, from the fume measurement's tags."""
    return [
        g.community_variable(q.show_tag_values(TAG_COMMUNITY, source=M_FUME)),
        g.query_variable(
            "grid", "网格 grid", q.show_tag_values(TAG_GRID, q.COMMUNITY, source=M_FUME)
        ),
        g.query_variable("site", "站点 site", q.show_tag_values(TAG_SITE, q.GRID, source=M_FUME)),
        g.query_variable(
            "sensor", "传感器 sensor", q.show_tag_values(TAG_SENSOR, q.SITE, source=M_FUME)
        ),
    ]


def build(opts: Options) -> g.Json:
    """The cooking-fume dashboard."""
    limit = opts.oil_fume_limit
    fume = q.ident(M_FUME)
    per_site = (q.by_time(), *q.tags(TAG_SITE))
    layout = g.Layout()
    layout.section("原始读数")
    oil = q.select(
        f'mean("{F_OIL_FUME}") AS "油烟"', fume, q.SITE, q.SENSOR, group=per_site, fill="none"
    )
    layout.add(
        g.timeseries(
            "油烟浓度",
            f"Oil-fume concentration at the exhaust per restaurant (mean over each interval), "
            f"against the GB 18483-2001 limit of {limit:g} mg/m³ (red line).",
            [g.target(oil, "A", alias="$tag_site")],
            unit=g.UNIT_MG_M3,
            decimals=2,
            thresholds_=g.limit_thresholds(limit),
            custom={"drawStyle": "line", "lineWidth": 1, "thresholdsStyle": {"mode": "line"}},
        ),
        24,
        9,
    )
    pm_nmhc = q.select(
        f'mean("{F_PM}") AS "颗粒物 PM", mean("{F_NMHC}") AS "NMHC"',
        fume,
        q.SITE,
        q.SENSOR,
        group=per_site,
        fill="none",
    )
    layout.add(
        g.timeseries(
            "颗粒物与非甲烷总烃",
            "Particulate matter and non-methane hydrocarbons at the exhaust, per site.",
            [g.target(pm_nmhc, "A", alias="$tag_site $col")],
            unit=g.UNIT_MG_M3,
            decimals=2,
        ),
        12,
        8,
    )
    states = q.select(
        f'last("{F_FAN_ON}") AS "风机", last("{F_PURIFIER_ON}") AS "净化器"',
        fume,
        q.SITE,
        q.SENSOR,
        group=per_site,
        fill="none",
    )
    layout.add(
        g.panel(
            "state-timeline",
            "风机与净化器",
            "Exhaust fan and purifier on/off per site. Fan on with the purifier off is "
            "'installed but not used' (装而不用), which GB 18483 §5.1 counts as exceeding.",
            [g.target(states, "A", alias="$tag_site $col")],
            mappings=ON_OFF,
            options={"mergeValues": True, "showValue": "never", "rowHeight": 0.8},
        ),
        12,
        8,
    )
    over = q.select(
        f'sum("{F_PERIOD_S}") / 60 AS "超标分钟"',
        fume,
        f'"{F_OIL_FUME}" > {limit}',
        q.SITE,
        group=q.tags(TAG_SITE),
    )
    idle = q.select(
        f'sum("{F_PERIOD_S}") / 60 AS "装而不用分钟"',
        fume,
        f'"{F_FAN_ON}" = true AND "{F_PURIFIER_ON}" = false',
        q.SITE,
        group=q.tags(TAG_SITE),
    )
    layout.add(
        g.bargauge(
            "超标与装而不用分钟",
            f"Per site in the selected range: minutes of readings over {limit:g} mg/m³, and "
            "minutes with the fan on and the purifier off.",
            [
                g.target(over, "A", alias="$tag_site 超标"),
                g.target(idle, "B", alias="$tag_site 装而不用"),
            ],
            unit=g.UNIT_MINUTES,
            decimals=0,
            thresholds_=g.thresholds((None, "green"), (1, "orange"), (30, "red")),
        ),
        24,
        8,
    )
    layout.section("长期趋势(小时聚合)")
    hourly = q.select(
        f'mean("{F_OIL_FUME}") AS "小时均值", max("{F_OIL_FUME_MAX}") AS "小时最大"',
        q.measurement(M_FUME_1H, aggregate=True),
        q.SITE,
        group=(q.by_time("1h"), *q.tags(TAG_SITE)),
        fill="none",
    )
    layout.add(
        g.timeseries(
            "油烟小时均值与最大值",
            "Hourly mean and maximum oil fume per site from the fume_1h aggregates (kept "
            "forever), against the limit.",
            [g.target(hourly, "A", alias="$tag_site $col")],
            unit=g.UNIT_MG_M3,
            decimals=2,
            thresholds_=g.limit_thresholds(limit),
            custom={"drawStyle": "line", "lineWidth": 1, "thresholdsStyle": {"mode": "line"}},
        ),
        12,
        9,
    )
    ratios = q.select(
        f'sum("{F_FAN_ON_S}") / sum("{F_PERIOD_S}") AS "风机开启率", '
        f'sum("{F_PURIFIER_ON_S}") / sum("{F_PERIOD_S}") AS "净化器开启率"',
        q.measurement(M_FUME_1H, aggregate=True),
        q.SITE,
        group=(q.by_time("1d"), *q.tags(TAG_SITE)),
        fill="none",
        tz=opts.tz,
    )
    layout.add(
        g.timeseries(
            "风机与净化器每日开启率",
            "Share of each day's reported time with the fan on and with the purifier on, per "
            "site, from fume_1h. A purifier ratio below the fan ratio means cooking without "
            "purification.",
            [g.target(ratios, "A", alias="$tag_site $col")],
            unit=g.UNIT_RATIO,
            decimals=0,
            custom={"drawStyle": "bars", "fillOpacity": 50, "lineWidth": 1},
        ),
        12,
        9,
    )
    return g.dashboard(
        UID,
        "油烟",
        f"Cooking fume per restaurant against GB 18483-2001 ({limit:g} mg/m³), with particulate, "
        "NMHC and the fan and purifier state.",
        layout,
        variables=variables(),
        annotations=[case_annotation()],
        tz=opts.tz,
    )
