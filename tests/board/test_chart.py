"""The case chart (api/board/chart.py): the SVG parsed back and its geometry checked."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from linli.api.board.chart import (
    PAD_LEFT,
    PAD_RIGHT,
    Band,
    ChartSpec,
    LimitStep,
    downsample,
    render_chart,
)

NS = {"s": "http://www.w3.org/2000/svg"}
TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
# 2026-12-01 21:30 local (13:30 UTC)
T0 = int(datetime(2026, 12, 1, 21, 30, tzinfo=TZ).timestamp() * 1000)
NIGHT = int(datetime(2026, 12, 1, 22, 0, tzinfo=TZ).timestamp() * 1000)


def spec(**kw: object) -> ChartSpec:
    base: dict[str, object] = {
        "title": "LAeq 1 min",
        "unit": "dB(A)",
        "points": [(T0 + i * MIN, 50.0) for i in range(61)],
        "limits": [LimitStep(T0 - 60 * MIN, NIGHT, 55.0), LimitStep(NIGHT, T0 + 600 * MIN, 45.0)],
        "window": None,
        "tz": TZ,
    }
    base.update(kw)
    return ChartSpec(**base)  # type: ignore[arg-type]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def path_points(d: str) -> list[list[tuple[float, float]]]:
    """An SVG path of M/L/H/h commands as its runs of absolute points."""
    runs: list[list[tuple[float, float]]] = []
    x = y = 0.0
    for cmd, a, b in re.findall(r"([MLHh])\s*(-?[\d.]+)(?:\s+(-?[\d.]+))?", d):
        if cmd == "M":
            x, y = float(a), float(b)
            runs.append([(x, y)])
        elif cmd == "L":
            x, y = float(a), float(b)
            runs[-1].append((x, y))
        elif cmd == "H":
            x = float(a)
            runs[-1].append((x, y))
        else:  # h: relative
            x += float(a)
            runs[-1].append((x, y))
    return runs


def series_d(root: ET.Element, cls: str = "series") -> str:
    """The `d` of the one `<path class=cls>`."""
    path = root.find(f".//s:path[@class='{cls}']", NS)
    assert path is not None
    return path.get("d") or ""


def x_of(ts: int, t0: int, t1: int, width: int = 360) -> float:
    return PAD_LEFT + (ts - t0) * (width - PAD_LEFT - PAD_RIGHT) / (t1 - t0)


def test_the_svg_holds_every_part_of_the_contract() -> None:
    fan = [Band(T0, T0 + 20 * MIN, "风机开")]
    root = parse(
        render_chart(
            spec(window=(T0 + 10 * MIN, T0 + 40 * MIN), on_off={"风机": fan, "净化器": []})
        )
    )
    assert root.get("id") == "case-chart"
    assert root.get("role") == "img"
    assert "LAeq 1 min" in (root.get("aria-label") or "")
    assert root.find("s:title", NS) is not None
    assert len(root.findall(".//s:path[@class='series']", NS)) == 1
    assert len(root.findall(".//s:path[@class='limit']", NS)) == 1
    assert len(root.findall(".//s:rect[@class='breach-window']", NS)) == 1
    assert len(root.findall(".//s:text[@class='tick']", NS)) >= 4
    lanes = root.findall(".//s:g[@class='lane']", NS)
    assert [g.get("data-lane") for g in lanes] == ["风机", "净化器"]
    assert len(lanes[0].findall("s:rect[@class='on']", NS)) == 1
    assert lanes[1].findall("s:rect[@class='on']", NS) == []
    assert root.find(".//s:text[@class='empty']", NS) is None


def test_a_value_above_the_limit_is_drawn_above_the_limit_line() -> None:
    # 21:30–21:59 at 50 dB, one reading of 60 at 21:45; the day limit 55 is in force
    points = [(T0 + i * MIN, 60.0 if i == 15 else 50.0) for i in range(30)]
    root = parse(render_chart(spec(points=points)))
    series = path_points(series_d(root, "series"))
    limit = path_points(series_d(root, "limit"))
    assert len(series) == 1 and len(series[0]) == 30
    limit_y = limit[0][0][1]
    peak_y = series[0][15][1]
    assert peak_y < limit_y  # SVG y grows downwards
    assert all(y > limit_y for i, (_, y) in enumerate(series[0]) if i != 15)
    assert series[0][15][0] == pytest.approx(x_of(T0 + 15 * MIN, T0, T0 + 29 * MIN), abs=0.06)


def test_the_limit_is_a_stepped_line_lower_at_night() -> None:
    root = parse(render_chart(spec()))  # 21:30–22:30, limit 55 until 22:00 then 45
    (run,) = path_points(series_d(root, "limit"))
    t1 = T0 + 60 * MIN
    (x_a, y_day), (x_b, y_day2), (x_c, y_night), (x_d, y_night2) = run
    assert x_a == pytest.approx(PAD_LEFT)
    assert x_b == x_c == pytest.approx(x_of(NIGHT, T0, t1), abs=0.06)  # the vertical step at 22:00
    assert x_d == pytest.approx(360 - PAD_RIGHT)
    assert y_day == y_day2 < y_night == y_night2  # 45 is drawn lower than 55


def test_the_breach_window_rect_spans_the_window() -> None:
    w0, w1 = T0 + 12 * MIN, T0 + 27 * MIN
    root = parse(render_chart(spec(window=(w0, w1))))
    rect = root.find(".//s:rect[@class='breach-window']", NS)
    assert rect is not None
    x, width = float(rect.get("x") or 0), float(rect.get("width") or 0)
    t1 = T0 + 60 * MIN
    assert x == pytest.approx(x_of(w0, T0, t1), abs=0.06)
    assert x + width == pytest.approx(x_of(w1, T0, t1), abs=0.12)
    assert "21:42–21:57" in "".join(rect.itertext())


def test_a_window_beyond_the_readings_widens_the_time_axis() -> None:
    points = [(T0 + i * MIN, 50.0) for i in range(10)]
    root = parse(render_chart(spec(points=points, window=(T0 + 5 * MIN, T0 + 20 * MIN))))
    rect = root.find(".//s:rect[@class='breach-window']", NS)
    assert rect is not None
    assert float(rect.get("x") or 0) + float(rect.get("width") or 0) == pytest.approx(
        360 - PAD_RIGHT, abs=0.12
    )


def test_ticks_are_local_time() -> None:
    root = parse(render_chart(spec()))  # 21:30–22:30 Asia/Shanghai = 13:30–14:30 UTC
    ticks = {
        t.text: float(t.get("x") or 0)
        for t in root.findall(".//s:text[@class='tick']", NS)
        if ":" in (t.text or "")
    }
    assert "22:00" in ticks and "14:00" not in ticks
    assert ticks["22:00"] == pytest.approx(x_of(NIGHT, T0, T0 + 60 * MIN), abs=0.06)


def test_a_day_boundary_tick_shows_the_date() -> None:
    start = int(datetime(2026, 12, 1, 20, 0, tzinfo=TZ).timestamp() * 1000)
    points = [(start + i * MIN, 50.0) for i in range(8 * 60)]  # 20:00 to 04:00
    root = parse(render_chart(spec(points=points)))
    labels = [t.text for t in root.findall(".//s:text[@class='tick']", NS)]
    assert "12/2" in labels


def test_hostile_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>&<b>'
    svg = render_chart(
        spec(
            title=evil,
            unit="<i>u</i>",
            window=(T0, T0 + MIN),
            on_off={evil: [Band(T0, T0 + 5 * MIN, evil)]},
        )
    )
    root = parse(svg)  # well-formed: nothing broke out of its text or attribute
    assert "<script" not in svg and "<b>" not in svg and "<i>" not in svg
    assert root.findall(".//s:script", NS) == [] and root.findall(".//s:b", NS) == []
    assert root.find("s:title", NS).text == f"{evil}（<i>u</i>）"  # type: ignore[union-attr]
    assert evil in (root.get("aria-label") or "")
    lane = root.find(".//s:g[@class='lane']", NS)
    assert lane is not None and lane.get("data-lane") == evil
    assert evil in "".join(lane.find("s:rect[@class='on']", NS).itertext())  # type: ignore[union-attr]


def test_a_week_of_minutes_is_thinned_to_two_points_a_column() -> None:
    week = 7 * 24 * 60
    values = [55 + 10 * math.sin(i / 50) + (30 if i == 5000 else 0) for i in range(week)]
    points = [(T0 + i * MIN, v) for i, v in enumerate(values)]
    svg = render_chart(spec(points=points))
    root = parse(svg)
    (run,) = path_points(series_d(root, "series"))
    columns = 360 - PAD_LEFT - PAD_RIGHT
    assert len(run) <= 2 * columns
    per_column: dict[int, int] = {}
    for x, _ in run:
        per_column[int(x - PAD_LEFT)] = per_column.get(int(x - PAD_LEFT), 0) + 1
    assert (
        max(per_column.values()) <= 3
    )  # two a bucket; rounding may put a bucket's pair on a border
    # the one spike survives: the highest drawn point is the 95 dB reading's
    top = min(run, key=lambda p: p[1])
    assert top[0] == pytest.approx(x_of(T0 + 5000 * MIN, T0, T0 + (week - 1) * MIN), abs=0.06)
    assert len(svg) < 20_000
    ticks = [t.text for t in root.findall(".//s:text[@class='tick']", NS) if "/" in (t.text or "")]
    assert 3 <= len(ticks) <= 5  # a day-step axis, not 168 hourly labels


def test_downsample_bounds_even_alternating_gaps() -> None:
    points = [(i * MIN, None if i % 2 else float(i)) for i in range(10_000)]
    runs = downsample(points, 0, 9_999 * MIN, 100)
    assert sum(len(r) for r in runs) <= 200


def test_a_gap_breaks_the_path() -> None:
    points: list[tuple[int, float | None]] = [(T0 + i * MIN, 50.0) for i in range(20)]
    points += [(T0 + 20 * MIN, None)]
    points += [(T0 + i * MIN, 52.0) for i in range(40, 61)]
    root = parse(render_chart(spec(points=points)))
    d = series_d(root, "series")
    runs = path_points(d or "")
    assert [len(r) for r in runs] == [20, 21]
    assert runs[0][-1][0] < x_of(T0 + 20 * MIN, T0, T0 + 60 * MIN) < runs[1][0][0]


def test_a_lone_reading_between_gaps_is_still_drawn() -> None:
    points = [(T0, None), (T0 + MIN, 50.0), (T0 + 2 * MIN, None), (T0 + 60 * MIN, 51.0)]
    root = parse(render_chart(spec(points=points)))
    runs = path_points(series_d(root, "series"))
    assert len(runs) == 2 and len(runs[0]) == 2  # a dot: M then a tiny h


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([], id="no readings → empty state"),
        pytest.param([(T0, None), (T0 + MIN, None)], id="only gaps → empty state"),
    ],
)
def test_no_readings_draws_the_empty_state(points: list[tuple[int, float | None]]) -> None:
    root = parse(render_chart(spec(points=points, window=(T0, T0 + MIN))))
    assert root.get("id") == "case-chart"
    empty = root.find(".//s:text[@class='empty']", NS)
    assert empty is not None and empty.text == "暂无读数"
    assert root.find(".//s:path[@class='series']", NS) is None


def test_the_on_band_spans_its_time_and_is_clipped_to_the_axis() -> None:
    bands = [
        Band(T0 - 30 * MIN, T0 + 15 * MIN, "风机开"),
        Band(T0 + 30 * MIN, T0 + 45 * MIN, "风机开"),
        Band(T0 + 90 * MIN, T0 + 99 * MIN, "x"),
    ]
    root = parse(render_chart(spec(on_off={"风机": bands})))
    rects = root.findall(".//s:g[@data-lane='风机']/s:rect[@class='on']", NS)
    assert len(rects) == 2  # the band after the axis ends is not drawn
    t1 = T0 + 60 * MIN
    first, second = rects
    assert float(first.get("x") or 0) == pytest.approx(PAD_LEFT)
    assert float(first.get("x") or 0) + float(first.get("width") or 0) == pytest.approx(
        x_of(T0 + 15 * MIN, T0, t1), abs=0.12
    )
    assert float(second.get("x") or 0) == pytest.approx(x_of(T0 + 30 * MIN, T0, t1), abs=0.06)
    # lanes add height under the plot
    assert int(root.get("height") or 0) == 200 + 14


def test_fume_values_get_decimal_ticks() -> None:
    points = [(T0 + i * MIN, 0.8 + 0.02 * i) for i in range(60)]
    root = parse(
        render_chart(spec(unit="mg/m³", points=points, limits=[LimitStep(T0, T0 + 60 * MIN, 2.0)]))
    )
    labels = [
        t.text or ""
        for t in root.findall(".//s:text[@class='tick']", NS)
        if ":" not in (t.text or "") and "/" not in (t.text or "")
    ]
    assert any("." in label for label in labels)
    assert (
        "2" in labels or "2.0" in labels or any(float(x) >= 2.0 for x in labels)
    )  # the limit is within the axis
