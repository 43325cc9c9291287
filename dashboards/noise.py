"""噪声 Noise: LAeq against the limit in force, LAmax and L90, hourly and daily Leq, heatmap."""

from __future__ import annotations

from linli.dashboards import grafana as g
from linli.dashboards import queries as q
from linli.dashboards.options import Options
from linli.rules.constants import (
    F_EXCEED_S,
    F_HOUR_LOCAL,
    F_L90,
    F_LAMAX,
    F_LIMIT_DB,
    M_CASE_EVENT,
    M_NOISE,
    M_NOISE_1H,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_SENSOR,
    TAG_SITE,
)

UID = "linli-noise"
LIMIT = "限值 limit"


def variables() -> list[g.Json]:
    """community → grid → site → sensor, from the noise measurement's tags."""
    return [
        g.community_variable(q.show_tag_values(TAG_COMMUNITY, source=M_NOISE)),
        g.query_variable(
            "grid", "网格 grid", q.show_tag_values(TAG_GRID, q.COMMUNITY, source=M_NOISE)
        ),
        g.query_variable("site", "站点 site", q.show_tag_values(TAG_SITE, q.GRID, source=M_NOISE)),
        g.query_variable(
            "sensor", "传感器 sensor", q.show_tag_values(TAG_SENSOR, q.SITE, source=M_NOISE)
        ),
    ]


def case_annotation() -> g.Json:
    """Case events of the selected sites (CONTRACT §4 case_event)."""
    fields = '"title", "state", "kind", "rule", "case_id"'
    return g.annotation(
        "工单 Cases", q.select(fields, q.ident(M_CASE_EVENT), q.SITE), "rgba(255, 96, 96, 1)"
    )


def hourly_leq(aggregate: bool, tz: str) -> str:
    """Energetic Leq per site and local hour, from raw readings or from `noise_1h`."""
    source = M_NOISE_1H if aggregate else M_NOISE
    return q.select(
        f'{q.LEQ} AS "Leq"',
        q.measurement(source, aggregate),
        q.SITE,
        group=(q.by_time("1h"), *q.tags(TAG_SITE)),
        fill="none",
        tz=tz,
    )


def heatmap_targets(tz: str) -> list[g.Json]:
    """One target per local hour: minutes over the limit per day (rows 00 … 23)."""
    targets = []
    for hour, ref in zip(range(24), g.refs(), strict=False):
        label = f"{hour:02d}"
        text = q.select(
            f'sum("{F_EXCEED_S}") / 60 AS "{label}"',
            q.measurement(M_NOISE_1H, aggregate=True),
            f'"{F_HOUR_LOCAL}" = {hour}',
            q.SITE,
            group=(q.by_time("1d"),),
            fill="0",
            tz=tz,
        )
        targets.append(g.target(text, ref, alias=label))
    return targets


def hours_between(first: int, end: int) -> str:
    """InfluxQL: `hour_local` from hour `first` up to (not incl.) `end`, across midnight."""
    hour = q.ident(F_HOUR_LOCAL)
    if first < end:
        return f"{hour} >= {first} AND {hour} < {end}"
    if end == 0:
        return f"{hour} >= {first}"
    return f"({hour} >= {first} OR {hour} < {end})"


def day_night_targets(opts: Options) -> list[g.Json]:
    """Daily Ld (day hours) and Ln (the night starting that evening), with their limits."""
    night_h, day_h = opts.night_hours
    limit = f'max("{F_LIMIT_DB}")'
    source = q.measurement(M_NOISE_1H, aggregate=True)
    day = q.select(
        f'{q.LEQ} AS "Ld", {limit} AS "昼间限值 day limit"',
        source,
        hours_between(day_h, night_h),
        q.SITE,
        group=(q.by_time("1d"), *q.tags(TAG_SITE)),
        fill="none",
        tz=opts.tz,
    )
    # A night's bucket starts at its evening; a night starting after midnight (e.g.
    # 00:00-06:00) lies within one calendar day.
    offset = night_h - 24 if night_h > day_h else 0
    night = q.select(
        f'{q.LEQ} AS "Ln", {limit} AS "夜间限值 night limit"',
        source,
        hours_between(night_h, day_h),
        q.SITE,
        group=(q.by_time("1d", f"{offset}h" if offset else None), *q.tags(TAG_SITE)),
        fill="none",
        tz=opts.tz,
    )
    return [
        g.target(day, "A", alias="$tag_site $col"),
        g.target(night, "B", alias="$tag_site $col"),
    ]


