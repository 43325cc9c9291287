"""The committed JSON is what the generator makes, and follows the conventions."""

from __future__ import annotations

import json
import re

import pytest

from linli.dashboards.build import JSON_DIR, build_all, main, render, stale, write_all
from linli.dashboards.grafana import DATASOURCE, SCHEMA_VERSION
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
