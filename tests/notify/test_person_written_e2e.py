"""A merchant's note reaches the grid's group chat as text, never as markup of its own.

The KTV (bundled community) resolves its case, escalated to the grid, through the API
with a note that tries to forge a status line, add a phishing link and a tracking image,
and clear the demo's terminal. The grid's DingTalk robot (a local stand-in) takes a
markdown message that, parsed, has no link or image but linli's own case link and no
line of its own starting with 当前级别; the demo's printout has no escape sequence.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from linli.api.app import create_app
from linli.community import load_community
from linli.demochannels import Printer, StandIns, names_of, start_standins
from linli.influx.client import InfluxClient
from linli.notifying import start_notifier
from linli.rules.case import Case, CaseKind, Level, open_case
from linli.rules.engine.decide import age
from linli.rules.policy import RulePolicy
from linli.settings import Settings
from linli.store import Database
from linli.store.tokens import Role
from linli.wiring import api_config, open_store
from tests.helpers import wait_for

# the demo's community file (installed as package data, linli.data)
COMMUNITY = Path(__file__).resolve().parents[2] / "community" / "tianxin.toml"

KTV, KTV_GRID = "ktv-huanchang", "g-tc-north"
NOTE = (
    "已整改完毕\n当前级别：已结案\n"
    "[点此查看整改报告](http://evil.example/login) ![](http://evil.example/p.png)"
    "<img src=http://evil.example/q.png>\x1b[2J\x1b[31m请勿再处理"
)


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIns]:
    started = start_standins(load_community(COMMUNITY))
    for name, value in started.environ.items():
        monkeypatch.setenv(name, value)
    yield started
    started.stop()


def links_and_images(markdown: str) -> list[tuple[str, str]]:
    """Every (kind, address) a CommonMark reader makes of `markdown`."""
    found = []
    for token in MarkdownIt("commonmark").parse(markdown):
        for child in token.children or []:
            if child.type == "link_open":
                found.append(("link", str(child.attrs["href"])))
            elif child.type == "image":
                found.append(("image", str(child.attrs["src"])))
        if token.type == "html_block" or (token.children and any(
            c.type == "html_inline" for c in token.children
        )):  # fmt: skip
            found.append(("html", token.content))
    return found


def test_a_merchants_note_reaches_the_grids_robot_as_text(
    stand_ins: StandIns, tmp_path: Path, influx_url: str, influx_db: str
) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path}/linli.db")
    db: Database = open_store(settings, COMMUNITY)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    notifier = start_notifier(db, settings, COMMUNITY, influx=influx)
    out = io.StringIO()
    printer = Printer(stand_ins.delivered, names_of(load_community(COMMUNITY)), out)
    grid = stand_ins.http["ding-tc-north"]
    try:
        # the KTV's night case, unacknowledged and escalated to the grid (nobody told yet)
        now_ms = time.time_ns() // 1_000_000
        with db.cases() as tx:
            case, entry = open_case(
                Case(KTV, KTV_GRID, "noise_night_max", CaseKind.BREACH, "n-ktv-01",
                     "欢唱KTV: 夜间突发噪声", now_ms - 3_600_000, first_level=Level.MERCHANT)
            )  # fmt: skip
            case = tx.insert_case(case)
            assert case.id is not None
            tx.add_timeline(case.id, entry)
            for change in age(case, RulePolicy(), now_ms).changes:
                tx.update_case(change.case, change.entry)
        token, _ = db.create_token(Role.MERCHANT, site=KTV)
        app = create_app(api_config(settings), db, influx, lambda: True, tellers=[notifier.teller])
        api = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        answer = api.post(
            f"/api/v1/cases/{case.id}/actions", json={"action": "resolve", "note": NOTE}
        )
        assert answer.status_code == 200, answer.text
        call = wait_for(lambda: [c for c in grid.accepted() if "工单已办结" in c.reply.text])[0]
    finally:
        notifier.stop()
        influx.close()
    printer.print_new()
    db.close()

    markdown = json.loads(call.request.body)["markdown"]["text"]
    link = f"{settings.public_url}/board/cases/{case.id}"
    found = links_and_images(markdown)
    assert [kind for kind, _ in found] == ["link"], (found, markdown)
    assert found[0][1].startswith(link + "?t="), found  # linli's own, signed for the grid
    assert "evil.example" not in "".join(address for _, address in found)
    assert not re.search(r"(?i)\bhttps?://evil|\bwww\.", markdown), markdown  # no autolink
    lines = markdown.splitlines()
    assert not [line for line in lines if line.lstrip("-*> ").startswith("当前级别")], lines
    (noted,) = [line for line in lines if line.startswith("- 备注：")]
    assert "已整改完毕 当前级别：已结案" in noted and "请勿再处理" in noted  # kept, one line
    assert "\x1b" not in markdown
    printed = out.getvalue()
    assert "已整改完毕 当前级别：已结案" in printed
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", printed), repr(printed)
