"""Standards register services: standards, their calibrations, intermediate checks, status, traceability, adequacy.

ISO/IEC 17025:2017 6.4 (equipment) and 6.5 (metrological traceability). Services take the session and keyword
arguments, raise ``StandardError`` (``field`` names the argument at fault) with a sentence a technician understands,
flush, and leave the commit to their caller.

What the verification workflow calls (DESIGN.md §5):

- ``check_usable(session, standard_ids=[…], on=date)``: every standard in calibration and in service on that date,
  else ``StandardNotUsableError`` whose message names the standard, why, and since/until when;
- ``usable_standards(session, instrument_type=…, on=date)``: what a form may offer;
- ``adequate_standards(session, instrument_type=…, spec=…, load_or_point=…, on=date, divisor=3)``: which of those
  are good enough at that load or point (error ≤ MPE / divisor, computed with the metrology engine);
- ``traceability_chain(session, standard, on=date)``: the chain up to the external reference, with ``broken``.

Status is derived, never typed (``standard_status``): out of service (a service event, or the latest intermediate
check failed), not calibrated, overdue, due soon, in service. Calibration records are immutable: a correction is a new
record that supersedes the old one (``correct_calibration``), and both stay visible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from instruments import energy_meter, nawi, taximeter, weight
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.dates import add_months, centre_today
from lims.exceptions import FieldError
from lims.text import fold, fold_serial

from .models import (KINDS, SERVICE_ACTIONS, SOURCES, CalibrationReference, IntermediateCheck, ServiceEvent,
                     Standard, StandardCalibration)

__all__ = [
    "KIND_LABELS", "STATUS_LABELS", "DUE_SOON_DAYS", "StandardError", "StandardNotUsableError",
    "CalibrationImmutableError", "AdequacyError", "StandardStatus", "ChainLink", "TraceabilityChain", "Adequacy",
    "create_standard", "update_standard", "record_calibration", "correct_calibration", "take_out_of_service",
    "return_to_service", "record_intermediate_check", "standard_status", "statuses", "check_usable",
    "usable_standards", "traceability_chain", "assess_adequacy", "adequacy_table", "adequate_standards",
    "list_standards", "due_standards",
]

KIND_LABELS = {
    "weight_set": _l("Bộ quả cân"),
    "single_weight": _l("Quả cân đơn"),
    "meter_bench": _l("Giàn kiểm định công tơ"),
    "reference_meter": _l("Công tơ chuẩn"),
    "taximeter_bench": _l("Băng thử taximet (con lăn)"),
    "timer": _l("Đồng hồ bấm giây chuẩn"),
    "reference_scale": _l("Cân chuẩn / cân so sánh"),
    "thermo_hygrometer": _l("Nhiệt ẩm kế"),
    "barometer": _l("Khí áp kế"),
    "other": _l("Thiết bị khác"),
}

STATUS_LABELS = {
    "in_service": _l("Đang sử dụng"),
    "due_soon": _l("Sắp đến hạn hiệu chuẩn"),
    "overdue": _l("Quá hạn hiệu chuẩn"),
    "uncalibrated": _l("Chưa hiệu chuẩn"),
    "out_of_service": _l("Ngừng sử dụng"),
}
#: Statuses a standard may be used in for new work.
USABLE_STATUSES = ("in_service", "due_soon")

SOURCE_LABELS = {"external": _l("Bên ngoài (phòng thí nghiệm khác)"),
                 "internal": _l("Nội bộ (bằng chuẩn của trung tâm)")}
SERVICE_ACTION_LABELS = {"out": _l("Ngừng sử dụng"), "return": _l("Đưa trở lại sử dụng")}

#: Kinds whose class is an OIML R 111 class (E1 … M3), and kinds whose class is a percentage of the reading.
MASS_KINDS = ("weight_set", "single_weight")
PERCENT_KINDS = ("meter_bench", "reference_meter", "taximeter_bench", "timer")
WEIGHT_CLASSES = ("E1", "E2", "F1", "F2", "M1", "M2", "M3")
#: Units a standard's range may be given in (mass units are those of the engine: instruments.nawi.UNITS).
RANGE_UNITS = ("mg", "g", "kg", "t", "A", "V", "W", "m", "km", "s", "°C", "%RH", "hPa")

#: A calibration due within this many days makes the standard "due soon" (still usable).
DUE_SOON_DAYS = 30
#: The default ratio between an instrument's MPE and a standard's error (DOMAIN.md §2 and §4: "≤ 1/3 of the MPE").
DEFAULT_DIVISOR = Decimal(3)

CERTIFICATE_TYPES = {".pdf": b"%PDF", ".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff"}
CERTIFICATE_MAX_BYTES = 20 * 1024 * 1024
CHAIN_MAX_DEPTH = 12

# Lengths mirror the columns in models.py (PostgreSQL enforces them; SQLite would not, so the service does).
STANDARD_LENGTHS = {"code": 40, "name": 200, "manufacturer": 120, "model": 120, "serial": 80, "location": 200,
                    "accuracy_class": 20}
CALIBRATION_LENGTHS = {"laboratory_name": 200, "accreditation_number": 40, "certificate_number": 60,
                       "traceable_to": 200}
NOTES_MAX = 4000
CODE_RE = re.compile(r"[0-9A-Za-zÀ-ỹĐđ][0-9A-Za-zÀ-ỹĐđ .\-/_]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


# --- errors -----------------------------------------------------------------------------------------------------

class StandardError(FieldError):
    """A change to the register was refused; ``field`` names the argument at fault."""


class DuplicateCodeError(StandardError):
    def __init__(self, message: str, existing_id: int):
        super().__init__("code", message)
        self.existing_id = existing_id


class AdequacyError(StandardError):
    """The instrument's spec or the load/point given for an adequacy check is not usable (names the field)."""


class CalibrationImmutableError(RuntimeError):
    """A recorded calibration, intermediate check or service event was about to be changed or deleted in place."""


class StandardNotUsableError(ValueError):
    """One or more standards may not be used on a date; ``problems`` holds their ``StandardStatus``."""

    def __init__(self, problems: Sequence[StandardStatus]):
        super().__init__(" ".join(p.message for p in problems))
        self.problems = list(problems)

    @property
    def standard_ids(self) -> list[int]:
        return [p.standard.id for p in self.problems]


# --- small helpers ------------------------------------------------------------------------------------------------

def day(value: dt.date | None) -> str:
    """dd/mm/yyyy, the centre's convention (lims.i18n.format_day without Flask)."""
    return value.strftime("%d/%m/%Y") if value else ""


def plain(number: Decimal) -> str:
    """A decimal as a plain string without exponent or trailing zeros after the point: 1.50 -> 1.5, 1E+3 -> 1000."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def clean_text(value: Any, field: str, *, max_length: int, label: str, required: bool = False,
               multiline: bool = False) -> str:
    """Trimmed text without control characters, within the column's length."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    if _CONTROL.search(text):  # tabs and line breaks are not control characters here; single lines fold them
        raise StandardError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label))
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if required and not text:
        raise StandardError(field, _("%(label)s không được để trống.", label=label))
    if len(text) > max_length:
        raise StandardError(field, _("%(label)s dài quá %(n)d ký tự.", label=label, n=max_length))
    return text


def parse_decimal(value: Any, field: str, *, label: str, required: bool = True, positive: bool = False,
                  non_negative: bool = False) -> Decimal | None:
    """A number typed by a person: decimal point or comma, no exponent; ``None`` when empty and not required.

    >>> parse_decimal(" 0,25 ", "k", label="k")
    Decimal('0.25')
    """
    if isinstance(value, Decimal):
        number = value
    else:
        text = "" if value is None else str(value).strip().replace(",", ".").replace(" ", "")
        if not text:
            if required:
                raise StandardError(field, _("%(label)s không được để trống.", label=label))
            return None
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text) or len(text) > 30:
            raise StandardError(field, _("%(label)s phải là một số, ví dụ 0,5 (nhận: %(value)s).", label=label,
                                         value=str(value)[:40]))
        number = Decimal(text)
    if not number.is_finite():
        raise StandardError(field, _("%(label)s phải là một số.", label=label))
    if positive and number <= 0:
        raise StandardError(field, _("%(label)s phải lớn hơn 0.", label=label))
    if non_negative and number < 0:
        raise StandardError(field, _("%(label)s không được âm.", label=label))
    return number


