"""Report rows as files: CSV (a header row, then the rows) and an Excel workbook (openpyxl).

A withheld cell (domain.Suppression) reads `<N`; an empty one (no duration measured) is empty.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Sequence

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def columns_of(by: Sequence[str], measures: Sequence[str], interval: str | None) -> list[str]:
    return (["period"] if interval else []) + list(by) + list(measures)


def _cell(row: dict[str, Any], column: str, marker: str | None) -> Any:
    if marker and column in row.get("suppressed", ()):
        return marker
    value = row.get(column)
    return "" if value is None else value


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str],
           marker: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row, c, marker) for c in columns])
    return out.getvalue()


def to_xlsx(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str,
            marker: str | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = title[:31]
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(row, c, marker) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
