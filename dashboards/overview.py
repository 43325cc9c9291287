"""社区总览 Community overview: every site now, open cases, minutes over the limit today."""

from __future__ import annotations

from linli.dashboards import grafana as g
from linli.dashboards import queries as q
from linli.dashboards.options import Options
from linli.rules.constants import (
    F_EXCEED_S,
    F_FAN_ON,
    F_LAEQ,
    F_LIMIT_DB,
    F_OIL_FUME,
    F_ONLINE,
    F_PERIOD_S,
    F_PURIFIER_ON,
    F_STATE,
    M_CASE_EVENT,
    M_DEVICE,
    M_FUME,
    M_NOISE,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_KIND,
    TAG_RULE,
    TAG_SENSOR,
    TAG_SITE,
    TAG_ZONE,
)

UID = "linli-overview"
OVER = "超出 over"
CLOSED = "closed"


def build(opts: Options) -> g.Json:
    """The overview dashboard."""
    layout = g.Layout()
    noise_now = q.select(
        f'last("{F_LAEQ}") AS "LAeq", last("{F_LIMIT_DB}") AS "限值 limit", '
        f'last("{F_LAEQ}") - last("{F_LIMIT_DB}") AS "{OVER}"',
        q.ident(M_NOISE),
        q.GRID,
        group=q.tags(TAG_SITE, TAG_ZONE),
    )
    layout.add(
        g.table(
            "噪声站点现状",
            "Every noise site's latest LAeq (last hour) against the limit in force for it "
            "(the one its cases are judged by), day or night; 'over' is LAeq minus the limit, "
            "red above 0.",
            [g.table_target(noise_now)],
            unit=g.UNIT_DBA,
            decimals=1,
            time_from="1h",
            overrides=[
                g.by_name(
                    OVER,
                    thresholds=g.thresholds((None, "green"), (0.001, "red")),
                    custom__cellOptions={"type": "color-background"},
                )
            ],
        ),
        12,
        9,
    )
    fume_now = q.select(
        f'last("{F_OIL_FUME}") AS "油烟", last("{F_FAN_ON}") AS "风机", '
        f'last("{F_PURIFIER_ON}") AS "净化器"',
        q.ident(M_FUME),
        q.GRID,
        group=q.tags(TAG_SITE),
    )
    layout.add(
        g.table(
            "油烟站点现状",
            f"Every restaurant's latest oil fume (last hour) against the GB 18483 limit of "
            f"{opts.oil_fume_limit:g} mg/m³, with fan and purifier state.",
            [g.table_target(fume_now)],
            time_from="1h",
            overrides=[
                g.by_name(
                    "油烟",
                    unit=g.UNIT_MG_M3,
                    decimals=2,
                    thresholds=g.limit_thresholds(opts.oil_fume_limit),
                    custom__cellOptions={"type": "color-background"},
                )
            ],
        ),
        12,
        9,
    )
    online = q.select(
        f'last("{F_ONLINE}") AS "在线 online"',
        q.ident(M_DEVICE),
        q.GRID,
        group=q.tags(TAG_SITE, TAG_SENSOR),
    )
    layout.add(
        g.table(
            "设备在线",
            "Each sensor's last reported connection state (status message or last will) in "
            "the past 7 days.",
            [g.table_target(online)],
            time_from="7d",
            mappings=[
                {
                    "type": "value",
                    "options": {
                        "true": {"color": "green", "index": 0, "text": "在线 online"},
                        "false": {"color": "red", "index": 1, "text": "离线 offline"},
                    },
                }
            ],
        ),
        8,
        9,
    )
    latest = (
        f'SELECT last("{F_STATE}") AS "{F_STATE}" FROM "{M_CASE_EVENT}" WHERE {q.GRID} '
        f"AND {q.TIME} GROUP BY {', '.join(q.tags(TAG_SITE, TAG_RULE, TAG_KIND))}"
    )
    open_cases = (
        f'SELECT count("{F_STATE}") AS "未结工单" FROM ({latest}) '
        f'WHERE "{F_STATE}" != \'{CLOSED}\' GROUP BY "{TAG_KIND}"'
    )
    layout.add(
        g.panel(
            "stat",
            "未结工单",
            "Cases not closed, by kind: the latest case_event state of each (site, rule) in "
            "the past 90 days is not 'closed' (at most one open case per site and rule).",
            [g.target(open_cases, "A", alias="$tag_kind")],
            time_from="90d",
            decimals=0,
            thresholds_=g.thresholds((None, "green"), (1, "orange")),
            options={
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "textMode": "value_and_name",
            },
        ),
        4,
        9,
    )
    noise_today = q.select(
        f'sum("{F_EXCEED_S}") / 60 AS "噪声超标分钟"',
        q.ident(M_NOISE),
        q.GRID,
        group=q.tags(TAG_SITE),
    )
    fume_today = q.select(
        f'sum("{F_PERIOD_S}") / 60 AS "油烟超标分钟"',
        q.ident(M_FUME),
        f'"{F_OIL_FUME}" > {opts.oil_fume_limit}',
        q.GRID,
        group=q.tags(TAG_SITE),
    )
    layout.add(
        g.bargauge(
            "今日超标分钟",
            "Minutes over the limit since local midnight, per site: noise readings whose "
            "LAeq exceeded the limit in force, and fume readings over the fume limit.",
            [
                g.target(noise_today, "A", alias="$tag_site 噪声"),
                g.target(fume_today, "B", alias="$tag_site 油烟"),
            ],
            unit=g.UNIT_MINUTES,
            decimals=0,
            time_from="now/d",
            thresholds_=g.thresholds((None, "green"), (1, "orange"), (30, "red")),
        ),
        12,
        9,
    )
    community = g.community_variable(q.show_tag_values(TAG_COMMUNITY))
    grid = g.query_variable("grid", "网格 grid", q.show_tag_values(TAG_GRID, q.COMMUNITY))
    return g.dashboard(
        UID,
        "社区总览",
        "Community overview: which sites are over their limits now, sensor connectivity, "
        "open cases and minutes over the limit today.",
        layout,
        variables=[community, grid],
        annotations=[],
        tz=opts.tz,
    )
