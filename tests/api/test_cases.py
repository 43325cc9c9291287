"""`/cases` and `/rules`: listing in scope, evidence, actions, limits in force, backtest."""

from __future__ import annotations

from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from tests.rules.conftest import local_ms

MIN = 60_000


def fume(n: int, ts0: int) -> list[Reading]:
    return [
        Reading("f-rest-01", SensorKind.FUME, ts0 + i * MIN, i, 60,
                {"oil_fume": 2.5 + i % 3 * 0.01, "fan_on": True})
        for i in range(n)
    ]  # fmt: skip


def test_case_list_detail_and_actions(client, tokens, registry):
    engine = Engine(registry, RulePolicy())
    for r in fume(10, local_ms("12:00")):
        engine.process([r], r.ts_ms)
    page = client.get("/api/v1/cases", headers=tokens["staff"]).json()
    assert page["total"] == 1
    (case,) = page["items"]
    assert (case["site"], case["rule"], case["state"], case["level"]) == (
        "rest-1", "fume_conc", "open", "merchant",
    )  # fmt: skip
    assert client.get("/api/v1/cases?state=closed", headers=tokens["staff"]).json()["total"] == 0
    assert client.get("/api/v1/cases?grid=g2", headers=tokens["staff"]).json()["total"] == 0
    # a merchant sees their own site's case; the g2 view of another merchant would be 404
    assert client.get("/api/v1/cases", headers=tokens["merchant"]).json()["total"] == 1
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=tokens["grid_worker"]).json()
    (ev,) = detail["evidence"]
    assert (ev["measured"], ev["limit_value"], ev["standard"]) == (2.51, 2.0, "GB 18483-2001")
    # the readings in memory up to the breach; those after it are read back later
    assert len(ev["snapshot"]) == 8
    assert ev["snapshot"][0] == {
        "sensor": "f-rest-01", "ts": local_ms("12:00"), "seq": 0, "period_s": 60,
        "metrics": {"oil_fume": 2.5, "fan_on": True},
    }  # fmt: skip
    url = f"/api/v1/cases/{case['id']}/actions"
    moved = client.post(
        url, json={"action": "acknowledge", "note": "收到"}, headers=tokens["merchant"]
    )
    assert moved.status_code == 200
    assert moved.json()["state"] == "acknowledged"
    assert [(t["action"], t["actor"], t["note"]) for t in moved.json()["timeline"]][-1] == (
        "acknowledge", "merchant:rest-1", "收到",
    )  # fmt: skip
    again = client.post(url, json={"action": "acknowledge"}, headers=tokens["staff"])
    assert again.status_code == 409
    assert "cannot acknowledge a case that is acknowledged" in again.json()["detail"]
    assert client.post(url, json={"action": "escalate"}, headers=tokens["staff"]).status_code == 422


def test_case_outside_scope_is_404(client, tokens, registry, make_client):
    engine = Engine(registry, RulePolicy())
    t0 = local_ms("23:00")
    for i in range(10):
        r = Reading(
            "n-ktv-01", SensorKind.NOISE, t0 + i * MIN, i, 60, {"laeq": 62.0, "l90": 40 + i * 0.1}
        )
        engine.process([r], r.ts_ms)
    (case,) = client.get("/api/v1/cases", headers=tokens["admin"]).json()["items"]
    assert case["site"] == "ktv-1"
    assert (
        client.get(f"/api/v1/cases/{case['id']}", headers=tokens["grid_worker"]).status_code == 404
    )
    assert client.get("/api/v1/cases", headers=tokens["grid_worker"]).json()["total"] == 0


def test_rules_in_force_per_site(client, tokens):
    rules = {r["site"]: r for r in client.get("/api/v1/rules", headers=tokens["staff"]).json()}
    ktv = rules["ktv-1"]
    assert ktv["noise_standard"] == "GB 22337-2008"
    assert ktv["rules"][:2] == ["noise_leq", "noise_night_max"]
    assert [(x["metric"], x["value"]) for x in ktv["limits"]] == [
        ("laeq", 60.0), ("laeq", 50.0), ("lamax", 65.0),
    ]  # fmt: skip
    rest = rules["rest-1"]
    assert rest["fume_standard"] == "GB 18483-2001"
    assert ("oil_fume", 2.0) in [(x["metric"], x["value"]) for x in rest["limits"]]


def test_backtest_replays_influx_history_and_opens_nothing(client, tokens, influx):
    t0 = local_ms("23:00")
    lines = [
        f"noise,sensor=n-ktv-01,site=ktv-1,grid=g2,zone=2 laeq=62.0,l90={40 + i * 0.1},period_s=60i,seq={i}i {t0 + i * MIN}"
        for i in range(10)
    ]
    influx.write("\n".join(lines).encode())
    url = f"/api/v1/rules/noise_leq/backtest?from={t0 - MIN}&to={t0 + 10 * MIN}"
    found = client.get(url, headers=tokens["staff"]).json()
    assert [(f["site"], f["rule"], f["measured"], f["limit_value"]) for f in found] == [
        ("ktv-1", "noise_leq", 62.0, 50.0)
    ]
    # once 75 % of the 10-minute window is covered: the 8th reading; then it stays on
    assert (found[0]["first_ms"], found[0]["occurrences"]) == (t0 + 7 * MIN, 1)
    assert client.get("/api/v1/cases", headers=tokens["staff"]).json()["total"] == 0
