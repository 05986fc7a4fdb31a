"""Bulk import of instruments from a CSV or XLSX file: validated as a whole, all or nothing, audited.

The file is streamed (memory stays flat whatever its size): rows are checked one by one with the same field rules as
the registration form (``services``), gathered in batches, and each batch is written with Core bulk inserts plus one
audit event per created customer and instrument (``audit.append``; the ORM's per-object flush is far too slow for
100 000 rows). Everything happens inside a savepoint that is rolled back when any row is wrong, so a file with one
bad row leaves the database exactly as it was, and the report lists every problem as (row, column, message).

Re-importing a file creates nothing twice: a row whose instrument (type, manufacturer, serial on folded keys) is
already registered with the same values is skipped and counted; one registered with different values is an error
that says which column differs.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.models import utcnow
from lims.text import fold, safe_cell

from . import services
from .models import Customer, Instrument
from .services import RegistryError

#: Rows per batch: large enough for executemany to pay off, small enough that a batch's keys fit one IN (...).
BATCH_SIZE = 2000
#: Problems kept in the report (all are counted).
MAX_REPORTED_ERRORS = 10_000
#: SQLite page cache during an import, in KiB.
SQLITE_IMPORT_CACHE_KIB = 65536
#: A file with more data rows than this is refused (an XLSX of a few MB can unpack to millions of rows).
MAX_ROWS = 1_000_000


# --- columns ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportColumn:
    key: str  # the service argument (English key accepted as a header too)
    label: Any  # the Vietnamese header (lazy string)
    aliases: tuple[str, ...] = ()
    example: str = ""
    help: Any = ""


_CUSTOMER_COLUMNS = (
    ImportColumn("customer_tax_code", _l("Mã số thuế"), ("ma so thue khach hang", "mst", "tax code"),
                 "6000123458", _l("Khách hàng được tìm theo mã số thuế; chưa có thì được tạo từ các cột dưới.")),
    ImportColumn("customer_name", _l("Tên khách hàng"), ("khach hang", "chu so huu", "don vi su dung", "customer"),
                 "Hộ kinh doanh Nguyễn Thị Lan",
                 _l("Bắt buộc khi khách hàng chưa có trong sổ, hoặc khi không có mã số thuế.")),
    ImportColumn("customer_address", _l("Địa chỉ khách hàng"), ("dia chi",), "Ki-ốt 12, chợ Hoa Lư"),
    ImportColumn("customer_commune", _l("Xã/phường"), ("xa phuong", "phuong xa", "xa phuong thi tran"),
                 "Phường Hoa Lư"),
    ImportColumn("customer_district", _l("Quận/huyện"), ("quan huyen", "huyen", "quan huyen thi xa"), "TP. Pleiku"),
    ImportColumn("customer_province", _l("Tỉnh/thành phố"), ("tinh", "tinh thanh pho", "tinh thanh"), "Gia Lai"),
)
_INSTRUMENT_COLUMNS = (
    ImportColumn("type_code", _l("Loại phương tiện đo"), ("loai", "loai ptd", "type"), "nawi",
                 _l("nawi (cân điện tử), weight (quả cân), energy_meter (công tơ điện), taximeter (taximet), "
                    "hoặc tên tiếng Việt.")),
    ImportColumn("manufacturer", _l("Hãng sản xuất"), ("nha san xuat", "hang sx", "hang"), "CAS"),
    ImportColumn("model", _l("Kiểu / model"), ("kieu", "model", "kieu model", "kieu loai"), "SW-1S"),
    ImportColumn("serial", _l("Số sản xuất"), ("so serial", "so sx", "so may", "so hieu"), "20A12345",
                 _l("Bắt buộc. Cùng loại, cùng hãng và cùng số sản xuất là một phương tiện đo.")),
    ImportColumn("pattern_approval_mark", _l("Ký hiệu phê duyệt mẫu"), ("ky hieu pdm", "phe duyet mau", "pdm"),
                 "PDM 042-2018"),
    ImportColumn("year_made", _l("Năm sản xuất"), ("nam sx",), "2020"),
    ImportColumn("place_of_use", _l("Nơi sử dụng"), ("dia diem su dung", "vi tri lap dat"), "Chợ Hoa Lư"),
    ImportColumn("status", _l("Trạng thái"), ("tinh trang",), "active",
                 _l("active / suspended / retired, hoặc Đang sử dụng / Tạm ngừng sử dụng / Đã ngừng sử dụng; "
                    "để trống là đang sử dụng.")),
    ImportColumn("last_verified_date", _l("Ngày kiểm định gần nhất"), ("ngay kiem dinh", "ngay kd"), "15/03/2025",
                 _l("dd/mm/yyyy hoặc yyyy-mm-dd.")),
    ImportColumn("next_due_date", _l("Hạn kiểm định"), ("han kiem dinh tiep theo", "hieu luc den", "han kd"),
                 "15/03/2026", _l("Để trống thì tính từ ngày kiểm định gần nhất và chu kỳ kiểm định.")),
    ImportColumn("notes", _l("Ghi chú"), ("note",), ""),
)
_SPEC_EXAMPLES = {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"}
_SPEC_ALIASES = {
    "max": ("muc can lon nhat",), "min": ("muc can nho nhat",), "e": ("do chia kiem",), "d": ("do chia",),
    "unit": ("don vi do",), "accuracy_class": ("cap", "cap cx", "class"), "supports": ("so diem tua",),
    "nominal": ("khoi luong danh dinh", "danh dinh"), "un_v": ("un", "dien ap"), "ib_a": ("ib",),
    "imax_a": ("imax",), "constant_imp_per_kwh": ("hang so", "hang so cong to"), "kind": ("kieu cong to",),
    "k_imp_per_km": ("k", "hang so k"), "vehicle_plate": ("bien so", "bien kiem soat"),
}
SPEC_COLUMNS = tuple(
    ImportColumn(key, services.SPEC_LABELS[key], _SPEC_ALIASES.get(key, ()), _SPEC_EXAMPLES.get(key, ""),
                 ", ".join(code for code, keys in services.SPEC_FIELDS.items() if key in keys))
    for key in dict.fromkeys(k for keys in services.SPEC_FIELDS.values() for k in keys))
COLUMNS = _CUSTOMER_COLUMNS + _INSTRUMENT_COLUMNS + SPEC_COLUMNS
#: Headers that are accepted and ignored: row numbers that spreadsheets often carry, and the export's ID.
IGNORED_HEADERS = frozenset({"id", "stt", "tt", "so tt", "so thu tu", "no"})


def header_key(text: Any) -> str:
    """The comparable form of a header: folded, units in brackets and punctuation dropped.

    >>> header_key("Dòng điện cực đại Imax (A)"), header_key("imax_a"), header_key(" Số sản xuất* ")
    ('dong dien cuc dai imax', 'imax a', 'so san xuat')
    """
    folded = fold(str(text or "")).replace("_", " ")
    folded = re.sub(r"\([^)]*\)", " ", folded)
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", folded).split())


def _header_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for col in COLUMNS:
        for name in (col.key, str(col.label), *col.aliases):
            index.setdefault(header_key(name), col.key)
    return index


# --- problems and the report ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong: the spreadsheet row (the header is row 1; 0 for the file itself), the column as headed in
    the file, and a sentence."""

    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    source: str
    batch: str
    rows: int = 0
    created: int = 0
    skipped: int = 0
    customers_created: int = 0
    error_count: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(ImportProblem(row, column, str(message)))

    def lines(self, *, max_errors: int | None = None) -> list[str]:
        """A plain-text summary (the command line prints it), with up to ``max_errors`` errors."""
        if not self.ok:
            shown = self.errors if max_errors is None else self.errors[:max_errors]
            lines = [_("%(source)s: %(n)d lỗi, không có gì được ghi vào sổ.", source=self.source,
                       n=self.error_count)]
            lines += [f"  {_('dòng')} {p.row}, {p.column or '—'}: {p.message}" for p in shown]
            if self.error_count > len(shown):
                lines.append("  " + _("… và %(n)d lỗi khác.", n=self.error_count - len(shown)))
            return lines
        return [_("%(source)s: %(rows)d dòng; đã thêm %(created)d phương tiện đo, bỏ qua %(skipped)d dòng đã có, "
                  "tạo %(customers)d khách hàng mới.", source=self.source, rows=self.rows, created=self.created,
                  skipped=self.skipped, customers=self.customers_created)]

    def to_dict(self, *, max_errors: int = 100) -> dict:
        return {"source": self.source, "batch": self.batch, "rows": self.rows, "created": self.created,
                "skipped": self.skipped, "customers_created": self.customers_created,
                "error_count": self.error_count, "ok": self.ok, "seconds": round(self.seconds, 2),
                "errors": [[p.row, p.column, p.message] for p in self.errors[:max_errors]]}


