"""The board's sessions and links against an attacker, through the real app, on SQLite and
on PostgreSQL: a revoked token's session stays dead, a session is bound to its token, a
link dies with the tokens of its scope, a sign-in or a link does not replace a session."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.api.board.sessions import COOKIE
from linli.rules.case import Level
from linli.rules.links import MERCHANT, SESSION, STAFF, Claims, sign
from linli.store import Database, Role
from tests.api.conftest import ADMIN, ADMIN_TOKEN
from tests.api.test_board import (
    csrf,
    fume_case,
    key_of,
    link_of,
    login_csrf,
    open_link,
    path_of,
    sign_in,
    teller,
)


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    """This module's store: SQLite and PostgreSQL (tests/conftest.py `store_url`)."""
    database = Database(store_url)
    yield database
    database.close()


@pytest.fixture
def board(make_client: Any, registry: Database) -> tuple[TestClient, Any]:
    """The app on this module's store, its teller signing links as `linli serve` does."""
    tell = teller(registry)
    return make_client(tellers=[tell]), tell


def issue(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/tokens", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def signed_in(client: TestClient) -> bool:
    answer = client.get("/board/overview", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def who(client: TestClient) -> str:
    page = client.get("/board/overview").text
    found = re.search(r'<p class="who">(.*?)</p>', page)
    assert found, page[:300]
    return found.group(1)


# -- a revoked token's session ------------------------------------------------------------


def test_a_revoked_tokens_session_stays_dead_when_another_token_is_issued(board):
    """The attack as an outsider ran it: sign in with the newest token, have it revoked,
    have any other token issued (SQLite gave it the revoked one's id), and the old board
    session was back with its old role and scope."""
    client, _ = board
    staff = issue(client, role="staff", note="离职的工作人员")
    sign_in(client, staff["token"])
    assert signed_in(client)
    assert client.delete(f"/api/v1/tokens/{staff['id']}", headers=ADMIN).status_code == 204
    assert not signed_in(client)
    other = issue(client, role="merchant", site="rest-1")
    assert not signed_in(client)  # the session stays ended
    assert other["id"] != staff["id"]  # and the revoked token's id is never given again
    stolen = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {staff['token']}"})
    assert stolen.status_code == 401
    # revoking it twice: it does not exist (as a valid token) any more
    assert client.delete(f"/api/v1/tokens/{staff['id']}", headers=ADMIN).status_code == 404


def test_a_session_is_bound_to_its_token_not_only_to_its_id(board, registry):
    """A session cookie names its token's id and a prefix of its hash: the id alone (what
    a cookie said before) or another token's stamp is no session."""
    client, _ = board
    staff = issue(client, role="staff")
    now = int(time.time())

    def cookie(extra: dict[str, Any]) -> str:
        claims = Claims(STAFF, now + 3600, kind=SESSION, extra={"sid": "s" * 22, **extra})
        return sign(key_of(registry), claims)

    for extra in ({"tid": staff["id"]}, {"tid": staff["id"], "ts": "0" * 16}, {}):
        client.cookies.set(COOKIE, cookie(extra), path="/board")
        assert not signed_in(client), extra
        client.cookies.clear()
    sign_in(client, staff["token"])
    assert signed_in(client)


def test_a_session_of_the_admin_token_ends_when_it_changes(board, settings, registry, influx):
    from linli.api.app import create_app
    from linli.wiring import api_config

    client, _ = board
    sign_in(client, ADMIN_TOKEN)
    assert signed_in(client)
    rotated = settings.model_copy(update={"admin_token": "another-admin-token-0123456789"})
    later = TestClient(create_app(api_config(rotated), registry, influx, lambda: True))
    later.cookies = client.cookies
    assert not signed_in(later)


# -- a link dies with the tokens of its scope ----------------------------------------------


def test_a_link_dies_when_a_token_of_its_scope_is_revoked(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    link = link_of(registry, case_id, Level.MERCHANT)  # rest-1's merchant's
    ktv = issue(client, role="merchant", site="ktv-1")
    mine = issue(client, role="merchant", site="rest-1", note="周强")
    opened = TestClient(client.app)
    assert open_link(opened, link).status_code == 303 and signed_in(opened)
    # another site's merchant leaving changes nothing for this link
    assert client.delete(f"/api/v1/tokens/{ktv['id']}", headers=ADMIN).status_code == 204
    assert signed_in(opened)
    assert open_link(TestClient(client.app), link).status_code == 303
    # rest-1's merchant's token revoked: the link's session ends, the link opens nothing
    assert client.delete(f"/api/v1/tokens/{mine['id']}", headers=ADMIN).status_code == 204
    assert not signed_in(opened)
    fresh = TestClient(client.app)
    answer = open_link(fresh, link)
    assert answer.status_code == 403 and "已失效" in answer.text
    assert COOKIE not in answer.headers.get("set-cookie", "")
    assert not signed_in(fresh)
    # a message sent after the revocation carries a link that opens again
    later = sign(
        key_of(registry),
        Claims(MERCHANT, int(time.time()) + 600, site="rest-1", case=case_id,
               sent_s=int(time.time()) + 1),
    )  # fmt: skip
    assert fresh.get(f"/board/cases/{case_id}?t={later}", follow_redirects=False).status_code == 303


# -- a sign-in or a link does not replace the session a browser has ----------------------


def test_a_sign_in_post_without_this_sites_proof_is_refused(board, registry):
    """A page of another site posting the sign-in form (its own token: login CSRF) signs
    nobody in and leaves the session there is."""
    client, _ = board
    mine = issue(client, role="staff", note="本人")
    attacker = issue(client, role="staff", note="攻击者")
    sign_in(client, mine["token"])
    for proof in (None, "0" * 32):
        data = {"token": attacker["token"]}
        if proof is not None:
            data["csrf"] = proof
        answer = client.post("/board/login", data=data, follow_redirects=False)
        assert answer.status_code == 403 and COOKIE not in answer.headers.get("set-cookie", "")
        assert who(client) == "本人"
    # another browser's proof is not this one's (this one has a sign-in cookie of its own)
    login_csrf(client)
    theirs = login_csrf(TestClient(client.app))
    answer = client.post(
        "/board/login", data={"token": attacker["token"], "csrf": theirs}, follow_redirects=False
    )
    assert answer.status_code == 403 and who(client) == "本人"
    # this site's own form does it
    answer = client.post(
        "/board/login",
        data={"token": attacker["token"], "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and who(client) == "攻击者"


def test_a_link_asks_before_it_replaces_another_session(board, registry):
    client, tell = board
    case_id = fume_case(registry, tell)
    staff = issue(client, role="staff", note="值班员")
    sign_in(client, staff["token"])
    link = link_of(registry, case_id, Level.MERCHANT)
    answer = open_link(client, link)
    assert answer.status_code == 200 and 'id="link-choice"' in answer.text
    assert COOKIE not in answer.headers.get("set-cookie", "")
    assert who(client) == "值班员"  # kept
    keep = re.search(r'<a id="link-keep" href="([^"]+)"', answer.text)
    assert keep and keep.group(1) == f"/board/cases/{case_id}"
    # the switch is a form of this session (CSRF): another site cannot post it
    token = re.search(r'name="t" value="([^"]+)"', answer.text)
    assert token
    refused = client.post(
        "/board/link",
        data={"t": token.group(1), "case": str(case_id), "csrf": "0" * 32},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and who(client) == "值班员"
    switched = client.post(
        "/board/link",
        data={"t": token.group(1), "case": str(case_id), "csrf": csrf(answer.text)},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == f"/board/cases/{case_id}"
    assert who(client).endswith("rest-1")  # the merchant's now, by choice
    # a link of the reader the browser already is: no question, the session kept
    again = client.get(path_of(link), follow_redirects=False)
    assert again.status_code == 303 and COOKIE not in again.headers.get("set-cookie", "")


def test_a_revoked_token_is_not_resolved_and_its_id_not_given_again(db):
    first, a = db.create_token(Role.STAFF)
    second, b = db.create_token(Role.STAFF)
    assert a.id is not None and b.id is not None
    db.revoke_token(b.id)
    assert db.resolve_token(second) is None and db.resolve_token(first) == a
    _, c = db.create_token(Role.STAFF)
    assert c.id is not None and c.id > b.id
    assert not db.token_alive(b.id, b.stamp)
    assert db.token_alive(c.id, c.stamp) and not db.token_alive(c.id, b.stamp)
