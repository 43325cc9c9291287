"""The same 12345 order twice is one complaint, and matching by an order's id stays in the
caller's scope (CONTRACT §7 and CONTRACT §5): through the real app on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from tests.api.complaint_app import App, app_fixture  # noqa: F401 (the fixture `app`)
from tests.api.test_board import csrf, sign_in
from tests.api.test_board_complaints import form_nonce
from tests.api.test_complaints import iso, yesterday

WINDOW = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}


def listed(on: App, who: str = "staff", **params: Any) -> list[dict[str, Any]]:
    answer = on.client.get("/api/v1/complaints", params=params, headers=on.h(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def case_of(on: App, case_id: int) -> dict[str, Any]:
    answer = on.client.get(f"/api/v1/cases/{case_id}", headers=on.h("staff"))
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    return doc


# -- the same order twice -------------------------------------------------------------------


def test_the_same_order_posted_again_answers_the_first_complaint(app: App) -> None:
    body: dict[str, Any] = {"site": "hj-b1", "external_id": "12345-20261201-0042", **WINDOW,
            "contact": {"name": "李女士", "phone": "139"}}  # fmt: skip
    first = app.complain(**body)
    assert first.status_code == 201, first.text
    again = app.complain(**body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    # a "now" complaint sent again (no window given): the same order, the same complaint
    now = {"site": "hj-b2", "external_id": "12345-20261201-0043", "text": "现在很吵"}
    made = app.complain(**now)
    retried = app.complain(**now)
    assert (made.status_code, retried.status_code) == (201, 200), retried.text
    assert retried.json()["id"] == made.json()["id"]
    assert len(listed(app)) == 2
    assert case_of(app, first.json()["case_id"])["complaints"] == 1


def test_the_same_order_at_once_from_four_clients_is_one_complaint(app: App) -> None:
    doc = {"kind": "noise", "source": "12345", "site": "hj-b1", "text": "吵",
           "external_id": "12345-0001", **WINDOW}  # fmt: skip
    answers: list[Any] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = TestClient(app.client.app)
        barrier.wait()
        answers.append(client.post("/api/v1/complaints", json=doc, headers=app.h("staff")))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    (kept,) = listed(app)
    assert case_of(app, kept["case_id"])["complaints"] == 1


def test_the_same_order_with_other_words_is_merged_into_the_first(app: App) -> None:
    body = {"site": "hj-b1", "external_id": "12345-0002", **WINDOW}
    first = app.complain(**body).json()
    other = app.complain(**{**body, "text": "又开始吵了，已经凌晨一点"})
    assert other.status_code == 201, other.text
    merged = other.json()
    assert (merged["merged_into"], merged["case_id"]) == (first["id"], first["case_id"])
    # the merged one sent again: itself, not a third
    assert app.complain(**{**body, "text": "又开始吵了，已经凌晨一点"}).json()["id"] == merged["id"]
    assert case_of(app, first["case_id"])["complaints"] == 2


def test_different_words_at_once_are_one_first_and_the_others_merged(app: App) -> None:
    answers: list[Any] = []
    barrier = threading.Barrier(3)

    def post(text: str) -> None:
        client = TestClient(app.client.app)
        doc = {"kind": "noise", "source": "12345", "site": "hj-b1", "text": text,
               "external_id": "12345-0003", **WINDOW}  # fmt: skip
        barrier.wait()
        answers.append(client.post("/api/v1/complaints", json=doc, headers=app.h("staff")))

    threads = [threading.Thread(target=post, args=(f"吵 {i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    docs = [a.json() for a in answers]
    (first,) = [d for d in docs if d["merged_into"] is None]
    assert sorted(d["merged_into"] or 0 for d in docs) == [0, first["id"], first["id"]]
    assert case_of(app, first["case_id"])["complaints"] == 3


# -- an order's id never reaches outside the caller's scope -----------------------------------


def _west_order(on: App) -> dict[str, Any]:
    """A 12345 order at w-1 (grid g2), filed by g2's grid worker, resolved with a note only
    g2's readers may see."""
    west = on.complain(who="west_worker", site="w-1", external_id="12345-W-0007",
                        text="西区便利店冷机很吵", **WINDOW)  # fmt: skip
    assert west.status_code == 201, west.text
    doc: dict[str, Any] = west.json()
    resolved = on.client.post(
        f"/api/v1/cases/{doc['case_id']}/actions",
        json={"action": "resolve", "note": "西区私密处理记录：已换冷机"},
        headers=on.h("west_worker"),
    )
    assert resolved.status_code == 200, resolved.text
    return doc


