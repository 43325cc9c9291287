"""A site's month as files for Chinese Excel (CONTRACT §10): CSV (UTF-8 with a BOM, so
Excel reads it as UTF-8) and XLSX (openpyxl). One table, the same figures as the JSON:
a row a day and the month's summary row (全月), Chinese headers, the API's field names
beside them in the XLSX's second header row for whoever scripts against both."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font

from linli.api.sitemonth import SiteMonthReport
from linli.rules.month import FIELDS, Figures

CSV_MEDIA: Final = "text/csv; charset=utf-8"
XLSX_MEDIA: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM: Final = "\ufeff"
SUMMARY_LABEL: Final = "全月"

# The column headers, by the API's names (CONTRACT §10), in the API's order.
HEADERS: Final[dict[str, str]] = {
    "date": "日期",
    "ld": "昼间等效声级Ld dB(A)",
    "ln": "夜间等效声级Ln dB(A)",
    "limit_day": "昼间限值 dB(A)",
    "limit_night": "夜间限值 dB(A)",
    "minutes_over": "超标分钟",
    "coverage_day": "昼间数据覆盖率(0–1)",
    "coverage_night": "夜间数据覆盖率(0–1)",
    "fume_mean": "风机运行时油烟均值 mg/m³",
    "fan_on_min": "风机运行分钟",
    "purifier_on_min": "净化器运行分钟",
    "purifier_rate": "净化器开机率(0–1)",
    "cases_opened": "新开工单",
    "complaints": "投诉",
}
assert tuple(HEADERS)[1:] == FIELDS, "a figure without a header"

Cell = str | float | int | None


def _cells(label: str, f: Figures) -> list[Cell]:
    return [label, *(getattr(f, name) for name in FIELDS)]


def rows(report: SiteMonthReport) -> Iterator[list[Cell]]:
    """The table's rows under its header: a row a day, then the month's."""
    for day in report.month.days:
        yield _cells(day.date.isoformat(), day.figures)
    yield _cells(f"{SUMMARY_LABEL} {report.month.month}", report.month.summary)


def filename(report: SiteMonthReport, ext: str) -> str:
    """`<site>-<YYYY-MM>.<ext>` (ids are ASCII: a safe download name)."""
    return f"{report.site.id}-{report.month.month}.{ext}"


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""  # not known: an empty cell, never a zero
    return f"{value:g}" if isinstance(value, float) else str(value)


def csv_bytes(report: SiteMonthReport) -> bytes:
    """The month as CSV: UTF-8 with a BOM, CRLF lines, Chinese headers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS.values())
    for row in rows(report):
        writer.writerow([_csv_value(v) for v in row])
    return (BOM + out.getvalue()).encode("utf-8")


def _widths(header: Sequence[str]) -> list[float]:
    # CJK characters are about twice as wide as Latin ones in Excel's default font
    return [max(10.0, sum(2 if ord(c) > 0x2E80 else 1 for c in h) * 1.1) for h in header]


def xlsx_bytes(report: SiteMonthReport) -> bytes:
    """The month as an XLSX workbook: one sheet, Chinese headers over the API's names."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report.month.month}"
    header = list(HEADERS.values())
    sheet.append(header)
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows(report):
        sheet.append(row)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for i, width in enumerate(_widths(header)):
        sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = width
    sheet.freeze_panes = "B3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