def write_error_report(problems: Iterable[ImportProblem], out: io.TextIOBase, *, more: int = 0) -> None:
    """The downloadable error report: CSV (UTF-8 with BOM, for Excel) of row, column, message."""
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow([_("Dòng"), _("Cột"), _("Lỗi")])
    for problem in problems:
        writer.writerow([problem.row, safe_cell(problem.column), safe_cell(problem.message)])
    if more:
        writer.writerow(["", "", _("… và %(n)d lỗi khác.", n=more)])


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, size); the message says what to do."""


# --- reading files ----------------------------------------------------------------------------------------------

@dataclass
class Table:
    """An open file: its header cells and an iterator of (row number, cells), plus how far reading has got."""

    headers: list[Any]
    rows: Iterator[tuple[int, list[Any]]]
    fraction: Callable[[], float]


_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


def _detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the file is UTF-8 (with or without BOM), else ``cp1258``; ``ImportFileError`` otherwise.

    A whole-file incremental decode: Windows-1258 Vietnamese is practically never valid UTF-8, while UTF-8 is always
    decodable, so UTF-8 is tried first.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ImportFileError(_("Tệp được lưu dạng Unicode (UTF-16). Hãy lưu lại bằng “CSV UTF-8 (Comma "
                                    "delimited)” hoặc dùng tệp .xlsx."))
        for encoding in ("utf-8", "cp1258"):
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            return "utf-8-sig" if encoding == "utf-8" else encoding
    raise ImportFileError(_("Không đọc được bảng mã của tệp: không phải UTF-8 cũng không phải Windows-1258. Hãy mở "
                            "tệp bằng Excel và lưu lại dạng “CSV UTF-8 (Comma delimited)” hoặc .xlsx."))


def _sniff_delimiter(line: str) -> str:
    # Excel with Vietnamese regional settings writes ";" (the decimal separator is ","); others write ",".
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@contextmanager
def _open_csv(path: Path) -> Iterator[Table]:
    encoding = _detect_encoding(path)
    size = max(path.stat().st_size, 1)
    raw = path.open("rb")
    try:
        stream = io.TextIOWrapper(raw, encoding=encoding, newline="")
        # Windows-1258 writes tones as combining marks: compose them (NFC) so that text compares as typed.
        lines = (unicodedata.normalize("NFC", line) for line in stream)
        first = next(lines, "")
        if not first.strip():
            raise ImportFileError(_("Tệp trống: dòng đầu tiên phải là tiêu đề các cột."))

        def chained():
            yield first
            yield from lines

        reader = csv.reader(chained(), delimiter=_sniff_delimiter(first))

        def rows():
            number = 0
            try:
                for number, cells in enumerate(reader, 1):
                    yield number, cells
            except csv.Error as exc:
                raise ImportFileError(_("Tệp CSV hỏng ở dòng %(row)d: %(error)s", row=number + 1,
                                        error=str(exc))) from None

        numbered = rows()
        try:
            _number, headers = next(numbered)
        except StopIteration:
            raise ImportFileError(_("Tệp trống: dòng đầu tiên phải là tiêu đề các cột.")) from None
        yield Table(headers, numbered, lambda: min(raw.tell() / size, 1.0))
    finally:
        raw.close()


@contextmanager
def _open_xlsx(path: Path) -> Iterator[Table]:
    from openpyxl import load_workbook

    handle = path.open("rb")  # a file object: openpyxl would refuse a path without an Excel extension
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        handle.close()
        raise ImportFileError(_("Không mở được tệp Excel (.xlsx): %(error)s", error=str(exc) or type(exc).__name__)) \
            from None
    try:
        sheet = workbook.worksheets[0]
        total = max(sheet.max_row or 0, 1)
        position = [0]

        def cells():
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
                position[0] = number
                yield number, [unicodedata.normalize("NFC", v) if isinstance(v, str) else v for v in values]

        numbered = cells()
        try:
            _number, headers = next(numbered)
        except StopIteration:
            raise ImportFileError(_("Trang tính đầu tiên trống: dòng 1 phải là tiêu đề các cột.")) from None
        yield Table(list(headers), numbered, lambda: min(position[0] / total, 1.0))
    finally:
        workbook.close()
        handle.close()


@contextmanager
def open_table(path: Path, *, filename: str) -> Iterator[Table]:
    """Open a CSV or XLSX file by its content (and name), for ``import_table``."""
    with Path(path).open("rb") as handle:
        magic = handle.read(4)
    suffix = Path(filename).suffix.lower()
    if magic == _XLS_MAGIC or suffix == ".xls":
        raise ImportFileError(_("Tệp Excel 97-2003 (.xls) không được hỗ trợ. Hãy lưu lại dạng .xlsx hoặc CSV."))
    if magic == _XLSX_MAGIC:
        with _open_xlsx(Path(path)) as opened:
            yield opened
        return
    if suffix in (".xlsx", ".xlsm"):
        raise ImportFileError(_("Tệp không phải là tệp Excel .xlsx hợp lệ."))
    with _open_csv(Path(path)) as opened:
        yield opened


# --- values -----------------------------------------------------------------------------------------------------

def parse_day(value: Any) -> dt.date | None:
    """A date cell: a spreadsheet date, dd/mm/yyyy (also with - or .), or yyyy-mm-dd; ``ValueError`` otherwise.

    >>> parse_day("5/3/2025"), parse_day("2025-03-05"), parse_day(" ")
    (datetime.date(2025, 3, 5), datetime.date(2025, 3, 5), None)
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 10 and text[4] == "-":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    if " " in text:  # "2025-03-05 00:00:00" as some programs export dates
        text, _sep, rest = text.partition(" ")
        if not re.fullmatch(r"0?0:00(:00)?", rest.strip()):
            raise ValueError(text)
    parts = re.split(r"[/.\-]", text)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    if len(parts[0]) == 4:
        year, month, day = parts
    elif len(parts[2]) == 4:
        day, month, year = parts
    else:
        raise ValueError(text)
    return dt.date(int(year), int(month), int(day))