def build(opts: Options) -> g.Json:
    """The noise dashboard."""
    night_h, day_h = opts.night_hours
    days, nights = f"{day_h:02d}–{night_h:02d} h", f"{night_h:02d}–{day_h:02d} h"
    layout = g.Layout()
    layout.section("原始读数")
    laeq = q.select(
        f'{q.LEQ} AS "LAeq"',
        q.ident(M_NOISE),
        q.SITE,
        q.SENSOR,
        group=(q.by_time(), *q.tags(TAG_SENSOR)),
        fill="none",
    )
    limit = q.select(
        f'min("{F_LIMIT_DB}") AS "{LIMIT}"',
        q.ident(M_NOISE),
        q.SITE,
        group=(q.by_time(),),
        fill="none",
    )
    layout.add(
        g.timeseries(
            "等效声级与限值 · $site",
            "Energetic LAeq per sensor over each interval (10·log10 of the mean sound energy, "
            "never a mean of dB), with the limit in force the rule engine judges the site by "
            "(GB 3096 for buildings, GB 22337 for shops, or the community's choice; each "
            "reading's day or night by the period it measured): the day value "
            f"{days} and the night value {nights} local, drawn as a dashed step line.",
            [g.target(laeq, "A", alias="$tag_sensor"), g.target(limit, "B", alias=LIMIT)],
            unit=g.UNIT_DBA,
            decimals=1,
            overrides=[g.limit_line(LIMIT)],
            repeat="site",
        ),
        12,
        9,
    )
    peaks = q.select(
        f'max("{F_LAMAX}") AS "LAmax", median("{F_L90}") AS "L90"',
        q.ident(M_NOISE),
        q.SITE,
        q.SENSOR,
        group=(q.by_time(), *q.tags(TAG_SENSOR)),
        fill="none",
    )
    layout.add(
        g.timeseries(
            "最大声级与背景声",
            "LAmax: the highest fast-weighted level in each interval (at night GB 3096 §5.4 "
            "allows at most limit + 15 dB(A)). L90: the background level, shown as the median "
            "of the readings' L90 in each interval (percentile levels cannot be averaged).",
            [g.target(peaks, "A", alias="$tag_sensor $col")],
            unit=g.UNIT_DBA,
            decimals=1,
        ),
        12,
        9,
    )
    layout.add(
        g.timeseries(
            "小时等效声级",
            "Energetic Leq per site and local hour from the raw readings.",
            [g.target(hourly_leq(False, opts.tz), "A", alias="$tag_site")],
            unit=g.UNIT_DBA,
            decimals=1,
            custom={"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1},
        ),
        12,
        8,
    )
    exceed = q.select(
        f'sum("{F_EXCEED_S}") / 60 AS "超标分钟"',
        q.ident(M_NOISE),
        q.SITE,
        group=q.tags(TAG_SITE),
    )
    layout.add(
        g.bargauge(
            "超标分钟",
            "Minutes of readings whose LAeq exceeded the limit in force, per site, in the "
            "selected range.",
            [g.target(exceed, "A", alias="$tag_site")],
            unit=g.UNIT_MINUTES,
            decimals=0,
            thresholds_=g.thresholds((None, "green"), (1, "orange"), (30, "red")),
        ),
        12,
        8,
    )
    layout.section("长期趋势(小时聚合)")
    layout.add(
        g.panel(
            "heatmap",
            "超标热力图(时段 × 日期)",
            "Minutes over the limit in force, per local hour (rows) and day (columns), from "
            "the hourly aggregates: where and when the nuisance recurs.",
            heatmap_targets(opts.tz),
            unit=g.UNIT_MINUTES,
            transformations=[{"id": "joinByField", "options": {"mode": "outer"}}],
            options={
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Reds", "steps": 64, "exponent": 0.5},
                "yAxis": {"axisPlacement": "left", "reverse": True},
                "rowsFrame": {"layout": "auto"},
                "tooltip": {"show": True, "yHistogram": False},
                "legend": {"show": True},
                "showValue": "never",
            },
        ),
        24,
        10,
    )
    layout.add(
        g.timeseries(
            "昼间/夜间等效声级",
            "Ld: energetic Leq over each day's day hours; Ln: over the night that starts that "
            "evening. Each with its GB 3096 limit for the site's zone. From noise_1h, so any "
            "range back to the first aggregate works.",
            day_night_targets(opts),
            unit=g.UNIT_DBA,
            decimals=1,
            custom={"drawStyle": "line", "lineWidth": 2, "showPoints": "always"},
        ),
        12,
        9,
    )
    layout.add(
        g.timeseries(
            "小时等效声级(聚合)",
            "Energetic Leq per site and hour from noise_1h (Σ laeq_es / Σ period_s kept per "
            "hour): the long-range view of the raw panel above.",
            [g.target(hourly_leq(True, opts.tz), "A", alias="$tag_site")],
            unit=g.UNIT_DBA,
            decimals=1,
        ),
        12,
        9,
    )
    return g.dashboard(
        UID,
        "噪声",
        "Noise per site against the limits in force (GB 3096-2008 / GB 22337-2008, day/night "
        "by zone class), the ones its cases are judged by; energetic averages throughout.",
        layout,
        variables=variables(),
        annotations=[case_annotation()],
        tz=opts.tz,
    )