def _decimal_text(value: Any, field: str, *, label: str, required: bool = True, **checks: bool) -> str:
    number = parse_decimal(value, field, label=label, required=required, **checks)
    return "" if number is None else plain(number)


# --- standards ----------------------------------------------------------------------------------------------------

def clean_accuracy_class(kind: str, value: Any) -> str:
    """The class as the kind needs it: an R 111 class for weights, a percentage for meters and benches."""
    text = clean_text(value, "accuracy_class", max_length=STANDARD_LENGTHS["accuracy_class"],
                      label=_("Cấp chính xác"))
    if kind in MASS_KINDS:
        text = text.upper()
        if text not in WEIGHT_CLASSES:
            raise StandardError("accuracy_class", _("Quả cân phải có cấp chính xác theo OIML R 111: %(classes)s.",
                                                    classes=", ".join(WEIGHT_CLASSES)))
    elif kind in PERCENT_KINDS:
        number = parse_decimal(text.rstrip("%").strip(), "accuracy_class", label=_("Cấp chính xác"), positive=True)
        if number > 10:
            raise StandardError("accuracy_class", _("Cấp chính xác của chuẩn được ghi bằng % của giá trị đo, "
                                                    "ví dụ 0,1 hoặc 0,2."))
        text = plain(number)
    return text


def _clean_type_codes(values: Any) -> list[str]:
    known = [t.code for t in instruments.all_types()]
    codes = []
    for value in values or ():
        code = str(value).strip()
        if code not in known:
            raise StandardError("type_codes", _("Loại phương tiện đo không hợp lệ: %(value)s.", value=code))
        if code not in codes:
            codes.append(code)
    return [code for code in known if code in codes]  # stable order: the engine's


def standard_fields(*, code: Any, name: Any, kind: Any, manufacturer: Any = "", model: Any = "", serial: Any = "",
                    location: Any = "", accuracy_class: Any = "", type_codes: Any = (), range_min: Any = "",
                    range_max: Any = "", range_unit: Any = "", calibration_interval_months: Any = None,
                    notes: Any = "") -> dict:
    """Check and normalise a standard's fields; ``StandardError`` names the field."""
    labels = {"code": _("Mã hiệu chuẩn"), "name": _("Tên chuẩn"), "manufacturer": _("Hãng sản xuất"),
              "model": _("Kiểu / model"), "serial": _("Số sản xuất"), "location": _("Nơi đặt")}
    values = {"code": code, "name": name, "manufacturer": manufacturer, "model": model, "serial": serial,
              "location": location}
    clean: dict[str, Any] = {key: clean_text(value, key, max_length=STANDARD_LENGTHS[key], label=labels[key],
                                             required=key in ("code", "name")) for key, value in values.items()}
    if not CODE_RE.fullmatch(clean["code"]):
        raise StandardError("code", _("Mã chuẩn chỉ gồm chữ, chữ số và các dấu . - / _ (ví dụ QC-F1-01)."))
    kind = str(kind or "").strip()
    if kind not in KINDS:
        raise StandardError("kind", _("Loại chuẩn không hợp lệ: %(value)s.", value=kind))
    clean["kind"] = kind
    clean["code_key"] = fold_serial(clean["code"])
    clean["accuracy_class"] = clean_accuracy_class(kind, accuracy_class)
    clean["type_codes"] = _clean_type_codes(type_codes)
    clean["range_min"] = _decimal_text(range_min, "range_min", label=_("Giới hạn dưới"), required=False)
    clean["range_max"] = _decimal_text(range_max, "range_max", label=_("Giới hạn trên"), required=False)
    unit = str(range_unit or "").strip()
    if unit and unit not in RANGE_UNITS:
        raise StandardError("range_unit", _("Đơn vị không hợp lệ: %(value)s.", value=unit))
    if (clean["range_min"] or clean["range_max"]) and not unit:
        raise StandardError("range_unit", _("Hãy chọn đơn vị của phạm vi đo."))
    if clean["range_min"] and clean["range_max"] and Decimal(clean["range_min"]) > Decimal(clean["range_max"]):
        raise StandardError("range_max", _("Giới hạn trên phải lớn hơn hoặc bằng giới hạn dưới."))
    clean["range_unit"] = unit
    months = calibration_interval_months
    if months in (None, ""):
        clean["calibration_interval_months"] = None
    else:
        try:
            months = int(str(months).strip())
        except ValueError:
            raise StandardError("calibration_interval_months", _("Chu kỳ hiệu chuẩn là một số tháng, ví dụ 12.")) \
                from None
        if not 1 <= months <= 120:
            raise StandardError("calibration_interval_months", _("Chu kỳ hiệu chuẩn phải từ 1 đến 120 tháng."))
        clean["calibration_interval_months"] = months
    clean["notes"] = clean_text(notes, "notes", max_length=NOTES_MAX, label=_("Ghi chú"), multiline=True)
    clean["search_key"] = fold(" ".join(str(clean[k]) for k in ("code", "name", "manufacturer", "model", "serial",
                                                                  "location")))[:700]
    return clean


def _check_code_free(session: Session, code_key: str, code: str, *, except_id: int | None = None) -> None:
    existing = session.scalar(select(Standard.id).where(Standard.code_key == code_key))
    if existing is not None and existing != except_id:
        raise DuplicateCodeError(_("Mã chuẩn %(code)s đã được dùng cho một chuẩn khác.", code=code), existing)


def create_standard(session: Session, **fields) -> Standard:
    """Add a standard to the register (fields: see ``standard_fields``). Callers commit."""
    clean = standard_fields(**fields)
    _check_code_free(session, clean["code_key"], clean["code"])
    standard = Standard(**clean)
    session.add(standard)
    session.flush()
    return standard


def has_calibrations(session: Session, standard: Standard) -> bool:
    """Whether the standard is "in use" for editing: once calibrated, changes need a reason."""
    return session.scalar(select(StandardCalibration.id).where(StandardCalibration.standard_id == standard.id)
                          .limit(1)) is not None


def update_standard(session: Session, *, standard: Standard, reason: Any = None, **fields) -> Standard:
    """Change a standard's record; once it has calibrations a ``reason`` is required, and it reaches the audit trail."""
    clean = standard_fields(**fields)
    reason_text = clean_text(reason, "reason", max_length=500, label=_("Lý do thay đổi"))
    if not reason_text and has_calibrations(session, standard):
        raise StandardError("reason", _("Chuẩn %(code)s đã có hồ sơ hiệu chuẩn: hãy ghi lý do thay đổi.",
                                        code=standard.code))
    _check_code_free(session, clean["code_key"], clean["code"], except_id=standard.id)
    with audit.reason(session, reason_text or None):
        for key, value in clean.items():
            if getattr(standard, key) != value:
                setattr(standard, key, value)
        session.flush()
    return standard


def get_standard(session: Session, standard_id: int) -> Standard | None:
    return session.get(Standard, standard_id)


def other_standards(session: Session, standard: Standard) -> list[Standard]:
    """Every standard but ``standard``, by code: what an internal calibration may name as its references."""
    return list(session.scalars(select(Standard).where(Standard.id != standard.id).order_by(Standard.code_key)))


# --- calibrations -------------------------------------------------------------------------------------------------

def clean_results(points: Any) -> list[dict]:
    """Check the values and expanded uncertainties of a certificate, one mapping per nominal value or point.

    Each point: ``nominal``, ``unit``, ``correction`` or ``value``, ``expanded_uncertainty``, ``k`` (default 2),
    ``result_unit`` (the unit of the correction/value and of U; default ``unit``). Numbers become decimal strings.
    """
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)) or not points:
        raise StandardError("results", _("Hãy nhập ít nhất một điểm hiệu chuẩn (giá trị danh định, số hiệu chính "
                                         "và độ không đảm bảo đo mở rộng)."))
    clean = []
    for number, point in enumerate(points, 1):
        if not isinstance(point, Mapping):
            raise StandardError("results", _("Điểm %(n)d không hợp lệ.", n=number))
        where = _("Điểm %(n)d", n=number)
        unit = clean_text(point.get("unit"), "results", max_length=20, label=f"{where}: " + _("đơn vị"),
                          required=True)
        row = {"nominal": _decimal_text(point.get("nominal"), "results", label=f"{where}: " + _("giá trị danh định")),
               "unit": unit}
        has_value, has_correction = point.get("value") not in (None, ""), point.get("correction") not in (None, "")
        if has_value == has_correction:
            raise StandardError("results", _("%(where)s: hãy ghi số hiệu chính hoặc giá trị thực (một trong hai).",
                                             where=where))
        key = "value" if has_value else "correction"
        row[key] = _decimal_text(point.get(key), "results", label=f"{where}: " + _("số hiệu chính / giá trị"))
        row["expanded_uncertainty"] = _decimal_text(point.get("expanded_uncertainty"), "results",
                                                    label=f"{where}: U", non_negative=True)
        row["k"] = _decimal_text(point.get("k") if point.get("k") not in (None, "") else "2", "results",
                                 label=f"{where}: k", positive=True)
        row["result_unit"] = clean_text(point.get("result_unit") or unit, "results", max_length=20,
                                        label=f"{where}: " + _("đơn vị"))
        clean.append(row)
    return clean


