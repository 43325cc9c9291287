"""A case's readings as a server-rendered SVG: the series, the limit in force, the breach.

Pure: no I/O, stdlib and linli.rules only, so the case page works with JavaScript off
and a cheap phone draws it at once. The limit is a stepped line (day and
night change it, GB 3096-2008 §3.6/3.7), the breach window a shaded band, a fume site's
fan and purifier on/off lanes sit under the plot. A week of 1-minute readings is
thinned to each pixel column's min and max (at most 2 points a column), which keeps
every peak visible and the page small. Every text is escaped (titles, labels and units
come from the registry and may be anything).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Final
from zoneinfo import ZoneInfo

MINUTE_MS: Final = 60_000
# layout, in SVG user units (px at 1:1)
PAD_LEFT: Final = 34  # y tick labels
PAD_RIGHT: Final = 8
TITLE_H: Final = 22
TICKS_H: Final = 16  # x tick labels under the plot
LEGEND_H: Final = 16
LANE_H: Final = 14
MIN_TICK_GAP_PX: Final = 64  # x ticks at least this far apart ("HH:MM" at 10 px)
Y_TICKS: Final = 4  # about this many y ticks
TICK_CHAR_PX: Final = 6  # the width of a tick label's digit at 10 px

SERIES_COLOUR: Final = "#1d4ed8"
LIMIT_COLOUR: Final = "#b91c1c"
WINDOW_COLOUR: Final = "#fca5a5"
ON_COLOUR: Final = "#15803d"
OFF_COLOUR: Final = "#e5e7eb"

# x tick steps to choose from: minutes up to hours, then days
_TICK_STEPS_MIN: Final = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)


@dataclass(frozen=True, slots=True)
class Band:
    """A span of time with a state (fan on, purifier on); `label` shows in its `<title>`."""

    start_ms: int
    end_ms: int
    label: str


@dataclass(frozen=True, slots=True)
class LimitStep:
    """The limit in force from `start_ms` to `end_ms` (day and night change it)."""

    start_ms: int
    end_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """What one chart shows: readings `(epoch ms, value)`, `None` a gap; local-time axis."""

    title: str
    unit: str
    points: Sequence[tuple[int, float | None]]
    limits: Sequence[LimitStep]
    window: tuple[int, int] | None
    tz: ZoneInfo
    on_off: Mapping[str, Sequence[Band]] = field(default_factory=dict)
    width: int = 360
    height: int = 200
    svg_id: str = "case-chart"  # the case page's; a page of several charts names each


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps time and value to SVG coordinates within the plot area."""

    t0: int
    t1: int
    v0: float
    v1: float
    left: float
    right: float
    top: float
    bottom: float

    def x(self, ts_ms: int) -> float:
        return self.left + (ts_ms - self.t0) * (self.right - self.left) / (self.t1 - self.t0)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.v0) * (self.bottom - self.top) / (self.v1 - self.v0)


