"""The street's governance statistics for a year through the API (docs/benchmarks.md).

    .venv/bin/python -m bench.stats [--communities 10] [--sites 10] [--cases 150]
                                    [--requests 20] [--db-url URL]

Builds a street of `--communities` communities of two grids each and `--sites` sites per
community, and a year of cases inserted through the store (store/cases.py `CaseTx`, as
the engine and the API write them): `--cases` per site, each opened, signed for and
resolved at its own times (some late, some never, some reopened, some closed), with the
timeline the delivery worker adds (a "tell" entry per message) and a complaint with its
follow-up on every fourth. Then it times `GET /api/v1/stats/cases` for the whole year as
the street's staff, by community, grid, site and rule (`--requests` each, after one
warm-up), and prints median, p95 and max; exit 1 when a p95 is over 1 s. SQLite in a
temp dir unless `--db-url` names another store (a PostgreSQL database, say).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.rules.case import (
    Action,
    Case,
    CaseKind,
    CaseState,
    Level,
    TimelineEntry,
    apply,
    open_case,
)
from linli.rules.complaint import Source
from linli.rules.corroboration import Corroboration, Verdict
from linli.rules.registry import SiteKind, Zone
from linli.settings import Settings
from linli.store import CommunityRecord, Database, GridRecord, SiteRecord
from linli.store.complaints import NewComplaint
from linli.wiring import api_config

MIN = 60_000
H = 3_600_000
YEAR_MS = 365 * 24 * H
TOKEN = "bench-" + "x" * 40
BUDGET_MS = 1000.0
RULES = ("noise_leq", "noise_night_max", "fume_conc", "purifier_off")


def build_registry(db: Database, communities: int, sites: int) -> list[tuple[str, str]]:
    """The street: (site, grid) of every site."""
    db.apply_communities(CommunityRecord(f"c{c:02d}", f"社区{c:02d}") for c in range(communities))
    out = []
    for c in range(communities):
        for g in range(2):
            grid = f"c{c:02d}-g{g}"
            db.create_grid(GridRecord(grid, f"网格{c:02d}-{g}", community=f"c{c:02d}"))
        for s in range(sites):
            grid = f"c{c:02d}-g{s % 2}"
            site = f"c{c:02d}-s{s:02d}"
            db.create_site(SiteRecord(site, f"点位{site}", SiteKind.SHOP, Zone.Z2, grid))
            out.append((site, grid))
    return out


def _tell(case: Case, at_ms: int) -> TimelineEntry:
    """A delivery's outcome on the timeline (what the worker writes per message)."""
    return TimelineEntry(at_ms, "linli", Action.TELL, case.state, case.state, case.level, "")


def build_year(db: Database, sites: list[tuple[str, str]], per_site: int, end_ms: int) -> int:
    """A year of cases per site through the store; how many were written."""
    rng = random.Random(7)
    start = end_ms - YEAR_MS
    n = 0
    complaint = 0
    for site, grid in sites:
        left_open: set[str] = set()  # at most one case not closed per (site, rule)
        with db.complaints() as tx:
            for i in range(per_site):
                opened_ms = start + rng.randrange(YEAR_MS - 10 * 24 * H)
                rule = RULES[i % len(RULES)]
                case = Case(site, grid, rule, CaseKind.BREACH, None, f"{site} {rule}", opened_ms,
                            first_level=Level.MERCHANT)  # fmt: skip
                case, entry = open_case(case)
                entries = [entry, _tell(case, opened_ms + 2000)]
                t = opened_ms
                roll = rng.random()
                if roll < 0.9:  # signed for: most in time, some late
                    t += rng.randrange(1, 90) * MIN
                    case, e = apply(case, Action.ACKNOWLEDGE, t, "merchant")
                    entries += [e, _tell(case, t + 2000)]
                    if roll < 0.8:
                        t += rng.randrange(1, 48) * H
                        case, e = apply(case, Action.RESOLVE, t, "merchant")
                        entries += [e, _tell(case, t + 2000)]
                        if roll < 0.08:  # a false closure: it came back
                            t += 3 * H
                            case, e = apply(case, Action.OCCUR, t, "linli")
                            entries.append(e)
                        else:
                            t += 24 * H
                            case, e = apply(case, Action.VERIFY, t, "linli")
                            entries.append(e)
                if case.state is not CaseState.CLOSED:
                    if rule in left_open:  # the office closes it after ten days
                        t += 10 * 24 * H
                        case, e = apply(case, Action.CLOSE, t, "staff")
                        entries.append(e)
                    else:
                        left_open.add(rule)
                case = tx.insert_case(case)  # as it stands now, its timeline below
                assert case.id is not None
                for e in entries:
                    tx.add_timeline(case.id, e)
                if i % 4 == 0:
                    complaint += 1
                    kept = tx.insert_complaint(
                        NewComplaint(site, grid, "", "noise", Source.PHONE.value, None,
                                     opened_ms - 30 * MIN, opened_ms, "吵", None, opened_ms,
                                     "staff", f"fp-{complaint}"),
                        Corroboration(Verdict.NO_COVERAGE, opened_ms - 30 * MIN, opened_ms, ""),
                        opened_ms, "Asia/Shanghai", primary=True,
                    )  # fmt: skip
                    tx.set_case(kept.id, case.id)
                    if case.state is CaseState.CLOSED:
                        tx.set_followup(kept.id, rng.random() < 0.8, "", t + H)
                n += 1
    return n


def timed(client: TestClient, params: dict[str, str], requests: int) -> list[float]:
    """Milliseconds of each request, after one warm-up."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/v1/stats/cases", params=params, headers=headers).status_code == 200
    out = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = client.get("/api/v1/stats/cases", params=params, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return out


def main() -> int:
    """Build the street's year, time the statistics, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--communities", type=int, default=10)
    p.add_argument("--sites", type=int, default=10, help="sites per community")
    p.add_argument("--cases", type=int, default=150, help="cases per site in the year")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--db-url", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="linli-bench-stats-") as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp)}/linli.db"
        db = Database(url)
        end_ms = time.time_ns() // 1_000_000
        t0 = time.perf_counter()
        sites = build_registry(db, args.communities, args.sites)
        cases = build_year(db, sites, args.cases, end_ms)
        built_s = time.perf_counter() - t0
        settings = Settings(db_url=url, admin_token=TOKEN, spool_dir=Path(tmp) / "spool")
        app = create_app(api_config(settings), db, None, lambda: True)  # type: ignore[arg-type]
        client = TestClient(app)
        store = url.split(":", 1)[0]
        print(
            f"bench: store {store}, {args.communities} communities, {len(sites)} sites, "
            f"{cases} cases in the year (built in {built_s:.1f} s)"
        )
        year = {"from": str(end_ms - YEAR_MS), "to": str(end_ms)}
        print()
        print(f"{'GET /api/v1/stats/cases, a year':40} median ms   p95 ms   max ms")
        worst = 0.0
        for by in ("community", "grid", "site", "rule"):
            ms = sorted(timed(client, {**year, "by": by}, args.requests))
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            worst = max(worst, p95)
            print(f"{'by=' + by:40} {statistics.median(ms):9.1f} {p95:8.1f} {ms[-1]:8.1f}")
        print()
        verdict = "under" if worst < BUDGET_MS else "OVER"
        print(f"bench: the slowest p95 {worst:.1f} ms, {verdict} {BUDGET_MS:.0f} ms")
        client.close()
        db.close()
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
