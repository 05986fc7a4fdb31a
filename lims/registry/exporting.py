"""Export of a filtered list to CSV (UTF-8 with BOM, so that Excel shows Vietnamese) or XLSX.

The instrument columns are the import's columns with the same headers, so an export can be corrected in a
spreadsheet and imported back (unchanged rows are skipped). Every text cell goes through ``lims.text.safe_cell``:
a name such as ``=HYPERLINK("http://…")`` comes out as inert text, never as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from lims.text import safe_cell

from . import importing, services
from .models import Instrument

#: At most this many rows per export (a note says when the list was cut; filter it down).
MAX_ROWS = 100_000
XLSX_MAX_ROWS = 50_000

Column = tuple[str, Callable[[Any], Any]]


def _label(key: str) -> str:
    return next(str(col.label) for col in importing.COLUMNS if col.key == key)


def _spec_getter(key: str) -> Callable[[Instrument], Any]:
    return lambda instrument: (instrument.spec or {}).get(key, "")


def instrument_columns() -> list[Column]:
    customer = {"customer_tax_code": "tax_code", "customer_name": "name", "customer_address": "address",
                "customer_commune": "commune", "customer_district": "district", "customer_province": "province"}
    columns: list[Column] = [("ID", lambda i: i.id)]
    for key, attribute in customer.items():
        columns.append((_label(key), lambda i, a=attribute: getattr(i.customer, a) or ""))
    for key in ("type_code", "manufacturer", "model", "serial", "pattern_approval_mark", "year_made",
                "place_of_use", "status", "last_verified_date", "next_due_date", "notes"):
        columns.append((_label(key), lambda i, k=key: getattr(i, k)))
    for col in importing.SPEC_COLUMNS:
        columns.append((str(col.label), _spec_getter(col.key)))
    return columns


def customer_columns() -> list[Column]:
    labels = services.CUSTOMER_LABELS
    columns: list[Column] = [("ID", lambda c: c.id)]
    for key in ("name", "tax_code", "address", "commune", "district", "province", "contact_name", "phone", "email"):
        columns.append((str(labels[key]), lambda c, k=key: getattr(c, k) or ""))
    columns.append((_("Ghi chú"), lambda c: c.notes))
    return columns


def _text(value: Any) -> Any:
    """A CSV cell: dates dd/mm/yyyy, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return safe_cell(value) if isinstance(value, str) else value


def csv_chunks(columns: list[Column], rows: Iterable[Any], *, limit: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(header) for header, _get in columns])
    count = 0
    for count, row in enumerate(rows, 1):
        if count > limit:
            writer.writerow([_("(Danh sách bị cắt ở %(n)d dòng: hãy lọc hẹp hơn.)", n=limit)])
            break
        writer.writerow([_text(get(row)) for _header, get in columns])
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(columns: list[Column], rows: Iterable[Any], *, limit: int, sheet: str) -> bytes:
    """The workbook (write-only mode: rows go to temporary files as they come, only the zipped result is held)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append([safe_cell(header) for header, _get in columns])
    for count, row in enumerate(rows, 1):
        if count > limit:
            worksheet.append([_("(Danh sách bị cắt ở %(n)d dòng: hãy lọc hẹp hơn.)", n=limit)])
            break
        cells = []
        for _header, get in columns:
            value = get(row)
            if isinstance(value, dt.date):
                cell = WriteOnlyCell(worksheet, value=value)
                cell.number_format = "DD/MM/YYYY"
                cells.append(cell)
            else:
                cells.append(safe_cell(value) if isinstance(value, str) else value)
        worksheet.append(cells)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def _response(columns: list[Column], rows: Iterable[Any], *, fmt: str, filename: str, limit: int, sheet: str,
              close: Callable[[], None]) -> Response:
    stamp = dt.date.today().strftime("%Y%m%d")
    if fmt == "xlsx":
        try:
            workbook = xlsx_bytes(columns, rows, limit=min(limit, XLSX_MAX_ROWS), sheet=sheet)
        finally:
            close()
        response = Response(workbook, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
        return response

    def chunks() -> Iterator[str]:
        try:
            yield from csv_chunks(columns, rows, limit=limit)
        finally:
            close()

    response = Response(stream_with_context(chunks()), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


def instruments_response(session: Session, flt: services.InstrumentFilter, *, fmt: str, today: dt.date,
                         limit: int = MAX_ROWS) -> Response:
    """The download; ``session`` is the export's own (a CSV is streamed after the request's session has closed)
    and is closed when the download is written."""
    query = services.instrument_query(session, flt, today=today).limit(limit + 1).execution_options(yield_per=1000)
    return _response(instrument_columns(), session.scalars(query), fmt=fmt, filename="phuong-tien-do", limit=limit,
                     sheet=_("Phương tiện đo"), close=session.close)


def customers_response(session: Session, *, q: str, district: str, sort: str, fmt: str,
                       limit: int = MAX_ROWS) -> Response:
    """Like ``instruments_response``, for customers."""
    query = services.customer_query(q=q, district=district, sort=sort).limit(limit + 1)
    return _response(customer_columns(), session.scalars(query.execution_options(yield_per=1000)), fmt=fmt,
                     filename="khach-hang", limit=limit, sheet=_("Khách hàng"), close=session.close)
