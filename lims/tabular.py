"""Export any list to CSV or XLSX, streamed, with every text cell made safe for spreadsheets.

CSV is UTF-8 with a BOM so that Excel shows Vietnamese; XLSX uses openpyxl's write-only mode, so memory stays flat.
Cells that a spreadsheet would run as formulas (``=HYPERLINK(…)``) are neutralised by ``lims.text.safe_cell``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Response, stream_with_context
from openpyxl import Workbook

from lims.text import safe_cell

FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Column:
    """One exported column: its header and how to get the value from a row object."""

    header: str
    value: Callable[[Any], Any]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%d/%m/%Y") if type(value) is dt.date else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, bool):
        return "x" if value else ""
    return safe_cell(value) if isinstance(value, str) else value


def _csv_chunks(columns: Sequence[Column], rows: Iterable[Any]) -> Iterable[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(str(c.header)) for c in columns])
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(c.value(row)) for c in columns])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(columns: Sequence[Column], rows: Iterable[Any], *, sheet: str = "Data") -> bytes:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append([safe_cell(str(c.header)) for c in columns])
    for row in rows:
        worksheet.append([_cell(c.value(row)) for c in columns])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def export_response(fmt: str, *, filename: str, columns: Sequence[Column], rows: Iterable[Any],
                    sheet: str = "Data") -> Response:
    """A download of ``rows`` as ``fmt`` ("csv" or "xlsx"); ``filename`` without extension."""
    if fmt == "xlsx":
        return Response(xlsx_bytes(columns, rows, sheet=sheet),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    return Response(stream_with_context(_csv_chunks(columns, rows)), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