def _shape(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["grid"], doc["merged_into"], doc["case_complaints"], doc["resolution"])


def test_an_order_id_of_another_grid_is_filed_as_an_order_of_its_own(app: App) -> None:
    west = _west_order(app)
    body = {"site": "hj-b1", "text": "楼上很吵", **WINDOW}
    answer = app.complain(**body, external_id="12345-W-0007")
    assert answer.status_code == 201, answer.text
    mine = answer.json()
    # exactly what an order linli never saw gives (at the building next door)
    unknown = app.complain(**{**body, "site": "hj-b2"}, external_id="12345-NEVER-SEEN").json()
    assert _shape(mine) == _shape(unknown) == ("g1", None, 1, None)
    assert mine["site"] == "hj-b1" and mine["case_id"] != west["case_id"]
    assert "西区私密处理记录" not in answer.text
    # g2's case: not joined, its priority unchanged, still resolved
    case = case_of(app, west["case_id"])
    assert (case["complaints"], case["priority"], case["state"]) == (1, "normal", "resolved")
    # the g1 worker's follow-up moves the g1 case only
    app.client.post(f"/api/v1/cases/{mine['case_id']}/actions",
                    json={"action": "resolve", "note": "已劝导"}, headers=app.h("grid_worker"))  # fmt: skip
    rated = app.client.post(
        f"/api/v1/complaints/{mine['id']}/followup",
        json={"satisfied": False, "note": "还是吵"},
        headers=app.h("grid_worker"),
    )
    assert rated.status_code == 200, rated.text
    assert "西区私密处理记录" not in rated.text
    assert case_of(app, west["case_id"])["state"] == "resolved"
    # the same g1 order again: the g1 complaint, never g2's
    again = app.complain(**body, external_id="12345-W-0007")
    assert (again.status_code, again.json()["id"]) == (200, mine["id"])
    # and g2's worker sending its order again still gets its own
    west_again = app.complain(who="west_worker", site="w-1", external_id="12345-W-0007",
                              text="西区便利店冷机很吵", **WINDOW)  # fmt: skip
    assert (west_again.status_code, west_again.json()["id"]) == (200, west["id"])


def test_the_board_form_with_an_order_id_of_another_grid_files_its_own(app: App) -> None:
    west = _west_order(app)
    board = TestClient(app.client.app)
    sign_in(board, app.tokens["grid_worker"])
    page = board.get("/board/complaints/new").text
    data = {"csrf": csrf(page), "nonce": form_nonce(page), "site": "hj-b1", "address": "",
            "kind": "noise", "source": "12345", "from": "", "to": "", "text": "楼上很吵",
            "external_id": "12345-W-0007", "contact_name": "", "contact_phone": ""}  # fmt: skip
    answer = board.post("/board/complaints/new", data=data, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:400]
    assert answer.headers["location"].endswith("?ok=filed")
    shown = board.get(answer.headers["location"]).text
    assert "西区私密处理记录" not in shown
    (mine,) = listed(app, "grid_worker")
    assert (mine["site"], mine["merged_into"]) == ("hj-b1", None)
    assert mine["case_id"] != west["case_id"]
    assert case_of(app, west["case_id"])["complaints"] == 1


def test_an_order_at_no_known_site_is_matched_among_the_filers_own(app: App) -> None:
    body = {"address": "西湖区某某路 999 号", "external_id": "12345-NS-1", "text": "狗叫"}
    mine = app.complain(**body)
    again = app.complain(**body)
    assert (mine.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == mine.json()["id"]
    # the office files the same order: the community's own, not the grid worker's
    office = app.complain(who="staff", **body)
    assert office.status_code == 201, office.text
    assert office.json()["id"] != mine.json()["id"] and office.json()["merged_into"] is None
