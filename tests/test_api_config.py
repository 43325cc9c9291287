"""The API's configuration is the settings' (linli/wiring.py api_config): each ApiConfig
field is the Settings field of its name, so an API setting is written once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from linli.api.services import ApiConfig
from linli.settings import Settings
from linli.wiring import api_config

# a value for each copied field, none of them its default
CHANGED = {
    "admin_token": "t" * 40,
    "tz": "Asia/Urumqi",
    "api_max_body_bytes": 4096,
    "api_auth_failures": 3,
    "api_auth_window_s": 7.5,
    "public_url": "https://linli.example.org",
    "board_secret": "s" * 32,
    "board_link_ttl_s": 600,
    "board_session_ttl_s": 900,
    "board_max_photo_bytes": 2048,
    "board_max_photos": 2,
    "board_max_upload_bytes": 8192,
    "public_cache_s": 5.0,
    "public_code_ttl_s": 120,
    "public_code_tries": 2,
    "public_window_s": 600.0,
    "public_reports_per_phone": 1,
    "public_reports_per_client": 4,
    "public_sms_per_hour": 7,
    "public_max_waiting": 9,
}


def test_every_api_setting_is_a_settings_field_of_its_name():
    copied = {f.name for f in dataclasses.fields(ApiConfig)} - {"spool"}
    assert copied == set(CHANGED)
    assert copied <= set(Settings.model_fields)


def test_the_api_config_carries_the_settings_values(tmp_path: Path):
    defaults = Settings()
    assert all(getattr(defaults, k) != v for k, v in CHANGED.items())
    settings = Settings(**CHANGED, spool_dir=tmp_path / "spool")  # type: ignore[arg-type]
    config = api_config(settings)
    assert {k: getattr(config, k) for k in CHANGED} == CHANGED
    assert config.spool.failed_dir.parent == tmp_path / "spool"  # LINLI_SPOOL_DIR
