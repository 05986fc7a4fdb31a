"""Methods services: procedures and their versions under document control (ISO/IEC 17025 7.2, 8.3).

Only the version in force on a date may be used for work on that date; withdrawn versions stay readable. The checks
the verification workflow calls:

- ``method_in_force(session, *, method_version_id, on, instrument_type=None, kind=None) -> MethodVersion`` raises
  ``MethodNotInForceError`` (withdrawn, not yet in force) or ``MethodNotApplicableError`` with a Vietnamese sentence;
- ``version_in_force(session, *, instrument_type, kind, on, procedure_id=None) -> MethodVersion | None``;
- ``versions_for(session, instrument_type, on, *, kind=None) -> list[MethodVersion]`` (choices for forms).

A version is *in use* once its effective date has come (``effective_date <= today``): from then on work may cite it,
so an edit needs a reason, which reaches the audit trail. A procedure is in use when one of its versions is. Issuing
a new version withdraws the previous one from the new version's effective date, with a reason.

Services take the session and keyword arguments, raise ``MethodError`` (``field`` names the argument at fault, e.g.
``environment_limits.temperature_c.min``) with a sentence a technician understands, flush, and never commit. A
document file is written to the instance folder before the commit; if the transaction then rolls back the file stays
behind unreferenced, which is harmless (files are named by their content's SHA-256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.dates import centre_today
from lims.exceptions import FieldError
from lims.text import fold

from .models import MethodVersion, Procedure


#: Labels of models.KIND_CODES, in the same order (a test checks it).
KINDS = {"verification": _l("Kiểm định"), "calibration": _l("Hiệu chuẩn")}

STATUS_LABELS = {"in_force": _l("Đang có hiệu lực"), "not_yet": _l("Chưa có hiệu lực"),
                 "withdrawn": _l("Đã hết hiệu lực")}

#: The tests a method may require, per instrument type: readings keys of the metrology engine (DESIGN.md §6; a test
#: checks each against the engine's modules), in the order the engine lists them, with a label for the forms.
TEST_KEYS: dict[str, dict[str, Any]] = {
    "nawi": {"zero": _l("Độ chính xác điểm không"), "weighing": _l("Sai số khi tăng và giảm tải"),
             "eccentricity": _l("Độ lệch tâm"), "repeatability": _l("Độ lặp lại")},
    "weight": {"reference": _l("Quả cân chuẩn"), "cycles": _l("Chu trình so sánh (ABBA/ABA)"),
               "balance": _l("Cân so sánh"), "air": _l("Hiệu chính lực đẩy không khí")},
    "energy_meter": {"accuracy": _l("Sai số"), "starting": _l("Ngưỡng độ nhạy (khởi động)"),
                     "no_load": _l("Tự quay (không tải)")},
    "taximeter": {"distance": _l("Sai số quãng đường"), "time": _l("Sai số thời gian"), "fare": _l("Tiền cước")},
}

#: The shape of ``MethodVersion.environment_limits``: quantity -> its keys. Other packages rely on it (DESIGN §4).
LIMIT_KEYS = {
    "temperature_c": ("min", "max", "max_rate_per_h", "max_change_12h"),
    "humidity_pct": ("min", "max"),
    "pressure_hpa": ("min", "max"),
}
#: Plausible bounds of a limit, to catch typing mistakes (a temperature of 250 °C, a humidity of 120 %).
_LIMIT_BOUNDS = {"temperature_c": (Decimal(-50), Decimal(100)), "humidity_pct": (Decimal(0), Decimal(100)),
                 "pressure_hpa": (Decimal(300), Decimal(1200))}
_QUANTITY_NAMES = {"temperature_c": _l("Nhiệt độ"), "humidity_pct": _l("Độ ẩm"), "pressure_hpa": _l("Áp suất")}
_UNITS = {"temperature_c": "°C", "humidity_pct": "%RH", "pressure_hpa": "hPa"}
_LIMIT_NAMES = {"min": _l("tối thiểu"), "max": _l("tối đa"), "max_rate_per_h": _l("tốc độ thay đổi tối đa mỗi giờ"),
                "max_change_12h": _l("thay đổi tối đa trong 12 giờ")}

ADEQUACY_DIVISOR_MAX = 10
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
#: Accepted document files: extension -> the bytes they start with (a renamed file of another kind is refused).
DOCUMENT_TYPES = {".pdf": (b"%PDF-",), ".docx": (b"PK\x03\x04",), ".doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)}
DOCUMENTS_FOLDER = "documents/methods"

# Lengths mirror the columns in models.py (PostgreSQL enforces them; SQLite would not, so the service does).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
NOTES_MAX = 4000


class MethodError(FieldError):
    """A procedure or version was refused; ``field`` names the argument at fault."""


class MethodNotInForceError(MethodError):
    """The version is not in force on the date of the work (withdrawn, or not yet in force)."""

    def __init__(self, message: str):
        super().__init__("method_version_id", message)


class MethodNotApplicableError(MethodError):
    """The version does not cover this instrument type or kind of work."""

    def __init__(self, message: str):
        super().__init__("method_version_id", message)


class AmbiguousMethodError(MethodError):
    """Several procedures in force cover the same instrument type and kind: the caller must choose one."""

    def __init__(self, message: str, candidates: list[MethodVersion]):
        super().__init__("method_version_id", message)
        self.candidates = candidates


class ReasonRequiredError(MethodError):
    def __init__(self, message: str):
        super().__init__("reason", message)


@dataclass(frozen=True)
class Upload:
    """A document file as received (the view reads the upload; services never see ``request``)."""

    filename: str
    content: bytes


# --- formatting -------------------------------------------------------------------------------------------------


def day_text(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def decimal_text(value: Any) -> str:
    """A decimal string for Vietnamese text: no exponent, no trailing zeros, decimal comma ("0,5", "1013")."""
    return _plain(Decimal(str(value))).replace(".", ",")


def limits_text(limits: Mapping[str, Any] | None) -> str:
    """The limits in one line for lists and exports: "18–27 °C; ≤ 3 °C/h; ≤ 5 °C/12 h; 30–80 %RH"."""
    parts = []
    for quantity in LIMIT_KEYS:
        items = (limits or {}).get(quantity) or {}
        unit = _UNITS[quantity]
        low, high = items.get("min"), items.get("max")
        if low is not None and high is not None:
            parts.append(f"{decimal_text(low)}–{decimal_text(high)} {unit}")
        elif low is not None:
            parts.append(f"≥ {decimal_text(low)} {unit}")
        elif high is not None:
            parts.append(f"≤ {decimal_text(high)} {unit}")
        if items.get("max_rate_per_h") is not None:
            parts.append(f"≤ {decimal_text(items['max_rate_per_h'])} {unit}/h")
        if items.get("max_change_12h") is not None:
            parts.append(f"≤ {decimal_text(items['max_change_12h'])} {unit}/12 h")
    return "; ".join(parts)


def type_name(code: str) -> str:
    try:
        return instruments.get(code).name_vi
    except KeyError:
        return code


def required_test_label(key: str) -> str:
    for tests in TEST_KEYS.values():
        if key in tests:
            return str(tests[key])
    return key


# --- field rules --------------------------------------------------------------------------------------------------

def clean_text(value: Any, field: str, *, label: str, max_length: int, required: bool = False,
               multiline: bool = False) -> str:
    """Trimmed text without control characters, checked against the column's length."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    if _CONTROL.search(text):
        raise MethodError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label))
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if required and not text:
        raise MethodError(field, _("%(label)s không được để trống.", label=label))
    if len(text) > max_length:
        raise MethodError(field, _("%(label)s dài quá %(n)d ký tự.", label=label, n=max_length))
    return text


