"""A street's communities on one process (docs/benchmarks.md, CONTRACT §9).

    .venv/bin/python -m bench.street [--communities 20] [--per-community 50]
                                     [--readings 200000] [--requests 100]

(1) readings/s with the rules on (`linli ingest --rules`, one worker, on real mosquitto
    and influxd): bench/run.py's (b) readings (1-s noise readings of each sensor in
    turn as fast as the broker takes them, every sensor over the day limit) from the
    same 1,000 sensors, first as ONE community file of 1,000 sensors, then as a street:
    20 community files of 50 sensors each in a directory (`--config DIR`), every point
    tagged with its community and every case climbing to its own community's office.
    Stored in InfluxDB and judged by the rule engine, end to end; and the ratio.
(2) the board's street page: `linli api --config DIR` on the street's case store of (1)
    (the rule engine's state of every sensor, a case open at every site), the street's
    staff signed in; GET /board/street (the communities side by side) and one
    community's /board/overview?community=<id> timed: median, p95 and largest latency;
    the budget is a p95 under 200 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.board import BUDGET_MS, measure
from bench.run import PREFIX, community_toml, maximum, maximum_db, settle
from linli.localservers import free_port, influxd, mosquitto

TOKEN = "bench-street-admin-token-of-32-chars"
SITE_SENSORS = 10  # noise sensors per site, as bench/run.py's community


def street_files(folder: Path, communities: int, per_community: int) -> list[Path]:
    """`communities` community files of `per_community` noise sensors each, named and
    numbered as bench/run.py's one community (sites of 10, sensors b-n-00000…), so the
    same readings reach them; the first holds the street's team."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in range(communities):
        cid = f"c{c:02d}"
        out = [f'[community]\nid = "{cid}"\nname = "社区{c}"\n']
        if c == 0:
            out.append('[street]\nname = "bench 街道"\n')
        out.append(f'[[grid]]\nid = "g-{cid}"\nname = "{cid} 网格"\n')
        first = c * per_community
        sites = range(first // SITE_SENSORS, (first + per_community - 1) // SITE_SENSORS + 1)
        for s in sites:
            out.append(
                f'[[site]]\nid = "site-{s:05d}"\nname = "楼{s}"\nkind = "residential"\n'
                f'zone = "2"\ngrid = "g-{cid}"\nprofile = "residential"\n'
            )
        for i in range(first, first + per_community):
            out.append(
                f'[[sensor]]\nid = "b-n-{i:05d}"\nkind = "noise"\n'
                f'site = "site-{i // SITE_SENSORS:05d}"\n'
            )
        path = folder / f"{cid}.toml"
        path.write_text("\n".join(out), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--per-community", type=int, default=50, help="sensors per community")
    parser.add_argument("--readings", type=int, default=200_000, help="readings of each run")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.per_community % SITE_SENSORS:
        parser.error(f"--per-community: a multiple of {SITE_SENSORS} (sensors per site)")
    n = args.communities * args.per_community
    work = Path(tempfile.mkdtemp(prefix="linli-bench-street-"))
    one = work / "one.toml"
    one.write_text(community_toml(n), encoding="utf-8")
    street = work / "street"
    street_files(street, args.communities, args.per_community)
    broker = mosquitto(work / "mosquitto").start()
    db_server = influxd(work / "influxd").start()
    influx_url = f"http://127.0.0.1:{db_server.port}"
    servers = [broker, db_server]
    rows: list[tuple[str, str]] = []
    worst = 0.0
    try:
        single = maximum(work, broker, influx_url, one, args.readings, n, 1, rules=True, run=1)
        settle(influx_url, maximum_db(1, True, 1, 14), servers)
        several = maximum(work, broker, influx_url, street, args.readings, n, 1, rules=True, run=2)
        label = f"{args.readings:,} readings of {n:,} sensors, rules on, 1 worker"
        rows.append(
            (
                f"(1) one community of {n:,} sensors; {label}",
                f"{single['stored_per_s']:,.0f} readings/s stored and judged end to end",
            )
        )
        ratio = several["stored_per_s"] / single["stored_per_s"]
        rows.append(
            (
                f"(1) a street of {args.communities} communities × {args.per_community}; {label}",
                f"{several['stored_per_s']:,.0f} readings/s ({ratio:.2f} × one community)",
            )
        )
        store = work / f"{maximum_db(1, True, 2, 14)}.db"
        for page, got in board_pages(work, broker.port, influx_url, street, store, args.requests):
            worst = max(worst, got["p95_ms"])
            rows.append(
                (
                    f"(2) {page}, {args.communities} communities, {args.requests} requests",
                    f"median {got['median_ms']:.1f} ms, p95 {got['p95_ms']:.1f} ms, "
                    f"max {got['max_ms']:.1f} ms, {got['bytes'] / 1024:.1f} KB",
                )
            )
    finally:
        broker.stop()
        db_server.stop()
        if args.keep:
            print(f"bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| measurement | result |\n| --- | --- |")
    for what, result in rows:
        print(f"| {what} | {result} |")
    verdict = "under" if worst < BUDGET_MS else "OVER"
    print(f"\nbench: the street's pages' p95 at most {worst:.1f} ms, {verdict} {BUDGET_MS:.0f} ms")
    return 0


def board_pages(
    work: Path, broker_port: int, influx_url: str, config: Path, store: Path, requests: int
) -> list[tuple[str, dict[str, float]]]:
    """`linli api` on the street's case store; the street's staff sign in; each page timed."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": maximum_db(1, True, 2, 14),
        "LINLI_DB_URL": f"sqlite:///{store}",
        "LINLI_API_ADDR": f"127.0.0.1:{port}",
        "LINLI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LINLI_ADMIN_TOKEN": TOKEN,
        "LINLI_TOPIC_PREFIX": PREFIX,
        "LINLI_SPOOL_DIR": str(work / "spool-api"),
        "LINLI_MQTT_CLIENT_ID": "linli-bench-street-api",
    }
    argv = [sys.executable, "-m", "linli", "api", "--config", str(config)]
    with (work / "api.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        admin = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as http:
            _wait_up(http, proc)
            made = http.post("/api/v1/tokens", headers=admin, json={"role": "staff"})
            if made.status_code != 201:
                raise SystemExit(f"bench: a staff token: {made.status_code} {made.text[:300]}")
            _sign_in(http, made.json()["token"])
            first = http.get("/board/street")
            if first.status_code != 200 or 'data-community="c00"' not in first.text:
                raise SystemExit(f"bench: /board/street: {first.status_code} {first.text[:300]}")
            return [
                ("street page /board/street", measure(http, "GET", "/board/street", requests)),
                (
                    "one community's overview",
                    measure(http, "GET", "/board/overview?community=c00", requests),
                ),
            ]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def _wait_up(http: httpx.Client, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("bench: linli api exited; see its log (--keep)")
        try:
            if http.get(
                "/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"}
            ).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: linli api not up within {timeout_s} s")


def _sign_in(http: httpx.Client, token: str) -> None:
    form = http.get("/board/login").text
    proof = re.search(r'name="csrf" value="([^"]+)"', form)
    if proof is None:
        raise SystemExit("bench: the sign-in form has no proof")
    data: dict[str, Any] = {"token": token, "csrf": proof.group(1)}
    signed = http.post("/board/login", data=data)
    if signed.status_code != 303 or signed.headers.get("location") != "/board/street":
        raise SystemExit(f"bench: sign-in: {signed.status_code} {signed.headers}")


if __name__ == "__main__":
    sys.exit(main())
