"""Each community of a street judged by its own `[rules]` (CONTRACT §9): its night, its
escalation schedule, through the policy linli's wiring builds from the files."""

from __future__ import annotations

from pathlib import Path

from linli.community import apply_street, load_street
from linli.rules.case import Level
from linli.rules.engine.engine import Engine
from linli.rules.reading import Reading, SensorKind
from linli.settings import Settings
from linli.store import Database
from linli.wiring import load_policy
from tests.rules.conftest import local_ms
from tests.streetfiles import community_toml

MIN = 60_000
HUANDING_RULES = """
[rules]
night = "20:00-06:00"
escalate_unacknowledged_s = 60
"""


def _street(tmp_path: Path) -> list[Path]:
    a = tmp_path / "a.toml"
    a.write_text(community_toml("tianxin", "tx", "天新", street=True), encoding="utf-8")
    b = tmp_path / "b.toml"
    b.write_text(community_toml("huanding", "hd", "环丁", extra=HUANDING_RULES), encoding="utf-8")
    return [a, b]


def _open_sites(db: Database) -> dict[str, Level]:
    with db.cases() as tx:
        return {c.site: c.level for c in tx.not_closed()}


def _rules(db: Database) -> set[tuple[str, str]]:
    with db.cases() as tx:
        return {(c.site, c.rule) for c in tx.not_closed()}


def test_each_community_has_its_own_night_and_escalation(tmp_path: Path) -> None:
    files = _street(tmp_path)
    db = Database(f"sqlite:///{tmp_path}/linli.db")
    try:
        apply_street(db, load_street(files))
        policy = load_policy(Settings(tz="Asia/Shanghai"), files)
        engine = Engine(db, policy)
        # 55 dB(A) at a zone-2 building from 20:30: day in Tianxin (limit 60), night in
        # Huanding, whose night starts at 20:00 (limit 50)
        t0 = local_ms("20:30")
        for i in range(15):
            ts = t0 + i * MIN
            engine.process(
                [
                    Reading(
                        f"n-{p}-1",
                        SensorKind.NOISE,
                        ts,
                        i,
                        60,
                        {"laeq": 55.0 + i % 3 * 0.1, "l90": 40.0 + i % 2 * 0.1},
                    )
                    for p in ("tx", "hd")
                ],
                ts,
            )
        assert _rules(db) == {("hd-home", "noise_leq")}
        # oil fume over the limit at both shops: two cases at the merchant; Huanding's
        # climbs after its 60 s unacknowledged, Tianxin's waits its 30 min
        t1 = local_ms("12:00", day=27)
        for i in range(12):
            ts = t1 + i * MIN
            engine.process(
                [
                    Reading(
                        f"f-{p}-1",
                        SensorKind.FUME,
                        ts,
                        i,
                        60,
                        {"oil_fume": 2.5 + i % 3 * 0.01, "fan_on": True},
                    )
                    for p in ("tx", "hd")
                ],
                ts,
            )
        opened = _open_sites(db)
        assert (opened["tx-shop"], opened["hd-shop"]) == (Level.MERCHANT, Level.MERCHANT)
        engine.tick(t1 + 12 * MIN + 2 * MIN)
        levels = _open_sites(db)
        assert (levels["tx-shop"], levels["hd-shop"]) == (Level.MERCHANT, Level.GRID_WORKER)
    finally:
        db.close()