def clean_number(value: Any) -> str:
    """The procedure's number without its year ("ĐLVN 39"); the year is the version's label."""
    number = clean_text(value, "number", label=_("Số hiệu"), max_length=40, required=True)
    if ":" in number:
        raise MethodError("number", _("Nhập số hiệu không kèm năm ban hành (ví dụ ĐLVN 39); năm ban hành là "
                                      "phiên bản."))
    return number


def clean_version_label(value: Any) -> str:
    label = clean_text(value, "version_label", label=_("Phiên bản"), max_length=20, required=True)
    if ":" in label:
        raise MethodError("version_label", _("Phiên bản không được chứa dấu hai chấm."))
    return label


def clean_kind(value: Any) -> str:
    if value not in KINDS:
        raise MethodError("kind", _("Loại công việc phải là kiểm định hoặc hiệu chuẩn."))
    return value


def clean_instrument_types(values: Iterable[Any] | None) -> list[str]:
    """Known type codes, in the engine's order; at least one."""
    given = {str(v) for v in values or ()}
    known = [t.code for t in instruments.all_types()]
    unknown = sorted(given - set(known))
    if unknown:
        raise MethodError("instrument_types", _("Loại phương tiện đo không tồn tại: %(codes)s.",
                                                codes=", ".join(unknown)))
    if not given:
        raise MethodError("instrument_types", _("Chọn ít nhất một loại phương tiện đo."))
    return [code for code in known if code in given]


