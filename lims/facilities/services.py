"""Facilities services: rooms and sites, condition readings (by hand or from a data-logger file), and the conditions
check the verification workflow calls (ISO/IEC 17025 6.3).

- ``conditions_at(session, *, room_id, at, window_minutes=30) -> ConditionReading | None``: the reading nearest to
  ``at`` within the window;
- ``check_conditions(session, *, room_id, start, end, limits, window_minutes=30) -> ConditionsCheck``: were the
  conditions during the work within a method's limits? ``limits`` has the shape of
  ``MethodVersion.environment_limits`` (lims.methods): ``{"temperature_c": {"min", "max", "max_rate_per_h",
  "max_change_12h"}, "humidity_pct": {"min", "max"}, "pressure_hpa": {"min", "max"}}``, every key optional, decimal
  strings. The caller passes them in; this package does not read the methods tables.

A room is *in use* once it has readings: from then on an edit needs a reason, which reaches the audit trail.
Readings are never edited. Services take the session and keyword arguments, raise ``FacilitiesError`` (``field``
names the argument at fault) with a sentence a technician understands, flush, and never commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.dates import from_local, local
from lims.exceptions import FieldError
from lims.models import utcnow
from lims.text import fold

from .models import ConditionReading, Room


ROOM_KINDS = {"laboratory": _l("Phòng thí nghiệm"), "on_site": _l("Địa điểm hiện trường")}
SOURCES = {"manual": _l("Nhập tay"), "logger": _l("Tệp data-logger")}

#: The quantities of a reading: attribute -> (name, unit, plausible range). The range catches typing and logger
#: faults (a humidity of 120 %, a temperature of 250 °C); it is not a limit of any method.
QUANTITIES = {
    "temperature_c": (_l("Nhiệt độ"), "°C", Decimal("-40"), Decimal("80")),
    "humidity_pct": (_l("Độ ẩm"), "%RH", Decimal("0"), Decimal("100")),
    "pressure_hpa": (_l("Áp suất"), "hPa", Decimal("300"), Decimal("1200")),
}
#: Readings keep two decimals (the columns' scale); loggers resolve 0.1 at best, so rounding loses nothing.
STEP = Decimal("0.01")
#: A reading a little ahead of the server's clock is a logger whose clock runs fast, not the future.
CLOCK_TOLERANCE = dt.timedelta(minutes=10)
MAX_LISTED_ERRORS = 50
MAX_LISTED_EXCURSIONS = 10
IMPORT_MAX_BYTES = 5 * 1024 * 1024

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9._/-]*")
NOTES_MAX = 4000


class FacilitiesError(FieldError):
    """A room or reading was refused; ``field`` names the argument at fault."""


class ReasonRequiredError(FacilitiesError):
    def __init__(self, message: str):
        super().__init__("reason", message)


class LoggerImportError(FacilitiesError):
    """A logger file was refused as a whole; ``errors`` lists the problems, each naming its line."""

    def __init__(self, errors: list[str]):
        super().__init__("file", errors[0] if len(errors) == 1 else
                         _("Tệp có %(n)d lỗi; không nhập dòng nào.", n=len(errors)))
        self.errors = errors


@dataclass
class ConditionsCheck:
    """The result of ``check_conditions``: ``ok`` when every reading and change is within the limits."""

    ok: bool
    readings: list[ConditionReading] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class Page:
    """One page of a list: ``items`` and whether a next page exists (fetched as page size + 1, never counted)."""

    items: list
    number: int
    per_page: int
    has_next: bool


@dataclass(frozen=True)
class LoggerRow:
    line: int
    taken_at: dt.datetime
    temperature_c: Decimal | None
    humidity_pct: Decimal | None
    pressure_hpa: Decimal | None


@dataclass
class ImportResult:
    added: int
    skipped: int
    first_at: dt.datetime
    last_at: dt.datetime


# --- formatting --------------------------------------------------------------------------------------------------



def day_bounds(start_date: dt.date, end_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC moments that bound whole local days ``start_date`` … ``end_date`` (inclusive)."""
    return (from_local(dt.datetime.combine(start_date, dt.time())),
            from_local(dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time())))


