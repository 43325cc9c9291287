"""Grafana 10/11 dashboard JSON pieces: panels, targets, variables, annotations, layout.

Plain dicts in the shape Grafana's dashboard JSON model documents (schemaVersion 39);
the dashboards (overview.py, noise.py, fume.py, devices.py) compose them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

Json = dict[str, Any]

SCHEMA_VERSION: Final = 39
DATASOURCE_UID: Final = "linli-influxdb"
DATASOURCE: Final[Json] = {"type": "influxdb", "uid": DATASOURCE_UID}
TAG: Final = "linli"

UNIT_DBA: Final = "suffix: dB(A)"
UNIT_MG_M3: Final = "conmgm3"  # Grafana's built-in mg/m³
UNIT_MINUTES: Final = "m"
UNIT_VOLT: Final = "volt"
UNIT_DBM: Final = "dBm"
UNIT_RATIO: Final = "percentunit"


def target(query: str, ref: str = "A", alias: str | None = None) -> Json:
    """A raw InfluxQL target."""
    t: Json = {
        "datasource": DATASOURCE,
        "query": query,
        "rawQuery": True,
        "refId": ref,
        "resultFormat": "time_series",
    }
    if alias:
        t["alias"] = alias
    return t


def table_target(query: str, ref: str = "A") -> Json:
    """A raw InfluxQL target rendered as a table."""
    return {**target(query, ref), "resultFormat": "table"}


def refs() -> list[str]:
    """refIds A, B, … X (enough for the 24 targets of an hour-of-day heatmap)."""
    return [chr(ord("A") + i) for i in range(26)]


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Absolute thresholds: (value, color) pairs, the first value None (the base)."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def limit_thresholds(limit: float) -> Json:
    """Green up to a legal limit, red above it."""
    return thresholds((None, "green"), (limit, "red"))


def by_name(name: str, **properties: Any) -> Json:
    """A field override for the series named `name`."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k.replace("__", "."), "value": v} for k, v in properties.items()],
    }


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str | None = None,
    decimals: int | None = None,
    thresholds_: Json | None = None,
    custom: Json | None = None,
    options: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    time_from: str | None = None,
    repeat: str | None = None,
    mappings: list[Json] | None = None,
) -> Json:
    """A panel of any visualisation `kind` (timeseries, table, stat, bargauge, heatmap, …)."""
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds_:
        defaults["thresholds"] = thresholds_
    if custom:
        defaults["custom"] = custom
    if mappings:
        defaults["mappings"] = mappings
    p: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    if time_from:
        p["timeFrom"] = time_from
    if repeat:
        p.update(repeat=repeat, repeatDirection="h", maxPerRow=2)
    return p


def timeseries(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    """A time series panel with lines, the legend as a table with last and max."""
    kw.setdefault(
        "custom", {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0, "spanNulls": False}
    )
    kw.setdefault(
        "options",
        {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )
    return panel("timeseries", title, description, targets, **kw)


def limit_line(name: str) -> Json:
    """Override drawing the series `name` (a legal limit) as a dashed red step line."""
    return by_name(
        name,
        color={"mode": "fixed", "fixedColor": "red"},
        custom__lineStyle={"fill": "dash", "dash": [10, 10]},
        custom__lineInterpolation="stepAfter",
        custom__lineWidth=2,
    )


def table(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    """A table panel; the series of several tags are merged into one table."""
    kw.setdefault("transformations", [{"id": "merge", "options": {}}])
    kw.setdefault("options", {"showHeader": True, "cellHeight": "sm"})
    return panel("table", title, description, targets, **kw)


def bargauge(title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    """A horizontal bar gauge, one bar per series."""
    kw.setdefault(
        "options",
        {
            "orientation": "horizontal",
            "displayMode": "gradient",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
        },
    )
    return panel("bargauge", title, description, targets, **kw)


def row(title: str) -> Json:
    """A row header."""
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def query_variable(name: str, label: str, query: str, all_value: str | None = None) -> Json:
    """A multi-value template variable from `SHOW TAG VALUES`, All selected by default;
    `all_value` is what "All" stands for in a query (default: every value found)."""
    variable: Json = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: new sites and sensors appear
        "includeAll": True,
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }
    if all_value is not None:
        variable["allValue"] = all_value
    return variable


def community_variable(query: str) -> Json:
    """CONTRACT §9: the street's communities, All by default. "All" matches every point,
    also those written before communities were named (no `community` tag)."""
    return query_variable("community", "社区 community", query, all_value=".*")


def annotation(name: str, query: str, color: str) -> Json:
    """An InfluxQL annotation: `title` is the text; state, kind and rule become tags."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "query": query,
        "textColumn": "title",
        "tagsColumn": "state,kind,rule",
        "target": {"query": query, "rawQuery": True, "refId": "Anno"},
    }


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping into rows."""

    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def add(self, p: Json, w: int = 12, h: int = 8) -> None:
        """Place `p` (w columns by h units) after the previous panel."""
        if self._x + w > 24:
            self._newline()
        p["id"] = len(self.panels) + 1
        p["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self.panels.append(p)
        self._x += w
        self._row_h = max(self._row_h, h)

    def section(self, title: str) -> None:
        """Start a new row with a header."""
        if self._x:
            self._newline()
        self.add(row(title), 24, 1)
        self._newline()

    def _newline(self) -> None:
        self._y += self._row_h
        self._x = self._row_h = 0


def dashboard(
    uid: str,
    title: str,
    description: str,
    layout: Layout,
    *,
    variables: list[Json],
    annotations: list[Json],
    tz: str,
    time_from: str = "now-24h",
) -> Json:
    """The dashboard object (no `id` or `version`: Grafana assigns those)."""
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": tz,
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "linli",
            }
        ],
        "templating": {"list": variables},
        "annotations": {"list": [builtin, *annotations]},
        "panels": layout.panels,
    }
