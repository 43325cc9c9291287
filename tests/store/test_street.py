"""A street's communities in one linli (CONTRACT §9): several community files loaded into
one street, applied to the store; bad configuration refused at start in one message that
names the files and keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from linli.cli import main
from linli.community import CommunityError, apply_street, load_street
from linli.store import Database, Invalid, Role
from tests.streetfiles import community_toml, write_street


def test_two_files_make_one_street_with_its_communities(tmp_path: Path, db: Database) -> None:
    street = load_street(write_street(tmp_path))
    assert [c.id for c in street.communities] == ["tianxin", "huanding"]
    assert street.street is not None and street.street.name == "笕桥街道综合执法队"
    apply_street(db, street)
    assert [(c.id, c.name) for c in db.communities()] == [("huanding", "环丁"), ("tianxin", "天新")]
    assert {g.id: g.community for g in db.grids()} == {"hd-g1": "huanding", "tx-g1": "tianxin"}
    assert db.community_of_site("hd-shop") == "huanding"
    assert db.community_of_site("tx-home") == "tianxin"
    merged = street.merged()
    assert len(merged.site) == 4 and len(merged.sensor) == 4 and len(merged.channel) == 3


def test_a_directory_of_toml_files_is_its_files_by_name(tmp_path: Path) -> None:
    write_street(tmp_path / "street")
    (tmp_path / "street" / "notes.txt").write_text("not a community")
    street = load_street([tmp_path / "street"])
    assert [c.id for c in street.communities] == ["tianxin", "huanding"]
    assert [p.name for p in street.files] == ["a-tianxin.toml", "b-huanding.toml"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommunityError, match=r"empty: a directory without community files"):
        load_street([tmp_path / "empty"])


def test_a_file_alone_keeps_working_without_an_id(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "one.toml"
    path.write_text(community_toml(None, "tx", "天新"), encoding="utf-8")
    street = load_street([path])
    assert [c.id for c in street.communities] == ["community"]
    apply_street(db, street)
    assert {g.community for g in db.grids()} == {"community"}


def _refused(files: list[Path]) -> str:
    with pytest.raises(CommunityError) as err:
        load_street(files)
    return str(err.value)


def test_an_id_in_two_communities_names_both_files_and_the_key(tmp_path: Path) -> None:
    a, b = write_street(tmp_path)
    for table, old, new in (
        ("grid", 'id = "hd-g1"', 'id = "tx-g1"'),
        ("site", 'id = "hd-shop"', 'id = "tx-shop"'),
        ("sensor", 'id = "n-hd-1"', 'id = "n-tx-1"'),
        ("channel", 'id = "hd-office"', 'id = "street-ding"'),
    ):
        text = community_toml("huanding", "hd", "环丁").replace(old, new)
        if table == "grid":
            text = text.replace('grid = "hd-g1"', 'grid = "tx-g1"')
        if table == "site":
            text = text.replace('site = "hd-shop"', 'site = "tx-shop"')
        if table == "channel":
            text = text.replace('"hd-office"', '"street-ding"')
        b.write_text(text, encoding="utf-8")
        message = _refused([a, b])
        assert f"{b}: [[{table}]] #1 field 'id'" in message, message
        assert f"is also a [[{table}]] id in {a}" in message, message


def test_two_street_tables_and_a_missing_or_twice_given_id_are_refused(tmp_path: Path) -> None:
    a, b = write_street(tmp_path)
    b.write_text(community_toml("huanding", "hd", "环丁", street=True).replace(
        '"street-ding"', '"hd-street"'), encoding="utf-8")  # fmt: skip
    message = _refused([a, b])
    assert f"{b}: [street]: a second [street] table, the first is in {a}" in message
    b.write_text(community_toml(None, "hd", "环丁"), encoding="utf-8")
    assert f"{b}: [community] field 'id': required when several" in _refused([a, b])
    b.write_text(community_toml("tianxin", "hd", "环丁"), encoding="utf-8")
    assert f"{b}: [community] field 'id': 'tianxin' is also the id of {a}" in _refused([a, b])
    b.write_text(community_toml("Huan_Ding", "hd", "环丁"), encoding="utf-8")
    assert f"{b}: [community] field 'id': String should match pattern" in _refused([a, b])


def test_every_bad_file_is_named_in_the_one_message(tmp_path: Path) -> None:
    a, b = write_street(tmp_path)
    a.write_text(community_toml("tianxin", "tx", "天新").replace('zone = "2"', 'zone = "9"', 1))
    b.write_text(community_toml("huanding", "hd", "环丁").replace('kind = "noise"', 'kind = "x"'))
    message = _refused([a, b])
    assert f"{a}: [[site]] #1 'tx-shop' field 'zone'" in message
    assert f"{b}: [[sensor]] #1 'n-hd-1' field 'kind'" in message


def test_linli_serve_refuses_a_bad_street_at_start_in_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = write_street(tmp_path)
    b.write_text(community_toml("huanding", "tx", "环丁"), encoding="utf-8")  # tx-* again
    monkeypatch.setenv("LINLI_DB_URL", f"sqlite:///{tmp_path}/never.db")
    assert main(["serve", "--config", str(a), "--config", str(b), "--log-level", "ERROR"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linli: ")
    assert f"{b}: [[grid]] #1 field 'id': 'tx-g1' is also a [[grid]] id in {a}" in err
    assert f"{b}: [[sensor]] #2 field 'id': 'f-tx-1' is also a [[sensor]] id in {a}" in err
    assert not (tmp_path / "never.db").exists()  # refused before anything was opened


def test_a_token_keeps_its_communities_on_both_stores(tmp_path: Path, store_url: str) -> None:
    db = Database(store_url)
    try:
        apply_street(db, load_street(write_street(tmp_path)))
        token, grant = db.create_token(Role.STAFF, communities=["huanding"])
        assert grant.communities == frozenset({"huanding"})
        resolved = db.resolve_token(token)
        assert resolved is not None and resolved.communities == frozenset({"huanding"})
        street, _ = db.create_token(Role.STAFF)
        resolved = db.resolve_token(street)
        assert resolved is not None and resolved.communities is None  # every community
        with pytest.raises(Invalid, match="community 'xihu' does not exist"):
            db.create_token(Role.STAFF, communities=["xihu"])
        with pytest.raises(Invalid, match="takes no communities"):
            db.create_token(Role.GRID_WORKER, grids=["tx-g1"], communities=["tianxin"])
    finally:
        db.close()


def test_a_file_given_an_id_takes_its_grids_and_its_old_name_goes(
    tmp_path: Path, db: Database
) -> None:
    """From one community to a street: the file alone without an id is `community`; given
    `id = "tianxin"`, its grids move there and `community` is no more."""
    path = tmp_path / "one.toml"
    path.write_text(community_toml(None, "tx", "天新"), encoding="utf-8")
    apply_street(db, load_street([path]))
    assert [c.id for c in db.communities()] == ["community"]
    path.write_text(community_toml("tianxin", "tx", "天新"), encoding="utf-8")
    apply_street(db, load_street([path]))
    assert [c.id for c in db.communities()] == ["tianxin"]
    assert {g.community for g in db.grids()} == {"tianxin"}
