"""`GET /api/v1/reports/sites/{id}?month=` (CONTRACT §10): the figures of a month written
as ingest writes them, by hand; the CSV read back with `csv`, the XLSX with openpyxl;
scope (CONTRACT §9), bad months, a month with nothing, and no resident in a report."""

from __future__ import annotations

import csv
import io
import math
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.ingest.lineprotocol import LineBuilder
from linli.rules.month import month_of
from linli.rules.reading import Reading, SensorKind
from linli.store import Database, Role
from tests.api.conftest import Headers, bearer

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
URL = "/api/v1/reports/sites/{}"


def at(day: int, hhmm: str, month: int = 11, year: int = 2025) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(year, month, day, h, m, tzinfo=TZ).timestamp() * 1000)


def energetic(*levels: float) -> float:
    return round(10 * math.log10(sum(10 ** (x / 10) for x in levels) / len(levels)), 1)


def write(db: Database, influx: InfluxClient, readings: list[Reading]) -> None:
    """Readings written as ingest writes them (with `limit_db`, `exceed_s`, the tags)."""
    registry = db.load_registry()
    builder = LineBuilder(registry=registry)
    lines = [builder.reading(r, registry.tags[r.sensor]) for r in readings]
    influx.write("\n".join(lines).encode())


def noise(sensor: str, ts_ms: int, laeq: float, flag: str | None = None) -> Reading:
    return Reading(sensor, SensorKind.NOISE, ts_ms, 0, 60, {"laeq": laeq}, flag)


def fume(ts_ms: int, oil: float, fan: bool, purifier: bool) -> Reading:
    metrics: dict[str, float | bool] = {"oil_fume": oil, "fan_on": fan, "purifier_on": purifier}
    return Reading("f-rest-01", SensorKind.FUME, ts_ms, 0, 60, metrics)


# hj-b1: a residential building in class 2, judged by GB 3096-2008: 60 by day, 50 by night
BUILDING = [
    noise("n-hj-01", at(3, "21:59"), 60),
    noise("n-hj-01", at(3, "22:00"), 80),  # measured 21:59–22:00: day
    noise("n-hj-01", at(3, "22:01"), 40),  # night
    noise("n-hj-01", at(3, "22:02"), 43),
    noise("n-hj-01", at(3, "22:03"), 99, flag="M"),  # maintenance: not monitoring data
    noise("n-hj-01", at(30, "23:00"), 55),  # the month's last night …
    noise("n-hj-01", at(1, "03:00", month=12), 45),  # … reaches into December
]


def get(client: TestClient, h: Headers, site: str, query: str) -> Any:
    response = client.get(URL.format(site) + query, headers=h)
    assert response.status_code == 200, response.text
    return response


def test_a_months_figures_as_ingest_wrote_the_readings(
    client: TestClient, tokens: dict[str, Headers], registry: Database, influx: InfluxClient
) -> None:
    write(registry, influx, BUILDING)
    body = get(client, tokens["staff"], "hj-b1", "?month=2025-11").json()
    assert (body["site"], body["month"], body["noise"], body["fume"]) == (
        "hj-b1", "2025-11", True, False,
    )  # fmt: skip
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 30 and body["days"][0]["date"] == "2025-11-01"
    third = days["2025-11-03"]
    assert (third["ld"], third["ln"]) == (energetic(60, 80), energetic(40, 43)) == (77.0, 41.8)
    assert (third["limit_day"], third["limit_night"], third["minutes_over"]) == (60, 50, 1.0)
    assert third["coverage_day"] == round(120 / 57_600, 4)
    assert third["coverage_night"] == round(120 / 28_800, 4)
    assert days["2025-11-30"]["ln"] == energetic(55, 45) == 52.4
    quiet = days["2025-11-10"]
    assert (quiet["ld"], quiet["ln"], quiet["minutes_over"]) == (None, None, None)
    assert (quiet["coverage_day"], quiet["coverage_night"]) == (0.0, 0.0)
    assert quiet["fume_mean"] is None and quiet["purifier_rate"] is None
    summary = body["summary"]
    assert summary["ld"] == energetic(60, 80)
    assert summary["ln"] == energetic(40, 43, 55, 45)
    assert (summary["minutes_over"], summary["limit_day"], summary["limit_night"]) == (2.0, 60, 50)
    assert summary["coverage_night"] == round(4 * 60 / (30 * 28_800), 4)


def test_a_restaurants_fume_figures(
    client: TestClient, tokens: dict[str, Headers], registry: Database, influx: InfluxClient
) -> None:
    t = at(5, "12:00")
    readings = [fume(t + (i + 1) * MIN, 1.0 if i < 4 else 3.0, True, i < 6) for i in range(8)]
    readings += [fume(t + (i + 9) * MIN, 0.2, False, False) for i in range(2)]
    write(registry, influx, readings)
    body = get(client, tokens["merchant"], "rest-1", "?month=2025-11").json()
    assert (body["noise"], body["fume"]) == (True, True)  # rest-1 has a noise sensor too
    fifth = next(d for d in body["days"] if d["date"] == "2025-11-05")
    assert fifth["fume_mean"] == 2.0  # (4·1.0 + 4·3.0) / 8, the fan running
    assert (fifth["fan_on_min"], fifth["purifier_on_min"], fifth["purifier_rate"]) == (
        8.0, 6.0, 0.75,
    )  # fmt: skip
    assert (fifth["ld"], fifth["coverage_day"]) == (None, 0.0)  # its noise sensor was silent


