"""Every benchmark the docs quote still runs: each at small sizes, as its own process on
its own servers, printing its table (the column headers and a numeric row). Nothing here
asserts how fast anything was: the numbers are the benchmark's to report, not a test's.

Run alone: `.venv/bin/pytest -m bench`; they are part of the normal suite too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"

pytestmark = pytest.mark.bench
# the benchmarks that start mosquitto, influxd or `linli serve` of their own (in their own
# process, where the fast tier's guard cannot see them)
SERVERS = pytest.mark.servers


def bench(tmp_path: Path, module: str, *args: str) -> tuple[int, str, str]:
    """`python -m bench.<module> args` from a scratch directory (its bench/results/ there):
    its exit code, what it printed, and that with its log (stderr) for a failure's message."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return done.returncode, done.stdout, done.stdout + done.stderr


def rows(out: str, header: str) -> list[str]:
    """The lines after the table's `header` line, up to the first blank one."""
    lines = out.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    assert at is not None, out
    table = []
    for line in lines[at + 1 :]:
        if not line.strip():
            break
        table.append(line)
    return table


def test_bench_accept(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "accept", "--sensors", "20", "--per-sensor", "10", "--runs", "2"
    )
    assert code == 0, log
    assert re.search(rf"^Pipeline\.accept: best {NUMBER} µs CPU per message \(200 messages, runs {NUMBER}, {NUMBER}\)$", out, re.M), log  # fmt: skip


def test_bench_engine(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "engine", "--readings", "2000", "--hour", "23")
    assert code == 0, log
    assert re.search(r"^2,000 readings of 1,000 sensors at 23:00: [0-9]+ cases", out, re.M), log
    for what in ("ingest: pickle for the engine", "engine: unpickle", "engine: judge and keep"):
        assert re.search(rf"^\| {what}.* \| {NUMBER} µs per reading \|$", out, re.M), log


@SERVERS
def test_bench_run(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "run", "--sensors", "50", "--seconds", "3", "--max-readings", "2000",
        "--plain-readings", "300", "--workers", "1",
    )  # fmt: skip
    assert code == 0, log
    table = rows(out, "| measurement | result |")
    assert table[0] == "| --- | --- |"
    assert re.search(rf"^\| \(a\) sustained 50 sensors .*published 150, stored 150; publish → queryable p50 {NUMBER} s", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| \(b\) maximum.* 2,000 readings, 1 worker\(s\) \| {NUMBER} readings/s stored end to end", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| \(c\) plain paho → /write per reading, 300 readings \| {NUMBER} readings/s \|$", out, re.M), log  # fmt: skip
    assert (tmp_path / "bench" / "results").is_dir()


@SERVERS
def test_bench_run_with_rules_and_the_notifier(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "run", "--sensors", "50", "--max-readings", "2000", "--workers", "1",
        "--skip", "a,c", "--rules", "--notify", "--repeat", "1", "--hour", "23",
    )  # fmt: skip
    assert code == 0, log
    rows(out, "| measurement | result |")
    assert re.search(rf"^\| \(b\) at 23:00 with every rule on .*\| {NUMBER} readings/s stored and judged", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| ratio rules on / off at 23:00 \(1 worker\) \| {NUMBER} ", out, re.M), (
        out
    )
    assert re.search(rf"^\| \(b\) at 23:00, rules on and the notifier .*\| {NUMBER} readings/s", out, re.M), log  # fmt: skip


@SERVERS
def test_bench_fuzz(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "fuzz", "--adversarial", "500", "--valid", "60")
    assert code == 0, log  # non-zero when a reading was lost or a rejection not counted
    assert re.search(r"^readings stored: 60 of 60; rejections counted: ([0-9,]+) of \1 ", out, re.M), log  # fmt: skip
    assert re.search(rf"^linli serve RSS: {NUMBER} MB before, {NUMBER} MB at its peak", out, re.M), log  # fmt: skip
    assert "OK: linli alive" in out
    assert len(list((tmp_path / "bench" / "results").glob("fuzz-*.json"))) == 1


@SERVERS
def test_bench_complaints(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "complaints", "--days", "2", "--repeat", "2")
    assert code == 0, log
    table = rows(out, "what ")
    assert re.search(r"^what\s+best\s+median\s+readings read$", out, re.M), log
    assert len(table) == 4, log
    assert re.search(rf"^judge, 30 min window, 2 sensors\s+{NUMBER} ms\s+{NUMBER} ms\s+30 per sensor$", out, re.M), log  # fmt: skip
    assert re.search(rf"^POST /api/v1/complaints .*{NUMBER} ms\s+{NUMBER} ms\s+30 per sensor$", out, re.M), log  # fmt: skip


@SERVERS
def test_bench_board(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "board", "--requests", "3", "--days", "1")
    # exit 1 says a page's p95 was over its budget: the benchmark's verdict, not this test's
    verdict = re.search(rf"^bench: the slowest page's p95 {NUMBER} ms, (under|OVER) 200 ms$", out, re.M)  # fmt: skip
    assert verdict and code == (0 if verdict[1] == "under" else 1), log
    assert re.search(r"^bench: [0-9]+ cases open \(fume_conc, noise_leq", out, re.M), log
    header = "page                    median ms   p95 ms   max ms     KB"
    table = rows(out, header)
    assert [line[:22].strip() for line in table] == [
        "login (GET)", "login (POST token)", "overview", "case list", "case list, filtered",
        "case page (fume)", "case page (noise)",
    ]  # fmt: skip
    assert all(re.fullmatch(rf".{{22}}(\s+{NUMBER}){{4}}", line) for line in table), table


