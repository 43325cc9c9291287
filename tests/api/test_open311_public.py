"""Open311 GeoReport v2 as the specification reads it (CONTRACT §7): the GET documents are
public and carry no personal data, the api_key may come in a header, the fields are
bounded, a scoped list tells nothing of other grids, and a request is `closed` only once
its case is closed by someone who may close it. The real app on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from linli.api.routers.open311 import RESOLVED_NOTE
from tests.api.complaint_app import App, app_fixture  # noqa: F401 (the fixture `app`)
from tests.api.test_complaints import OPEN311_REQUEST, iso, yesterday

WINDOW = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}
PRIVATE = ("李女士", "13900001111", "我是1幢302", "文三路8弄3单元502", "张", "13800002222")


def _post(
    on: App,
    headers: dict[str, str] | None = None,
    more: dict[str, str] | None = None,
    **fields: str,
) -> Any:
    form = {"service_code": "noise", "address_id": "ktv-1", "description": "我是1幢302，KTV太吵",
            "first_name": "张", "phone": "13800002222", **fields, **(more or {})}  # fmt: skip
    return on.client.post("/open311/v2/requests.json", data=form, headers=headers or {})


def _file_private(on: App) -> list[str]:
    """Three complaints that hold a resident's data; their ids."""
    ids = []
    for body in (
        {"site": "ktv-1", "text": "我是1幢302，楼下KTV太吵", **WINDOW,
         "contact": {"name": "李女士", "phone": "13900001111"}},
        {"address": "西湖区文三路8弄3单元502", "text": "邻居家狗叫", "source": "phone"},
    ):  # fmt: skip
        answer = on.complain(who="staff", **body)
        assert answer.status_code == 201, answer.text
        ids.append(str(answer.json()["id"]))
    posted = _post(on, api_key=on.tokens["staff"])
    assert posted.status_code == 201, posted.text
    ids.append(posted.json()[0]["service_request_id"])
    return ids


def test_the_get_documents_need_no_api_key_and_carry_no_personal_data(app: App) -> None:
    ids = _file_private(app)
    listed = app.client.get("/open311/v2/requests.json")
    assert listed.status_code == 200, listed.text
    docs = listed.json()
    assert sorted(d["service_request_id"] for d in docs) == sorted(ids)
    for doc in docs:
        assert set(doc) == OPEN311_REQUEST
        assert doc["description"] == "噪声扰民 Noise nuisance"
    by_id = {d["service_request_id"]: d for d in docs}
    # the site's public name, never the address a resident gave
    assert (by_id[ids[0]]["address"], by_id[ids[0]]["address_id"]) == ("欢唱KTV", "ktv-1")
    assert (by_id[ids[1]]["address"], by_id[ids[1]]["address_id"]) == (None, None)
    for word in PRIVATE:
        assert word not in listed.text, word
    for request_id in ids:
        one = app.client.get(f"/open311/v2/requests/{request_id}.json")
        assert one.status_code == 200, one.text
        assert one.json() == [by_id[request_id]]
        for word in PRIVATE:
            assert word not in one.text, word
    # with a key: the token's scope, as before (the words are the authority's to read)
    keyed = app.client.get("/open311/v2/requests.json", params={"api_key": app.tokens["staff"]})
    assert "我是1幢302" in keyed.text
    # a key that is given must be valid
    assert app.client.get("/open311/v2/requests.json", params={"api_key": "x"}).status_code == 401
    # posting still needs one
    (error,) = _post(app).json()
    assert error["code"] == 401


def test_the_api_key_may_come_in_a_header(app: App) -> None:
    posted = _post(app, headers={"X-API-Key": app.tokens["grid_worker"]})
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    keyed = app.client.get(
        "/open311/v2/requests.json", headers={"X-API-Key": app.tokens["grid_worker"]}
    )
    assert [d["service_request_id"] for d in keyed.json()] == [request_id]
    assert keyed.json()[0]["description"] == "我是1幢302，KTV太吵"  # the keyed document
    # g2's worker's key sees nothing of g1's
    west = app.client.get(
        "/open311/v2/requests.json", headers={"X-API-Key": app.tokens["west_worker"]}
    )
    assert west.status_code == 200 and west.json() == []
    wrong = app.client.get("/open311/v2/requests.json", headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "field", ["first_name", "last_name", "phone", "email", "device_id", "account_id", "lat"]
)
def test_a_field_over_its_length_is_georeports_400_and_nothing_is_kept(
    app: App, field: str
) -> None:
    for value in ("n" * 30_000, "名" * 5_000):  # form-encoded, under the 64 KB body bound
        answer = _post(app, api_key=app.tokens["staff"], more={field: value})
        assert answer.status_code == 400, answer.text[:300]
        (error,) = answer.json()
        assert error["code"] == 400 and field in error["description"]
    with app.db.complaints() as tx:
        assert tx.list_complaints()[1] == 0


def test_a_scoped_list_tells_another_grid_from_nothing(app: App) -> None:
    west = app.complain(who="west_worker", site="w-1", text="冷机很吵", **WINDOW).json()
    key = {"api_key": app.tokens["grid_worker"]}
    elsewhere, nowhere = str(west["id"]), "999999"

    def listed(ids: str) -> Any:
        return app.client.get(
            "/open311/v2/requests.json", params={**key, "service_request_id": ids}
        )

    assert (listed(elsewhere).status_code, listed(elsewhere).json()) == (200, [])
    assert (listed(nowhere).status_code, listed(nowhere).json()) == (200, [])
    one = app.client.get(f"/open311/v2/requests/{elsewhere}.json", params=key)
    none = app.client.get(f"/open311/v2/requests/{nowhere}.json", params=key)
    assert one.status_code == none.status_code == 404
    assert one.json()[0]["description"].replace(elsewhere, "N") == none.json()[0][
        "description"
    ].replace(nowhere, "N")


def test_a_merchants_resolve_does_not_close_the_residents_request(app: App) -> None:
    posted = _post(app, api_key=app.tokens["staff"])
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    mine = app.client.get(f"/api/v1/complaints/{request_id}", headers=app.h("staff")).json()
    case_id = mine["case_id"]
    resolved = app.client.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "resolve", "note": "经核实投诉不实，已结案"},
        headers=app.h("merchant"),
    )
    assert resolved.status_code == 200, resolved.text
    for params in ({"api_key": app.tokens["staff"]}, {}):
        (doc,) = app.client.get(f"/open311/v2/requests/{request_id}.json", params=params).json()
        assert (doc["status"], doc["status_notes"]) == ("open", RESOLVED_NOTE), params
        listed = app.client.get("/open311/v2/requests.json", params=params)
        assert "经核实投诉不实" not in listed.text
        assert [d["status"] for d in listed.json()] == ["open"]
    # the grid worker verifies and closes it: closed, with the grid worker's note
    closed = app.client.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "close", "note": "已到现场核实，KTV已降低音量"},
        headers=app.h("grid_worker"),
    )
    assert closed.status_code == 200, closed.text
    (doc,) = app.client.get(f"/open311/v2/requests/{request_id}.json").json()
    assert (doc["status"], doc["status_notes"]) == ("closed", "已到现场核实，KTV已降低音量")
    assert doc["expected_datetime"] is None
    assert app.client.get("/open311/v2/requests.json", params={"status": "open"}).json() == []