def uncertainty_summary(calibration: StandardCalibration) -> str:
    """The expanded uncertainty of a certificate in a few characters: "U = 0.5 mg (k = 2)" or "U ≤ 0.8 mg"."""
    points = calibration.results or []
    if not points:
        return ""
    units = {p.get("result_unit") or p.get("unit") for p in points}
    largest = max(points, key=lambda p: Decimal(p["expanded_uncertainty"]))
    ks = {p.get("k") for p in points}
    k = f" (k = {ks.pop()})" if len(ks) == 1 else ""
    if len(points) == 1:
        return f"U = {largest['expanded_uncertainty']} {largest.get('result_unit', '')}{k}".strip()
    if len(units) == 1:
        return f"U ≤ {largest['expanded_uncertainty']} {units.pop()}{k}"
    return "; ".join(f"{p['nominal']} {p['unit']}: U = {p['expanded_uncertainty']} {p.get('result_unit', '')}"
                     for p in points[:4])


def certificate_path(files_dir: Path, calibration: StandardCalibration) -> Path | None:
    """Where the certificate file of ``calibration`` is stored, or ``None`` when none was attached."""
    if not calibration.certificate_sha256:
        return None
    suffix = Path(calibration.certificate_filename).suffix.lower()
    return Path(files_dir) / f"{calibration.certificate_sha256}{suffix}"


def certificate_intact(files_dir: Path, calibration: StandardCalibration) -> bool:
    """The stored file exists and still has the SHA-256 recorded with the calibration."""
    path = certificate_path(files_dir, calibration)
    if path is None or not path.is_file():
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == calibration.certificate_sha256