@SERVERS
def test_bench_hj212(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "hj212", "--monitors", "20", "--frames", "3", "--runs", "2")
    assert code == 0, log
    table = rows(out, "| measurement | result |")
    assert table[0] == "| --- | --- |"
    assert re.search(rf"^\| HJ 212 frames stored, 20 connected monitors \| {NUMBER} frames/s \(median; runs {NUMBER}, {NUMBER}\) \|$", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| the same readings over MQTT \| {NUMBER} readings/s", out, re.M), log
    assert re.search(rf"^\| ratio HJ 212 / MQTT \| {NUMBER} \|$", out, re.M), log
    assert re.search(rf"^\| memory per idle connection \| -?{NUMBER} KiB RSS \|$", out, re.M), log


@SERVERS
def test_bench_street(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "street", "--communities", "3", "--per-community", "10",
        "--readings", "600", "--requests", "5",
    )  # fmt: skip
    assert code == 0, log
    table = rows(out, "| measurement | result |")
    assert table[0] == "| --- | --- |"
    assert re.search(rf"^\| \(1\) one community of 30 sensors; 600 readings of 30 sensors, rules on, 1 worker \| {NUMBER} readings/s stored and judged end to end \|$", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| \(1\) a street of 3 communities × 10; .* \| {NUMBER} readings/s \({NUMBER} × one community\) \|$", out, re.M), log  # fmt: skip
    for page in ("street page /board/street", "one community's overview"):
        assert re.search(rf"^\| \(2\) {page}, 3 communities, 5 requests \| median {NUMBER} ms, p95 {NUMBER} ms, max {NUMBER} ms, {NUMBER} KB \|$", out, re.M), log  # fmt: skip


@SERVERS
def test_bench_report(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "report", "--sensors", "5", "--days", "3", "--runs", "2")
    assert code == 0, log
    assert re.search(r"^wrote 21,600 readings \(3 days × 5 sensors\) in [0-9]+ s$", out, re.M), log
    table = rows(out, "| measurement | result |")
    assert table[0] == "| --- | --- |"
    for site in ("noise site", "fume site"):
        for fmt in ("json", "csv", "xlsx"):
            assert re.search(rf"^\| GET report, {site}, {fmt} \| median {NUMBER} ms, p95 {NUMBER} ms, max {NUMBER} ms \|$", out, re.M), log  # fmt: skip
    assert re.search(rf"^\| in process, noise site: read the month back \({NUMBER} readings\) \| median {NUMBER} ms, p95 {NUMBER} ms \|$", out, re.M), log  # fmt: skip


@SERVERS
def test_bench_public(tmp_path: Path) -> None:
    code, out, log = bench(tmp_path, "public", "--days", "2", "--shops", "2", "--requests", "3")
    # exit 1 says a page's p95 was over its budget: the benchmark's verdict, not this test's
    verdict = re.search(rf"^bench: the slowest warm page's p95 {NUMBER} ms, (under|OVER) 100 ms$", out, re.M)  # fmt: skip
    assert verdict and code == (0 if verdict[1] == "under" else 1), log
    table = rows(out, "page ")
    assert len(table) == 9, log
    for page in ("site \\(shop\\)", "site \\(residential\\)", "community list"):
        for how in ("cold", "cached", "recomputed"):
            assert re.search(rf"^{page}\s+{how}\s+[0-9]+\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", out, re.M), log  # fmt: skip


def test_bench_stats(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "stats", "--communities", "2", "--sites", "3", "--cases", "8", "--requests", "2"
    )
    # exit 1 says a p95 was over 1 s: the benchmark's verdict, not this test's
    verdict = re.search(rf"^bench: the slowest p95 {NUMBER} ms, (under|OVER) 1000 ms$", out, re.M)
    assert verdict and code == (0 if verdict[1] == "under" else 1), log
    assert re.search(r"^bench: store sqlite, 2 communities, 6 sites, 48 cases in the year", out, re.M), log  # fmt: skip
    table = rows(out, "GET /api/v1/stats/cases, a year")
    assert [line.split()[0] for line in table] == ["by=community", "by=grid", "by=site", "by=rule"]
    assert all(re.fullmatch(rf"\S+(\s+{NUMBER}){{3}}", line) for line in table), table


@SERVERS
def test_bench_cluster(tmp_path: Path) -> None:
    code, out, log = bench(
        tmp_path, "cluster", "--sensors", "20", "--readings", "400", "--workers", "1,2",
        "--partitions", "4",
    )  # fmt: skip
    assert code == 0, log
    table = rows(out, "| workers | readings | seconds | readings/s | ratio to one linli serve |")
    assert [row.split("|")[1].strip() for row in table[1:]] == [
        "one linli serve", "1 ingest + 1 engine", "2 ingest + 2 engine",
    ]  # fmt: skip
    for row in table[1:]:
        assert re.fullmatch(rf"\| [^|]+ \| 400 \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", row), log
