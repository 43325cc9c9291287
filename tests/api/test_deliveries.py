"""What linli told whom, through the API: a person's action tells in its transaction, the
deliveries of a case and those that failed, each channel on /health."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from linli.api.case_schemas import CaseOut
from linli.rules.delivery import DeliveryState
from linli.rules.engine.engine import Engine
from linli.rules.engine.telling import OutboxTeller, case_doc
from linli.rules.policy import RulePolicy
from linli.rules.routing import ChannelType, Group, NotifyPlan, directory_of
from linli.store import Role
from tests.api.conftest import ADMIN_TOKEN, bearer
from tests.api.test_cases import fume
from tests.rules.conftest import local_ms

PLAN = NotifyPlan(
    channels={"sms": ChannelType.SMS, "city": ChannelType.WEBHOOK},
    grids={"g1": ("city",)},
    community=Group("天新社区", (), ("city",)),
)


def teller(db) -> OutboxTeller:
    registry = db.load_registry
    return OutboxTeller(
        lambda: directory_of(registry(), PLAN),
        lambda: {s.id: s.name for s in registry().sites.values()},
        "https://linli.example",
        ZoneInfo("Asia/Shanghai"),
    )


def opened_case(registry, tell: OutboxTeller) -> int:
    engine = Engine(registry, RulePolicy(), tellers=[tell])
    for r in fume(10, local_ms("12:00")):
        engine.process([r], r.ts_ms)
    with registry.cases() as tx:
        (case,) = tx.not_closed()
    assert case.id is not None
    return case.id


def test_an_opened_case_is_told_to_the_merchants_sms_and_an_acknowledge_through_the_api_too(
    make_client, tokens, registry
):
    tell = teller(registry)
    client = make_client(tellers=[tell])
    case_id = opened_case(registry, tell)
    told = client.get(f"/api/v1/cases/{case_id}/deliveries", headers=tokens["staff"]).json()
    assert [(d["event"], d["channel"], d["to"], d["state"]) for d in told] == [
        ("case.opened", "sms", ["1390"], "pending")
    ]
    with registry.outbox() as box:
        (first,) = box.of_case(case_id)
    assert "测得 2.51 mg/m³，限值 2 mg/m³（GB 18483-2001" in first.text
    assert first.link == f"https://linli.example/board/cases/{case_id}"
    answer = client.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "acknowledge", "note": "已开启净化器"},
        headers=tokens["merchant"],
    )
    assert answer.status_code == 200
    told = client.get(f"/api/v1/cases/{case_id}/deliveries", headers=tokens["merchant"]).json()
    assert [(d["event"], d["channel"]) for d in told] == [
        ("case.opened", "sms"),
        ("case.acknowledged", "sms"),
    ]
    comment = client.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "comment", "note": "ok"},
        headers=tokens["staff"],
    )
    assert comment.status_code == 200
    assert (
        len(client.get(f"/api/v1/cases/{case_id}/deliveries", headers=tokens["staff"]).json()) == 2
    )


def test_a_webhook_body_carries_the_case_as_the_api_lists_it(make_client, tokens, registry):
    tell = teller(registry)
    case_id = opened_case(registry, tell)
    with registry.cases() as tx:
        case = tx.get(case_id)
    assert case_doc(case) == CaseOut.model_validate(case).model_dump(mode="json")


def test_deliveries_of_another_sites_case_do_not_exist_and_failed_ones_are_for_staff(
    make_client, tokens, registry
):
    tell = teller(registry)
    client = make_client(tellers=[tell])
    case_id = opened_case(registry, tell)
    with registry.outbox() as box:
        (d,) = box.of_case(case_id)
        box.record(
            [d], DeliveryState.FAILED, "isv.SMS_SIGNATURE_ILLEGAL: 该账号下找不到对应签名", 1
        )
    failed = client.get("/api/v1/deliveries?state=failed", headers=tokens["admin"]).json()
    assert [(f["case_id"], f["detail"]) for f in failed] == [
        (case_id, "isv.SMS_SIGNATURE_ILLEGAL: 该账号下找不到对应签名")
    ]
    assert client.get("/api/v1/deliveries", headers=tokens["staff"]).json() == failed
    assert client.get("/api/v1/deliveries", headers=tokens["merchant"]).status_code == 403
    g2, _ = registry.create_token(Role.GRID_WORKER, grids=["g2"])  # not g1's case
    other = client.get(
        f"/api/v1/cases/{case_id}/deliveries", headers={"Authorization": f"Bearer {g2}"}
    )
    assert other.status_code == 404


def test_health_names_each_channel_and_a_broken_one_does_not_degrade_the_service(make_client):
    client = make_client(
        channel_health=lambda: {
            "dingtalk": (
                False,
                "channel 'dingtalk' field 'url': environment variable X is not set",
            ),
            "sms": (True, "last delivered 2026-12-01T10:00:00Z"),
        }
    )
    body = client.get("/api/v1/health", headers=bearer(ADMIN_TOKEN)).json()
    assert body["status"] == "ok"
    assert body["channels"] == {
        "dingtalk": {
            "ok": False,
            "detail": "channel 'dingtalk' field 'url': environment variable X is not set",
        },
        "sms": {"ok": True, "detail": "last delivered 2026-12-01T10:00:00Z"},
    }
