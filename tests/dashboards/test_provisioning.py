"""Provisioning files and the compose example agree with the code (text checks: no YAML lib)."""

from __future__ import annotations

import re
from pathlib import Path

from linli.dashboards.grafana import DATASOURCE_UID
from linli.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"


def _value(text: str, key: str, sep: str = ":") -> str:
    found = re.findall(rf"^\s*-?\s*{key}{sep}\s*(\S+)\s*$", text, re.MULTILINE)
    assert len(found) == 1, (key, found)
    return found[0]


def test_datasource_file_is_the_one_the_dashboards_refer_to():
    text = (PROVISIONING / "datasources" / "linli.yaml").read_text()
    assert _value(text, "uid") == DATASOURCE_UID
    assert (_value(text, "type"), _value(text, "version")) == ("influxdb", "InfluxQL")
    assert _value(text, "dbName") == Settings().influx_db


def test_compose_mounts_the_provisioning_and_the_json_where_the_provider_reads():
    provider = (PROVISIONING / "dashboards" / "linli.yaml").read_text()
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()
    assert f"../dashboards/json:{_value(provider, 'path')}:ro" in compose
    assert "../dashboards/provisioning/datasources:/etc/grafana/provisioning/datasources" in compose
    assert "image: influxdb:1.8" in compose


def test_the_broker_config_keeps_every_queued_message():
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    assert _value(conf, "persistence", " ") == "true"
    assert _value(conf, "max_queued_messages", " ") == "0"