def time_text(moment: dt.datetime) -> str:
    """ "09:40 23/11/2026", local time."""
    return local(moment).strftime("%H:%M %d/%m/%Y")


def decimal_text(value: Decimal | str | int) -> str:
    """ "28,1": no exponent, no trailing zeros, decimal comma."""
    text = format(Decimal(str(value)).normalize(), "f")
    return ("0" if text == "-0" else text).replace(".", ",")


def range_text(quantity: str, low: Decimal | None, high: Decimal | None) -> str:
    unit = QUANTITIES[quantity][1]
    if low is not None and high is not None:
        return f"{decimal_text(low)}–{decimal_text(high)} {unit}"
    if high is not None:
        return _("tối đa %(value)s %(unit)s", value=decimal_text(high), unit=unit)
    return _("tối thiểu %(value)s %(unit)s", value=decimal_text(low), unit=unit)


# --- field rules ------------------------------------------------------------------------------------------------

def clean_text(value: Any, field: str, *, label: str, max_length: int, required: bool = False,
               multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    if _CONTROL.search(text):
        raise FacilitiesError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label))
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if required and not text:
        raise FacilitiesError(field, _("%(label)s không được để trống.", label=label))
    if len(text) > max_length:
        raise FacilitiesError(field, _("%(label)s dài quá %(n)d ký tự.", label=label, n=max_length))
    return text


def clean_code(value: Any) -> str:
    code = clean_text(value, "code", label=_("Mã phòng"), max_length=20, required=True).upper().replace(" ", "")
    if not _CODE.fullmatch(code):
        raise FacilitiesError("code", _("Mã phòng chỉ gồm chữ không dấu, số và các dấu - . _ /"))
    return code


