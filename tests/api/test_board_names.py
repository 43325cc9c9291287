"""The board calls rules and states by their one name (rules/names.py): a complaint case
on the overview and the list is "居民投诉 噪声扰民", never its id `complaint_noise`."""

from __future__ import annotations

import re

from linli.rules.case import CaseState
from linli.rules.names import RULE_NAMES, STATE_NAMES
from tests.api.test_board import board, sign_in  # noqa: F401 (the fixture)
from tests.api.test_board_complaints import file, listed, loud, token_of


def test_a_complaint_case_is_named_on_the_overview_the_list_and_its_page(
    board,  # noqa: F811 (the fixture)
    registry,
    influx,
    tokens,
):
    client, _ = board
    sign_in(client, token_of(tokens["grid_worker"]))
    loud(influx)
    assert file(client).status_code == 303
    (complaint,) = listed(client, tokens["grid_worker"])["items"]
    case_id = complaint["case_id"]
    with registry.cases() as tx:
        assert tx.get(case_id).rule == "complaint_noise"
    name = RULE_NAMES["complaint_noise"].zh
    overview = client.get("/board/overview").text
    link = re.search(rf'<a class="case-link" href="/board/cases/{case_id}">[^<]*</a>', overview)
    assert link and link.group(0).endswith(f"#{case_id} {name}</a>")
    assert "complaint_noise" not in overview
    listing = client.get("/board/cases").text
    assert f"· {name}" in listing and "complaint_noise" not in listing
    page = client.get(f"/board/cases/{case_id}").text
    assert f"· {name}</h1>" in page
    assert STATE_NAMES[CaseState.OPEN] in page
