"""Personnel competence (ISO/IEC 17025 6.2): qualifications, training records, authorisations, and the checks the
verification workflow calls before a person performs or signs work.

Services take the session and keyword arguments, raise ``PersonnelError`` (whose ``field`` names the argument at
fault) with a sentence a technician understands, flush, and leave the commit to their caller.

When an edit needs a reason (the record is "in use"):

- a qualification or a training record, once it was recorded on an earlier day than today (centre time): it may
  have been shown to an assessor or counted in a report since;
- an authorisation, once it has been valid on some day before today (``valid_from`` < today): work may have been
  done relying on it.

Validity of an authorisation on a day ``on``: ``valid_from <= on <= valid_until``, and not revoked — a revocation
takes effect on ``revoked_date`` (the authorisation is no longer valid on that day; work of the day before stands).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.dates import CENTRE_TZ, centre_today
from lims.auth.models import User, UserRole
from lims.exceptions import FieldError
from lims.text import fold

from .models import Authorisation, Qualification, Training

#: An authorisation whose cover ends within this many days is "expiring" on the matrix.
EXPIRING_DAYS = 60
FIRST_YEAR = 1950

DEGREES = {
    "doctorate": _l("Tiến sĩ"),
    "master": _l("Thạc sĩ"),
    "engineer": _l("Kỹ sư"),
    "bachelor": _l("Cử nhân"),
    "college": _l("Cao đẳng"),
    "vocational": _l("Trung cấp"),
    "other": _l("Văn bằng, chứng chỉ khác"),
}

#: Who issues verification officer's cards, offered as suggestions in the form (any text is accepted).
ISSUING_AUTHORITIES = (
    "Ủy ban Tiêu chuẩn Đo lường Chất lượng Quốc gia",
    "Tổng cục Tiêu chuẩn Đo lường Chất lượng",
    "Viện Đo lường Việt Nam",
)

#: The people listed in the register and on the matrix: staff roles (anyone with a record is listed too).
STAFF_ROLES = ("technician", "reviewer", "approver", "quality_manager", "reception")
MATRIX_ROLES = ("technician", "reviewer", "approver")

#: What an authorisation may cover: code -> (model attribute, label, short label on the matrix).
ACTIVITIES = {
    "perform": ("can_perform", _l("thực hiện kiểm định, hiệu chuẩn"), _l("KĐ")),
    "reviewed": ("can_review", _l("soát xét kết quả"), _l("SX")),
    "approved": ("can_approve", _l("phê duyệt kết quả"), _l("PD")),
}
SIGN_MEANINGS = ("reviewed", "approved")

#: States of an authorisation (or of a person's cover for a type) on a day, and their labels.
STATES = {
    "valid": _l("Còn hiệu lực"),
    "expiring": _l("Sắp hết hạn"),
    "expired": _l("Hết hiệu lực"),
    "revoked": _l("Đã thu hồi"),
    "not_yet_valid": _l("Chưa có hiệu lực"),
    "none": _l("Chưa được ủy quyền"),
}

CERTIFICATE_MAX_BYTES = 10 * 1024 * 1024
CERTIFICATE_DIR = "personnel/certificates"
#: Accepted certificate files: extension -> (MIME type, magic bytes at the start of the file).
CERTIFICATE_TYPES = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}

# Lengths mirror the columns in models.py (PostgreSQL enforces them; SQLite would not, so the service does).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
REASON_MAX = 1000


class PersonnelError(FieldError):
    """A record was refused; ``field`` names the argument at fault."""


class ReasonRequiredError(PersonnelError):
    """The record is in use: a change needs a reason for the audit trail."""

    def __init__(self, message: str):
        super().__init__("reason", message)


class CertificateFileError(Exception):
    """A stored certificate file is missing or no longer matches its recorded SHA-256."""


class NotAuthorisedError(Exception):
    """A person may not perform or sign the work; the message (``decision.reason``) says who, for what and why."""

    def __init__(self, reason: str, decision: Decision | None = None):
        super().__init__(reason)
        self.reason = reason
        self.decision = decision


@dataclass(frozen=True)
class Decision:
    """The answer of ``may_perform`` / ``may_sign``: allowed or not, a Vietnamese sentence naming the person, the
    instrument type and why, and the authorisation relied on (or the one that explains the refusal)."""

    allowed: bool
    reason: str
    authorisation_id: int | None = None
    card_number: str = ""
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class UploadedFile:
    """A file received from a form: its original name and content."""

    filename: str
    data: bytes


# --- dates ------------------------------------------------------------------------------------------------------



def day_text(day: dt.date) -> str:
    """dd/mm/yyyy, the centre's convention, for messages."""
    return day.strftime("%d/%m/%Y")


def recorded_before(record: Qualification | Training, today: dt.date) -> bool:
    """Whether ``record`` was saved on an earlier day than ``today`` (centre time): from then on it is in use."""
    return record.created_at is not None and record.created_at.astimezone(CENTRE_TZ).date() < today