def _cell_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _spec_value(key: str, value: Any) -> str:
    return services.spec_input(key, _cell_text(value))


def _type_index() -> dict[str, str]:
    index = {}
    for kind in instruments.all_types():
        for name in (kind.code, kind.name_vi, kind.name_en):
            index[header_key(name)] = kind.code
    extra = {"can": "nawi", "can dien tu": "nawi", "can khong tu dong": "nawi", "qua can": "weight",
             "cong to": "energy_meter", "cong to dien": "energy_meter", "cong to dien 1 pha": "energy_meter",
             "taxi": "taximeter", "dong ho taximet": "taximeter", "energy meter": "energy_meter"}
    for name, code in extra.items():
        index.setdefault(name, code)
    return index


def _status_index() -> dict[str, str]:
    index = {"": "active"}
    for code, label in services.STATUS_LABELS.items():
        index[code] = code
        index[header_key(label)] = code
    index.update({"dang su dung": "active", "tam ngung": "suspended", "ngung su dung": "retired",
                  "thanh ly": "retired", "da thanh ly": "retired"})
    return index


# --- the import -------------------------------------------------------------------------------------------------

_INSTRUMENT_FIELDS = ("type_code", "manufacturer", "manufacturer_key", "model", "serial", "serial_key",
                      "pattern_approval_mark", "year_made", "spec", "place_of_use", "status", "last_verified_date",
                      "next_due_date", "notes")
