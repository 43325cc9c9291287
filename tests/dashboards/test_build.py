"""The committed JSON is what the generator makes, and follows the conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from linli.cli import main as linli
from linli.dashboards.build import JSON_DIR, build_all, main, render, stale, write_all
from linli.dashboards.grafana import DATASOURCE, SCHEMA_VERSION
from linli.dashboards.options import Options
from linli.rules.localtime import Calendar, parse_hhmm
from tests.dashboards.test_queries import panels

CJK = re.compile(r"[\u4e00-\u9fff]")
BOARDS = build_all()


def test_committed_json_equals_the_generated():
    assert stale() == []
    for name, board in BOARDS.items():
        assert json.loads((JSON_DIR / f"{name}.json").read_text(encoding="utf-8")) == board


def test_build_writes_and_check_reports_stale_files(tmp_path, capsys):
    written = write_all(tmp_path)
    assert sorted(p.name for p in written) == [
        "devices.json",
        "fume.json",
        "noise.json",
        "overview.json",
    ]
    assert (tmp_path / "noise.json").read_text(encoding="utf-8") == render(BOARDS["noise"])
    assert main(["--check"]) == 0
    (tmp_path / "noise.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["noise"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_conventions(name):
    board = BOARDS[name]
    assert board["uid"] == f"linli-{name}"
    assert board["schemaVersion"] == SCHEMA_VERSION
    assert CJK.search(board["title"]) and not CJK.search(board["description"])
    ids = [p["id"] for p in panels(board)]
    assert ids == list(range(1, len(ids) + 1))
    for p in panels(board):
        if p["type"] == "row":
            continue
        assert CJK.search(p["title"]), p["title"]
        assert p["description"] and not CJK.search(p["description"].replace("装而不用", ""))
        for t in p["targets"]:
            assert (t["rawQuery"], t["datasource"]) == (True, DATASOURCE)
            assert "$timeFilter" in t["query"], t["query"]
    for var in board["templating"]["list"]:
        assert var["query"].startswith("SHOW TAG VALUES")


def test_units_are_set_on_levels_and_concentrations():
    units = {
        (name, p["title"]): p["fieldConfig"]["defaults"].get("unit")
        for name, board in BOARDS.items()
        for p in panels(board)
        if p["type"] != "row"
    }
    assert units[("noise", "等效声级与限值 · $site")] == "suffix: dB(A)"
    assert units[("noise", "昼间/夜间等效声级")] == "suffix: dB(A)"
    assert units[("fume", "油烟浓度")] == "conmgm3"
    oil = next(p for p in panels(BOARDS["fume"]) if p["title"] == "油烟浓度")
    assert oil["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {
        "color": "red",
        "value": 2.0,
    }


SMALL = Path(__file__).parent.parent / "data" / "small.toml"
LD_LN = "昼间/夜间等效声级"
HOUR = '"hour_local"'


def _ld_ln(board: dict) -> tuple[str, str]:
    """The WHERE clause's hour condition and GROUP BY time of the daily Ld and Ln targets."""
    found = []
    for t in next(p for p in panels(board) if p["title"] == LD_LN)["targets"]:
        where = t["query"].split(" WHERE ")[1].split(' AND "site"')[0]
        group = t["query"].split("GROUP BY ")[1].split(', "site"')[0]
        found.append(f"{where} | {group}")
    return found[0], found[1]


def _options(night: str) -> Options:
    start, end = (parse_hhmm(x) for x in night.split("-"))
    return Options(calendar=Calendar(night_start_min=start, night_end_min=end))


# fmt: off
NIGHTS = [
    pytest.param("22:00-06:00", f"{HOUR} >= 6 AND {HOUR} < 22 | time(1d)", f"({HOUR} >= 22 OR {HOUR} < 6) | time(1d, -2h)", id="GB 3096 default 22–06"),
    pytest.param("23:00-07:00", f"{HOUR} >= 7 AND {HOUR} < 23 | time(1d)", f"({HOUR} >= 23 OR {HOUR} < 7) | time(1d, -1h)", id="community night 23–07 → day 07–23, nights bucketed from 23:00"),
    pytest.param("00:00-06:00", f"{HOUR} >= 6 | time(1d)", f"{HOUR} >= 0 AND {HOUR} < 6 | time(1d)", id="night from midnight: within one calendar day"),
    pytest.param("22:00-24:00", f"{HOUR} >= 0 AND {HOUR} < 22 | time(1d)", f"{HOUR} >= 22 | time(1d, -2h)", id="night until midnight (24:00)"),
]
# fmt: on


@pytest.mark.parametrize(("night", "day_query", "night_query"), NIGHTS)
def test_daily_ld_ln_split_at_the_communitys_night(night, day_query, night_query):
    assert _ld_ln(build_all(_options(night))["noise"]) == (day_query, night_query)


def test_limit_panel_describes_the_communitys_hours():
    board = build_all(_options("23:00-07:00"))["noise"]
    text = next(p for p in panels(board) if p["title"] == "等效声级与限值 · $site")["description"]
    assert "the day value 07–23 h and the night value 23–07 h local" in text


@pytest.mark.parametrize(
    ("night", "message"),
    [
        pytest.param(
            "23:30-07:00",
            "night 23:30-07:00: 23:30 is not on the hour",
            id="start not on the hour → error naming it",
        ),
        pytest.param(
            "23:00-06:45",
            "night 23:00-06:45: 06:45 is not on the hour",
            id="end not on the hour → error naming it",
        ),
        pytest.param(
            "06:00-06:00",
            "night 06:00-06:00: the dashboards need both day and night hours",
            id="no day → error",
        ),
    ],
)
def test_a_night_off_the_hour_cannot_be_built(night, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        _options(night)


def _community(tmp_path, night: str):
    path = tmp_path / "community.toml"
    path.write_text(
        SMALL.read_text(encoding="utf-8") + f'\n[rules]\nnight = "{night}"\n', encoding="utf-8"
    )
    return path


def test_linli_dashboards_build_takes_the_night_from_the_community_file(tmp_path, capsys):
    config = _community(tmp_path, "23:00-07:00")
    out = tmp_path / "json"
    assert linli(["dashboards", "build", "--config", str(config), "--out", str(out)]) == 0
    board = json.loads((out / "noise.json").read_text(encoding="utf-8"))
    assert _ld_ln(board) == (
        f"{HOUR} >= 7 AND {HOUR} < 23 | time(1d)",
        f"({HOUR} >= 23 OR {HOUR} < 7) | time(1d, -1h)",
    )
    capsys.readouterr()
    assert (
        linli(["dashboards", "build", "--config", str(config), "--out", str(out), "--check"]) == 0
    )
    assert linli(["dashboards", "build", "--out", str(out), "--check"]) == 1  # the defaults differ
    assert "stale dashboards: noise" in capsys.readouterr().out


def test_linli_dashboards_build_fails_on_a_night_off_the_hour(tmp_path, capsys):
    config = _community(tmp_path, "23:30-07:00")
    out = tmp_path / "json"
    assert linli(["dashboards", "build", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"linli: {config}: night 23:30-07:00: 23:30 is not on the hour" in err
    assert not out.exists()