def authorisation_in_use(authorisation: Authorisation, today: dt.date) -> bool:
    """Whether ``authorisation`` has been valid on a day before ``today``, so that work may have relied on it."""
    return authorisation.valid_from < today


# --- field rules --------------------------------------------------------------------------------------------------

def clean_text(value: Any, field: str, *, max_length: int, label: str, required: bool = False,
               multiline: bool = False) -> str:
    """Trimmed text without control characters, checked against the column's length."""
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        raise PersonnelError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label))
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if required and not text:
        raise PersonnelError(field, _("%(label)s không được để trống.", label=label))
    if len(text) > max_length:
        raise PersonnelError(field, _("%(label)s dài quá %(n)d ký tự.", label=label, n=max_length))
    return text


def _clean_date(value: Any, field: str, *, label: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise PersonnelError(field, _("%(label)s phải là một ngày (dd/mm/yyyy).", label=label))
    return value


def _require_reason(reason: Any, message: str) -> str:
    text = clean_text(reason, "reason", max_length=REASON_MAX, label=_("Lý do"), multiline=True)
    if not text:
        raise ReasonRequiredError(message)
    return text


def _require_user(session: Session, user_id: Any, field: str = "user_id") -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise PersonnelError(field, _("Không tìm thấy người dùng số %(id)s.", id=user_id))
    return user


def type_name(code: str) -> str:
    """The Vietnamese name of an instrument type (``KeyError`` for an unknown code)."""
    return instruments.get(code).name_vi


def type_choices() -> list[tuple[str, str]]:
    return [(kind.code, kind.name_vi) for kind in instruments.all_types()]


# --- qualifications -----------------------------------------------------------------------------------------------

def qualification_fields(*, degree: Any, field: Any, institution: Any, year: Any,
                         today: dt.date | None = None) -> dict:
    today = today or centre_today()
    if degree not in DEGREES:
        raise PersonnelError("degree", _("Hãy chọn trình độ, văn bằng trong danh sách."))
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise PersonnelError("year", _("Năm tốt nghiệp phải là một số, ví dụ 2012.")) from None
    if not FIRST_YEAR <= year <= today.year:
        raise PersonnelError("year", _("Năm tốt nghiệp phải từ %(first)d đến %(last)d.", first=FIRST_YEAR,
                                       last=today.year))
    return {
        "degree": degree,
        "field": clean_text(field, "field", max_length=160, label=_("Chuyên ngành"), required=True),
        "institution": clean_text(institution, "institution", max_length=200, label=_("Cơ sở đào tạo"),
                                  required=True),
        "year": year,
    }


def add_qualification(session: Session, *, user_id: Any, today: dt.date | None = None, **fields) -> Qualification:
    """Record a person's degree or diploma. Callers commit."""
    user = _require_user(session, user_id)
    qualification = Qualification(user_id=user.id, **qualification_fields(today=today, **fields))
    session.add(qualification)
    session.flush()
    return qualification


def update_qualification(session: Session, *, qualification: Qualification, reason: Any = None,
                         today: dt.date | None = None, **fields) -> Qualification:
    """Change a qualification; a reason is required once it is in use (recorded before today). Callers commit."""
    today = today or centre_today()
    clean = qualification_fields(today=today, **fields)
    text = _edit_reason(reason, recorded_before(qualification, today))
    with audit.reason(session, text):
        _assign(qualification, clean)
        session.flush()
    return qualification


def delete_qualification(session: Session, *, qualification: Qualification, reason: Any) -> None:
    """Remove a qualification entered by mistake; the reason is always required. Callers commit."""
    text = _require_reason(reason, _("Hãy nhập lý do xoá."))
    with audit.reason(session, text):
        session.delete(qualification)
        session.flush()


def _edit_reason(reason: Any, in_use: bool) -> str | None:
    if in_use:
        return _require_reason(reason, _("Bản ghi này đã được lưu từ trước hôm nay nên có thể đã được sử dụng: "
                                         "hãy nhập lý do sửa."))
    return clean_text(reason, "reason", max_length=REASON_MAX, label=_("Lý do"), multiline=True) or None


def _assign(record: Any, clean: dict) -> None:
    for key, value in clean.items():
        if getattr(record, key) != value:
            setattr(record, key, value)


# --- trainings ----------------------------------------------------------------------------------------------------

def training_fields(*, course: Any, provider: Any, start_date: Any, end_date: Any, hours: Any,
                    certificate_number: Any = "", today: dt.date | None = None) -> dict:
    today = today or centre_today()
    start_date = _clean_date(start_date, "start_date", label=_("Ngày bắt đầu"))
    end_date = _clean_date(end_date, "end_date", label=_("Ngày kết thúc"))
    if end_date < start_date:
        raise PersonnelError("end_date", _("Ngày kết thúc phải bằng hoặc sau ngày bắt đầu."))
    if end_date > today:
        raise PersonnelError("end_date", _("Chỉ ghi nhận khoá đào tạo đã kết thúc: ngày kết thúc không được sau "
                                           "hôm nay."))
    try:
        hours = Decimal(str(hours).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise PersonnelError("hours", _("Số giờ phải là một số, ví dụ 24 hoặc 7,5.")) from None
    if not hours.is_finite() or hours <= 0:
        raise PersonnelError("hours", _("Số giờ phải lớn hơn 0."))
    if hours != hours.quantize(Decimal("0.1")):
        raise PersonnelError("hours", _("Số giờ chỉ lấy một chữ số thập phân."))
    days = (end_date - start_date).days + 1
    if hours > days * 24:
        raise PersonnelError("hours", _("%(hours)s giờ không thể diễn ra trong %(days)d ngày.", hours=hours,
                                        days=days))
    return {
        "course": clean_text(course, "course", max_length=200, label=_("Tên khoá đào tạo"), required=True),
        "provider": clean_text(provider, "provider", max_length=200, label=_("Đơn vị tổ chức"), required=True),
        "start_date": start_date,
        "end_date": end_date,
        "hours": hours.quantize(Decimal("0.1")),
        "certificate_number": clean_text(certificate_number, "certificate_number", max_length=60,
                                         label=_("Số chứng chỉ")),
    }


def store_certificate(files_dir: Path, upload: UploadedFile) -> dict:
    """Check a certificate file and store it under ``files_dir`` (the instance folder), named by its SHA-256.

    Returns the model fields ``certificate_filename``, ``certificate_path`` (relative to ``files_dir``) and
    ``certificate_sha256``. Storing the same content twice keeps one file.
    """
    name = Path((upload.filename or "").replace("\\", "/")).name.strip()
    extension = Path(name).suffix.lower()
    if extension not in CERTIFICATE_TYPES:
        raise PersonnelError("certificate_file", _("Tệp chứng chỉ phải là PDF, PNG hoặc JPG."))
    if not upload.data:
        raise PersonnelError("certificate_file", _("Tệp chứng chỉ trống."))
    if len(upload.data) > CERTIFICATE_MAX_BYTES:
        raise PersonnelError("certificate_file", _("Tệp chứng chỉ lớn quá %(mb)d MB.",
                                                   mb=CERTIFICATE_MAX_BYTES // (1024 * 1024)))
    if not upload.data.startswith(CERTIFICATE_TYPES[extension][1]):
        raise PersonnelError("certificate_file", _("Nội dung tệp không phải là %(kind)s như đuôi tên tệp cho biết.",
                                                   kind=extension[1:].upper()))
    digest = hashlib.sha256(upload.data).hexdigest()
    relative = f"{CERTIFICATE_DIR}/{digest}{'.jpg' if extension == '.jpeg' else extension}"
    target = Path(files_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(upload.data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return {"certificate_filename": clean_text(name, "certificate_file", max_length=200, label=_("Tên tệp")),
            "certificate_path": relative, "certificate_sha256": digest}


def read_certificate(files_dir: Path, training: Training) -> tuple[bytes, str]:
    """The stored certificate file of ``training`` and its MIME type, after checking its SHA-256."""
    if not training.certificate_path:
        raise CertificateFileError(_("Khoá đào tạo này không có tệp chứng chỉ."))
    path = Path(files_dir) / training.certificate_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CertificateFileError(_("Không tìm thấy tệp chứng chỉ trong thư mục lưu trữ.")) from None
    if hashlib.sha256(data).hexdigest() != training.certificate_sha256:
        raise CertificateFileError(_("Tệp chứng chỉ đã bị thay đổi sau khi lưu (mã SHA-256 không khớp)."))
    return data, CERTIFICATE_TYPES[path.suffix.lower()][0]


def add_training(session: Session, *, user_id: Any, files_dir: Path | None = None,
                 certificate_file: UploadedFile | None = None, today: dt.date | None = None,
                 **fields) -> Training:
    """Record a course a person attended, with its certificate file if given. Callers commit."""
    user = _require_user(session, user_id)
    clean = training_fields(today=today, **fields)
    if certificate_file is not None:
        clean |= store_certificate(_files_dir(files_dir), certificate_file)
    training = Training(user_id=user.id, **clean)
    session.add(training)
    session.flush()
    return training


def update_training(session: Session, *, training: Training, reason: Any = None, files_dir: Path | None = None,
                    certificate_file: UploadedFile | None = None, today: dt.date | None = None,
                    **fields) -> Training:
    """Change a training record (a new certificate file replaces the old one's reference; files are kept).
    A reason is required once the record is in use. Callers commit."""
    today = today or centre_today()
    clean = training_fields(today=today, **fields)
    text = _edit_reason(reason, recorded_before(training, today))
    if certificate_file is not None:
        clean |= store_certificate(_files_dir(files_dir), certificate_file)
    with audit.reason(session, text):
        _assign(training, clean)
        session.flush()
    return training


def delete_training(session: Session, *, training: Training, reason: Any) -> None:
    """Remove a training record entered by mistake; the reason is always required. Callers commit."""
    text = _require_reason(reason, _("Hãy nhập lý do xoá."))
    with audit.reason(session, text):
        session.delete(training)
        session.flush()


def _files_dir(files_dir: Path | None) -> Path:
    if files_dir is None:
        raise ValueError("files_dir is required to store a certificate file")
    return Path(files_dir)


# --- authorisations -----------------------------------------------------------------------------------------------

def normalise_card_number(value: Any) -> str:
    """Card numbers are compared and stored in upper case, single-spaced.

    >>> normalise_card_number("  kđv  0245 ")
    'KĐV 0245'
    """
    return _SPACES.sub(" ", "" if value is None else str(value)).strip().upper()


def authorisation_fields(session: Session, *, user_id: int, instrument_type: Any, scope: Any, card_number: Any,
                         valid_from: Any, valid_until: Any, can_perform: Any = True, can_review: Any = False,
                         can_approve: Any = False, granted_by_id: Any = None,
                         granted_by_authority: Any = "") -> dict:
    try:
        instruments.get(instrument_type)
    except (KeyError, TypeError):
        raise PersonnelError("instrument_type", _("Loại phương tiện đo không hợp lệ: %(value)s.",
                                                  value=instrument_type)) from None
    scope = clean_text(scope, "scope", max_length=300, label=_("Phạm vi"), required=True)
    can_perform, can_review, can_approve = bool(can_perform), bool(can_review), bool(can_approve)
    if not (can_perform or can_review or can_approve):
        raise PersonnelError("can_perform", _("Hãy chọn ít nhất một việc được ủy quyền: thực hiện, soát xét hoặc "
                                              "phê duyệt."))
    card_number = normalise_card_number(card_number)
    if len(card_number) > 40:
        raise PersonnelError("card_number", _("%(label)s dài quá %(n)d ký tự.", label=_("Số thẻ kiểm định viên"),
                                              n=40))
    if _CONTROL.search(card_number):
        raise PersonnelError("card_number", _("%(label)s chứa ký tự điều khiển không hợp lệ.",
                                              label=_("Số thẻ kiểm định viên")))
    if can_perform and not card_number:
        raise PersonnelError("card_number", _("Người thực hiện kiểm định phải có số thẻ kiểm định viên."))
    if card_number:
        holder = session.scalar(select(User).join(Authorisation, Authorisation.user_id == User.id)
                                .where(Authorisation.card_number == card_number, Authorisation.user_id != user_id)
                                .limit(1))
        if holder is not None:
            raise PersonnelError("card_number", _("Thẻ kiểm định viên số %(card)s đã được cấp cho %(name)s.",
                                                  card=card_number, name=holder.full_name))
    valid_from = _clean_date(valid_from, "valid_from", label=_("Hiệu lực từ ngày"))
    valid_until = _clean_date(valid_until, "valid_until", label=_("Hiệu lực đến ngày"))
    if valid_until < valid_from:
        raise PersonnelError("valid_until", _("Ngày hết hiệu lực phải bằng hoặc sau ngày bắt đầu hiệu lực."))
    authority = clean_text(granted_by_authority, "granted_by_authority", max_length=200,
                           label=_("Cơ quan cấp"))
    if granted_by_id in ("", None):
        granted_by_id = None
    if granted_by_id is None and not authority:
        raise PersonnelError("granted_by_id", _("Hãy chọn người ký ủy quyền hoặc nhập cơ quan cấp thẻ."))
    if granted_by_id is not None and authority:
        raise PersonnelError("granted_by_authority", _("Chỉ chọn một: người ký ủy quyền hoặc cơ quan cấp, không "
                                                       "cả hai."))
    if granted_by_id is not None:
        grantor = _require_user(session, granted_by_id, "granted_by_id")
        if grantor.id == user_id:
            raise PersonnelError("granted_by_id", _("Không ai được tự ủy quyền cho chính mình."))
    return {"instrument_type": instrument_type, "scope": scope, "can_perform": can_perform,
            "can_review": can_review, "can_approve": can_approve, "card_number": card_number,
            "valid_from": valid_from, "valid_until": valid_until, "granted_by_id": granted_by_id,
            "granted_by_authority": authority}


def grant_authorisation(session: Session, *, user_id: Any, **fields) -> Authorisation:
    """Record an authorisation for a person and an instrument type. Callers commit."""
    user = _require_user(session, user_id)
    authorisation = Authorisation(user_id=user.id, **authorisation_fields(session, user_id=user.id, **fields))
    session.add(authorisation)
    session.flush()
    return authorisation


def update_authorisation(session: Session, *, authorisation: Authorisation, reason: Any = None,
                         today: dt.date | None = None, **fields) -> Authorisation:
    """Change an authorisation. Once it has been valid on a day before today, work may have relied on it: a reason
    is required and recorded in the audit trail. A revoked authorisation is final. Callers commit."""
    today = today or centre_today()
    if authorisation.revoked_date is not None:
        raise PersonnelError("reason", _("Ủy quyền đã bị thu hồi ngày %(day)s nên không sửa được; hãy cấp ủy quyền "
                                         "mới nếu cần.", day=day_text(authorisation.revoked_date)))
    clean = authorisation_fields(session, user_id=authorisation.user_id, **fields)
    text = None
    if authorisation_in_use(authorisation, today):
        text = _require_reason(reason, _("Ủy quyền này đã có hiệu lực từ ngày %(day)s nên có thể đã được dùng: "
                                         "hãy nhập lý do sửa.", day=day_text(authorisation.valid_from)))
    else:
        text = clean_text(reason, "reason", max_length=REASON_MAX, label=_("Lý do"), multiline=True) or None
    with audit.reason(session, text):
        _assign(authorisation, clean)
        session.flush()
    return authorisation


def revoke_authorisation(session: Session, *, authorisation: Authorisation, revoked_date: Any,
                         revocation_reason: Any) -> Authorisation:
    """Revoke an authorisation from ``revoked_date`` on (it is not valid on that day). Callers commit."""
    if authorisation.revoked_date is not None:
        raise PersonnelError("revoked_date", _("Ủy quyền này đã bị thu hồi ngày %(day)s.",
                                               day=day_text(authorisation.revoked_date)))
    revoked_date = _clean_date(revoked_date, "revoked_date", label=_("Ngày thu hồi"))
    if revoked_date > authorisation.valid_until:
        raise PersonnelError("revoked_date", _("Ủy quyền chỉ có hiệu lực đến hết ngày %(day)s; không cần thu hồi "
                                               "sau ngày đó.", day=day_text(authorisation.valid_until)))
    text = clean_text(revocation_reason, "revocation_reason", max_length=REASON_MAX, label=_("Lý do thu hồi"),
                      required=True, multiline=True)
    with audit.reason(session, text):
        authorisation.revoked_date = revoked_date
        authorisation.revocation_reason = text
        session.flush()
    return authorisation


# --- validity -----------------------------------------------------------------------------------------------------

def last_valid_day(authorisation: Authorisation) -> dt.date:
    """The last day ``authorisation`` is valid: ``valid_until``, or the day before its revocation."""
    if authorisation.revoked_date is not None:
        return min(authorisation.valid_until, authorisation.revoked_date - dt.timedelta(days=1))
    return authorisation.valid_until


def status_on(authorisation: Authorisation, on: dt.date) -> str:
    """``valid``, ``not_yet_valid``, ``expired`` or ``revoked`` on the day ``on``."""
    revoked = authorisation.revoked_date
    if revoked is not None and revoked <= on:
        return "revoked"
    if on < authorisation.valid_from:
        return "not_yet_valid"
    if on > authorisation.valid_until:
        return "expired"
    return "valid"


def covers(authorisation: Authorisation, activity: str) -> bool:
    return bool(getattr(authorisation, ACTIVITIES[activity][0]))


def activity_codes(authorisation: Authorisation) -> tuple[str, ...]:
    return tuple(code for code in ACTIVITIES if covers(authorisation, code))


def _reference(authorisation: Authorisation) -> str:
    if authorisation.card_number:
        return _("thẻ kiểm định viên số %(card)s", card=authorisation.card_number)
    return _("ủy quyền số %(id)d", id=authorisation.id)


def _cover_until(start: Authorisation, others: Iterable[Authorisation]) -> dt.date:
    """The last day of continuous cover from ``start`` on, following renewals that begin by the next day."""
    end = last_valid_day(start)
    pending = [a for a in others if a is not start and a.valid_from <= last_valid_day(a)]
    extended = True
    while extended:
        extended = False
        for candidate in pending:
            if candidate.valid_from <= end + dt.timedelta(days=1) and last_valid_day(candidate) > end:
                end = last_valid_day(candidate)
                extended = True
    return end


def _best_valid(authorisations: Sequence[Authorisation], on: dt.date) -> Authorisation | None:
    valid = [a for a in authorisations if status_on(a, on) == "valid"]
    return max(valid, key=lambda a: (last_valid_day(a), a.id)) if valid else None


def _explaining(authorisations: Sequence[Authorisation], on: dt.date) -> tuple[str, Authorisation] | None:
    """For a day with no valid authorisation, the one that explains it best: the most recently ended (expired or
    revoked), else the next to start."""
    ended = [a for a in authorisations if status_on(a, on) in ("expired", "revoked")]
    if ended:
        latest = max(ended, key=lambda a: (last_valid_day(a), a.id))
        return status_on(latest, on), latest
    future = [a for a in authorisations if status_on(a, on) == "not_yet_valid"]
    if future:
        first = min(future, key=lambda a: (a.valid_from, a.id))
        return "not_yet_valid", first
    return None


def _decide(session: Session, *, user_id: int, instrument_type: str, activity: str, on: dt.date) -> Decision:
    name_of_type = type_name(instrument_type)  # KeyError for an unknown code: a caller's mistake, not a refusal
    if isinstance(on, dt.datetime) or not isinstance(on, dt.date):
        raise TypeError("on must be a date")
    user = session.get(User, user_id)
    if user is None:
        return Decision(False, _("Không tìm thấy người dùng số %(id)s.", id=user_id))
    label = ACTIVITIES[activity][1]
    of_type = list(session.scalars(select(Authorisation).where(Authorisation.user_id == user.id,
                                                               Authorisation.instrument_type == instrument_type)))
    words = {"name": user.full_name, "type": name_of_type, "activity": label, "on": day_text(on)}
    if not of_type:
        return Decision(False, _("%(name)s không được %(activity)s %(type)s: chưa có ủy quyền nào cho loại phương "
                                 "tiện đo này.", **words))
    relevant = [a for a in of_type if covers(a, activity)]
    if not relevant:
        return Decision(False, _("%(name)s không được %(activity)s %(type)s: ủy quyền cho loại phương tiện đo này "
                                 "không gồm việc đó.", **words))
    best = _best_valid(relevant, on)
    if best is not None:
        return Decision(True, _("%(name)s được %(activity)s %(type)s vào ngày %(on)s theo %(ref)s, có hiệu lực đến "
                                "hết ngày %(until)s.", ref=_reference(best), until=day_text(last_valid_day(best)),
                                **words),
                        authorisation_id=best.id, card_number=best.card_number, valid_until=last_valid_day(best))
    state, authorisation = _explaining(relevant, on)
    ref = _reference(authorisation)
    if state == "revoked":
        why = (authorisation.revocation_reason or "").strip().rstrip(".")
        reason = _("%(name)s không được %(activity)s %(type)s vào ngày %(on)s: ủy quyền (%(ref)s) đã bị thu hồi từ "
                   "ngày %(day)s. Lý do: %(why)s.", ref=ref, day=day_text(authorisation.revoked_date), why=why,
                   **words)
    elif state == "expired":
        reason = _("%(name)s không được %(activity)s %(type)s vào ngày %(on)s: ủy quyền (%(ref)s) đã hết hạn, chỉ "
                   "có hiệu lực đến hết ngày %(day)s.", ref=ref, day=day_text(authorisation.valid_until), **words)
    else:
        reason = _("%(name)s không được %(activity)s %(type)s vào ngày %(on)s: ủy quyền (%(ref)s) chưa có hiệu lực, "
                   "bắt đầu từ ngày %(day)s.", ref=ref, day=day_text(authorisation.valid_from), **words)
    return Decision(False, reason, authorisation_id=authorisation.id, card_number=authorisation.card_number,
                    valid_until=authorisation.valid_until)


def may_perform(session: Session, *, user_id: int, instrument_type: str, on: dt.date) -> Decision:
    """Whether the person may perform verifications or calibrations of ``instrument_type`` on the day ``on``.

    ``KeyError`` for an unknown instrument type code.
    """
    return _decide(session, user_id=user_id, instrument_type=instrument_type, activity="perform", on=on)


def may_sign(session: Session, *, user_id: int, instrument_type: str, meaning: str, on: dt.date) -> Decision:
    """Whether the person may sign results of ``instrument_type`` as reviewer (``meaning="reviewed"``) or approver
    (``"approved"``) on the day ``on``."""
    if meaning not in SIGN_MEANINGS:
        raise ValueError(f"meaning must be one of {SIGN_MEANINGS}, not {meaning!r}")
    return _decide(session, user_id=user_id, instrument_type=instrument_type, activity=meaning, on=on)


def require_perform(session: Session, *, user_id: int, instrument_type: str, on: dt.date) -> Decision:
    """``may_perform``, raising ``NotAuthorisedError(reason)`` when refused; returns the decision (with the card
    number relied on) when allowed."""
    decision = may_perform(session, user_id=user_id, instrument_type=instrument_type, on=on)
    if not decision.allowed:
        raise NotAuthorisedError(decision.reason, decision)
    return decision


def require_sign(session: Session, *, user_id: int, instrument_type: str, meaning: str, on: dt.date) -> Decision:
    """``may_sign``, raising ``NotAuthorisedError(reason)`` when refused."""
    decision = may_sign(session, user_id=user_id, instrument_type=instrument_type, meaning=meaning, on=on)
    if not decision.allowed:
        raise NotAuthorisedError(decision.reason, decision)
    return decision


# --- lists ----------------------------------------------------------------------------------------------------------

@dataclass
class PersonSummary:
    user: User
    qualifications: int = 0
    trainings: int = 0
    valid_authorisations: int = 0
    expiring_authorisations: int = 0


def _staff(session: Session, roles: Sequence[str], *, holding: Sequence[type] = (Authorisation, Training,
                                                                                  Qualification),
           include_inactive: bool = False) -> list[User]:
    """Users with one of ``roles``, or holding a record of one of the ``holding`` models."""
    condition = User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles)))
    for model in holding:
        condition = condition | User.id.in_(select(model.user_id))
    query = select(User).where(condition)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return list(session.scalars(query))


def _sorted_people(users: Iterable[User]) -> list[User]:
    # Vietnamese names are sorted by given name (the last word), then the whole name, accent-insensitively.
    return sorted(users, key=lambda u: (fold(u.full_name).split()[-1:] or [""], fold(u.full_name), u.id))


def list_people(session: Session, *, q: str = "", role: str = "", on: dt.date | None = None,
                within_days: int = EXPIRING_DAYS) -> list[PersonSummary]:
    """The staff (users with a lab role, or with any personnel record), with counts of their records."""
    on = on or centre_today()
    users = _staff(session, STAFF_ROLES)
    key = fold(q)
    if key:
        users = [u for u in users if key in fold(u.full_name) or key in u.username]
    if role:
        users = [u for u in users if role in u.role_codes]
    summaries = {u.id: PersonSummary(u) for u in _sorted_people(users)}
    ids = list(summaries)
    if not ids:
        return []
    for user_id in session.scalars(select(Qualification.user_id).where(Qualification.user_id.in_(ids))):
        summaries[user_id].qualifications += 1
    for user_id in session.scalars(select(Training.user_id).where(Training.user_id.in_(ids))):
        summaries[user_id].trainings += 1
    horizon = on + dt.timedelta(days=within_days)
    for authorisation in session.scalars(select(Authorisation).where(Authorisation.user_id.in_(ids))):
        if status_on(authorisation, on) == "valid":
            summaries[authorisation.user_id].valid_authorisations += 1
            if last_valid_day(authorisation) <= horizon:
                summaries[authorisation.user_id].expiring_authorisations += 1
    return list(summaries.values())


@dataclass
class PersonRecords:
    user: User
    qualifications: list[Qualification]
    trainings: list[Training]
    authorisations: list[Authorisation]


def person_records(session: Session, *, user: User) -> PersonRecords:
    """Everything the register holds about one person, newest first; authorisations include expired and revoked."""
    return PersonRecords(
        user=user,
        qualifications=list(session.scalars(select(Qualification).where(Qualification.user_id == user.id)
                                            .order_by(Qualification.year.desc(), Qualification.id.desc()))),
        trainings=list(session.scalars(select(Training).where(Training.user_id == user.id)
                                       .order_by(Training.end_date.desc(), Training.id.desc()))),
        authorisations=list(session.scalars(select(Authorisation).where(Authorisation.user_id == user.id)
                                             .order_by(Authorisation.instrument_type,
                                                       Authorisation.valid_until.desc(),
                                                       Authorisation.id.desc()))),
    )


@dataclass(frozen=True)
class MatrixCell:
    """A person's cover for one instrument type on a day: ``state`` is one of ``STATES``."""

    state: str
    authorisation: Authorisation | None = None
    activities: tuple[str, ...] = ()
    cover_until: dt.date | None = None

    @property
    def css_class(self) -> str:
        return "auth-" + self.state.replace("_", "-")


@dataclass
class MatrixRow:
    user: User
    cells: list[MatrixCell]


@dataclass
class Matrix:
    on: dt.date
    within_days: int
    types: list[tuple[str, str]]
    rows: list[MatrixRow]


def matrix_cell(authorisations: Sequence[Authorisation], *, on: dt.date,
                within_days: int = EXPIRING_DAYS) -> MatrixCell:
    """The state of one person's authorisations for one type on ``on``: valid (cover lasting beyond
    ``within_days``, renewals counted), expiring, expired, revoked, not yet valid, or none."""
    if not authorisations:
        return MatrixCell("none")
    best = _best_valid(authorisations, on)
    if best is not None:
        valid = [a for a in authorisations if status_on(a, on) == "valid"]
        activities = tuple(code for code in ACTIVITIES if any(covers(a, code) for a in valid))
        until = _cover_until(best, authorisations)
        state = "expiring" if until <= on + dt.timedelta(days=within_days) else "valid"
        return MatrixCell(state, best, activities, until)
    state, authorisation = _explaining(authorisations, on)
    return MatrixCell(state, authorisation, activity_codes(authorisation))


def authorisation_matrix(session: Session, *, on: dt.date | None = None,
                         within_days: int = EXPIRING_DAYS) -> Matrix:
    """People × instrument types on the day ``on``. Rows: active users who are technicians, reviewers or approvers
    or hold any authorisation, and anyone (even deactivated since) holding an authorisation valid that day, so that
    a past date shows who was authorised then."""
    on = on or centre_today()
    types = type_choices()
    by_person: dict[int, dict[str, list[Authorisation]]] = {}
    for authorisation in session.scalars(select(Authorisation)):
        by_person.setdefault(authorisation.user_id, {}).setdefault(authorisation.instrument_type, []).append(
            authorisation)
    people = {u.id: u for u in _staff(session, MATRIX_ROLES, holding=(Authorisation,))}
    for user_id, per_type in by_person.items():
        if user_id not in people and any(status_on(a, on) == "valid" for items in per_type.values() for a in items):
            people[user_id] = session.get(User, user_id)
    rows = []
    for user in _sorted_people(people.values()):
        per_type = by_person.get(user.id, {})
        rows.append(MatrixRow(user, [matrix_cell(per_type.get(code, []), on=on, within_days=within_days)
                                     for code, _name in types]))
    return Matrix(on=on, within_days=within_days, types=types, rows=rows)


@dataclass(frozen=True)
class ExpiringAuthorisation:
    authorisation: Authorisation
    days_left: int


def list_expiring_authorisations(session: Session, *, within_days: int = EXPIRING_DAYS, on: dt.date | None = None,
                                 instrument_type: str = "") -> list[ExpiringAuthorisation]:
    """Authorisations valid on ``on`` whose last day falls within ``within_days`` days, soonest first.

    Left out: revoked ones (they end on purpose), and ones already renewed — another authorisation of the same
    person and type, covering at least the same work, continues the cover from the next day.
    """
    on = on or centre_today()
    horizon = on + dt.timedelta(days=within_days)
    query = select(Authorisation).where(Authorisation.valid_from <= on, Authorisation.valid_until >= on,
                                        Authorisation.valid_until <= horizon,
                                        Authorisation.revoked_date.is_(None))
    if instrument_type:
        query = query.where(Authorisation.instrument_type == instrument_type)
    rows = []
    for authorisation in session.scalars(query):
        same = session.scalars(select(Authorisation).where(
            Authorisation.user_id == authorisation.user_id,
            Authorisation.instrument_type == authorisation.instrument_type,
            Authorisation.id != authorisation.id)).all()
        wanted = set(activity_codes(authorisation))
        successors = [a for a in same if wanted <= set(activity_codes(a))]
        if _cover_until(authorisation, successors) > authorisation.valid_until:
            continue
        rows.append(ExpiringAuthorisation(authorisation, (authorisation.valid_until - on).days))
    rows.sort(key=lambda row: (row.authorisation.valid_until, fold(row.authorisation.user.full_name)))
    return rows


def search_authorisations(session: Session, *, q: str = "", instrument_type: str = "", state: str = "",
                          on: dt.date | None = None, within_days: int = EXPIRING_DAYS
                          ) -> list[tuple[Authorisation, str]]:
    """Every authorisation with its state on ``on`` (``expiring`` when valid and ending within ``within_days``),
    filtered by person or card number (accent-insensitive), type and state; by person, type, newest first."""
    on = on or centre_today()
    query = select(Authorisation)
    if instrument_type:
        query = query.where(Authorisation.instrument_type == instrument_type)
    key = fold(q)
    rows = []
    for authorisation in session.scalars(query):
        if key and key not in fold(authorisation.user.full_name) and key not in fold(authorisation.card_number):
            continue
        current = status_on(authorisation, on)
        if current == "valid" and last_valid_day(authorisation) <= on + dt.timedelta(days=within_days):
            current = "expiring"
        if state and current != state:
            continue
        rows.append((authorisation, current))
    rows.sort(key=lambda row: (fold(row[0].user.full_name), row[0].user_id, row[0].instrument_type,
                               -row[0].valid_until.toordinal(), -row[0].id))
    return rows


# --- training report ------------------------------------------------------------------------------------------------

@dataclass
class CourseLine:
    """One course in a year's report: trainees (distinct people) and hours."""

    course: str
    provider: str
    start_date: dt.date
    end_date: dt.date
    trainees: int
    course_hours: Decimal
    trainee_hours: Decimal


@dataclass
class TrainingReport:
    """A year's training (by the year each course ended): per course, and totals — trainees (distinct people),
    attendances (a person on two courses counts twice) and trainee-hours."""

    year: int
    courses: list[CourseLine] = field(default_factory=list)
    trainees: int = 0
    attendances: int = 0
    trainee_hours: Decimal = Decimal("0")
    records: list[Training] = field(default_factory=list)


def training_years(session: Session) -> list[int]:
    """The years in which recorded trainings ended, newest first."""
    years = session.scalars(select(extract("year", Training.end_date)).distinct())
    return sorted({int(y) for y in years}, reverse=True)


def training_report(session: Session, *, year: int) -> TrainingReport:
    """Trainings that ended in ``year``: the figures the province's Đề án 996 report asks for."""
    records = list(session.scalars(select(Training).where(Training.end_date >= dt.date(year, 1, 1),
                                                          Training.end_date <= dt.date(year, 12, 31))
                                   .order_by(Training.start_date, Training.course, Training.id)))
    report = TrainingReport(year=year, records=records)
    groups: dict[tuple[str, str], list[Training]] = {}
    for record in records:
        groups.setdefault((fold(record.course), fold(record.provider)), []).append(record)
    for items in groups.values():
        report.courses.append(CourseLine(
            course=items[0].course, provider=items[0].provider,
            start_date=min(t.start_date for t in items), end_date=max(t.end_date for t in items),
            trainees=len({t.user_id for t in items}), course_hours=max(t.hours for t in items),
            trainee_hours=sum((t.hours for t in items), Decimal("0"))))
    report.courses.sort(key=lambda line: (line.start_date, fold(line.course)))
    report.trainees = len({t.user_id for t in records})
    report.attendances = len(records)
    report.trainee_hours = sum((t.hours for t in records), Decimal("0"))
    return report


def grantor_choices(session: Session) -> list[User]:
    """Users who may be named as granting an authorisation: active approvers and quality managers."""
    return _sorted_people(_staff(session, ("approver", "quality_manager"), holding=()))