def clean_quantity(quantity: str, value: Any) -> Decimal | None:
    """A reading's value as a Decimal of two decimals, within the plausible range; ``None`` when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    name, unit, low, high = QUANTITIES[quantity]
    text = str(value).strip()
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise FacilitiesError(quantity, _("%(name)s “%(value)s” không phải là số.", name=name, value=text[:20]))
    if not low <= number <= high:
        raise FacilitiesError(quantity, _("%(name)s %(value)s %(unit)s nằm ngoài khoảng hợp lý %(low)s … %(high)s "
                                          "%(unit)s.", name=name, value=decimal_text(number), unit=unit,
                                          low=decimal_text(low), high=decimal_text(high)))
    return number.quantize(STEP, rounding=ROUND_HALF_EVEN)


def _require_room(session: Session, room_id: Any) -> Room:
    try:
        room = session.get(Room, int(room_id))
    except (TypeError, ValueError):
        room = None
    if room is None:
        raise FacilitiesError("room_id", _("Không tìm thấy phòng số %(id)s.", id=room_id))
    return room


# --- rooms ------------------------------------------------------------------------------------------------------

def _room_fields(*, code: Any, name: Any, building: Any = "", kind: Any = "laboratory", notes: Any = "") -> dict:
    if kind not in ROOM_KINDS:
        raise FacilitiesError("kind", _("Loại địa điểm phải là phòng thí nghiệm hoặc địa điểm hiện trường."))
    clean = {"code": clean_code(code),
             "name": clean_text(name, "name", label=_("Tên phòng"), max_length=200, required=True),
             "building": clean_text(building, "building", label=_("Toà nhà / địa chỉ"), max_length=200),
             "kind": kind,
             "notes": clean_text(notes, "notes", label=_("Ghi chú"), max_length=NOTES_MAX, multiline=True)}
    clean["search_key"] = fold(f"{clean['code']} {clean['name']} {clean['building']}")[:420]
    return clean


def _check_code_free(session: Session, code: str, *, except_id: int | None = None) -> None:
    other = session.scalar(select(Room).where(Room.code == code))
    if other is not None and other.id != except_id:
        raise FacilitiesError("code", _("Mã phòng %(code)s đã được dùng cho %(name)s.", code=code, name=other.name))


def create_room(session: Session, *, code: Any, name: Any, building: Any = "", kind: Any = "laboratory",
                notes: Any = "") -> Room:
    """Add a room or on-site location. Callers commit."""
    clean = _room_fields(code=code, name=name, building=building, kind=kind, notes=notes)
    _check_code_free(session, clean["code"])
    room = Room(**clean)
    session.add(room)
    session.flush()
    return room


def get_room(session: Session, room_id: int) -> Room | None:
    return session.get(Room, room_id)


def room_in_use(session: Session, room: Room) -> bool:
    """A room is in use once it has readings: results may rest on its records."""
    return session.scalar(select(ConditionReading.id).where(ConditionReading.room_id == room.id).limit(1)) is not None


def update_room(session: Session, *, room_id: int, code: Any, name: Any, building: Any = "",
                kind: Any = "laboratory", notes: Any = "", reason: Any = None) -> Room:
    """Change a room; a reason is required once it has readings. Callers commit."""
    room = _require_room(session, room_id)
    clean = _room_fields(code=code, name=name, building=building, kind=kind, notes=notes)
    _check_code_free(session, clean["code"], except_id=room.id)
    changed = {k: v for k, v in clean.items() if getattr(room, k) != v}
    if not changed:
        return room
    text = None
    if room_in_use(session, room):
        text = clean_text(reason, "reason", label=_("Lý do"), max_length=NOTES_MAX, multiline=True)
        if not text:
            raise ReasonRequiredError(_("Phòng %(code)s đã có số đo điều kiện môi trường: cần nêu lý do sửa đổi.",
                                        code=room.code))
    with audit.reason(session, text):
        for key, value in changed.items():
            setattr(room, key, value)
        session.flush()
    return room


def list_rooms(session: Session, *, q: str = "", kind: str = "") -> list[Room]:
    """Rooms matching an accent-insensitive search of code, name and building, and a kind; by code."""
    query = select(Room).order_by(Room.code)
    if key := fold(q):
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Room.search_key.like(f"%{escaped}%", escape="\\"))
    if kind in ROOM_KINDS:
        query = query.where(Room.kind == kind)
    return list(session.scalars(query))


def latest_readings(session: Session, room_ids: Sequence[int]) -> dict[int, ConditionReading]:
    """The newest reading of each room (one indexed lookup per room: the unique (room_id, taken_at) index)."""
    latest = {}
    for room_id in room_ids:
        reading = session.scalar(select(ConditionReading).where(ConditionReading.room_id == room_id)
                                 .order_by(ConditionReading.taken_at.desc()).limit(1))
        if reading is not None:
            latest[room_id] = reading
    return latest


# --- readings ------------------------------------------------------------------------------------------------------

def record_reading(session: Session, *, room_id: Any, taken_at: dt.datetime, temperature_c: Any = None,
                   humidity_pct: Any = None, pressure_hpa: Any = None, recorded_by_id: int | None = None,
                   now: dt.datetime | None = None) -> ConditionReading:
    """Add a reading typed by hand. Callers commit."""
    room = _require_room(session, room_id)
    if not isinstance(taken_at, dt.datetime) or taken_at.tzinfo is None:
        raise FacilitiesError("taken_at", _("Thời điểm đo không hợp lệ."))
    taken_at = taken_at.astimezone(dt.timezone.utc).replace(microsecond=0)
    if taken_at > (now or utcnow()) + CLOCK_TOLERANCE:
        raise FacilitiesError("taken_at", _("Thời điểm đo %(time)s ở tương lai.", time=time_text(taken_at)))
    values = {q: clean_quantity(q, v) for q, v in (("temperature_c", temperature_c), ("humidity_pct", humidity_pct),
                                                     ("pressure_hpa", pressure_hpa))}
    if all(v is None for v in values.values()):
        raise FacilitiesError("temperature_c", _("Nhập ít nhất một giá trị: nhiệt độ, độ ẩm hoặc áp suất."))
    if session.scalar(select(ConditionReading.id).where(ConditionReading.room_id == room.id,
                                                        ConditionReading.taken_at == taken_at)):
        raise FacilitiesError("taken_at", _("Phòng %(code)s đã có số đo lúc %(time)s.", code=room.code,
                                            time=time_text(taken_at)))
    reading = ConditionReading(room_id=room.id, taken_at=taken_at, source="manual", source_file="",
                               recorded_by_id=recorded_by_id, **values)
    session.add(reading)
    session.flush()
    return reading


def readings_between(session: Session, *, room_id: int, start: dt.datetime, end: dt.datetime) -> list[ConditionReading]:
    """A room's readings with ``start <= taken_at <= end``, oldest first."""
    return list(session.scalars(select(ConditionReading)
                                .where(ConditionReading.room_id == room_id, ConditionReading.taken_at >= start,
                                       ConditionReading.taken_at <= end)
                                .order_by(ConditionReading.taken_at)))