def _n(v: float) -> str:
    """A coordinate to 0.1 px (enough on any screen, a third of the bytes)."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _clock(ts_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz).strftime("%H:%M")


def _value(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


class _Column:
    """One pixel column's lowest and highest reading, and whether a gap borders it."""

    __slots__ = ("gap_after", "gap_before", "high", "low")

    def __init__(self) -> None:
        self.low: tuple[int, float] | None = None
        self.high: tuple[int, float] | None = None
        self.gap_before = False  # a None before its first reading
        self.gap_after = False  # a None after its last reading

    def add(self, ts: int, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            if self.low is None:
                self.gap_before = True
            else:
                self.gap_after = True
            return
        self.gap_after = False  # a gap inside one column: drawn through
        point = (ts, value)
        if self.low is None or self.high is None:
            self.low = self.high = point
            return
        if value < self.low[1]:
            self.low = point
        if value > self.high[1]:
            self.high = point


def downsample(
    points: Sequence[tuple[int, float | None]], t0: int, t1: int, columns: int
) -> list[list[tuple[int, float]]]:
    """The unbroken runs of `points`, thinned to each column's min and max (in time order).

    A `None` breaks the line; a gap shorter than one column inside it is not visible at
    this scale and is drawn through, so no column ever holds more than 2 points.
    """
    columns = max(1, columns)
    span = max(1, t1 - t0)
    cells: dict[int, _Column] = {}
    for ts, value in sorted(points, key=lambda p: p[0]):
        col = min(columns - 1, max(0, (ts - t0) * columns // span))
        cell = cells.get(col)
        if cell is None:
            cell = cells[col] = _Column()
        cell.add(ts, value)
    runs: list[list[tuple[int, float]]] = []
    broken = True
    for col in sorted(cells):
        cell = cells[col]
        if cell.low is None or cell.high is None:
            broken = True
            continue
        if broken or cell.gap_before:
            runs.append([])
        runs[-1].extend([cell.low] if cell.low == cell.high else sorted((cell.low, cell.high)))
        broken = cell.gap_after
    return runs


def _nice_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def _value_range(values: list[float]) -> tuple[float, float, float]:
    """The y axis: from a round number below the lowest to one above the highest, and the step."""
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    step = _nice_step(hi - lo + 2 * pad, Y_TICKS)
    return math.floor((lo - pad) / step) * step, math.ceil((hi + pad) / step) * step, step


def _time_ticks(t0: int, t1: int, tz: ZoneInfo, plot_w: float) -> list[tuple[int, str]]:
    """Ticks on round local times (every 15 min, 3 h, a day ...), at most one per 64 px."""
    span_min = (t1 - t0) / MINUTE_MS
    fit = max(1, int(plot_w // MIN_TICK_GAP_PX))
    step = next((s for s in _TICK_STEPS_MIN if span_min / s <= fit), _TICK_STEPS_MIN[-1])
    start = datetime.fromtimestamp(t0 / 1000, tz)
    at = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= 1440:
        day_step = timedelta(days=step // 1440)
        ticks = []
        while at.timestamp() * 1000 <= t1:
            if at.timestamp() * 1000 >= t0:
                ticks.append((int(at.timestamp() * 1000), f"{at.month}/{at.day}"))
            at += day_step
        return ticks
    ticks = []
    minute = 0
    # wall-clock steps from local midnight (aware datetimes of one zone add as local time)
    while True:
        tick = at + timedelta(minutes=minute)
        ts = int(tick.timestamp() * 1000)
        if ts > t1:
            return ticks
        if ts >= t0:
            midnight = tick.hour == 0 and tick.minute == 0
            ticks.append((ts, f"{tick.month}/{tick.day}" if midnight else tick.strftime("%H:%M")))
        minute += step


def _limit_path(limits: Sequence[LimitStep], f: _Frame) -> str:
    """The limit as a stepped line: flat while in force, a vertical step where it changes."""
    parts: list[str] = []
    last_end: int | None = None
    for step in sorted(limits, key=lambda s: s.start_ms):
        start, end = max(step.start_ms, f.t0), min(step.end_ms, f.t1)
        if end <= start:
            continue
        y = _n(f.y(step.value))
        verb = "L" if last_end is not None and start <= last_end else "M"
        parts.append(f"{verb}{_n(f.x(start))} {y}H{_n(f.x(end))}")
        last_end = end
    return "".join(parts)


def _series_path(runs: list[list[tuple[int, float]]], f: _Frame) -> str:
    parts: list[str] = []
    for run in runs:
        (ts, value), rest = run[0], run[1:]
        parts.append(f"M{_n(f.x(ts))} {_n(f.y(value))}")
        if not rest:  # a lone reading between gaps: a dot, not nothing
            parts.append("h0.1")
        parts.extend(f"L{_n(f.x(t))} {_n(f.y(v))}" for t, v in rest)
    return "".join(parts)


def _summary(spec: ChartSpec, values: list[float]) -> str:
    """The chart in one sentence for a screen reader (aria-label)."""
    text = (
        f"{spec.title}：{len(values)} 个读数，最高 {_value(max(values))} {spec.unit}，"
        f"最低 {_value(min(values))} {spec.unit}"
    )
    if spec.limits:
        limits = sorted({s.value for s in spec.limits})
        text += f"，限值 {'/'.join(_value(v) for v in limits)} {spec.unit}"
    if spec.window:
        w0, w1 = spec.window
        text += f"，超标时段 {_clock(w0, spec.tz)}–{_clock(w1, spec.tz)}"
    return text


def _empty(spec: ChartSpec) -> str:
    w, h = spec.width, spec.height
    title = escape(f"{spec.title}（{spec.unit}）")
    return (
        f'<svg id="{escape(spec.svg_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(spec.title)}：暂无读数" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}"><title>{title}</title>'
        f'<text class="label" x="4" y="13" font-size="11">{title}</text>'
        f'<text class="empty" x="{w / 2:g}" y="{h / 2:g}" text-anchor="middle" '
        f'font-size="13" fill="#6b7280">暂无读数</text></svg>'
    )


def render_chart(spec: ChartSpec) -> str:
    """The chart as one `<svg id="case-chart">` (or `svg_id`) string (docs/board.md)."""
    values = [v for _, v in spec.points if v is not None and math.isfinite(v)]
    if not values:
        return _empty(spec)
    stamps = [ts for ts, _ in spec.points]
    t0, t1 = min(stamps), max(stamps)
    if spec.window:
        t0, t1 = min(t0, spec.window[0]), max(t1, spec.window[1])
    if t1 <= t0:
        t1 = t0 + MINUTE_MS
    in_view = [s.value for s in spec.limits if s.end_ms > t0 and s.start_ms < t1]
    v0, v1, v_step = _value_range(values + in_view)
    lanes = list(spec.on_off.items())
    plot_bottom = spec.height - TICKS_H - LEGEND_H
    total_h = spec.height + LANE_H * len(lanes)
    f = _Frame(t0, t1, v0, v1, PAD_LEFT, spec.width - PAD_RIGHT, TITLE_H, plot_bottom)
    columns = max(1, int(f.right - f.left))
    title = escape(f"{spec.title}（{spec.unit}）")
    out: list[str] = [
        f'<svg id="{escape(spec.svg_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(_summary(spec, values))}" viewBox="0 0 {spec.width} {total_h}" '
        f'width="{spec.width}" height="{total_h}" font-family="sans-serif">',
        f"<title>{title}</title>",
        f'<text class="label" x="4" y="13" font-size="11">{title}</text>',
    ]
    if spec.window:
        w0, w1 = spec.window
        xa, xb = f.x(max(w0, t0)), f.x(min(w1, t1))
        out.append(
            f'<rect class="breach-window" x="{_n(xa)}" y="{_n(f.top)}" '
            f'width="{_n(max(xb - xa, 1.0))}" height="{_n(f.bottom - f.top)}" '
            f'fill="{WINDOW_COLOUR}" fill-opacity="0.45">'
            f"<title>超标时段 {_clock(w0, spec.tz)}–{_clock(w1, spec.tz)}</title></rect>"
        )
    # y grid and ticks
    k = 0
    while (tick := v0 + k * v_step) <= v1 + v_step / 1000:
        y = _n(f.y(tick))
        out.append(
            f'<line class="grid" x1="{_n(f.left)}" x2="{_n(f.right)}" y1="{y}" y2="{y}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text class="tick" x="{PAD_LEFT - 3}" y="{y}" dy="3" text-anchor="end" '
            f'font-size="10">{escape(_value(round(tick, 6)))}</text>'
        )
        k += 1
    # x ticks in local time
    for ts, label in _time_ticks(t0, t1, spec.tz, f.right - f.left):
        x = _n(f.x(ts))
        # a label at either end is anchored inwards, so it is not cut off by the edge
        half = len(label) * TICK_CHAR_PX / 2
        anchor = "end" if f.x(ts) + half > spec.width else "middle"
        out.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{_n(f.top)}" y2="{_n(f.bottom + 3)}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text class="tick" x="{x}" y="{_n(f.bottom + 13)}" text-anchor="{anchor}" '
            f'font-size="10">{escape(label)}</text>'
        )
    out.append(
        f'<line class="axis" x1="{_n(f.left)}" x2="{_n(f.right)}" y1="{_n(f.bottom)}" '
        f'y2="{_n(f.bottom)}" stroke="#6b7280" stroke-width="1"/>'
    )
    limit_d = _limit_path(spec.limits, f)
    if limit_d:
        out.append(
            f'<path class="limit" d="{limit_d}" fill="none" stroke="{LIMIT_COLOUR}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    runs = downsample(spec.points, t0, t1, columns)
    out.append(
        f'<path class="series" d="{_series_path(runs, f)}" fill="none" '
        f'stroke="{SERIES_COLOUR}" stroke-width="1.5" stroke-linejoin="round" '
        f'stroke-linecap="round"/>'
    )
    lane_top = spec.height - LEGEND_H
    for i, (name, bands) in enumerate(lanes):
        lane_y = lane_top + i * LANE_H
        out.append(
            f'<g class="lane" data-lane="{escape(name)}">'
            f'<text class="lane-label" x="{PAD_LEFT - 3}" y="{lane_y + 10}" text-anchor="end" '
            f'font-size="9">{escape(name)}</text>'
            f'<rect class="off" x="{_n(f.left)}" y="{lane_y + 2}" width="{_n(f.right - f.left)}" '
            f'height="{LANE_H - 4}" fill="{OFF_COLOUR}"/>'
        )
        for band in bands:
            start, end = max(band.start_ms, t0), min(band.end_ms, t1)
            if end <= start:
                continue
            xa, xb = f.x(start), f.x(end)
            out.append(
                f'<rect class="on" x="{_n(xa)}" y="{lane_y + 2}" width="{_n(max(xb - xa, 0.5))}" '
                f'height="{LANE_H - 4}" fill="{ON_COLOUR}"><title>{escape(band.label)} '
                f"{_clock(band.start_ms, spec.tz)}–{_clock(band.end_ms, spec.tz)}</title></rect>"
            )
        out.append("</g>")
    out.append(_legend(total_h - 4, bool(limit_d), spec.window is not None, bool(lanes)))
    out.append("</svg>")
    return "".join(out)


def _legend(y: int, limit: bool, window: bool, lanes: bool) -> str:
    """One line under everything: what each colour means."""
    items = [(f'stroke="{SERIES_COLOUR}"', "读数")]
    if limit:
        items.append((f'stroke="{LIMIT_COLOUR}" stroke-dasharray="5 3"', "限值"))
    parts = ['<g class="legend" font-size="10">']
    x = PAD_LEFT
    for stroke, label in items:
        parts.append(
            f'<line x1="{x}" x2="{x + 14}" y1="{y - 3}" y2="{y - 3}" {stroke} '
            f'stroke-width="1.5"/><text x="{x + 17}" y="{y}">{label}</text>'
        )
        x += 50
    if window:
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="12" height="8" fill="{WINDOW_COLOUR}"/>'
            f'<text x="{x + 15}" y="{y}">超标时段</text>'
        )
        x += 70
    if lanes:
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="12" height="8" fill="{ON_COLOUR}"/>'
            f'<text x="{x + 15}" y="{y}">运行</text>'
        )
    parts.append("</g>")
    return "".join(parts)