def clean_required_tests(values: Iterable[Any] | None, instrument_types: list[str]) -> list[str]:
    """Readings keys of the engine that belong to one of the version's instrument types, in the engine's order."""
    given = [str(v) for v in values or ()]
    allowed = [key for code in instrument_types for key in TEST_KEYS[code]]
    wrong = [key for key in given if key not in allowed]
    if wrong:
        raise MethodError("required_tests", _("Phép thử không thuộc loại phương tiện đo đã chọn: %(keys)s.",
                                              keys=", ".join(wrong)))
    return [key for key in allowed if key in given]


def clean_adequacy_divisor(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        divisor = int(value)
    except (TypeError, ValueError):
        raise MethodError("adequacy_divisor", _("Tỷ số đánh giá chuẩn phải là số nguyên.")) from None
    if not 1 <= divisor <= ADEQUACY_DIVISOR_MAX:
        raise MethodError("adequacy_divisor", _("Tỷ số đánh giá chuẩn phải từ 1 đến %(n)d (ví dụ 3: sai số của "
                                                "chuẩn ≤ 1/3 MPE).", n=ADEQUACY_DIVISOR_MAX))
    return divisor


def _limit_decimal(value: Any, field: str, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise MethodError(field, _("%(label)s phải là một số.", label=label)) from None
    if not number.is_finite():
        raise MethodError(field, _("%(label)s phải là một số.", label=label))
    return number


def _plain(number: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: Decimal("18.0") -> "18"."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def clean_environment_limits(limits: Mapping[str, Any] | None) -> dict:
    """The environmental limits in the shape of ``LIMIT_KEYS``, decimal strings, empty entries dropped.

    >>> clean_environment_limits({"temperature_c": {"min": "18.0", "max": 27, "max_rate_per_h": ""}})
    {'temperature_c': {'min': '18', 'max': '27'}}
    """
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise MethodError("environment_limits", _("Giới hạn điều kiện môi trường không hợp lệ."))
    unknown = sorted(set(limits) - set(LIMIT_KEYS))
    if unknown:
        raise MethodError("environment_limits", _("Đại lượng không được hỗ trợ: %(keys)s.", keys=", ".join(unknown)))
    clean: dict[str, dict[str, str]] = {}
    for quantity, keys in LIMIT_KEYS.items():
        items = limits.get(quantity) or {}
        if not isinstance(items, Mapping):
            raise MethodError(f"environment_limits.{quantity}", _("Giới hạn điều kiện môi trường không hợp lệ."))
        extra = sorted(set(items) - set(keys))
        if extra:
            raise MethodError(f"environment_limits.{quantity}",
                              _("Giới hạn không được hỗ trợ: %(keys)s.", keys=", ".join(extra)))
        values: dict[str, Decimal] = {}
        for key in keys:
            raw = items.get(key)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            field = f"environment_limits.{quantity}.{key}"
            label = f"{_QUANTITY_NAMES[quantity]} {_LIMIT_NAMES[key]}"
            number = _limit_decimal(raw, field, label)
            low, high = _LIMIT_BOUNDS[quantity]
            if key in ("min", "max") and not low <= number <= high:
                raise MethodError(field, _("%(label)s phải từ %(low)s đến %(high)s %(unit)s.", label=label,
                                           low=decimal_text(low), high=decimal_text(high), unit=_UNITS[quantity]))
            if key not in ("min", "max") and number <= 0:
                raise MethodError(field, _("%(label)s phải lớn hơn 0.", label=label))
            values[key] = number
        if "min" in values and "max" in values and values["min"] > values["max"]:
            raise MethodError(f"environment_limits.{quantity}.max",
                              _("Giới hạn tối đa của %(q)s phải không nhỏ hơn giới hạn tối thiểu.",
                                q=str(_QUANTITY_NAMES[quantity]).lower()))
        if values:
            clean[quantity] = {key: _plain(values[key]) for key in keys if key in values}
    return clean


# --- status ------------------------------------------------------------------------------------------------------

def status_on(version: MethodVersion, on: dt.date) -> str:
    """``in_force``, ``not_yet`` or ``withdrawn`` on the day ``on``."""
    if on < version.effective_date:
        return "not_yet"
    if version.withdrawn_date is not None and on >= version.withdrawn_date:
        return "withdrawn"
    return "in_force"


def is_in_use(version: MethodVersion, *, today: dt.date | None = None) -> bool:
    """A version is in use once its effective date has come: work may cite it from then on."""
    return version.effective_date <= (today or centre_today())


def procedure_in_use(procedure: Procedure, *, today: dt.date | None = None) -> bool:
    return any(is_in_use(v, today=today) for v in procedure.versions)


def successor_of(session: Session, version: MethodVersion) -> MethodVersion | None:
    """The version issued to replace ``version``, if any."""
    return session.scalar(select(MethodVersion).where(MethodVersion.replaces_id == version.id))


def _require_reason(reason: Any, message: str) -> str:
    text = clean_text(reason, "reason", label=_("Lý do"), max_length=NOTES_MAX, multiline=True)
    if not text:
        raise ReasonRequiredError(message)
    return text


def _period_text(version: MethodVersion) -> str:
    if version.withdrawn_date is None:
        return _("từ %(start)s", start=day_text(version.effective_date))
    return f"{day_text(version.effective_date)} – {day_text(version.withdrawn_date - dt.timedelta(days=1))}"


def _check_no_overlap(procedure: Procedure, *, effective_date: dt.date, withdrawn_date: dt.date | None,
                      label: str, except_id: int | None = None,
                      moved_withdrawals: Mapping[int, dt.date | None] | None = None) -> None:
    """Two versions of one procedure are never in force on the same day (``moved_withdrawals``: the withdrawal
    dates other versions are about to get)."""
    moved_withdrawals = moved_withdrawals or {}
    if withdrawn_date is not None and withdrawn_date <= effective_date:
        raise MethodError("withdrawn_date", _("Ngày hết hiệu lực phải sau ngày có hiệu lực (%(day)s).",
                                              day=day_text(effective_date)))
    for other in procedure.versions:
        if other.id == except_id:
            continue
        if other.version_label.casefold() == label.casefold():
            raise MethodError("version_label", _("Phương pháp %(number)s đã có phiên bản %(label)s.",
                                                 number=procedure.number, label=other.version_label))
        other_end = moved_withdrawals.get(other.id, other.withdrawn_date)
        starts_before_other_ends = other_end is None or effective_date < other_end
        ends_after_other_starts = withdrawn_date is None or other.effective_date < withdrawn_date
        if starts_before_other_ends and ends_after_other_starts:
            raise MethodError("effective_date", _("Thời gian hiệu lực trùng với phiên bản %(other)s (%(period)s).",
                                                  other=other.designation, period=_period_text(other)))


# --- documents ---------------------------------------------------------------------------------------------------

def _clean_filename(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    base = _CONTROL.sub("", unicodedata.normalize("NFC", base)).strip()
    if len(base) > 200:
        stem, ext = os.path.splitext(base)
        base = stem[:200 - len(ext)] + ext
    return base


def store_document(upload: Upload, *, instance_dir: Path | None) -> dict:
    """Check and store a document file; returns the model's ``document_*`` values."""
    if instance_dir is None:
        raise TypeError("store_document needs the instance folder (instance_dir)")
    filename = _clean_filename(upload.filename)
    ext = os.path.splitext(filename)[1].lower()
    if ext not in DOCUMENT_TYPES:
        raise MethodError("document", _("Chỉ nhận tệp PDF, DOC hoặc DOCX."))
    if not upload.content:
        raise MethodError("document", _("Tệp tài liệu rỗng."))
    if len(upload.content) > DOCUMENT_MAX_BYTES:
        raise MethodError("document", _("Tệp tài liệu lớn quá %(n)d MB.", n=DOCUMENT_MAX_BYTES // (1024 * 1024)))
    if not upload.content.startswith(DOCUMENT_TYPES[ext]):
        raise MethodError("document", _("Nội dung tệp không phải %(ext)s.", ext=ext[1:].upper()))
    digest = hashlib.sha256(upload.content).hexdigest()
    relative = f"{DOCUMENTS_FOLDER}/{digest}{ext}"
    target = Path(instance_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{digest}.{os.getpid()}.tmp")
        temporary.write_bytes(upload.content)
        os.replace(temporary, target)
    return {"document_filename": filename, "document_path": relative, "document_sha256": digest,
            "document_size_bytes": len(upload.content)}


def read_document(version: MethodVersion, *, instance_dir: Path) -> bytes:
    """The document's bytes, after checking them against the recorded SHA-256."""
    if not version.document_path:
        raise MethodError("document", _("Phiên bản này chưa có tệp tài liệu."))
    path = Path(instance_dir) / version.document_path
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise MethodError("document", _("Không tìm thấy tệp tài liệu %(name)s trong kho lưu trữ.",
                                        name=version.document_filename)) from None
    if hashlib.sha256(content).hexdigest() != version.document_sha256:
        raise MethodError("document", _("Tệp tài liệu %(name)s đã bị thay đổi trên đĩa (SHA-256 không khớp với "
                                        "bản đã lưu); không thể cung cấp.", name=version.document_filename))
    return content


# --- procedures -------------------------------------------------------------------------------------------------

def _procedure_fields(*, number: Any, title: Any, issuer: Any = "") -> dict:
    clean = {"number": clean_number(number),
             "title": clean_text(title, "title", label=_("Tên phương pháp"), max_length=300, required=True),
             "issuer": clean_text(issuer, "issuer", label=_("Cơ quan ban hành"), max_length=200)}
    clean["search_key"] = fold(f"{clean['number']} {clean['title']}")[:400]
    return clean


def _check_number_free(session: Session, number: str, *, except_id: int | None = None) -> None:
    # Folded, so that "DLVN 39" and "ĐLVN 39" are one procedure; the unique index guards the exact spelling.
    key = fold(number)
    for other_id, other_number in session.execute(select(Procedure.id, Procedure.number)):
        if other_id != except_id and fold(other_number) == key:
            raise MethodError("number", _("Đã có phương pháp %(number)s.", number=other_number))


def create_procedure(session: Session, *, number: Any, title: Any, issuer: Any = "") -> Procedure:
    """Add a procedure (its first version is issued with ``issue_version``). Callers commit."""
    clean = _procedure_fields(number=number, title=title, issuer=issuer)
    _check_number_free(session, clean["number"])
    procedure = Procedure(**clean)
    session.add(procedure)
    session.flush()
    return procedure


def get_procedure(session: Session, procedure_id: int) -> Procedure | None:
    return session.get(Procedure, procedure_id)


def update_procedure(session: Session, *, procedure_id: int, number: Any, title: Any, issuer: Any = "",
                     reason: Any = None, today: dt.date | None = None) -> Procedure:
    """Change a procedure's number, title or issuer; a reason is required once one of its versions is in use."""
    procedure = get_procedure(session, procedure_id)
    if procedure is None:
        raise MethodError("procedure_id", _("Không tìm thấy phương pháp."))
    clean = _procedure_fields(number=number, title=title, issuer=issuer)
    _check_number_free(session, clean["number"], except_id=procedure.id)
    changed = {k: v for k, v in clean.items() if getattr(procedure, k) != v}
    if not changed:
        return procedure
    text = None
    if procedure_in_use(procedure, today=today):
        text = _require_reason(reason, _("Phương pháp %(number)s đang được áp dụng: cần nêu lý do sửa đổi.",
                                         number=procedure.number))
    with audit.reason(session, text):
        for key, value in changed.items():
            setattr(procedure, key, value)
        session.flush()
    return procedure


# --- versions ----------------------------------------------------------------------------------------------------

def _version_fields(*, version_label: Any, effective_date: Any, kind: Any, instrument_types: Any,
                    environment_limits: Any = None, adequacy_divisor: Any = None, required_tests: Any = (),
                    notes: Any = "") -> dict:
    if not isinstance(effective_date, dt.date) or isinstance(effective_date, dt.datetime):
        raise MethodError("effective_date", _("Ngày có hiệu lực không hợp lệ."))
    types = clean_instrument_types(instrument_types)
    return {
        "version_label": clean_version_label(version_label),
        "effective_date": effective_date,
        "kind": clean_kind(kind),
        "instrument_types": types,
        "environment_limits": clean_environment_limits(environment_limits),
        "adequacy_divisor": clean_adequacy_divisor(adequacy_divisor),
        "required_tests": clean_required_tests(required_tests, types),
        "notes": clean_text(notes, "notes", label=_("Ghi chú"), max_length=NOTES_MAX, multiline=True),
    }


def issue_version(session: Session, *, procedure_id: int, version_label: Any, effective_date: Any, kind: Any,
                  instrument_types: Any, environment_limits: Any = None, adequacy_divisor: Any = None,
                  required_tests: Any = (), notes: Any = "", document: Upload | None = None,
                  instance_dir: Path | None = None, reason: Any = None) -> MethodVersion:
    """Issue a version of a procedure. Callers commit.

    When the procedure already has versions, the new one must take effect after the latest, and the latest is
    withdrawn from the new effective date (unless it was withdrawn earlier): document control, 17025 8.3.2. That
    needs a ``reason``, recorded as the withdrawal reason and in the audit trail.
    """
    procedure = get_procedure(session, procedure_id)
    if procedure is None:
        raise MethodError("procedure_id", _("Không tìm thấy phương pháp."))
    clean = _version_fields(version_label=version_label, effective_date=effective_date, kind=kind,
                            instrument_types=instrument_types, environment_limits=environment_limits,
                            adequacy_divisor=adequacy_divisor, required_tests=required_tests, notes=notes)
    latest = max(procedure.versions, key=lambda v: v.effective_date, default=None)
    text = None
    if latest is not None:
        if clean["effective_date"] <= latest.effective_date:
            raise MethodError("effective_date", _("Phiên bản mới phải có hiệu lực sau ngày %(day)s (ngày có hiệu lực "
                                                  "của %(latest)s).", day=day_text(latest.effective_date),
                                                  latest=latest.designation))
        text = _require_reason(reason, _("Cần nêu lý do ban hành phiên bản mới: %(latest)s sẽ hết hiệu lực từ ngày "
                                         "%(day)s.", latest=latest.designation,
                                         day=day_text(clean["effective_date"])))
    for other in procedure.versions:
        if other.version_label.casefold() == clean["version_label"].casefold():
            raise MethodError("version_label", _("Phương pháp %(number)s đã có phiên bản %(label)s.",
                                                 number=procedure.number, label=other.version_label))
    # Every other version took effect before ``latest`` and was withdrawn by the time it did (no overlap is ever
    # stored), so the new version, open-ended from a later date, can overlap only ``latest``: withdrawn below.
    files = store_document(document, instance_dir=instance_dir) if document is not None else {}
    with audit.reason(session, text):
        if latest is not None and (latest.withdrawn_date is None or latest.withdrawn_date > clean["effective_date"]):
            latest.withdrawn_date = clean["effective_date"]
            latest.withdrawal_reason = _("Thay thế bởi %(number)s:%(label)s. %(reason)s", number=procedure.number,
                                         label=clean["version_label"], reason=text)
        version = MethodVersion(procedure=procedure, replaces=latest, **clean, **files)
        session.add(version)
        session.flush()
    return version


def get_version(session: Session, method_version_id: int) -> MethodVersion | None:
    return session.get(MethodVersion, method_version_id)


def _require_version(session: Session, method_version_id: Any) -> MethodVersion:
    try:
        version = get_version(session, int(method_version_id))
    except (TypeError, ValueError):
        version = None
    if version is None:
        raise MethodError("method_version_id", _("Không tìm thấy phiên bản phương pháp số %(id)s.",
                                                 id=method_version_id))
    return version


def update_version(session: Session, *, method_version_id: int, version_label: Any, effective_date: Any, kind: Any,
                   instrument_types: Any, environment_limits: Any = None, adequacy_divisor: Any = None,
                   required_tests: Any = (), notes: Any = "", document: Upload | None = None,
                   instance_dir: Path | None = None, reason: Any = None,
                   today: dt.date | None = None) -> MethodVersion:
    """Edit a version; once it is in use (its effective date has come) only with a reason. Callers commit.

    Moving the effective date of a version that replaced another moves the other's withdrawal with it, so that the
    chain of editions keeps neither a gap nor an overlap.
    """
    version = _require_version(session, method_version_id)
    clean = _version_fields(version_label=version_label, effective_date=effective_date, kind=kind,
                            instrument_types=instrument_types, environment_limits=environment_limits,
                            adequacy_divisor=adequacy_divisor, required_tests=required_tests, notes=notes)
    previous = version.replaces
    moves_previous = (previous is not None and clean["effective_date"] != version.effective_date
                      and previous.withdrawn_date == version.effective_date)
    if moves_previous and clean["effective_date"] <= previous.effective_date:
        raise MethodError("effective_date", _("Ngày có hiệu lực phải sau ngày %(day)s (ngày có hiệu lực của "
                                              "%(previous)s).", day=day_text(previous.effective_date),
                                              previous=previous.designation))
    _check_no_overlap(version.procedure, effective_date=clean["effective_date"], withdrawn_date=version.withdrawn_date,
                      label=clean["version_label"], except_id=version.id,
                      moved_withdrawals={previous.id: clean["effective_date"]} if moves_previous else None)
    changed = {k: v for k, v in clean.items() if getattr(version, k) != v}
    if not changed and document is None:
        return version
    text = None
    if is_in_use(version, today=today):
        text = _require_reason(reason, _("Phiên bản %(designation)s đã có hiệu lực từ ngày %(day)s: cần nêu lý do "
                                         "sửa đổi.", designation=version.designation,
                                         day=day_text(version.effective_date)))
    files = store_document(document, instance_dir=instance_dir) if document is not None else {}
    with audit.reason(session, text):
        if moves_previous:
            previous.withdrawn_date = clean["effective_date"]
        for key, value in (changed | files).items():
            setattr(version, key, value)
        session.flush()
    return version


def withdraw_version(session: Session, *, method_version_id: int, withdrawn_date: Any, reason: Any) -> MethodVersion:
    """Withdraw a version from ``withdrawn_date`` on (the first day it may no longer be used), with a reason.
    Callers commit."""
    version = _require_version(session, method_version_id)
    if version.withdrawn_date is not None:
        raise MethodError("withdrawn_date", _("Phiên bản %(designation)s đã hết hiệu lực từ ngày %(day)s.",
                                              designation=version.designation, day=day_text(version.withdrawn_date)))
    if not isinstance(withdrawn_date, dt.date) or isinstance(withdrawn_date, dt.datetime):
        raise MethodError("withdrawn_date", _("Ngày hết hiệu lực không hợp lệ."))
    text = _require_reason(reason, _("Cần nêu lý do huỷ bỏ phiên bản %(designation)s.",
                                     designation=version.designation))
    _check_no_overlap(version.procedure, effective_date=version.effective_date, withdrawn_date=withdrawn_date,
                      label=version.version_label, except_id=version.id)
    with audit.reason(session, text):
        version.withdrawn_date = withdrawn_date
        version.withdrawal_reason = text
        session.flush()
    return version


# --- the checks the workflow calls ----------------------------------------------------------------------------

def method_in_force(session: Session, *, method_version_id: int, on: dt.date, instrument_type: str | None = None,
                    kind: str | None = None) -> MethodVersion:
    """The version, when it may be used for work on ``on``; else ``MethodNotInForceError`` saying why.

    With ``instrument_type`` and/or ``kind``, also checks that the version covers them
    (``MethodNotApplicableError``).
    """
    version = _require_version(session, method_version_id)
    status = status_on(version, on)
    if status == "not_yet":
        raise MethodNotInForceError(_("Phương pháp %(designation)s chưa có hiệu lực vào ngày %(on)s: có hiệu lực từ "
                                      "ngày %(start)s.", designation=version.designation, on=day_text(on),
                                      start=day_text(version.effective_date)))
    if status == "withdrawn":
        successor = successor_of(session, version)
        if successor is not None:
            raise MethodNotInForceError(_("Phương pháp %(designation)s đã hết hiệu lực từ ngày %(end)s (thay thế bởi "
                                          "%(successor)s), không dùng được cho công việc ngày %(on)s.",
                                          designation=version.designation, end=day_text(version.withdrawn_date),
                                          successor=successor.designation, on=day_text(on)))
        raise MethodNotInForceError(_("Phương pháp %(designation)s đã hết hiệu lực từ ngày %(end)s, không dùng được "
                                      "cho công việc ngày %(on)s.", designation=version.designation,
                                      end=day_text(version.withdrawn_date), on=day_text(on)))
    if instrument_type is not None and instrument_type not in version.instrument_types:
        raise MethodNotApplicableError(_("Phương pháp %(designation)s không áp dụng cho %(type)s.",
                                         designation=version.designation, type=type_name(instrument_type).lower()))
    if kind is not None and kind != version.kind:
        raise MethodNotApplicableError(_("Phương pháp %(designation)s dùng cho %(own)s, không dùng cho %(kind)s.",
                                         designation=version.designation, own=str(KINDS[version.kind]).lower(),
                                         kind=str(KINDS.get(kind, kind)).lower()))
    return version


def versions_for(session: Session, instrument_type: str, on: dt.date, *, kind: str | None = None
                 ) -> list[MethodVersion]:
    """The versions in force on ``on`` that cover ``instrument_type`` (and ``kind``), by procedure number."""
    query = (select(MethodVersion).join(MethodVersion.procedure)
             .where(MethodVersion.effective_date <= on,
                    or_(MethodVersion.withdrawn_date.is_(None), MethodVersion.withdrawn_date > on))
             .order_by(Procedure.number))
    if kind is not None:
        query = query.where(MethodVersion.kind == kind)
    return [v for v in session.scalars(query) if instrument_type in v.instrument_types]


def version_in_force(session: Session, *, instrument_type: str, kind: str, on: dt.date,
                     procedure_id: int | None = None) -> MethodVersion | None:
    """The one version in force on ``on`` for this instrument type and kind of work, or ``None``.

    Several procedures may cover one type (ĐLVN 14, 15 and 16 all cover scales): pass ``procedure_id`` to choose;
    without it an ambiguous choice raises ``AmbiguousMethodError`` naming the candidates.
    """
    candidates = versions_for(session, instrument_type, on, kind=kind)
    if procedure_id is not None:
        candidates = [v for v in candidates if v.procedure_id == procedure_id]
    if len(candidates) > 1:
        raise AmbiguousMethodError(_("Có nhiều phương pháp đang có hiệu lực cho %(type)s: %(names)s; hãy chọn một.",
                                     type=type_name(instrument_type).lower(),
                                     names=", ".join(v.designation for v in candidates)), candidates)
    return candidates[0] if candidates else None


# --- lists -------------------------------------------------------------------------------------------------------

def list_versions(session: Session, *, q: str = "", instrument_type: str = "", status: str = "", kind: str = "",
                  on: dt.date | None = None) -> list[MethodVersion]:
    """Versions matching an accent-insensitive search of number and title, an instrument type, a status on ``on``
    (``in_force``, ``not_yet``, ``withdrawn``) and a kind; by number, newest version first."""
    on = on or centre_today()
    query = (select(MethodVersion).join(MethodVersion.procedure)
             .order_by(Procedure.number, MethodVersion.effective_date.desc()))
    if key := fold(q):
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Procedure.search_key.like(f"%{escaped}%", escape="\\"))
    if kind in KINDS:
        query = query.where(MethodVersion.kind == kind)
    if status == "in_force":
        query = query.where(MethodVersion.effective_date <= on,
                            or_(MethodVersion.withdrawn_date.is_(None), MethodVersion.withdrawn_date > on))
    elif status == "not_yet":
        query = query.where(MethodVersion.effective_date > on)
    elif status == "withdrawn":
        query = query.where(MethodVersion.withdrawn_date <= on)
    versions = list(session.scalars(query))
    if instrument_type:
        versions = [v for v in versions if instrument_type in v.instrument_types]
    return versions