def page_readings(session: Session, *, room_id: int, start: dt.datetime, end: dt.datetime, page: int = 1,
                  per_page: int = 50) -> Page:
    """One page of a room's readings in ``[start, end)``, newest first."""
    page = max(1, page)
    rows = list(session.scalars(select(ConditionReading)
                                .where(ConditionReading.room_id == room_id, ConditionReading.taken_at >= start,
                                       ConditionReading.taken_at < end)
                                .order_by(ConditionReading.taken_at.desc())
                                .offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(items=rows[:per_page], number=page, per_page=per_page, has_next=len(rows) > per_page)


def user_names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Full names of the people who recorded readings (for lists and exports)."""
    from lims.auth.models import User

    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


# --- data-logger files ------------------------------------------------------------------------------------------

# Header words, folded (lims.text.fold): which column holds what. Loggers (Elitech, Testo, Extech …) write English
# headers, Vietnamese software Vietnamese ones.
_TIME_WORDS = ("date/time", "datetime", "date time", "date-time", "timestamp", "thoi gian", "ngay gio")
_DATE_WORDS = ("date", "ngay")
_CLOCK_WORDS = ("time", "gio")
_COLUMN_WORDS = {
    "temperature_c": ("temp", "nhiet do", "°c"),
    "humidity_pct": ("humid", "%rh", "rh", "do am"),
    "pressure_hpa": ("press", "hpa", "mbar", "ap suat"),
}
_WRONG_UNITS = {"temperature_c": ("°f", "(f)", "deg f", "fahrenheit"), "pressure_hpa": ("kpa", "mmhg", "psi", "inhg")}

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?")
_ISO = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                  r"\s*(Z|[+-]\d{2}:?\d{2})?")


def parse_logger_time(text: str) -> dt.datetime:
    """A logger's time stamp as aware UTC; ``ValueError`` when it is not one of the accepted formats.

    Accepted: ``dd/mm/yyyy HH:MM[:SS]`` (also with - or . between the date's parts) and ISO 8601
    ``yyyy-mm-dd[T]HH:MM[:SS][±HH:MM|Z]``. Without an offset the time is local (Asia/Ho_Chi_Minh).

    >>> parse_logger_time("23/11/2026 09:40").isoformat()
    '2026-11-23T02:40:00+00:00'
    >>> parse_logger_time("2026-11-23T09:40:30+07:00").isoformat()
    '2026-11-23T02:40:30+00:00'
    """
    text = text.strip()
    if match := _DMY.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
        offset = None
    elif match := _ISO.fullmatch(text):
        year, month, day, hour, minute, second, offset = match.groups()
    else:
        raise ValueError(text)
    naive = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    if offset is None:
        return from_local(naive)
    if offset == "Z":
        return naive.replace(tzinfo=dt.timezone.utc)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (naive - sign * delta).replace(tzinfo=dt.timezone.utc)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def _find_columns(cells: list[str]) -> dict[str, int] | None:
    """The columns of a header row, or ``None`` when the row is not a header."""
    folded = [fold(c) for c in cells]
    columns: dict[str, int] = {}
    for index, cell in enumerate(folded):
        if "time" not in columns and any(word in cell for word in _TIME_WORDS):
            columns["time"] = index
    if "time" not in columns:
        dates = [i for i, c in enumerate(folded) if c in _DATE_WORDS or c.startswith(("date (", "ngay ("))]
        clocks = [i for i, c in enumerate(folded) if c in _CLOCK_WORDS or c.startswith(("time (", "gio ("))]
        if dates and clocks:
            columns["date"], columns["clock"] = dates[0], clocks[0]
        elif clocks:  # a lone "Time" column holding the whole time stamp (Elitech: "No.,Time,Temperature(°C)")
            columns["time"] = clocks[0]
    for quantity, words in _COLUMN_WORDS.items():
        for index, cell in enumerate(folded):
            if index in columns.values():
                continue
            if any(word in cell for word in words) and quantity not in columns:
                columns[quantity] = index
    has_time = "time" in columns or "date" in columns
    has_value = any(q in columns for q in QUANTITIES)
    return columns if has_time and has_value else None


def parse_logger_csv(content: bytes, *, now: dt.datetime | None = None) -> list[LoggerRow]:
    """The readings of a data-logger CSV export, or ``LoggerImportError`` listing every bad line.

    The file has a header row naming a time column ("Date/Time" or "Time", or "Date" and "Time") and at least one of
    temperature (°C), humidity (%RH) and pressure (hPa); lines before the header (a logger's preamble) are skipped.
    The delimiter is a comma, a semicolon or a tab; with a semicolon or a tab, values may use a decimal comma.
    Line numbers in the messages are the file's own, counting from 1.
    """
    if len(content) > IMPORT_MAX_BYTES:
        raise LoggerImportError([_("Tệp lớn quá %(n)d MB.", n=IMPORT_MAX_BYTES // (1024 * 1024))])
    lines = _decode(content).splitlines()
    header_index = columns = None
    delimiter = ","
    for index, line in enumerate(lines[:30]):
        if not line.strip():
            continue
        delimiter = _delimiter(line)
        found = _find_columns(next(csv.reader([line], delimiter=delimiter)))
        if found:
            header_index, columns = index, found
            break
    if columns is None:
        raise LoggerImportError([_("Không tìm thấy dòng tiêu đề có cột thời gian (Date/Time) và cột nhiệt độ "
                                   "(Temperature), độ ẩm (Humidity) hoặc áp suất (Pressure) trong 30 dòng đầu.")])
    header = next(csv.reader([lines[header_index]], delimiter=delimiter))
    for quantity, words in _WRONG_UNITS.items():
        if quantity in columns and any(word in fold(header[columns[quantity]]) for word in words):
            name, unit = QUANTITIES[quantity][:2]
            raise LoggerImportError([_("Dòng %(line)d: cột %(column)s không tính bằng %(unit)s; hãy xuất lại tệp "
                                       "với đơn vị %(unit)s.", line=header_index + 1, column=header[columns[quantity]],
                                       unit=unit)])
    limit = (now or utcnow()) + CLOCK_TOLERANCE
    rows: list[LoggerRow] = []
    errors: list[str] = []
    seen: dict[dt.datetime, int] = {}
    for index in range(header_index + 1, len(lines)):
        line_number = index + 1
        if not lines[index].strip():
            continue
        cells = next(csv.reader([lines[index]], delimiter=delimiter))
        if not any(c.strip() for c in cells):
            continue

        def cell(key: str) -> str:
            position = columns[key]
            return cells[position].strip() if position < len(cells) else ""

        stamp = f"{cell('date')} {cell('clock')}" if "date" in columns else cell("time")
        try:
            taken_at = parse_logger_time(stamp)
        except ValueError:
            errors.append(_("Dòng %(line)d: thời gian “%(value)s” không đúng dạng dd/mm/yyyy HH:MM[:SS] hoặc "
                            "yyyy-mm-dd HH:MM[:SS].", line=line_number, value=stamp.strip()[:40]))
            continue
        values: dict[str, Decimal | None] = {}
        bad_value = False
        for quantity in QUANTITIES:
            if quantity not in columns:
                values[quantity] = None
                continue
            try:
                values[quantity] = clean_quantity(quantity, cell(quantity))
            except FacilitiesError as exc:
                errors.append(_("Dòng %(line)d: %(problem)s", line=line_number, problem=str(exc)))
                bad_value = True
                values[quantity] = None
        if bad_value:
            continue
        if all(v is None for v in values.values()):
            errors.append(_("Dòng %(line)d: không có giá trị đo nào.", line=line_number))
            continue
        if taken_at > limit:
            errors.append(_("Dòng %(line)d: thời điểm %(time)s ở tương lai (đồng hồ của logger có đúng không?).",
                            line=line_number, time=time_text(taken_at)))
            continue
        taken_at = taken_at.replace(microsecond=0)
        if taken_at in seen:
            errors.append(_("Dòng %(line)d: trùng thời điểm %(time)s với dòng %(other)d.", line=line_number,
                            time=time_text(taken_at), other=seen[taken_at]))
            continue
        seen[taken_at] = line_number
        rows.append(LoggerRow(line_number, taken_at, **values))
    if errors:
        if len(errors) > MAX_LISTED_ERRORS:
            errors = errors[:MAX_LISTED_ERRORS] + [_("… và %(n)d lỗi khác.", n=len(errors) - MAX_LISTED_ERRORS)]
        raise LoggerImportError(errors)
    if not rows:
        raise LoggerImportError([_("Tệp không có dòng số liệu nào sau dòng tiêu đề.")])
    return rows


def import_logger_csv(session: Session, *, room_id: Any, content: bytes, filename: str,
                      recorded_by_id: int | None = None, now: dt.datetime | None = None) -> ImportResult:
    """Add a logger file's readings to a room, all or nothing. Callers commit.

    Moments the room already has a reading for are skipped, so importing the same file (or an overlapping download
    of the same logger) twice adds nothing. One ``import`` event names the file and its SHA-256 in the audit trail,
    besides the insert event of each reading.
    """
    room = _require_room(session, room_id)
    filename = _CONTROL.sub("", os.path.basename((filename or "").replace("\\", "/"))).strip()[:200] or "logger.csv"
    rows = parse_logger_csv(content, now=now)
    first, last = min(r.taken_at for r in rows), max(r.taken_at for r in rows)
    existing = set(session.scalars(select(ConditionReading.taken_at)
                                   .where(ConditionReading.room_id == room.id, ConditionReading.taken_at >= first,
                                          ConditionReading.taken_at <= last)))
    fresh = [r for r in rows if r.taken_at not in existing]
    session.add_all(ConditionReading(room_id=room.id, taken_at=r.taken_at, temperature_c=r.temperature_c,
                                     humidity_pct=r.humidity_pct, pressure_hpa=r.pressure_hpa, source="logger",
                                     source_file=filename, recorded_by_id=recorded_by_id) for r in fresh)
    session.flush()
    audit.record(session, action="import", entity_type="rooms", entity_id=room.id,
                 changes={"file": filename, "sha256": hashlib.sha256(content).hexdigest(), "rows": len(rows),
                          "added": len(fresh), "skipped": len(rows) - len(fresh)})
    return ImportResult(added=len(fresh), skipped=len(rows) - len(fresh), first_at=first, last_at=last)


# --- the checks the workflow calls ------------------------------------------------------------------------------

def conditions_at(session: Session, *, room_id: int, at: dt.datetime, window_minutes: int = 30
                  ) -> ConditionReading | None:
    """The room's reading nearest to ``at`` within ± ``window_minutes``, or ``None`` (the earlier one on a tie)."""
    window = dt.timedelta(minutes=window_minutes)
    candidates = readings_between(session, room_id=room_id, start=at - window, end=at + window)
    if not candidates:
        return None
    return min(candidates, key=lambda r: (abs(r.taken_at - at), r.taken_at))


def _limit_values(limits: Mapping[str, Any] | None) -> dict[str, dict[str, Decimal]]:
    parsed: dict[str, dict[str, Decimal]] = {}
    for quantity in QUANTITIES:
        items = (limits or {}).get(quantity) or {}
        values = {}
        for key, value in items.items():
            if value is None or value == "":
                continue
            try:
                values[key] = Decimal(str(value).replace(",", "."))
            except InvalidOperation:
                raise FacilitiesError("limits", _("Giới hạn %(key)s của %(q)s không phải là số: %(value)s.",
                                                  key=key, q=quantity, value=value)) from None
        if values:
            parsed[quantity] = values
    return parsed


def _worst_change(series: list[tuple[dt.datetime, Decimal]], span: dt.timedelta
                  ) -> tuple[Decimal, dt.datetime, dt.datetime, bool] | None:
    """The largest change between two readings at most ``span`` apart; where consecutive readings are further apart
    than ``span``, their change scaled to ``span`` (an average rate). Returns (change, from, to, averaged)."""
    worst = None
    span_s = Decimal(int(span.total_seconds()))
    for i, (t_i, v_i) in enumerate(series):
        if i + 1 < len(series) and series[i + 1][0] - t_i > span:
            t_j, v_j = series[i + 1]
            gap_s = Decimal(int((t_j - t_i).total_seconds()))
            candidate = ((abs(v_j - v_i) * span_s / gap_s).quantize(STEP), t_i, t_j, True)
            if worst is None or candidate[0] > worst[0]:
                worst = candidate
            continue
        for t_j, v_j in series[i + 1:]:
            if t_j - t_i > span:
                break
            if worst is None or abs(v_j - v_i) > worst[0]:
                worst = (abs(v_j - v_i), t_i, t_j, False)
    return worst


def check_conditions(session: Session, *, room_id: int, start: dt.datetime, end: dt.datetime,
                     limits: Mapping[str, Any] | None, window_minutes: int = 30) -> ConditionsCheck:
    """Were a room's conditions from ``start`` to ``end`` within ``limits``?

    The readings used are those in the period plus, when no reading falls exactly on an edge, the last one before
    ``start`` and the first one after ``end`` within ``window_minutes`` (a logger's interval straddles the edges of
    a short piece of work). Every value outside its min/max is a
    message naming the quantity, the value, the limit and the local time. ``max_rate_per_h`` is checked on the
    temperature changes between readings at most an hour apart from an hour before ``start`` to ``end``;
    ``max_change_12h`` on the changes within any 12 hours of the 12 hours up to ``end`` (or of the period when
    longer), so that a room that was still settling before the work began is caught too. No reading at all is not
    ok.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise FacilitiesError("start", _("Thời điểm bắt đầu và kết thúc phải kèm múi giờ."))
    if end < start:
        raise FacilitiesError("end", _("Thời điểm kết thúc phải sau thời điểm bắt đầu."))
    room = _require_room(session, room_id)
    parsed = _limit_values(limits)
    window = dt.timedelta(minutes=window_minutes)
    inside = readings_between(session, room_id=room.id, start=start, end=end)
    before = after = None
    if not inside or inside[0].taken_at > start:
        before = session.scalar(select(ConditionReading)
                                .where(ConditionReading.room_id == room.id, ConditionReading.taken_at < start,
                                       ConditionReading.taken_at >= start - window)
                                .order_by(ConditionReading.taken_at.desc()).limit(1))
    if not inside or inside[-1].taken_at < end:
        after = session.scalar(select(ConditionReading)
                               .where(ConditionReading.room_id == room.id, ConditionReading.taken_at > end,
                                      ConditionReading.taken_at <= end + window)
                               .order_by(ConditionReading.taken_at).limit(1))
    used = ([before] if before else []) + inside + ([after] if after else [])
    if not used:
        return ConditionsCheck(ok=False, readings=[], messages=[
            _("Không có số đo điều kiện môi trường của phòng %(code)s từ %(start)s đến %(end)s.", code=room.code,
              start=time_text(start), end=time_text(end))])
    messages: list[str] = []
    for quantity, values in parsed.items():
        low, high = values.get("min"), values.get("max")
        name, unit = QUANTITIES[quantity][:2]
        measured = [(r.taken_at, getattr(r, quantity)) for r in used if getattr(r, quantity) is not None]
        if not measured:
            messages.append(_("Không có số đo %(name)s của phòng %(code)s từ %(start)s đến %(end)s.",
                              name=str(name).lower(), code=room.code, start=time_text(start), end=time_text(end)))
            continue
        if low is None and high is None:
            continue
        limit = range_text(quantity, low, high)
        excursions = []
        for at, value in measured:
            if high is not None and value > high:
                excursions.append(_("%(name)s %(value)s %(unit)s lúc %(time)s vượt giới hạn %(limit)s", name=name,
                                    value=decimal_text(value), unit=unit, time=time_text(at), limit=limit))
            elif low is not None and value < low:
                excursions.append(_("%(name)s %(value)s %(unit)s lúc %(time)s dưới giới hạn %(limit)s", name=name,
                                    value=decimal_text(value), unit=unit, time=time_text(at), limit=limit))
        if len(excursions) > MAX_LISTED_EXCURSIONS:
            excursions = excursions[:MAX_LISTED_EXCURSIONS] + [
                _("… và %(n)d số đo %(name)s khác ngoài giới hạn", n=len(excursions) - MAX_LISTED_EXCURSIONS,
                  name=str(name).lower())]
        messages.extend(excursions)
    temperature = parsed.get("temperature_c", {})
    hour, half_day = dt.timedelta(hours=1), dt.timedelta(hours=12)
    if "max_rate_per_h" in temperature:
        series = [(r.taken_at, r.temperature_c)
                  for r in readings_between(session, room_id=room.id, start=start - hour, end=used[-1].taken_at)
                  if r.temperature_c is not None]
        worst = _worst_change(series, hour)
        if worst is not None and worst[0] > temperature["max_rate_per_h"]:
            change, t_from, t_to, averaged = worst
            template = (_("Nhiệt độ thay đổi trung bình %(change)s °C/h từ %(start)s đến %(end)s, vượt giới hạn "
                          "%(limit)s °C/h") if averaged else
                        _("Nhiệt độ thay đổi %(change)s °C trong vòng 1 giờ (từ %(start)s đến %(end)s), vượt giới "
                          "hạn %(limit)s °C/h"))
            messages.append(template % {"change": decimal_text(change), "start": time_text(t_from),
                                        "end": time_text(t_to), "limit": decimal_text(temperature["max_rate_per_h"])})
    if "max_change_12h" in temperature:
        series = [(r.taken_at, r.temperature_c)
                  for r in readings_between(session, room_id=room.id, start=min(start, end - half_day),
                                            end=used[-1].taken_at)
                  if r.temperature_c is not None]
        worst = _worst_change(series, half_day)
        if worst is not None and worst[0] > temperature["max_change_12h"]:
            change, t_from, t_to, averaged = worst
            messages.append(_("Nhiệt độ thay đổi %(change)s °C trong vòng 12 giờ (từ %(start)s đến %(end)s), vượt "
                              "giới hạn %(limit)s °C", change=decimal_text(change), start=time_text(t_from),
                              end=time_text(t_to), limit=decimal_text(temperature["max_change_12h"])))
    return ConditionsCheck(ok=not messages, readings=used, messages=messages)


def count_readings(session: Session, *, room_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ConditionReading)
                          .where(ConditionReading.room_id == room_id)) or 0
