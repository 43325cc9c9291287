"""No error answer carries a database driver's words: no SQL, no table or constraint, no
driver name, no traceback (CONTRACT §5: errors are one sentence). Every request below that
the suite knows to fail is sent to the real app on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.rules.case import Case, CaseKind, open_case
from linli.store import Database, Duplicate
from tests.api.complaint_app import App, app_fixture  # noqa: F401 (the fixture `app`)
from tests.api.test_board import csrf, sign_in
from tests.api.test_board_complaints import form_nonce
from tests.api.test_complaints import iso, yesterday

DRIVER_WORDS = re.compile(
    r"constraint|sqlite|psycopg|SELECT|INSERT|Traceback|UNIQUE|sqlalchemy", re.IGNORECASE
)
WINDOW = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}
COMPLAINT = {"kind": "noise", "source": "12345", "site": "hj-b1", "text": "吵", **WINDOW}


def _said(answer: Any) -> str:
    """What an answer tells its reader: a JSON body whole, a board page's flash or message."""
    if answer.headers.get("content-type", "").startswith("application/json"):
        return str(answer.text)
    found = re.findall(r'<p id="(?:flash|message)"[^>]*>([^<]*)</p>', answer.text)
    return " ".join(found) or answer.text[:2000]


def _requests(on: App) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(method, path, who, keywords) of requests that fail, and of repeats that once did."""
    open311_form = {"api_key": on.tokens["staff"], "service_code": "noise",
                    "address_string": "上城区新塘路70号", "description": "KTV噪音扰民"}  # fmt: skip
    return [
        # complaints: bad bodies, roles, scope, windows, the same order again
        ("POST", "/api/v1/complaints", None, {"json": COMPLAINT}),
        ("POST", "/api/v1/complaints", "bad", {"json": COMPLAINT}),
        ("POST", "/api/v1/complaints", "merchant", {"json": {**COMPLAINT, "site": "ktv-1"}}),
        ("POST", "/api/v1/complaints", "staff", {"content": b"{not json"}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "kind": "smell"}}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "site": "nowhere"}}),
        ("POST", "/api/v1/complaints", "grid_worker", {"json": {**COMPLAINT, "site": "w-1"}}),
        ("POST", "/api/v1/complaints", "staff",
         {"json": {**COMPLAINT, "from": "2099-01-01T00:00:00+08:00", "to": None}}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "text": "吵" * 5000}}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "site": None}}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "external_id": "HZ-1"}}),
        ("POST", "/api/v1/complaints", "staff", {"json": {**COMPLAINT, "external_id": "HZ-1"}}),
        ("POST", "/api/v1/complaints", "staff", {"json": COMPLAINT}),
        ("POST", "/api/v1/complaints", "staff", {"json": COMPLAINT}),
        ("GET", "/api/v1/complaints/999999", "staff", {}),
        ("GET", "/api/v1/complaints/0", "staff", {}),
        ("GET", "/api/v1/complaints", "staff", {"params": {"verdict": "maybe"}}),
        ("POST", "/api/v1/complaints/999999/followup", "staff", {"json": {"satisfied": True}}),
        # the registry and tokens: duplicate ids, dangling references, roles
        ("POST", "/api/v1/grids", "admin", {"json": {"id": "g1", "name": "又一个"}}),
        ("POST", "/api/v1/grids", "staff", {"json": {"id": "g9", "name": "新网格"}}),
        ("POST", "/api/v1/sites", "admin",
         {"json": {"id": "s-x", "name": "x", "kind": "shop", "zone": "2", "grid": "nowhere"}}),
        ("POST", "/api/v1/sensors", "admin",
         {"json": {"id": "n-x", "kind": "noise", "site": "nowhere"}}),
        ("POST", "/api/v1/tokens", "admin", {"json": {"role": "grid_worker", "grids": ["gx"]}}),
        ("POST", "/api/v1/tokens", "admin", {"json": {"role": "merchant"}}),
        ("GET", "/api/v1/sites/nowhere", "staff", {}),
        ("GET", "/api/v1/sites/w-1", "grid_worker", {}),
        ("PATCH", "/api/v1/grids/nowhere", "admin", {"json": {"name": "x"}}),
        # cases: unknown ids, bad filters, illegal actions
        ("GET", "/api/v1/cases/999999", "staff", {}),
        ("GET", "/api/v1/cases", "staff", {"params": {"state": "bogus"}}),
        ("POST", "/api/v1/cases/999999/actions", "staff", {"json": {"action": "acknowledge"}}),
        ("GET", "/api/v1/sites/hj-b1/readings", "staff",
         {"params": {"metric": "laeq", "from": "0", "to": "99999999999999"}}),
        # Open311: keys, ids, bad fields, the same request again
        ("GET", "/open311/v2/requests/999999.json", None, {"params": open311_form}),
        ("GET", "/open311/v2/requests/x.json", None, {"params": open311_form}),
        ("POST", "/open311/v2/requests.json", None, {"data": {**open311_form, "api_key": "no"}}),
        ("POST", "/open311/v2/requests.json", None,
         {"data": {**open311_form, "service_code": "graffiti"}}),
        ("POST", "/open311/v2/requests.json", None, {"data": {**open311_form, "description": ""}}),
        ("POST", "/open311/v2/requests.json", None, {"data": open311_form}),
        ("POST", "/open311/v2/requests.json", None, {"data": open311_form}),
        ("GET", "/open311/v2/requests.json", None,
         {"params": {"api_key": on.tokens["staff"], "start_date": "x"}}),
    ]  # fmt: skip


def _send(on: App, method: str, path: str, who: str | None, keywords: dict[str, Any]) -> Any:
    headers = (
        {} if who is None else {"Authorization": "Bearer nonsense"} if who == "bad" else on.h(who)
    )
    return on.client.request(method, path, headers=headers, **keywords)


def test_no_error_answer_names_the_store_its_tables_or_its_sql(app: App) -> None:
    failed: list[tuple[str, int, str]] = []
    for method, path, who, keywords in _requests(app):
        answer = _send(app, method, path, who, keywords)
        if answer.status_code >= 400:
            failed.append((f"{method} {path}", answer.status_code, _said(answer)))
    # the same order at once, and the same grid id at once: the races a unique key settles
    answers: list[Any] = []
    barrier = threading.Barrier(6)

    def race(path: str, doc: dict[str, Any]) -> None:
        client = TestClient(app.client.app)
        barrier.wait()
        answers.append(client.post(path, json=doc, headers=app.h("admin")))

    for path, doc in (
        ("/api/v1/complaints", {**COMPLAINT, "external_id": "HZ-RACE"}),
        ("/api/v1/grids", {"id": "g-race", "name": "赛跑网格"}),
    ):
        answers.clear()
        threads = [threading.Thread(target=race, args=(path, doc)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        barrier.reset()
        assert sum(a.status_code == 201 for a in answers) == 1, [a.text for a in answers]
        failed += [
            (f"POST {path}", a.status_code, _said(a)) for a in answers if a.status_code >= 400
        ]
    # the board's complaint form refusing
    board = TestClient(app.client.app)
    sign_in(board, app.tokens["grid_worker"])
    for changes in ({"site": "w-1"}, {"site": "nowhere"}, {"from": "0001-13-01T00:00"}):
        page = board.get("/board/complaints/new").text
        data = {"csrf": csrf(page), "nonce": form_nonce(page), "site": "hj-b1", "address": "",
                "kind": "noise", "source": "12345", "from": "", "to": "", "text": "吵",
                "external_id": "", "contact_name": "", "contact_phone": "", **changes}  # fmt: skip
        answer = board.post("/board/complaints/new", data=data, follow_redirects=False)
        assert answer.status_code >= 400, answer.text[:300]
        failed.append(("POST /board/complaints/new", answer.status_code, _said(answer)))
    assert len(failed) >= 35
    leaks = [(what, code, said) for what, code, said in failed if DRIVER_WORDS.search(said)]
    assert leaks == []
    statuses = {code for _, code, _ in failed}
    assert {400, 401, 403, 404, 409, 422} <= statuses


def test_a_write_losing_a_race_on_a_unique_key_raises_a_plain_sentence(store_url: str) -> None:
    """The store's own error (the API shows its message): the same row twice."""
    db = Database(store_url)
    try:
        case, _ = open_case(
            Case("s1", "g1", "complaint_noise", CaseKind.COMPLAINT, None, "投诉", 1_000)
        )
        with pytest.raises(Duplicate) as raised, db.cases() as tx:
            tx.insert_case(case)
            tx.insert_case(case)  # a second case not closed for (s1, complaint_noise)
        assert DRIVER_WORDS.search(str(raised.value)) is None, str(raised.value)
        assert "concurrent change" in str(raised.value)
    finally:
        db.close()


def test_health_names_no_driver_words_to_an_admin_when_the_store_fails(
    client: TestClient, tokens: dict[str, dict[str, str]], registry: Database, tmp_path: Path
) -> None:
    registry.close()
    db_file = tmp_path / "linli.db"
    shutil.move(db_file, tmp_path / "moved.db")
    db_file.mkdir()  # a directory where the file was: every connection fails
    answer = client.get("/api/v1/health", headers=tokens["admin"])
    assert answer.status_code == 503, answer.text
    part = answer.json()["case_store"]
    assert part["ok"] is False and part["detail"].startswith("did not answer")
    assert DRIVER_WORDS.search(answer.text) is None, answer.text