_TEXT_FIELDS = ("manufacturer", "model", "serial", "pattern_approval_mark", "place_of_use", "notes")
_CUSTOMER_KEYS = ("customer_tax_code", "customer_name", "customer_address", "customer_commune", "customer_district",
                  "customer_province")
#: Columns compared with an instrument already registered (each is a column of the file and an attribute).
_COMPARED = ("model", "pattern_approval_mark", "year_made", "place_of_use", "status", "last_verified_date",
             "next_due_date", "notes")

_INSERT_COLUMNS = ("id", "customer_id", *_INSTRUMENT_FIELDS, "import_batch", "created_at", "updated_at")
#: Entries of each per-import cache (rows' type and characteristics, rows' customer cells) before it starts over.
_CACHE_ENTRIES = 4096


@dataclass(slots=True)
class _Row:
    number: int
    values: dict
    cells: list  # as read (padded): what the file filled in is compared with an instrument already registered
    customer: tuple  # ("tax", code) or ("name", name_key, address_key)
    customer_fields: dict | None  # what creating the customer needs, when the file gives a name
    customer_id: int | None = None


class _Importer:
    """One import run: row checks, customer resolution, batch writes. Use ``import_table``."""

    def __init__(self, session: Session, *, report: ImportReport, today: dt.date,
                 progress: Callable[[int, float], None] | None, fraction: Callable[[], float]):
        self.session = session
        self.report = report
        self.today = today
        self.progress = progress
        self.fraction = fraction
        self.connection: Connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.types = _type_index()
        self.statuses = _status_index()
        self.columns: dict[str, int] = {}
        self.width = 0
        self.positions: dict[str, int] = {}
        self.spec_columns: list[tuple[str, int]] = []
        self.spec_positions: list[int] = []
        self.customer_positions: list[int] = []
        self.text_fields: list[tuple] = []
        self.kinds: dict[tuple, tuple] = {}
        self.compared: tuple[str, ...] = ()
        self.customer_refs: dict[tuple, tuple] = {}
        self.headers: dict[str, str] = {}
        self.customers: dict[tuple, int] = {}
        self.pending: list[_Row] = []
        self.now = utcnow()
        # Rows go to the driver as one executemany of prepared tuples: SQLAlchemy's per-row parameter processing
        # costs more than SQLite's own insert. ``_driver_values`` prepares each value the way the typed columns of
        # models.Instrument store it (mirror any change there); the order is _INSERT_COLUMNS.
        marker = "?" if self.sqlite else "%s"
        self.insert_sql = (f"INSERT INTO instruments ({', '.join(_INSERT_COLUMNS)}) "
                           f"VALUES ({', '.join([marker] * len(_INSERT_COLUMNS))})")
        if not self.sqlite:
            from psycopg.types.json import Jsonb

            self.jsonb = Jsonb
        self.now_text = self.now.astimezone(dt.timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.reason = _("Nhập từ tệp %(source)s", source=report.source)

    # -- header

    def read_header(self, headers: list[Any]) -> bool:
        index = _header_index()
        self.width = len(headers)
        for position, cell in enumerate(headers):
            name = _cell_text(cell).strip()
            key = header_key(name)
            if not key or key in IGNORED_HEADERS:
                continue
            target = index.get(key)
            if target is None:
                self.report.add(1, name, _("Cột không nhận ra. Xem danh sách cột ở trang nhập dữ liệu, hoặc xoá cột "
                                           "này."))
            elif target in self.columns:
                self.report.add(1, name, _("Cột bị lặp (trùng với cột “%(other)s”).", other=self.headers[target]))
            else:
                self.columns[target] = position
                self.headers[target] = name
        self.positions = {col.key: self.columns.get(col.key, self.width) for col in COLUMNS}
        self.spec_columns = [(col.key, self.columns[col.key]) for col in SPEC_COLUMNS if col.key in self.columns]
        self.spec_positions = [position for _key, position in self.spec_columns]
        self.customer_positions = [self.positions[key] for key in _CUSTOMER_KEYS]
        self.text_fields = [(key, self.positions[key],
                             services.INSTRUMENT_LENGTHS.get(key, services.NOTES_MAX),
                             services.INSTRUMENT_LABELS.get(key, services.NOTES_LABEL)) for key in _TEXT_FIELDS]
        self.compared = tuple(key for key in _COMPARED if key in self.columns)
        for required in ("type_code", "serial"):
            if required not in self.columns:
                self.report.add(1, self._label(required), _("Thiếu cột bắt buộc."))
        if "customer_tax_code" not in self.columns and "customer_name" not in self.columns:
            self.report.add(1, self._label("customer_tax_code"),
                            _("Thiếu cột khách hàng: cần cột Mã số thuế hoặc Tên khách hàng."))
        return self.report.ok

    @staticmethod
    def _lookup(index: dict[str, str], text: str) -> str | None:
        """``index`` entry for a cell written any way (accents, case, spaces); remembered under the raw text."""
        if not text.strip():
            return index.get("")
        found = index.get(header_key(text))
        if found is not None:
            index[text] = found
        return found

    def _label(self, key: str) -> str:
        if key in self.headers:
            return self.headers[key]
        for col in COLUMNS:
            if col.key == key:
                return str(col.label)
        return key

    # -- one row

    def add_row(self, number: int, cells: list[Any]) -> None:
        """Check one row; a good one joins the pending batch, a bad one adds its problems to the report.

        Called once per row of files of 100 000 rows, so it reads cells by position and caches what repeats (the
        type, the spec, the customer) instead of going through ``services.instrument_fields`` as the form does;
        the rules are the same functions.
        """
        if not any(cells):
            return  # a blank line
        self.report.rows += 1
        width = len(cells)
        if width > self.width and any(_cell_text(v).strip() for v in cells[self.width:]):
            self.report.add(number, "", _("Dòng có nhiều ô hơn số cột tiêu đề (thừa dấu phân cách?)."))
        # Pad to the header's width plus one empty cell, where every absent column points (see read_header).
        if width == self.width:
            cells = [*cells, None]
        else:
            cells = [*cells[:self.width], *([None] * (self.width - width)), None]
        at = self.positions
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        for key, position, max_length, label in self.text_fields:
            try:
                values[key] = services.clean_text(_cell_text(cells[position]), key, max_length=max_length,
                                                  required=key == "serial", label=label, multiline=key == "notes")
            except RegistryError as exc:
                values[key] = None
                errors.append((exc.field, str(exc)))
        if values["serial"]:
            values["manufacturer_key"], values["serial_key"] = services.identity_keys(values["manufacturer"] or "",
                                                                                      values["serial"])
            if not values["serial_key"]:
                errors.append(("serial", _("Số sản xuất phải có ít nhất một chữ hoặc chữ số.")))
        year = cells[at["year_made"]]
        if year is None or year == "":
            values["year_made"] = None
        else:
            try:
                values["year_made"] = services.clean_year(_cell_text(year), today=self.today)
            except RegistryError as exc:
                errors.append((exc.field, str(exc)))
        status_text = _cell_text(cells[at["status"]])
        values["status"] = self.statuses.get(status_text) or self._lookup(self.statuses, status_text)
        if values["status"] is None:
            errors.append(("status", _("Trạng thái không hợp lệ: “%(value)s”.", value=status_text)))
        for key in ("last_verified_date", "next_due_date"):
            try:
                values[key] = parse_day(cells[at[key]])
            except ValueError:
                values[key] = None
                errors.append((key, _("Ngày không hợp lệ: “%(value)s” (dùng dd/mm/yyyy).",
                                      value=_cell_text(cells[at[key]]))))
        if values["last_verified_date"] and values["next_due_date"] and \
                values["next_due_date"] <= values["last_verified_date"]:
            errors.append(("next_due_date", _("Hạn kiểm định phải sau ngày kiểm định gần nhất.")))
        kind = (_cell_text(cells[at["type_code"]]), *[cells[position] for position in self.spec_positions])
        type_code, spec, spec_errors = self.kinds.get(kind) or self._check_kind(kind)
        values["type_code"], values["spec"] = type_code, spec
        if spec_errors:
            errors.extend(spec_errors)
        elif values["next_due_date"] is None and values["last_verified_date"] is not None:
            values["next_due_date"] = services.due_date_from_interval(type_code, spec, values["last_verified_date"])
        customer, customer_fields, customer_errors = self._customer_ref(
            tuple([_cell_text(cells[position]) for position in self.customer_positions]))
        if customer_errors:
            errors.extend(customer_errors)
        if errors:
            for key, message in errors:
                self.report.add(number, self._error_column(key), message)
            return
        self.pending.append(_Row(number, values, cells, customer, customer_fields))
        if len(self.pending) >= BATCH_SIZE:
            self.flush()

    def _check_kind(self, kind: tuple) -> tuple[str | None, dict | None, list]:
        """The type and validated spec of a row's type and characteristics cells, cached: they repeat."""
        type_text, *spec_cells = kind
        errors = []
        type_code = self.types.get(type_text) or self._lookup(self.types, type_text)
        if type_code is None:
            errors.append(("type_code", _("Loại phương tiện đo không hợp lệ: “%(value)s”. Dùng nawi, weight, "
                                          "energy_meter hoặc taximeter.", value=type_text) if type_text.strip()
                           else _("Loại phương tiện đo không được để trống.")))
            return None, None, errors
        wanted = services.SPEC_FIELDS[type_code]
        spec = {}
        for (key, _position), value in zip(self.spec_columns, spec_cells):
            text_value = _spec_value(key, value)
            if not text_value:
                continue
            if key in wanted:
                spec[key] = text_value
            else:
                errors.append((key, _("Đặc trưng này không áp dụng cho %(type)s; để trống ô này.",
                                      type=instruments.get(type_code).name_vi)))
        try:
            clean = services.clean_spec(type_code, spec)
        except RegistryError as exc:
            clean = None
            errors.append((exc.field, str(exc)))
        result = (type_code, clean, errors)
        if len(self.kinds) >= _CACHE_ENTRIES:
            self.kinds.clear()  # taximeter specs carry the plate, one per row: keep memory flat
        self.kinds[kind] = result
        return result

    def _error_column(self, key: str) -> str:
        if key.startswith("spec."):
            key = key[5:]
        elif key == "spec":
            key = "type_code"
        if key in ("name", "tax_code", "address", "commune", "district", "province"):
            key = f"customer_{key}"
        return self._label(key)

    def _customer_ref(self, cells: tuple[str, ...]) -> tuple[tuple, dict | None, list]:
        """The customer a row names, what creating it would take, and the problems; cached per distinct cells
        (a utility's file names the same branch on every row)."""
        cached = self.customer_refs.get(cells)
        if cached is None:
            if len(self.customer_refs) >= _CACHE_ENTRIES:
                self.customer_refs.clear()  # flat memory on files with a new customer on every row
            cached = self.customer_refs[cells] = self._check_customer(*cells)
        return cached

    def _check_customer(self, tax_text: str, name: str, address: str, commune: str, district: str,
                        province: str) -> tuple[tuple, dict | None, list]:
        try:
            tax_code = services.clean_tax_code(tax_text)
        except RegistryError as exc:
            return (), None, [("customer_tax_code", str(exc))]
        fields = None
        if name.strip():
            try:
                fields = services.customer_fields(name=name, tax_code=tax_code, address=address, commune=commune,
                                                  district=district, province=province)
            except RegistryError as exc:
                return (), None, [(f"customer_{exc.field}", str(exc))]
        if tax_code:
            return ("tax", tax_code), fields, []
        if fields:
            return ("name", fields["name_key"], fold(fields["address"])), fields, []
        return (), None, [("customer_tax_code", _("Cần mã số thuế hoặc tên khách hàng."))]

    # -- a batch

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        if rows:
            self._resolve_customers(rows)
            self._write_instruments([row for row in rows if row.customer_id is not None])
        if self.progress:
            self.progress(self.report.rows, self.fraction())

    def _resolve_customers(self, rows: list[_Row]) -> None:
        if len(self.customers) > 100_000:
            self.customers.clear()  # flat memory when every row names a new customer; found again by query
        wanted = {row.customer for row in rows if row.customer not in self.customers}
        taxes = [ref[1] for ref in wanted if ref[0] == "tax"]
        for start in range(0, len(taxes), 1000):
            for customer_id, tax_code in self.connection.execute(
                    select(Customer.id, Customer.tax_code).where(Customer.tax_code.in_(taxes[start:start + 1000]))):
                self.customers[("tax", tax_code)] = customer_id
        names = list({ref[1] for ref in wanted if ref[0] == "name"})
        for start in range(0, len(names), 1000):
            for customer_id, name_key, address in self.connection.execute(
                    select(Customer.id, Customer.name_key, Customer.address).where(
                        Customer.tax_code.is_(None), Customer.name_key.in_(names[start:start + 1000]))
                    .order_by(Customer.id)):
                self.customers.setdefault(("name", name_key, fold(address)), customer_id)
        new: dict[tuple, dict] = {}
        for row in rows:
            if row.customer in self.customers:
                row.customer_id = self.customers[row.customer]
            elif row.customer_fields is not None:
                new.setdefault(row.customer, row.customer_fields)
            else:
                self.report.add(row.number, self._label("customer_tax_code"),
                                _("Không có khách hàng mã số thuế %(code)s trong sổ; thêm cột Tên khách hàng (và địa "
                                  "chỉ) để tạo mới.", code=row.customer[1]))
        if new:
            self._create_customers(new)
            for row in rows:
                if row.customer_id is None and row.customer in self.customers:
                    row.customer_id = self.customers[row.customer]

    def _create_customers(self, new: dict[tuple, dict]) -> None:
        refs = list(new)
        params = [dict(new[ref], created_at=self.now, updated_at=self.now) for ref in refs]
        ids = self.connection.execute(insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                                      params).scalars().all()
        events = []
        for ref, customer_id, values in zip(refs, ids, params):
            self.customers[ref] = customer_id
            snapshot = {k: v for k, v in values.items() if v not in ("", None) and k not in ("created_at",
                                                                                            "updated_at")}
            events.append(audit.PendingEvent("insert", "customers", str(customer_id), snapshot, self.reason))
        audit.append(self.session, events)
        self.report.customers_created += len(ids)

    def _write_instruments(self, rows: list[_Row]) -> None:
        existing = self._registered(rows)
        seen: dict[tuple, _Row] = {}
        fresh: list[_Row] = []
        for row in rows:
            v = row.values
            identity = (v["type_code"], v["manufacturer_key"], v["serial_key"])
            if identity in existing:
                self._compare(row, existing[identity])
            elif identity in seen:
                self._compare_in_file(row, seen[identity])
            else:
                seen[identity] = row
                fresh.append(row)
        if not fresh:
            return
        ids = self._allocate_ids(len(fresh))
        self.connection.exec_driver_sql(self.insert_sql, [self._driver_values(i, row) for i, row in zip(ids, fresh)])
        batch = self.report.batch
        events = []
        for instrument_id, row in zip(ids, fresh):
            v = row.values
            changes = {"customer_id": row.customer_id}
            for key in ("type_code", "manufacturer", "model", "serial", "pattern_approval_mark", "year_made",
                        "spec", "place_of_use", "status", "notes"):
                if v[key] not in ("", None):
                    changes[key] = v[key]
            for key in ("last_verified_date", "next_due_date"):
                if v[key] is not None:
                    changes[key] = v[key].isoformat()
            changes["import_batch"] = batch
            events.append(audit.PendingEvent("insert", "instruments", str(instrument_id), changes, self.reason))
        audit.append(self.session, events)
        self.report.created += len(fresh)

    def _registered(self, rows: list[_Row]) -> dict[tuple, Any]:
        keys = list({row.values["serial_key"] for row in rows})
        found = {}
        t = Instrument.__table__.c
        for start in range(0, len(keys), 1000):
            query = select(t.id, t.type_code, t.manufacturer_key, t.serial_key, t.customer_id, t.spec, t.import_batch,
                           *(getattr(t, k) for k in _COMPARED)).where(t.serial_key.in_(keys[start:start + 1000]))
            for record in self.connection.execute(query):
                found[(record.type_code, record.manufacturer_key, record.serial_key)] = record
        return found

    def given(self, row: _Row) -> list[str]:
        """The compared columns that this row fills in (an empty cell says nothing, so it never conflicts)."""
        return [key for key in self.compared if _cell_text(row.cells[self.positions[key]]).strip()]

    def _compare(self, row: _Row, record: Any) -> None:
        """A row naming a registered instrument: skipped when what it says agrees, else one error per difference."""
        in_file = record.import_batch == self.report.batch
        differences = []
        if record.customer_id != row.customer_id:
            differences.append(("customer_tax_code" if "customer_tax_code" in self.columns else "customer_name",
                                _("chủ sở hữu khác")))
        if row.values["spec"] and record.spec != row.values["spec"]:  # no characteristics in the file: silent
            key = next((k for k in services.SPEC_FIELDS[row.values["type_code"]]
                        if (record.spec or {}).get(k) != row.values["spec"].get(k) and k in self.columns), "type_code")
            differences.append((key, _("đặc trưng đo lường khác")))
        for key in self.given(row):
            old, new = getattr(record, key), row.values[key]
            if old != new:
                differences.append((key, _("%(old)s trong sổ, %(new)s trong tệp", old=_show(old), new=_show(new))))
        if not differences:
            self.report.skipped += 1
            return
        for key, detail in differences:
            if in_file:
                message = _("Trùng phương tiện đo với một dòng trước trong tệp này nhưng khác: %(detail)s.",
                            detail=detail)
            else:
                message = _("Phương tiện đo đã có trong sổ (#%(id)d) nhưng khác: %(detail)s. Sửa trong sổ hoặc sửa "
                            "tệp.", id=record.id, detail=detail)
            self.report.add(row.number, self._label(key), message)

    def _compare_in_file(self, row: _Row, first: _Row) -> None:
        same = (row.customer_id == first.customer_id and row.values["spec"] == first.values["spec"]
                and all(row.values[k] == first.values[k] for k in self.given(row)))
        if same:
            self.report.skipped += 1
        else:
            self.report.add(row.number, self._label("serial"),
                            _("Trùng phương tiện đo với dòng %(row)d của tệp này nhưng khác thông tin.",
                              row=first.number))

    def _allocate_ids(self, count: int) -> list[int]:
        # Ids are taken up front so that one executemany inserts the batch and the audit events name each row.
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so max(id) cannot move under us.
        if self.sqlite:
            last = self.connection.execute(select(func.coalesce(func.max(Instrument.id), 0))).scalar_one()
            return list(range(last + 1, last + 1 + count))
        return list(self.connection.execute(
            text("SELECT nextval(pg_get_serial_sequence('instruments', 'id')) FROM generate_series(1, :n)"),
            {"n": count}).scalars())

    def _driver_values(self, instrument_id: int, row: _Row) -> tuple:
        v = row.values
        if self.sqlite:
            # As SQLAlchemy's SQLite types store them: ISO dates, naive-UTC "YYYY-MM-DD HH:MM:SS.ffffff", JSON text.
            last, due = v["last_verified_date"], v["next_due_date"]
            return (instrument_id, row.customer_id, v["type_code"], v["manufacturer"], v["manufacturer_key"],
                    v["model"], v["serial"], v["serial_key"], v["pattern_approval_mark"], v["year_made"],
                    json.dumps(v["spec"]), v["place_of_use"], v["status"], last.isoformat() if last else None,
                    due.isoformat() if due else None, v["notes"], self.report.batch, self.now_text, self.now_text)
        values = (self.jsonb(v[k]) if k == "spec" else v[k] for k in _INSTRUMENT_FIELDS)
        return (instrument_id, row.customer_id, *values, self.report.batch, self.now, self.now)

    def finish(self) -> None:
        self.flush()


def _show(value: Any) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if value in services.STATUS_LABELS:
        return str(services.STATUS_LABELS[value])
    return str(value)


@contextmanager
def _page_cache(connection: Connection) -> Iterator[None]:
    """A larger SQLite page cache for the import's connection: the indexes of a 100 000-row batch outgrow the default
    2 MB and every random insert into them would go back to the file."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar())
    connection.exec_driver_sql(f"PRAGMA cache_size={-SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={before}")


def new_batch_id() -> str:
    """An import's batch id (stored on every instrument it creates): date and a random part."""
    return f"{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def import_table(session: Session, table_: Table, *, source: str, today: dt.date, batch: str | None = None,
                 progress: Callable[[int, float], None] | None = None, max_rows: int = MAX_ROWS) -> ImportReport:
    """Import the rows of an open ``Table``; all or nothing. Callers commit (a failed import wrote nothing).

    ``progress(rows_read, fraction_of_file)`` is called after each batch.
    """
    started = time.perf_counter()
    report = ImportReport(source=source, batch=batch or new_batch_id())
    savepoint = session.begin_nested()
    try:
        importer = _Importer(session, report=report, today=today, progress=progress, fraction=table_.fraction)
        with audit.reason(session, importer.reason), _page_cache(session.connection()):
            if importer.read_header(table_.headers):
                for number, cells in table_.rows:
                    if report.rows >= max_rows:
                        report.add(number, "", _("Tệp có quá %(n)d dòng; hãy chia thành nhiều tệp.", n=max_rows))
                        break
                    importer.add_row(number, cells)
                importer.finish()
            if report.rows == 0 and report.ok:
                report.add(2, "", _("Tệp không có dòng dữ liệu nào dưới dòng tiêu đề."))
            if report.ok:
                audit.record(session, action="import", entity_type="instrument_imports", entity_id=report.batch,
                             changes={"source": source, "rows": report.rows, "created": report.created,
                                      "skipped": report.skipped, "customers_created": report.customers_created})
    except BaseException:
        savepoint.rollback()
        raise
    if report.ok:
        savepoint.commit()
    else:
        savepoint.rollback()
    report.seconds = time.perf_counter() - started
    return report


def import_file(session: Session, path: Path, *, filename: str, today: dt.date, batch: str | None = None,
                progress: Callable[[int, float], None] | None = None, max_rows: int = MAX_ROWS) -> ImportReport:
    """Import a CSV or XLSX file; a file that cannot be read gives a report with one problem (row 0)."""
    try:
        with open_table(path, filename=filename) as opened:
            return import_table(session, opened, source=filename, today=today, batch=batch, progress=progress,
                                max_rows=max_rows)
    except ImportFileError as exc:
        report = ImportReport(source=filename, batch=batch or new_batch_id())
        report.add(0, "", str(exc))
        return report


def import_records(session: Session, records: Iterable[dict], *, source: str, today: dt.date,
                   batch: str | None = None) -> ImportReport:
    """Import rows given as dicts keyed by column key (the demo seeds its instruments this way)."""
    keys = [col.key for col in COLUMNS]
    rows = ((number, [record.get(key) for key in keys]) for number, record in enumerate(records, 2))
    return import_table(session, Table(keys, rows, lambda: 0.0), source=source, today=today, batch=batch)