def store_certificate(files_dir: Path, *, filename: str, data: bytes) -> tuple[str, str]:
    """Keep a certificate file (PDF or image) under its SHA-256; returns (sha256, the file name to show).

    Content-addressed and written once: the same file uploaded twice is stored once, and a transaction that rolls
    back leaves at most an unreferenced copy, never a changed one.
    """
    name = Path(str(filename or "").replace("\\", "/")).name.strip()
    suffix = Path(name).suffix.lower()
    if suffix not in CERTIFICATE_TYPES:
        raise StandardError("certificate_file", _("Giấy chứng nhận phải là tệp PDF, PNG hoặc JPG."))
    if not data:
        raise StandardError("certificate_file", _("Tệp giấy chứng nhận trống."))
    if len(data) > CERTIFICATE_MAX_BYTES:
        raise StandardError("certificate_file", _("Tệp giấy chứng nhận lớn quá %(n)d MB.",
                                                  n=CERTIFICATE_MAX_BYTES // (1024 * 1024)))
    if not data.startswith(CERTIFICATE_TYPES[suffix]):
        raise StandardError("certificate_file", _("Nội dung tệp không đúng định dạng %(ext)s.",
                                                  ext=suffix.lstrip(".").upper()))
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(files_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}{suffix}"
    if not target.exists():
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    return digest, unicodedata.normalize("NFC", name)[-200:]


def _superseded_ids(session: Session, standard_ids: Iterable[int] | None = None) -> set[int]:
    query = select(StandardCalibration.supersedes_id).where(StandardCalibration.supersedes_id.is_not(None))
    if standard_ids is not None:
        query = query.where(StandardCalibration.standard_id.in_(list(standard_ids)))
    return set(session.scalars(query))


def calibration_history(session: Session, standard: Standard) -> list[StandardCalibration]:
    """Every calibration record of a standard, newest first, superseded ones included."""
    return list(session.scalars(select(StandardCalibration).where(StandardCalibration.standard_id == standard.id)
                                .order_by(StandardCalibration.calibration_date.desc(),
                                          StandardCalibration.id.desc())))


def superseded_by(session: Session, calibration: StandardCalibration) -> StandardCalibration | None:
    return session.scalar(select(StandardCalibration).where(StandardCalibration.supersedes_id == calibration.id))


def _calibration_fields(session: Session, *, standard: Standard, calibration_date: dt.date | None,
                        due_date: dt.date | None, source: Any, laboratory_name: Any = "",
                        accreditation_number: Any = "", certificate_number: Any = "", traceable_to: Any = "",
                        reference_ids: Any = (), results: Any = None, notes: Any = "",
                        today: dt.date | None = None, check_references: bool = True) -> dict:
    today = today or centre_today()
    if calibration_date is None:
        raise StandardError("calibration_date", _("Hãy nhập ngày hiệu chuẩn."))
    if calibration_date > today:
        raise StandardError("calibration_date", _("Ngày hiệu chuẩn không được sau hôm nay."))
    if due_date is None and standard.calibration_interval_months:
        due_date = add_months(calibration_date, standard.calibration_interval_months)
    if due_date is None:
        raise StandardError("due_date", _("Hãy nhập hạn hiệu chuẩn (chuẩn này chưa có chu kỳ hiệu chuẩn để tự tính)."))
    if due_date <= calibration_date:
        raise StandardError("due_date", _("Hạn hiệu chuẩn phải sau ngày hiệu chuẩn."))
    source = str(source or "").strip()
    if source not in SOURCES:
        raise StandardError("source", _("Hãy chọn nơi hiệu chuẩn: bên ngoài hoặc nội bộ."))
    labels = {"laboratory_name": _("Phòng thí nghiệm hiệu chuẩn"), "accreditation_number": _("Số hiệu công nhận"),
              "certificate_number": _("Số giấy chứng nhận"), "traceable_to": _("Liên kết chuẩn tới")}
    values = {"laboratory_name": laboratory_name, "accreditation_number": accreditation_number,
              "certificate_number": certificate_number, "traceable_to": traceable_to}
    clean: dict[str, Any] = {key: clean_text(value, key, max_length=CALIBRATION_LENGTHS[key], label=labels[key],
                                             required=key == "laboratory_name" and source == "external")
                             for key, value in values.items()}
    reference_list: list[int] = []
    for value in reference_ids or ():
        try:
            reference_id = int(value)
        except (TypeError, ValueError):
            raise StandardError("reference_ids", _("Chuẩn dùng để hiệu chuẩn không hợp lệ.")) from None
        if reference_id not in reference_list:
            reference_list.append(reference_id)
    if source == "internal":
        if not reference_list:
            raise StandardError("reference_ids", _("Hiệu chuẩn nội bộ: hãy chọn chuẩn của trung tâm đã dùng để "
                                                   "hiệu chuẩn."))
        if standard.id in reference_list:
            raise StandardError("reference_ids", _("Một chuẩn không thể được hiệu chuẩn bằng chính nó."))
        found = {s.id: s for s in session.scalars(select(Standard).where(Standard.id.in_(reference_list)))}
        missing = [r for r in reference_list if r not in found]
        if missing:
            raise StandardError("reference_ids", _("Không tìm thấy chuẩn #%(id)s.", id=missing[0]))
        if check_references:
            try:
                check_usable(session, standard_ids=reference_list, on=calibration_date)
            except StandardNotUsableError as exc:
                raise StandardError("reference_ids", _("Chuẩn dùng để hiệu chuẩn không hợp lệ vào ngày "
                                                       "%(date)s: %(why)s", date=day(calibration_date),
                                                       why=str(exc))) from None
    else:
        reference_list = []
    clean.update(standard_id=standard.id, calibration_date=calibration_date, due_date=due_date, source=source,
                 results=clean_results(results),
                 notes=clean_text(notes, "notes", max_length=NOTES_MAX, label=_("Ghi chú"), multiline=True))
    clean["reference_ids"] = reference_list
    return clean


def _check_certificate_free(session: Session, clean: dict, *, except_id: int | None = None) -> None:
    if not clean["certificate_number"]:
        return
    superseded = _superseded_ids(session, [clean["standard_id"]])
    rows = session.scalars(select(StandardCalibration).where(
        StandardCalibration.standard_id == clean["standard_id"],
        StandardCalibration.certificate_number == clean["certificate_number"],
        StandardCalibration.laboratory_name == clean["laboratory_name"]))
    for row in rows:
        if row.id not in superseded and row.id != except_id:
            raise StandardError("certificate_number", _("Giấy chứng nhận số %(number)s đã được ghi cho chuẩn này "
                                                        "(bản ghi ngày %(date)s).", number=row.certificate_number,
                                                        date=day(row.calibration_date)))


def _attach_file(clean: dict, *, files_dir: Path | None, certificate_file: bytes | None,
                 certificate_filename: str) -> None:
    if certificate_file:
        if files_dir is None:
            raise StandardError("certificate_file", _("Không có nơi lưu tệp giấy chứng nhận."))
        clean["certificate_sha256"], clean["certificate_filename"] = store_certificate(
            files_dir, filename=certificate_filename, data=certificate_file)


def record_calibration(session: Session, *, standard: Standard, recorded_by_id: int | None = None,
                       files_dir: Path | None = None, certificate_file: bytes | None = None,
                       certificate_filename: str = "", **fields) -> StandardCalibration:
    """Record a calibration of ``standard`` (fields: see ``_calibration_fields``). Callers commit.

    Without a due date one is proposed from the standard's calibration interval. An internal calibration names the
    standards of ours it was made against; each must have been usable on the calibration date. The optional
    certificate file is stored under ``files_dir`` with its SHA-256 recorded.
    """
    clean = _calibration_fields(session, standard=standard, **fields)
    _check_certificate_free(session, clean)
    _attach_file(clean, files_dir=files_dir, certificate_file=certificate_file,
                 certificate_filename=certificate_filename)
    reference_ids = clean.pop("reference_ids")
    calibration = StandardCalibration(recorded_by_id=recorded_by_id, **clean)
    calibration.references = [CalibrationReference(reference_id=r) for r in reference_ids]
    session.add(calibration)
    session.flush()
    return calibration


def correct_calibration(session: Session, *, calibration: StandardCalibration, reason: Any,
                        recorded_by_id: int | None = None, files_dir: Path | None = None,
                        certificate_file: bytes | None = None, certificate_filename: str = "",
                        **fields) -> StandardCalibration:
    """Correct a calibration record: a NEW record supersedes it, the old one stays as it was. Callers commit.

    Only the latest version may be corrected; ``reason`` is required and reaches the audit trail. Without a new file,
    the correction keeps the file of the record it corrects.
    """
    reason_text = clean_text(reason, "reason", max_length=500, label=_("Lý do sửa"), required=True)
    newer = superseded_by(session, calibration)
    if newer is not None:
        raise StandardError("reason", _("Bản ghi này đã được thay thế bởi bản ghi #%(id)s ngày %(date)s; hãy sửa "
                                        "bản ghi mới nhất.", id=newer.id, date=day(newer.calibration_date)))
    standard = calibration.standard
    # References are checked as of the original date only when they change: the record is the same calibration.
    old_refs = sorted(r.reference_id for r in calibration.references)
    new_refs = sorted({int(r) for r in fields.get("reference_ids") or () if str(r).strip().isdigit()})
    clean = _calibration_fields(session, standard=standard, check_references=new_refs != old_refs, **fields)
    _check_certificate_free(session, clean, except_id=calibration.id)
    clean["certificate_sha256"] = calibration.certificate_sha256
    clean["certificate_filename"] = calibration.certificate_filename
    _attach_file(clean, files_dir=files_dir, certificate_file=certificate_file,
                 certificate_filename=certificate_filename)
    reference_ids = clean.pop("reference_ids")
    with audit.reason(session, reason_text):
        correction = StandardCalibration(recorded_by_id=recorded_by_id, supersedes_id=calibration.id,
                                         correction_reason=reason_text, **clean)
        correction.references = [CalibrationReference(reference_id=r) for r in reference_ids]
        session.add(correction)
        session.flush()
    return correction


def _refuse_change(mapper, connection, target) -> None:
    raise CalibrationImmutableError(
        f"{type(target).__name__} #{getattr(target, 'id', '')} is a record: it is never changed or deleted in place "
        "(a correction is a new record)")


for _record_class in (StandardCalibration, CalibrationReference, IntermediateCheck, ServiceEvent):
    if not event.contains(_record_class, "before_update", _refuse_change):
        event.listen(_record_class, "before_update", _refuse_change)
        event.listen(_record_class, "before_delete", _refuse_change)


# --- service events and intermediate checks -------------------------------------------------------------------------

def take_out_of_service(session: Session, *, standard: Standard, event_date: dt.date | None, reason: Any,
                        recorded_by_id: int | None = None, today: dt.date | None = None) -> ServiceEvent:
    """Take a standard out of service from ``event_date`` (damage, suspected fault). Callers commit."""
    return _service_event(session, standard=standard, event_date=event_date, reason=reason, action="out",
                          recorded_by_id=recorded_by_id, today=today)


def return_to_service(session: Session, *, standard: Standard, event_date: dt.date | None, reason: Any,
                      recorded_by_id: int | None = None, today: dt.date | None = None) -> ServiceEvent:
    """Return a standard that is out of service (event or failed intermediate check). Callers commit.

    It is not a calibration: an overdue standard stays overdue.
    """
    return _service_event(session, standard=standard, event_date=event_date, reason=reason, action="return",
                          recorded_by_id=recorded_by_id, today=today)


def _service_event(session: Session, *, standard: Standard, event_date: dt.date | None, reason: Any, action: str,
                   recorded_by_id: int | None, today: dt.date | None) -> ServiceEvent:
    assert action in SERVICE_ACTIONS
    today = today or centre_today()
    if event_date is None:
        raise StandardError("event_date", _("Hãy nhập ngày."))
    if event_date > today:
        raise StandardError("event_date", _("Ngày không được sau hôm nay."))
    reason_text = clean_text(reason, "reason", max_length=2000, label=_("Lý do"), required=True, multiline=True)
    status = standard_status(session, standard, on=event_date)
    if action == "out" and status.code == "out_of_service" and status.event is not None:
        raise StandardError("event_date", _("Chuẩn %(code)s đã ngừng sử dụng từ %(date)s.", code=standard.code,
                                            date=day(status.since)))
    if action == "return" and status.code != "out_of_service":
        raise StandardError("event_date", _("Chuẩn %(code)s không ở trạng thái ngừng sử dụng vào ngày %(date)s.",
                                            code=standard.code, date=day(event_date)))
    latest = session.scalar(select(ServiceEvent.event_date).where(ServiceEvent.standard_id == standard.id)
                            .order_by(ServiceEvent.event_date.desc()).limit(1))
    if latest is not None and event_date < latest:
        raise StandardError("event_date", _("Ngày phải từ %(date)s trở đi (sau sự kiện gần nhất).", date=day(latest)))
    service_event = ServiceEvent(standard_id=standard.id, event_date=event_date, action=action, reason=reason_text,
                                 recorded_by_id=recorded_by_id)
    with audit.reason(session, reason_text):
        session.add(service_event)
        session.flush()
    return service_event


def parse_values(value: Any) -> list[Decimal]:
    """Measured values typed as a list or as text separated by semicolons, spaces or new lines (comma = decimal).

    >>> parse_values("0,12; 0.15\\n0.11")
    [Decimal('0.12'), Decimal('0.15'), Decimal('0.11')]
    """
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;\s]+", str(value or "").strip())
    numbers = [parse_decimal(item, "measured_values", label=_("Giá trị đo")) for item in items if str(item).strip()]
    if not numbers:
        raise StandardError("measured_values", _("Hãy nhập ít nhất một giá trị đo."))
    if len(numbers) > 100:
        raise StandardError("measured_values", _("Nhiều nhất 100 giá trị đo cho một lần kiểm tra."))
    return numbers


def _mean(values: Sequence[Decimal]) -> Decimal:
    decimals = max(-v.as_tuple().exponent for v in values) if values else 0
    with localcontext() as context:
        context.prec = 34
        mean = sum(values, Decimal(0)) / len(values)
    # One decimal more than the most precise value typed; plain() drops the zeros that adds to an exact mean.
    return mean.quantize(Decimal(1).scaleb(-(max(decimals, 0) + 1)))


def record_intermediate_check(session: Session, *, standard: Standard, check_date: dt.date | None, nominal: Any,
                              unit: Any, value_unit: Any, reference_value: Any, measured_values: Any, limit: Any,
                              performed_by_name: Any, performed_by_id: int | None = None, notes: Any = "",
                              today: dt.date | None = None) -> IntermediateCheck:
    """Record an intermediate check (ISO/IEC 17025 6.4.10) and judge it: |mean − reference| ≤ limit. Callers commit.

    A failed check puts the standard out of service (derived: ``standard_status``) until it is recalibrated, returned
    to service with a reason, or passes a later check.
    """
    today = today or centre_today()
    if check_date is None:
        raise StandardError("check_date", _("Hãy nhập ngày kiểm tra."))
    if check_date > today:
        raise StandardError("check_date", _("Ngày kiểm tra không được sau hôm nay."))
    nominal_text = _decimal_text(nominal, "nominal", label=_("Điểm kiểm tra"))
    unit_text = clean_text(unit, "unit", max_length=20, label=_("Đơn vị"), required=True)
    value_unit_text = clean_text(value_unit, "value_unit", max_length=20, label=_("Đơn vị của giá trị đo"),
                                 required=True)
    reference = parse_decimal(reference_value, "reference_value", label=_("Giá trị quy chiếu"))
    limit_value = parse_decimal(limit, "limit", label=_("Giới hạn chấp nhận"), positive=True)
    values = parse_values(measured_values)
    mean = _mean(values)
    deviation = mean - reference
    check = IntermediateCheck(
        standard_id=standard.id, check_date=check_date, performed_by_id=performed_by_id,
        performed_by_name=clean_text(performed_by_name, "performed_by_name", max_length=120,
                                     label=_("Người kiểm tra"), required=True),
        nominal=nominal_text, unit=unit_text, value_unit=value_unit_text, reference_value=plain(reference),
        measured_values=[plain(v) for v in values], mean_value=plain(mean), deviation=plain(deviation),
        limit=plain(limit_value), is_passed=abs(deviation) <= limit_value,
        notes=clean_text(notes, "notes", max_length=NOTES_MAX, label=_("Ghi chú"), multiline=True))
    session.add(check)
    session.flush()
    return check


def intermediate_checks(session: Session, standard: Standard) -> list[IntermediateCheck]:
    """The standard's intermediate checks, oldest first."""
    return list(session.scalars(select(IntermediateCheck).where(IntermediateCheck.standard_id == standard.id)
                                .order_by(IntermediateCheck.check_date, IntermediateCheck.id)))


def service_events(session: Session, standard: Standard) -> list[ServiceEvent]:
    return list(session.scalars(select(ServiceEvent).where(ServiceEvent.standard_id == standard.id)
                                .order_by(ServiceEvent.event_date, ServiceEvent.id)))


def check_points(checks: Sequence[IntermediateCheck]) -> list[tuple[str, str]]:
    """The distinct (nominal, unit) points checked, the most checked first (one control chart each)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for check in checks:
        counts[(check.nominal, check.unit)] += 1
    return sorted(counts, key=lambda point: (-counts[point], point))


@dataclass(frozen=True)
class ControlChartData:
    """Values of one point over time, with the reference and acceptance lines of the latest check."""

    nominal: str
    unit: str
    value_unit: str
    points: list[tuple[dt.date, Decimal]]
    failed: list[tuple[dt.date, Decimal]]
    reference: Decimal | None
    limit: Decimal | None


def control_chart_data(checks: Sequence[IntermediateCheck], *, nominal: str | None = None,
                       unit: str | None = None) -> ControlChartData:
    """The control chart of one checked point (default: the most checked one)."""
    points = check_points(checks)
    if nominal is None or (nominal, unit) not in points:
        nominal, unit = points[0] if points else ("", "")
    chosen = [c for c in checks if (c.nominal, c.unit) == (nominal, unit)]
    latest = chosen[-1] if chosen else None
    return ControlChartData(
        nominal=nominal or "", unit=unit or "", value_unit=latest.value_unit if latest else "",
        points=[(c.check_date, Decimal(c.mean_value)) for c in chosen],
        failed=[(c.check_date, Decimal(c.mean_value)) for c in chosen if not c.is_passed],
        reference=Decimal(latest.reference_value) if latest else None,
        limit=Decimal(latest.limit) if latest else None)


# --- status -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StandardStatus:
    """What a standard is on a date, and why. ``since``: out of service or overdue from; ``until``: valid until."""

    standard: Standard
    on: dt.date
    code: str
    calibration: StandardCalibration | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    reason: str = ""
    event: ServiceEvent | None = None
    check: IntermediateCheck | None = None

    @property
    def usable(self) -> bool:
        return self.code in USABLE_STATUSES

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self.code])

    @property
    def days_left(self) -> int | None:
        return (self.until - self.on).days if self.until else None

    @property
    def message(self) -> str:
        """A sentence naming the standard, what it is, why, and since or until when."""
        code = self.standard.code
        if self.code == "out_of_service":
            return _("Chuẩn %(code)s ngừng sử dụng từ %(date)s: %(reason)s. Không được dùng cho đến khi được hiệu "
                     "chuẩn lại hoặc đưa trở lại sử dụng.", code=code, date=day(self.since), reason=self.reason)
        if self.code == "uncalibrated":
            return _("Chuẩn %(code)s chưa có giấy chứng nhận hiệu chuẩn vào ngày %(date)s; không được dùng cho đến "
                     "khi được hiệu chuẩn.", code=code, date=day(self.on))
        if self.code == "overdue":
            return _("Chuẩn %(code)s quá hạn hiệu chuẩn từ %(date)s (giấy chứng nhận %(number)s có hiệu lực đến "
                     "%(until)s); không được dùng cho đến khi được hiệu chuẩn lại.", code=code, date=day(self.since),
                     number=self.calibration.certificate_number or _("chưa có số"), until=day(self.until))
        if self.code == "due_soon":
            return _("Chuẩn %(code)s sắp đến hạn hiệu chuẩn: hiệu lực đến %(until)s (còn %(n)d ngày).", code=code,
                     until=day(self.until), n=self.days_left)
        return _("Chuẩn %(code)s đang sử dụng, hiệu chuẩn có hiệu lực đến %(until)s.", code=code,
                 until=day(self.until))


@dataclass
class _History:
    calibrations: list[StandardCalibration] = field(default_factory=list)  # effective ones, oldest first
    checks: list[IntermediateCheck] = field(default_factory=list)
    events: list[ServiceEvent] = field(default_factory=list)


def _histories(session: Session, standard_ids: Sequence[int]) -> dict[int, _History]:
    """Everything the status of these standards depends on, in three queries."""
    histories = {standard_id: _History() for standard_id in standard_ids}
    if not standard_ids:
        return histories
    ids = list(standard_ids)
    superseded = _superseded_ids(session, ids)
    for calibration in session.scalars(select(StandardCalibration).where(StandardCalibration.standard_id.in_(ids))
                                       .order_by(StandardCalibration.calibration_date, StandardCalibration.id)):
        if calibration.id not in superseded:
            histories[calibration.standard_id].calibrations.append(calibration)
    for check in session.scalars(select(IntermediateCheck).where(IntermediateCheck.standard_id.in_(ids))
                                 .order_by(IntermediateCheck.check_date, IntermediateCheck.id)):
        histories[check.standard_id].checks.append(check)
    for service_event in session.scalars(select(ServiceEvent).where(ServiceEvent.standard_id.in_(ids))
                                         .order_by(ServiceEvent.event_date, ServiceEvent.id)):
        histories[service_event.standard_id].events.append(service_event)
    return histories


def _current_calibration(calibrations: Sequence[StandardCalibration], on: dt.date) -> StandardCalibration | None:
    """The effective calibration in force on ``on``: the latest made on or before it."""
    current = None
    for calibration in calibrations:
        if calibration.calibration_date <= on:
            current = calibration
    return current


def _status_from(standard: Standard, history: _History, on: dt.date, due_soon_days: int) -> StandardStatus:
    events = [e for e in history.events if e.event_date <= on]
    if events and events[-1].action == "out":
        return StandardStatus(standard, on, "out_of_service", since=events[-1].event_date, reason=events[-1].reason,
                              event=events[-1], calibration=_current_calibration(history.calibrations, on))
    current = _current_calibration(history.calibrations, on)
    checks = [c for c in history.checks if c.check_date <= on]
    if checks and not checks[-1].is_passed:
        failed = checks[-1]
        cleared = any(e.action == "return" and e.event_date >= failed.check_date for e in events) or (
            current is not None and current.calibration_date >= failed.check_date)
        if not cleared:
            reason = _("kiểm tra giữa kỳ ngày %(date)s không đạt (độ lệch %(deviation)s %(unit)s tại %(nominal)s "
                       "%(point_unit)s, giới hạn ±%(limit)s %(unit)s)", date=day(failed.check_date),
                       deviation=failed.deviation, unit=failed.value_unit, nominal=failed.nominal,
                       point_unit=failed.unit, limit=failed.limit)
            return StandardStatus(standard, on, "out_of_service", calibration=current, since=failed.check_date,
                                  reason=reason, check=failed)
    if current is None:
        return StandardStatus(standard, on, "uncalibrated")
    if on > current.due_date:
        return StandardStatus(standard, on, "overdue", calibration=current,
                              since=current.due_date + dt.timedelta(days=1), until=current.due_date)
    if (current.due_date - on).days <= due_soon_days:
        return StandardStatus(standard, on, "due_soon", calibration=current, until=current.due_date)
    return StandardStatus(standard, on, "in_service", calibration=current, until=current.due_date)


def standard_status(session: Session, standard: Standard, *, on: dt.date | None = None,
                    due_soon_days: int = DUE_SOON_DAYS) -> StandardStatus:
    """The derived status of ``standard`` on ``on`` (default: today at the centre)."""
    on = on or centre_today()
    return _status_from(standard, _histories(session, [standard.id])[standard.id], on, due_soon_days)


def statuses(session: Session, standards: Sequence[Standard], *, on: dt.date | None = None,
             due_soon_days: int = DUE_SOON_DAYS) -> list[StandardStatus]:
    """The status of each of ``standards`` on ``on``, in their order (four queries in all)."""
    on = on or centre_today()
    histories = _histories(session, [s.id for s in standards])
    return [_status_from(s, histories[s.id], on, due_soon_days) for s in standards]


def check_usable(session: Session, *, standard_ids: Sequence[int], on: dt.date) -> list[StandardStatus]:
    """Refuse standards that may not be used on ``on``: ``StandardNotUsableError`` names each one, why, and since or
    until when. Returns their statuses (in the order given) when all are usable.

    This is the check the verification workflow makes before a record is submitted (DESIGN.md §5).
    """
    ids = [int(i) for i in dict.fromkeys(standard_ids)]
    found = {s.id: s for s in session.scalars(select(Standard).where(Standard.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise LookupError(f"no standard #{missing[0]}")
    result = statuses(session, [found[i] for i in ids], on=on)
    problems = [s for s in result if not s.usable]
    if problems:
        raise StandardNotUsableError(problems)
    return result


def usable_standards(session: Session, *, instrument_type: str, on: dt.date,
                     kinds: Sequence[str] | None = None) -> list[StandardStatus]:
    """Standards intended for ``instrument_type`` (optionally of ``kinds``) and usable on ``on``: what forms offer."""
    candidates = [s for s in session.scalars(select(Standard).order_by(Standard.code_key))
                  if instrument_type in (s.type_codes or []) and (kinds is None or s.kind in kinds)]
    return [status for status in statuses(session, candidates, on=on) if status.usable]


# --- traceability ---------------------------------------------------------------------------------------------------

@dataclass
class ChainLink:
    """One standard in a traceability chain, the calibration that links it upwards, and what is wrong with it."""

    standard: Standard
    calibration: StandardCalibration | None
    depth: int
    problems: list[str] = field(default_factory=list)
    parents: list[ChainLink] = field(default_factory=list)
    child: Standard | None = None

    @property
    def broken(self) -> bool:
        return bool(self.problems)

    @property
    def is_external(self) -> bool:
        return self.calibration is not None and self.calibration.source == "external"

    @property
    def uncertainty(self) -> str:
        return uncertainty_summary(self.calibration) if self.calibration else ""


@dataclass
class TraceabilityChain:
    """The calibrations from a standard up to the external reference, on a date; ``broken`` with ``reasons``."""

    root: ChainLink
    on: dt.date

    def links(self) -> list[ChainLink]:
        """Every link, breadth first from the standard asked about."""
        found, queue = [], [self.root]
        while queue:
            link = queue.pop(0)
            found.append(link)
            queue.extend(link.parents)
        return found

    @property
    def reasons(self) -> list[str]:
        return [problem for link in self.links() for problem in link.problems]

    @property
    def broken(self) -> bool:
        return any(link.broken for link in self.links())

    def levels(self) -> list[list[ChainLink]]:
        """Links by depth, from the top of the chain (external references) down to the standard asked about."""
        by_depth: dict[int, list[ChainLink]] = defaultdict(list)
        for link in self.links():
            by_depth[link.depth].append(link)
        return [by_depth[d] for d in sorted(by_depth, reverse=True)]

    def top(self) -> list[StandardCalibration]:
        """Where the chain leaves the centre (VMI … → BIPM/SI): one external calibration per laboratory and
        reference it is traceable to (two standards calibrated by VMI against the same national standard: one)."""
        seen, tops = set(), []
        for link in self.links():
            if not link.is_external:
                continue
            key = (link.calibration.laboratory_name, link.calibration.accreditation_number,
                   link.calibration.traceable_to)
            if key not in seen:
                seen.add(key)
                tops.append(link.calibration)
        return tops


def traceability_chain(session: Session, standard: Standard, *, on: dt.date | None = None) -> TraceabilityChain:
    """The chain of calibrations from ``standard`` up to an external reference (ISO/IEC 17025 6.5), as on ``on``.

    Each link is the standard's calibration in force on ``on`` (corrections replace what they supersede). A link is
    broken when: there is no calibration on that date; it has expired on that date; its certificate number is missing
    (the certificate has not arrived); an internal calibration names no reference standard; or a reference standard
    was itself not calibrated on the day it was used. A standard met again on its own path (A calibrated against B,
    B against A) ends the branch as broken instead of looping.
    """
    on = on or centre_today()
    cache: dict[int, _History] = {}
    standards: dict[int, Standard] = {standard.id: standard}

    def history(standard_id: int) -> _History:
        if standard_id not in cache:
            cache.update(_histories(session, [standard_id]))
        return cache[standard_id]

    def build(node: Standard, depth: int, path: tuple[int, ...], child: Standard | None,
              used_on: dt.date | None) -> ChainLink:
        calibrations = history(node.id).calibrations
        current = _current_calibration(calibrations, on)
        link = ChainLink(standard=node, calibration=current, depth=depth, child=child)
        if used_on is not None:
            then = _current_calibration(calibrations, used_on)
            if then is None or then.due_date < used_on:
                link.problems.append(_("Chuẩn %(code)s chưa được hiệu chuẩn hoặc đã quá hạn vào ngày %(date)s, khi "
                                       "được dùng để hiệu chuẩn %(child)s.", code=node.code, date=day(used_on),
                                       child=child.code if child else ""))
        if current is None:
            link.problems.append(_("Chuẩn %(code)s chưa có giấy chứng nhận hiệu chuẩn vào ngày %(date)s.",
                                   code=node.code, date=day(on)))
            return link
        if current.due_date < on:
            link.problems.append(_("Hiệu chuẩn của chuẩn %(code)s hết hiệu lực ngày %(date)s.", code=node.code,
                                   date=day(current.due_date)))
        if not current.certificate_number:
            link.problems.append(_("Thiếu giấy chứng nhận hiệu chuẩn của chuẩn %(code)s (bản ghi ngày %(date)s chưa "
                                   "có số giấy chứng nhận).", code=node.code, date=day(current.calibration_date)))
        if current.source == "external":
            return link
        if not current.references:
            link.problems.append(_("Hiệu chuẩn nội bộ của chuẩn %(code)s không ghi chuẩn đã dùng.", code=node.code))
        if depth >= CHAIN_MAX_DEPTH:
            link.problems.append(_("Chuỗi liên kết chuẩn quá dài (hơn %(n)d cấp).", n=CHAIN_MAX_DEPTH))
            return link
        for reference in current.references:
            parent = reference.reference
            standards.setdefault(parent.id, parent)
            if parent.id in path:
                link.problems.append(_("Chuỗi liên kết chuẩn bị vòng lặp: %(code)s được hiệu chuẩn bằng %(parent)s, "
                                       "chuẩn nằm dưới nó trong chuỗi.", code=node.code, parent=parent.code))
                continue
            link.parents.append(build(parent, depth + 1, path + (parent.id,), node, current.calibration_date))
        return link

    return TraceabilityChain(root=build(standard, 0, (standard.id,), None, None), on=on)


# --- adequacy -------------------------------------------------------------------------------------------------------

#: The kinds of standard whose error is compared with each instrument type's MPE (see ``assess_adequacy``).
ADEQUACY_KINDS = {
    "nawi": MASS_KINDS,
    "weight": MASS_KINDS,
    "energy_meter": ("reference_meter", "meter_bench"),
    "taximeter": ("taximeter_bench", "timer"),
}
_TAXIMETER_KIND = {"distance": "taximeter_bench", "time": "timer"}


@dataclass(frozen=True)
class Adequacy:
    """Whether a standard is good enough at one load or point: ``standard_error`` ≤ ``limit`` (= MPE / divisor)."""

    standard: Standard
    is_adequate: bool
    standard_error: Decimal | None
    limit: Decimal | None
    unit: str
    reason: str


def _r111_nominals_g() -> list[Decimal]:
    """The nominal values of OIML R 111-1 (1, 2, 5 × 10ⁿ from 1 mg to 50 kg), in g, largest first."""
    values = [m * Decimal(10) ** exponent for exponent in range(-3, 5) for m in (1, 2, 5)]
    return sorted((v for v in values if v <= 50000), reverse=True)


def weights_for_load(load_g: Decimal, *, smallest_g: Decimal | None = None,
                     largest_g: Decimal | None = None, single: bool = False) -> list[Decimal] | None:
    """The pieces (g) that make up ``load_g``, largest first, from nominal values between the set's smallest and
    largest piece; ``None`` when the load cannot be made. A single weight makes only its own nominal value.

    >>> weights_for_load(Decimal("30000"), smallest_g=Decimal("1"), largest_g=Decimal("20000"))
    [Decimal('20000'), Decimal('10000')]
    >>> weights_for_load(Decimal("30000"), smallest_g=Decimal("20000"), largest_g=Decimal("20000")) is None
    True
    """
    if single:
        return [load_g] if largest_g is not None and load_g == largest_g else None
    nominals = [n for n in _r111_nominals_g() if (smallest_g is None or n >= smallest_g)
                and (largest_g is None or n <= largest_g)]
    remaining, pieces = load_g, []
    for nominal in nominals:
        while remaining >= nominal and len(pieces) < 200:
            pieces.append(nominal)
            remaining -= nominal
    return pieces if remaining == 0 and pieces else None


def _mass_range_g(standard: Standard) -> tuple[Decimal | None, Decimal | None]:
    if standard.range_unit not in nawi.UNITS:
        return None, None
    factor = nawi.unit_in_grams(standard.range_unit)
    low = Decimal(standard.range_min) * factor if standard.range_min else None
    high = Decimal(standard.range_max) * factor if standard.range_max else None
    return low, high


def _mass_error_mg(standard: Standard, load_g: Decimal) -> tuple[Decimal | None, str]:
    """The worst-case error of the weights making ``load_g``: the sum of their R 111 class MPEs (Table 1)."""
    smallest, largest = _mass_range_g(standard)
    pieces = weights_for_load(load_g, smallest_g=smallest, largest_g=largest, single=standard.kind == "single_weight")
    if pieces is None:
        return None, _("không tạo được tải %(load)s từ các quả cân của chuẩn (%(low)s – %(high)s %(unit)s)",
                       load=weight.format_nominal(load_g), low=standard.range_min or "?",
                       high=standard.range_max or "?", unit=standard.range_unit)
    try:
        total = sum((weight.mpe_mg(standard.accuracy_class, piece) for piece in pieces), Decimal(0))
    except instruments.SpecError as exc:
        return None, str(exc)
    composition = " + ".join(weight.format_nominal(p) for p in pieces[:8]) + (" + …" if len(pieces) > 8 else "")
    return total, composition


def _in_range(standard: Standard, value: Decimal, unit: str) -> bool:
    if standard.range_unit != unit:
        return True  # a range in another unit says nothing about this point
    if standard.range_min and value < Decimal(standard.range_min):
        return False
    return not (standard.range_max and value > Decimal(standard.range_max))


def _divide(value: Decimal, divisor: Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = 28
        return value / divisor


def _spec(instrument_type: str, spec: Any) -> dict:
    try:
        return instruments.get(instrument_type).validate_spec(spec or {})
    except KeyError:
        raise AdequacyError("instrument_type", _("Loại phương tiện đo không hợp lệ: %(value)s.",
                                                 value=instrument_type)) from None
    except instruments.SpecError as exc:
        raise AdequacyError("spec", str(exc)) from None


def _point_value(load_or_point: Any, key: str, label: str) -> Decimal:
    value = load_or_point.get(key) if isinstance(load_or_point, Mapping) else load_or_point
    try:
        return parse_decimal(value, "load_or_point", label=label, positive=True)
    except StandardError as exc:
        raise AdequacyError(exc.field, str(exc)) from None


@dataclass(frozen=True)
class _Requirement:
    """What the instrument allows at the point: the limit for the standard's error, its unit, and how to compute
    the standard's error there."""

    limit: Decimal
    unit: str
    mpe: Decimal
    kinds: tuple[str, ...]
    describe: str
    error: Any  # Callable[[Standard], tuple[Decimal | None, str]]


def _requirement(instrument_type: str, spec: Any, load_or_point: Any, divisor: Decimal,
                 stage: str) -> _Requirement:
    clean = _spec(instrument_type, spec)
    try:
        if instrument_type == "nawi":
            load = _point_value(load_or_point, "load", _("Tải"))
            if load > Decimal(clean["max"]):
                raise AdequacyError("load_or_point", _("Tải %(load)s %(unit)s lớn hơn Max của cân.", load=plain(load),
                                                       unit=clean["unit"]))
            grams = nawi.unit_in_grams(clean["unit"])
            mpe = nawi.mpe(clean["accuracy_class"], Decimal(clean["e"]), load, stage) * grams * 1000
            load_g = load * grams

            def error(standard: Standard) -> tuple[Decimal | None, str]:
                return _mass_error_mg(standard, load_g)

            describe = _("cân cấp %(cls)s, e = %(e)s %(unit)s, tại tải %(load)s %(unit)s: MPE = %(mpe)s mg",
                         cls=clean["accuracy_class"], e=clean["e"], unit=clean["unit"], load=plain(load),
                         mpe=plain(mpe))
            return _Requirement(_divide(mpe, divisor), "mg", mpe, MASS_KINDS, describe, error)
        if instrument_type == "weight":
            nominal_g = weight.nominal_in_g(Decimal(clean["nominal"]), clean["unit"])
            mpe = weight.mpe_mg(clean["accuracy_class"], nominal_g)

            def error(standard: Standard) -> tuple[Decimal | None, str]:
                return _mass_error_mg(standard, nominal_g)

            describe = _("quả cân %(nominal)s cấp %(cls)s: δm = %(mpe)s mg", nominal=weight.format_nominal(nominal_g),
                         cls=clean["accuracy_class"], mpe=plain(mpe))
            return _Requirement(_divide(mpe, divisor), "mg", mpe, MASS_KINDS, describe, error)
        if instrument_type == "energy_meter":
            current = _point_value(load_or_point, "current_a", _("Dòng điện"))
            pf = str(load_or_point.get("pf") or "1") if isinstance(load_or_point, Mapping) else "1"
            mpe = energy_meter.limit_pct(clean["accuracy_class"], pf, current, Decimal(clean["ib_a"]),
                                         Decimal(clean["imax_a"]), clean.get("kind", "electronic"))

            def error(standard: Standard) -> tuple[Decimal | None, str]:
                if not _in_range(standard, current, "A"):
                    return None, _("dòng điện %(current)s A ngoài phạm vi của chuẩn", current=plain(current))
                return Decimal(standard.accuracy_class), _("cấp chính xác %(cls)s %%", cls=standard.accuracy_class)

            describe = _("công tơ cấp %(cls)s tại %(current)s A, cos φ = %(pf)s: giới hạn sai số ±%(mpe)s %%",
                         cls=clean["accuracy_class"], current=plain(current), pf=pf, mpe=plain(mpe))
            return _Requirement(_divide(mpe, divisor), "%", mpe, ("reference_meter", "meter_bench"), describe, error)
        if instrument_type == "taximeter":
            point = load_or_point if isinstance(load_or_point, Mapping) else {"reference": load_or_point}
            quantity = str(point.get("quantity") or "distance")
            mode = str(point.get("mode") or "installed")
            if quantity not in _TAXIMETER_KIND:
                raise AdequacyError("load_or_point", _("Đại lượng phải là quãng đường hoặc thời gian."))
            reference = _point_value(point, "reference", _("Giá trị quy chiếu"))
            mpe = taximeter.mpe(quantity, reference, mode)
            unit = "m" if quantity == "distance" else "s"

            def error(standard: Standard) -> tuple[Decimal | None, str]:
                if not _in_range(standard, reference, unit):
                    return None, _("%(value)s %(unit)s ngoài phạm vi của chuẩn", value=plain(reference), unit=unit)
                return (Decimal(standard.accuracy_class) * reference / 100,
                        _("%(cls)s %% của %(value)s %(unit)s", cls=standard.accuracy_class, value=plain(reference),
                          unit=unit))

            describe = _("taximet (%(mode)s), %(quantity)s %(value)s %(unit)s: MPE = %(mpe)s %(unit)s",
                         mode=mode, quantity=_("quãng đường") if quantity == "distance" else _("thời gian"),
                         value=plain(reference), unit=unit, mpe=plain(mpe))
            return _Requirement(_divide(mpe, divisor), unit, mpe, (_TAXIMETER_KIND[quantity],), describe, error)
    except instruments.MetrologyError as exc:
        raise AdequacyError("load_or_point", str(exc)) from None
    raise AdequacyError("instrument_type", _("Chưa có quy tắc đánh giá sự phù hợp của chuẩn cho loại %(value)s.",
                                             value=instrument_type))


def _assess(standard: Standard, requirement: _Requirement, divisor: Decimal) -> Adequacy:
    if standard.kind not in requirement.kinds:
        return Adequacy(standard, False, None, requirement.limit, requirement.unit,
                        _("Loại chuẩn %(kind)s không dùng cho phép đo này.", kind=KIND_LABELS[standard.kind]))
    error, how = requirement.error(standard)
    if error is None:
        return Adequacy(standard, False, None, requirement.limit, requirement.unit,
                        _("Chuẩn %(code)s không phù hợp: %(why)s.", code=standard.code, why=how))
    values = {"code": standard.code, "error": plain(error), "unit": requirement.unit,
              "limit": plain(requirement.limit.quantize(Decimal("0.0001")).normalize()), "how": how,
              "divisor": plain(divisor), "requirement": requirement.describe}
    if error <= requirement.limit:
        return Adequacy(standard, True, error, requirement.limit, requirement.unit,
                        _("Chuẩn %(code)s phù hợp: sai số lớn nhất %(error)s %(unit)s (%(how)s) ≤ MPE/%(divisor)s = "
                          "%(limit)s %(unit)s (%(requirement)s).", **values))
    return Adequacy(standard, False, error, requirement.limit, requirement.unit,
                    _("Chuẩn %(code)s không phù hợp: sai số lớn nhất %(error)s %(unit)s (%(how)s) > MPE/%(divisor)s "
                      "= %(limit)s %(unit)s (%(requirement)s).", **values))


def _divisor(value: Any) -> Decimal:
    try:
        return parse_decimal(value, "divisor", label=_("Tỉ số yêu cầu"), positive=True)
    except StandardError as exc:
        raise AdequacyError(exc.field, str(exc)) from None


def assess_adequacy(standard: Standard, *, instrument_type: str, spec: Any, load_or_point: Any = None,
                    divisor: Any = DEFAULT_DIVISOR, stage: str = "initial") -> Adequacy:
    """Whether ``standard`` is adequate for an instrument at a load or point: its error ≤ MPE / ``divisor``.

    The standard's error is the worst case its class allows (documented per type, DOMAIN.md §2 and §4):

    - ``nawi`` (scale verification; ``load_or_point`` the load in the spec's unit, or ``{"load": …}``): the weights
      that make up the load from the set's pieces (greedy, R 111 nominal values between its smallest and largest
      piece), each at its class MPE (``instruments.weight.mpe_mg``), summed; against ``instruments.nawi.mpe`` at that
      load (initial-verification MPE unless ``stage="in_service"``). A class II 30 kg scale (e = 1 g) has MPE 1.5 g
      at 30 kg: F2 20 kg + 10 kg = 460 mg ≤ 500 mg, M1 = 1 500 mg is refused.
    - ``weight`` (weight calibration; the spec's nominal and class): the reference weights' class MPE at that nominal
      against δm of the weight under test.
    - ``energy_meter`` (``{"current_a", "pf"}``): the reference meter's or bench's class in % against the meter's
      limit (``instruments.energy_meter.limit_pct``), ĐLVN 39.
    - ``taximeter`` (``{"quantity": "distance"|"time", "reference", "mode"}``): the roller bench's or timer's class
      in % of the reference value against ``instruments.taximeter.mpe``.

    :raises AdequacyError: when the spec or the point is not valid (names the field).
    """
    divisor_value = _divisor(divisor)
    return _assess(standard, _requirement(instrument_type, spec, load_or_point, divisor_value, stage), divisor_value)


def adequacy_table(session: Session, *, instrument_type: str, spec: Any, load_or_point: Any, on: dt.date,
                   divisor: Any = DEFAULT_DIVISOR, stage: str = "initial") -> list[tuple[StandardStatus, Adequacy]]:
    """Every standard intended for ``instrument_type``, with its status on ``on`` and its adequacy at the point."""
    divisor_value = _divisor(divisor)
    requirement = _requirement(instrument_type, spec, load_or_point, divisor_value, stage)
    candidates = [s for s in session.scalars(select(Standard).order_by(Standard.code_key))
                  if instrument_type in (s.type_codes or []) and s.kind in requirement.kinds]
    return [(status, _assess(status.standard, requirement, divisor_value))
            for status in statuses(session, candidates, on=on)]


def adequate_standards(session: Session, *, instrument_type: str, spec: Any, load_or_point: Any, on: dt.date,
                       divisor: Any = DEFAULT_DIVISOR, stage: str = "initial") -> list[Adequacy]:
    """The standards that may be used at this load or point on ``on``: usable and adequate (see
    ``assess_adequacy``), the smallest error first. What a verification form offers as choices."""
    rows = adequacy_table(session, instrument_type=instrument_type, spec=spec, load_or_point=load_or_point, on=on,
                          divisor=divisor, stage=stage)
    chosen = [adequacy for status, adequacy in rows if status.usable and adequacy.is_adequate]
    return sorted(chosen, key=lambda a: (a.standard_error, a.standard.code_key))


# --- lists ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StandardFilter:
    """What the list shows: the search box (accent-insensitive) and the filters; parsed from the query string."""

    q: str = ""
    kind: str = ""
    status: str = ""


def list_standards(session: Session, flt: StandardFilter = StandardFilter(), *, on: dt.date | None = None,
                   due_soon_days: int = DUE_SOON_DAYS) -> list[StandardStatus]:
    """The register, filtered; status is derived, so that filter applies after the query (the register is small)."""
    on = on or centre_today()
    query = select(Standard).order_by(Standard.code_key)
    for word in fold(flt.q).split()[:8]:  # every word, in any order: "can f2 qua" finds "Bộ quả cân F2"
        query = query.where(Standard.search_key.contains(word, autoescape=True))
    if flt.kind:
        query = query.where(Standard.kind == flt.kind)
    rows = statuses(session, list(session.scalars(query)), on=on, due_soon_days=due_soon_days)
    return [row for row in rows if not flt.status or row.code == flt.status]


def due_standards(session: Session, *, within_days: int = DUE_SOON_DAYS, on: dt.date | None = None
                  ) -> list[StandardStatus]:
    """Standards to recalibrate: overdue, not calibrated, or due within ``within_days`` of ``on``; the most urgent
    first (out-of-service ones included, marked as such)."""
    on = on or centre_today()
    horizon = on + dt.timedelta(days=within_days)
    rows = []
    for status in list_standards(session, on=on, due_soon_days=within_days):
        due = status.calibration.due_date if status.calibration else None
        if due is None or due <= horizon:
            rows.append(status)
    return sorted(rows, key=lambda s: (s.calibration.due_date if s.calibration else dt.date.min, s.standard.code_key))