def test_csv_opens_with_chinese_headers_and_the_same_numbers(
    client: TestClient, tokens: dict[str, Headers], registry: Database, influx: InfluxClient
) -> None:
    write(registry, influx, BUILDING)
    response = get(client, tokens["grid_worker"], "hj-b1", "?month=2025-11&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="hj-b1-2025-11.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel reads UTF-8 by
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(table) == 31  # 30 days and the month
    third = next(r for r in table if r["日期"] == "2025-11-03")
    assert third["昼间等效声级Ld dB(A)"] == "77"
    assert third["夜间等效声级Ln dB(A)"] == "41.8"
    assert (third["昼间限值 dB(A)"], third["超标分钟"]) == ("60", "1")
    assert third["风机运行时油烟均值 mg/m³"] == ""  # not known: empty, never 0
    assert table[-1]["日期"] == "全月 2025-11"
    assert table[-1]["夜间等效声级Ln dB(A)"] == str(energetic(40, 43, 55, 45))


def test_xlsx_opens_in_openpyxl_with_the_same_numbers(
    client: TestClient, tokens: dict[str, Headers], registry: Database, influx: InfluxClient
) -> None:
    write(registry, influx, BUILDING)
    response = get(client, tokens["admin"], "hj-b1", "?month=2025-11&format=xlsx")
    assert 'filename="hj-b1-2025-11.xlsx"' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert sheet is not None and sheet.title == "2025-11"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("日期", "昼间等效声级Ld dB(A)", "夜间等效声级Ln dB(A)")
    assert rows[1][:3] == ("date", "ld", "ln")
    third = next(r for r in rows if r[0] == "2025-11-03")
    by_name = dict(zip(rows[1], third, strict=True))
    assert (by_name["ld"], by_name["ln"], by_name["minutes_over"]) == (77.0, 41.8, 1.0)
    assert by_name["fume_mean"] is None
    assert len(rows) == 2 + 30 + 1 and rows[-1][0] == "全月 2025-11"


def test_each_role_its_own_sites_reports_and_404_outside(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    cases = [
        ("merchant", "rest-1", 200),
        ("merchant", "hj-b1", 404),  # another site, even in its grid
        ("grid_worker", "hj-b1", 200),
        ("grid_worker", "ktv-1", 404),  # g2 is not its grid
        ("staff", "ktv-1", 200),
        ("admin", "nowhere", 404),
    ]
    seen = [
        (
            who,
            site,
            client.get(URL.format(site) + "?month=2025-11", headers=tokens[who]).status_code,
        )
        for who, site, _ in cases
    ]
    assert seen == cases
    assert client.get(URL.format("rest-1") + "?month=2025-11").status_code == 401


def test_a_malformed_month_is_422_in_one_sentence(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    for month in ("2025-13", "2025-1", "11-2025", "2025-11-01", "0999-01"):
        response = client.get(URL.format("hj-b1") + f"?month={month}", headers=tokens["staff"])
        assert response.status_code == 422, (month, response.text)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail.count(". ") == 0 and month in detail
    bad = client.get(URL.format("hj-b1") + "?month=2025-11&format=pdf", headers=tokens["staff"])
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str)


def test_a_future_month_is_nulls_and_coverage_zero(
    client: TestClient, tokens: dict[str, Headers], registry: Database, influx: InfluxClient
) -> None:
    write(registry, influx, BUILDING)
    body = get(client, tokens["staff"], "hj-b1", "?month=2099-02").json()
    assert len(body["days"]) == 28
    for row in (*body["days"], body["summary"]):
        assert (row["ld"], row["ln"], row["minutes_over"]) == (None, None, None)
        assert (row["coverage_day"], row["coverage_night"]) == (0.0, 0.0)
        assert (row["cases_opened"], row["complaints"]) == (0, 0)
    assert body["days"][0]["limit_day"] == 60  # the limits in force are known


def test_complaints_are_counted_and_no_resident_reaches_the_report(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    now = time.time_ns() // 1_000_000
    iso = lambda ms: datetime.fromtimestamp(ms / 1000, TZ).isoformat()  # noqa: E731
    name, phone, words = "李秘密", "13912345678", "我是1幢302的住户，楼下太吵"
    filed = client.post(
        "/api/v1/complaints",
        json={
            "site": "rest-1",
            "address": "天城路101号",
            "kind": "noise",
            "from": iso(now - 40 * MIN),
            "to": iso(now - 10 * MIN),
            "text": words,
            "source": "12345",
            "external_id": "HZ-SECRET-0001",
            "contact": {"name": name, "phone": phone},
        },
        headers=tokens["staff"],
    )
    assert filed.status_code == 201, filed.text
    month = month_of(now, "Asia/Shanghai")
    merchant = bearer(registry.create_token(Role.MERCHANT, site="rest-1")[0])
    for fmt in ("json", "csv"):
        response = get(client, merchant, "rest-1", f"?month={month}&format={fmt}")
        text = response.content.decode("utf-8-sig")
        for secret in (name, phone, words, "HZ-SECRET-0001", "1幢302"):
            assert secret not in text, (fmt, secret)
    body = get(client, merchant, "rest-1", f"?month={month}").json()
    assert (body["summary"]["complaints"], body["summary"]["cases_opened"]) == (1, 1)
