"""The InfluxQL the dashboards run, built from rules/constants.py names (CONTRACT §4).

Grafana fills `$timeFilter`, `$__interval` and the template variables; a multi-value
variable in a regex becomes `(a|b|…)`, hence `=~ /^$site$/`. Levels in dB are never
averaged arithmetically: every Leq is `10·log10(Σ laeq_es / Σ period_s)`, exact for any
group of readings or hourly aggregates (docs/dashboards.md).
"""

from __future__ import annotations

from linli.rules.constants import (
    F_LAEQ_ES,
    F_PERIOD_S,
    RP_FOREVER,
    TAG_COMMUNITY,
    TAG_GRID,
    TAG_SENSOR,
    TAG_SITE,
)

TIME = "$timeFilter"
INTERVAL = "$__interval"


def ident(name: str) -> str:
    """A double-quoted InfluxQL identifier."""
    return f'"{name}"'


def measurement(name: str, aggregate: bool = False) -> str:
    """A measurement; hourly aggregates live in the `forever` retention policy."""
    return f'"{RP_FOREVER}"."{name}"' if aggregate else ident(name)


def matches(tag: str, variable: str) -> str:
    """`"tag" =~ /^$variable$/`: the tag is one of the variable's selected values."""
    return f"{ident(tag)} =~ /^${variable}$/"


COMMUNITY = matches(TAG_COMMUNITY, "community")
SITE = matches(TAG_SITE, "site")
GRID = matches(TAG_GRID, "grid")
SENSOR = matches(TAG_SENSOR, "sensor")

LEQ = f"10 * log10(sum({ident(F_LAEQ_ES)}) / sum({ident(F_PERIOD_S)}))"
"""The energetic equivalent level of every reading (or hourly aggregate) in a group."""


def select(
    fields: str,
    source: str,
    *where: str,
    group: tuple[str, ...] = (),
    fill: str | None = None,
    tz: str | None = None,
) -> str:
    """SELECT fields FROM source WHERE where… AND $timeFilter GROUP BY … fill() tz()."""
    conditions = " AND ".join((*where, TIME))
    text = f"SELECT {fields} FROM {source} WHERE {conditions}"
    if group:
        text += " GROUP BY " + ", ".join(group)
    if fill:
        text += f" fill({fill})"
    if tz:
        text += f" tz('{tz}')"
    return text


def by_time(every: str = INTERVAL, offset: str | None = None) -> str:
    """GROUP BY time(every[, offset])."""
    return f"time({every}, {offset})" if offset else f"time({every})"


def tags(*names: str) -> tuple[str, ...]:
    """Tag keys to group by, quoted."""
    return tuple(ident(n) for n in names)


def show_tag_values(key: str, *where: str, source: str | None = None) -> str:
    """A variable's query: the values of tag `key`, optionally filtered by other variables."""
    text = "SHOW TAG VALUES"
    if source:
        text += f" FROM {ident(source)}"
    text += f" WITH KEY = {ident(key)}"
    if where:
        text += " WHERE " + " AND ".join(where)
    return text
