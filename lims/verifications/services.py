"""Verification and calibration records: data entry, the checks before submission, electronic signatures,
review, approval and amendments (ISO/IEC 17025 7.5, 7.6, 7.8; DESIGN.md §5).

Services take the session and keyword arguments, raise ``VerificationError`` (``field`` names the argument at fault)
with a sentence a technician understands, flush, and leave the commit to their caller.

The life of a record::

    draft ──submit (technician signs "performed")──> submitted ──review (reviewer signs)──> reviewed
          ──approve (approver signs)──> approved

- A draft is edited freely (details, standards, conditions, readings); ``cancel`` drops a draft opened by mistake.
- ``submit`` refuses with *every* reason at once (``SubmissionRefusedError.reasons``): the technician's
  authorisation on the date, each standard's calibration status and adequacy, the conditions against the method's
  limits, the method in force, the tests the method requires, readings the engine cannot evaluate.
- A signature re-enters the password (a wrong one is refused and recorded as ``sign_failed`` in the audit trail —
  callers commit after ``WrongPasswordError`` too, so that the attempt is counted), records the meaning, the signer,
  the time (UTC) and ``record_sha256``: the SHA-256 of the canonical JSON of the record version signed
  (``record_document``). ``signature_matches`` recomputes it from the stored row.
- From submission on nothing is edited in place: ``amend`` opens a new revision (same ``root_id``, ``revision`` + 1,
  ``supersedes_id``) as a draft with its reason; when that revision is submitted the old one becomes ``superseded``,
  keeping its signatures.

For the certificates: ``approve(session, verification=…, approver_id=…, password=…)`` returns the approved record;
``certificate_facts(session, verification)`` gathers what a certificate prints; ``record_sha256(verification)`` is
the digest its seal may carry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.audit.services import jsonable
from lims.auth import services as auth
from lims.auth.models import User
from lims.dates import centre_today, from_local, local
from lims.exceptions import FieldError
from lims.facilities import services as facilities
from lims.facilities.models import Room
from lims.jobs import services as jobs
from lims.jobs.models import Job, JobItem
from lims.methods import services as methods
from lims.methods.models import MethodVersion
from lims.models import utcnow
from lims.personnel import services as personnel
from lims.registry.models import Customer, Instrument
from lims.standards import services as standards
from lims.standards.models import Standard
from lims.text import fold, fold_serial

from . import entry
from .models import KINDS, MEANINGS, STATES, Signature, Verification, VerificationStandard

KIND_LABELS = {
    "initial": _l("Kiểm định ban đầu"),
    "periodic": _l("Kiểm định định kỳ"),
    "after_repair": _l("Kiểm định sau sửa chữa"),
    "extraordinary": _l("Kiểm định bất thường"),
    "calibration": _l("Hiệu chuẩn"),
}
STATE_LABELS = {
    "draft": _l("Bản nháp"),
    "submitted": _l("Chờ soát xét"),
    "reviewed": _l("Chờ phê duyệt"),
    "approved": _l("Đã phê duyệt"),
    "superseded": _l("Đã được thay thế"),
    "cancelled": _l("Đã huỷ"),
}
MEANING_LABELS = {
    "performed": _l("Người thực hiện"),
    "reviewed": _l("Người soát xét"),
    "approved": _l("Người phê duyệt"),
}
CONDITION_SOURCES = {"log": _l("Lấy từ nhật ký phòng"), "entered": _l("Nhập tay")}
#: States in which a record holds the item: another one cannot be opened for it.
LIVE_STATES = ("draft", "submitted", "reviewed", "approved")
#: Standards that measure (their adequacy is judged against the instrument's MPE); others are auxiliary
#: (thermo-hygrometers, barometers, comparators) and only need to be in calibration.
MEASURING_KINDS = {
    "nawi": standards.MASS_KINDS,
    "weight": standards.MASS_KINDS,
    "energy_meter": ("reference_meter", "meter_bench"),
    "taximeter": ("taximeter_bench", "timer"),
}
LENGTHS = {"place": 300, "notes": 4000, "reason": 1000}
#: Every verification kind uses the initial-verification MPE (DOMAIN.md §2); calibration too.
STAGE = "initial"


class VerificationError(FieldError):
    """A change to a record was refused; ``field`` names the argument at fault."""


class SubmissionRefusedError(VerificationError):
    """The record may not be submitted; ``reasons`` lists every reason, each a sentence naming what is wrong."""

    def __init__(self, reasons: Sequence[str]):
        super().__init__("record", " ".join(reasons))
        self.reasons = list(reasons)


class SignatureRefusedError(VerificationError):
    """The person may not sign this record now (state, role, authorisation); the message says why."""

    def __init__(self, message: str):
        super().__init__("password", message)


class WrongPasswordError(SignatureRefusedError):
    """The password re-entered for a signature was wrong; the attempt is in the audit trail (callers commit)."""


def method_kind(kind: str) -> str:
    """The methods' kind of work for a record kind: calibration, or verification (the four kinds)."""
    return "calibration" if kind == "calibration" else "verification"


def type_name(code: str) -> str:
    return instruments.get(code).name_vi


# --- engine messages ----------------------------------------------------------------------------------------------

_ENGINE_PHRASES = [
    (re.compile(r"^missing$"), _l("Chưa nhập.")),
    (re.compile(r"^not a (?:finite )?number \((.*)\)$"), _l("Không phải là số (%(value)s).")),
    (re.compile(r"^must be greater than zero \((.*)\)$"), _l("Phải lớn hơn 0 (%(value)s).")),
    (re.compile(r"^must not be negative \((.*)\)$"), _l("Không được âm (%(value)s).")),
    (re.compile(r"^must be a whole number \((.*)\)$"), _l("Phải là số nguyên (%(value)s).")),
    (re.compile(r"^out of range \((.*)\)$"), _l("Ngoài phạm vi (%(value)s).")),
    (re.compile(r"^too many digits \((.*)\)$"), _l("Quá nhiều chữ số (%(value)s).")),
    (re.compile(r"^needs at least (\d+) items?$"), _l("Cần ít nhất %(value)s giá trị.")),
]


def engine_message(text: str) -> str:
    """An engine message (English, DESIGN.md §6) in Vietnamese where it is one of the common ones.

    The engine's path is not part of ``text`` (it names the input the message is shown next to).
    """
    for pattern, template in _ENGINE_PHRASES:
        if m := pattern.match(text):
            return str(template) % {"value": m.group(1)} if m.groups() else str(template)
    return _("Lỗi tính toán: %(message)s", message=text)


# --- reading ------------------------------------------------------------------------------------------------------

def get_verification(session: Session, verification_id: int) -> Verification | None:
    return session.get(Verification, verification_id)


def revisions(session: Session, verification: Verification) -> list[Verification]:
    """Every revision of the record, first to last."""
    return list(session.scalars(select(Verification).where(Verification.root_id == verification.root_id)
                                .order_by(Verification.revision)))


def latest_revision(session: Session, verification: Verification) -> Verification:
    return session.scalars(select(Verification).where(Verification.root_id == verification.root_id)
                           .order_by(Verification.revision.desc()).limit(1)).one()


def layout(verification: Verification) -> entry.Layout:
    """The data-entry sheet of the record's instrument (from the spec copied onto the record)."""
    return entry.layout_for(verification.instrument.type_code, verification.spec, STAGE)


def sheet(verification: Verification, lay: entry.Layout | None = None) -> tuple[entry.Layout, dict[str, str]]:
    lay = lay or layout(verification)
    return lay, entry.sheet_from_readings(lay, verification.readings or {})


def evaluate(verification: Verification, values: Mapping[str, Any]) -> entry.Evaluation:
    """Run the engine on a sheet for this record without storing anything (the live endpoint); engine messages in
    Vietnamese."""
    evaluation = entry.evaluate_sheet(layout(verification), verification.spec, values, stage=STAGE)
    evaluation.errors = {name: engine_message(text) for name, text in evaluation.errors.items()}
    return evaluation


# --- creation and editing -----------------------------------------------------------------------------------------

def _clean_text(value: Any, field_name: str, *, label: str, required: bool = False, max_length: int | None = None,
                multiline: bool = False) -> str:
    try:
        return jobs.clean_text(value, field_name, label=label, required=required,
                               max_length=max_length or LENGTHS[field_name], multiline=multiline)
    except jobs.JobError as exc:
        raise VerificationError(exc.field, str(exc)) from None


def _require(session: Session, model, value: Any, field_name: str, message: str):
    if value in (None, ""):
        return None
    try:
        found = session.get(model, int(value))
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise VerificationError(field_name, message)
    return found


def _require_draft(verification: Verification) -> None:
    if verification.state != "draft":
        raise VerificationError("state", _("Biên bản #%(id)s đã %(state)s: không sửa trực tiếp được. Hãy lập bản "
                                           "sửa đổi.", id=verification.root_id,
                                           state=str(STATE_LABELS[verification.state]).lower()))


def create_verification(session: Session, *, job_item: JobItem, technician_id: int, performed_date: dt.date,
                        kind: str | None = None, method_version_id: Any = None, place: Any = "",
                        room_id: Any = None, standard_ids: Sequence[Any] = (), notes: Any = "") -> Verification:
    """Open a draft record for a received item: the kind from the item's service unless given, the instrument's
    spec copied. Callers commit."""
    job = job_item.job
    if job.state not in ("received", "in_progress"):
        raise VerificationError("job_item_id", _("Yêu cầu %(number)s đã %(state)s: không lập biên bản mới được.",
                                                 number=job.number, state=str(jobs.STATE_LABELS[job.state]).lower()))
    live = session.scalar(select(Verification).where(Verification.job_item_id == job_item.id,
                                                     Verification.state.in_(LIVE_STATES)).limit(1))
    if live is not None:
        raise VerificationError("job_item_id", _("Phương tiện đo này đã có biên bản #%(id)s (%(state)s).",
                                                 id=live.root_id, state=STATE_LABELS[live.state]))
    kind = kind or job_item.service
    if kind not in KINDS:
        raise VerificationError("kind", _("Loại công việc không hợp lệ: %(value)s.", value=kind))
    technician = _require(session, User, technician_id, "technician_id",
                          _("Không tìm thấy kiểm định viên được chọn."))
    if technician is None or not technician.is_active:
        raise VerificationError("technician_id", _("Hãy chọn kiểm định viên thực hiện."))
    if not isinstance(performed_date, dt.date):
        raise VerificationError("performed_date", _("Hãy nhập ngày thực hiện (dd/mm/yyyy)."))
    instrument = job_item.instrument
    try:
        spec = instruments.get(instrument.type_code).validate_spec(instrument.spec)
    except instruments.SpecError as exc:
        raise VerificationError("job_item_id", _("Đặc trưng kỹ thuật của phương tiện đo không hợp lệ: %(message)s",
                                                 message=str(exc))) from None
    verification = Verification(job_item_id=job_item.id, instrument_id=instrument.id, kind=kind,
                                technician_id=technician.id, performed_date=performed_date, conditions={},
                                spec=spec, readings={}, result=None, passed=None, state="draft")
    session.add(verification)
    _set_details(session, verification, method_version_id=method_version_id, place=place, room_id=room_id,
                 standard_ids=standard_ids, notes=notes)
    session.flush()
    verification.root_id = verification.id
    jobs.follow_verifications(session, job=job)
    session.flush()
    return verification


def _set_details(session: Session, verification: Verification, *, method_version_id: Any, place: Any,
                 room_id: Any, standard_ids: Sequence[Any], notes: Any) -> None:
    method = _require(session, MethodVersion, method_version_id, "method_version_id",
                      _("Không tìm thấy phương pháp được chọn."))
    room = _require(session, Room, room_id, "room_id", _("Không tìm thấy phòng được chọn."))
    verification.method_version_id = method.id if method else None
    verification.room_id = room.id if room else None
    verification.place = _clean_text(place, "place", label=_("Địa điểm thực hiện"))
    verification.notes = _clean_text(notes, "notes", label=_("Ghi chú"), multiline=True)
    _set_standards(session, verification, standard_ids)


def _set_standards(session: Session, verification: Verification, standard_ids: Sequence[Any]) -> None:
    wanted = []
    for value in standard_ids or ():
        try:
            wanted.append(int(value))
        except (TypeError, ValueError):
            raise VerificationError("standard_ids", _("Chuẩn được chọn không hợp lệ.")) from None
    wanted = list(dict.fromkeys(wanted))
    found = {s.id for s in session.scalars(select(Standard).where(Standard.id.in_(wanted)))} if wanted else set()
    if missing := [i for i in wanted if i not in found]:
        raise VerificationError("standard_ids", _("Không tìm thấy chuẩn số %(id)s.", id=missing[0]))
    current = {link.standard_id: link for link in verification.standards}
    for standard_id, link in current.items():
        if standard_id not in wanted:
            verification.standards.remove(link)
    for standard_id in wanted:
        if standard_id not in current:
            verification.standards.append(VerificationStandard(standard_id=standard_id))
    session.flush()
    _refresh_calibrations(session, verification)


def _refresh_calibrations(session: Session, verification: Verification) -> None:
    """Record, for each standard, the calibration in force on the work date (the traceability of the result)."""
    links = list(verification.standards)
    if not links:
        return
    by_id = {s.id: s for s in session.scalars(select(Standard).where(
        Standard.id.in_([link.standard_id for link in links])))}
    for link, status in zip(links, standards.statuses(session, [by_id[link.standard_id] for link in links],
                                                      on=verification.performed_date)):
        calibration_id = status.calibration.id if status.calibration is not None else None
        if link.calibration_id != calibration_id:
            link.calibration_id = calibration_id


def _period(performed_date: dt.date, start: dt.time | None, end: dt.time | None
            ) -> tuple[dt.datetime | None, dt.datetime | None]:
    if start is None or end is None:
        if start is not None or end is not None:
            raise VerificationError("finished_at", _("Hãy ghi cả giờ bắt đầu và giờ kết thúc."))
        return None, None
    begin = from_local(dt.datetime.combine(performed_date, start))
    finish = from_local(dt.datetime.combine(performed_date, end))
    if finish <= begin:
        raise VerificationError("finished_at", _("Giờ kết thúc phải sau giờ bắt đầu."))
    return begin, finish


def update_details(session: Session, *, verification: Verification, method_version_id: Any,
                   performed_date: dt.date, start_time: dt.time | None, end_time: dt.time | None, place: Any,
                   room_id: Any, standard_ids: Sequence[Any], conditions_source: str = "entered",
                   temperature_c: Any = None, humidity_pct: Any = None, pressure_hpa: Any = None,
                   technician_id: Any = None, notes: Any = "") -> Verification:
    """Change a draft's method, date and work period, place, room, standards and conditions. Callers commit.

    ``conditions_source="log"`` takes the room's reading nearest to the middle of the work period
    (``facilities.conditions_at``); ``"entered"`` keeps the values typed (on site, or a room without a logger).
    """
    _require_draft(verification)
    if not isinstance(performed_date, dt.date):
        raise VerificationError("performed_date", _("Hãy nhập ngày thực hiện (dd/mm/yyyy)."))
    if technician_id not in (None, ""):
        technician = _require(session, User, technician_id, "technician_id",
                              _("Không tìm thấy kiểm định viên được chọn."))
        verification.technician_id = technician.id
    verification.performed_date = performed_date
    verification.started_at, verification.finished_at = _period(performed_date, start_time, end_time)
    _set_details(session, verification, method_version_id=method_version_id, place=place, room_id=room_id,
                 standard_ids=standard_ids, notes=notes)
    verification.conditions = _conditions(session, verification, source=conditions_source,
                                          values={"temperature_c": temperature_c, "humidity_pct": humidity_pct,
                                                  "pressure_hpa": pressure_hpa})
    session.flush()
    return verification


def _conditions(session: Session, verification: Verification, *, source: str, values: Mapping[str, Any]) -> dict:
    if source == "log":
        if verification.room_id is None:
            raise VerificationError("room_id", _("Hãy chọn phòng để lấy điều kiện môi trường từ nhật ký."))
        if verification.started_at is None:
            raise VerificationError("start_time", _("Hãy ghi giờ bắt đầu và kết thúc để lấy điều kiện từ nhật ký."))
        middle = verification.started_at + (verification.finished_at - verification.started_at) / 2
        reading = facilities.conditions_at(session, room_id=verification.room_id, at=middle)
        if reading is None:
            room = session.get(Room, verification.room_id)
            raise VerificationError("conditions_source", _(
                "Nhật ký phòng %(code)s không có số đo nào trong vòng 30 phút quanh %(time)s; hãy nhập điều kiện "
                "bằng tay.", code=room.code, time=facilities.time_text(middle)))
        conditions = {"source": "log", "taken_at": reading.taken_at.isoformat(), "reading_id": reading.id}
        for quantity in facilities.QUANTITIES:
            value = getattr(reading, quantity)
            if value is not None:
                conditions[quantity] = standards.plain(value)
        return conditions
    if source != "entered":
        raise VerificationError("conditions_source", _("Nguồn điều kiện môi trường không hợp lệ."))
    conditions: dict[str, Any] = {"source": "entered"}
    for quantity in facilities.QUANTITIES:
        try:
            value = facilities.clean_quantity(quantity, values.get(quantity))
        except facilities.FacilitiesError as exc:
            raise VerificationError(quantity, str(exc)) from None
        if value is not None:
            conditions[quantity] = standards.plain(value)
    return conditions


def record_readings(session: Session, *, verification: Verification, values: Mapping[str, Any]
                    ) -> entry.Evaluation:
    """Store the readings typed on the sheet and the result the engine computes from them on the server (with the
    engine version and rules digest). Readings the engine refuses are stored as typed, without a result; the
    evaluation says what is wrong. Callers commit."""
    _require_draft(verification)
    evaluation = evaluate(verification, values)
    verification.readings = evaluation.readings
    verification.result = evaluation.result
    verification.passed = evaluation.passed
    session.flush()
    return evaluation


def cancel(session: Session, *, verification: Verification, reason: Any) -> Verification:
    """Drop a draft opened by mistake (kept, marked cancelled, with the reason in the audit trail). Callers commit."""
    _require_draft(verification)
    why = _clean_text(reason, "reason", label=_("Lý do"), required=True)
    with audit.reason(session, why):
        verification.state = "cancelled"
        session.flush()
    return verification


# --- the record's hash ------------------------------------------------------------------------------------------

def record_document(verification: Verification) -> dict:
    """The content a signature covers: everything that makes the result, none of the workflow state.

    Keys: the record's identity and revision, the instrument and its spec, kind, method version, technician, date
    and work period, place and room, the conditions, the standards with the calibration in force, the readings, the
    engine's result and verdict, the notes.
    """
    return jsonable({
        "id": verification.id,
        "root_id": verification.root_id,
        "revision": verification.revision,
        "supersedes_id": verification.supersedes_id,
        "amendment_reason": verification.amendment_reason,
        "job_item_id": verification.job_item_id,
        "instrument_id": verification.instrument_id,
        "kind": verification.kind,
        "method_version_id": verification.method_version_id,
        "technician_id": verification.technician_id,
        "performed_date": verification.performed_date,
        "started_at": verification.started_at,
        "finished_at": verification.finished_at,
        "place": verification.place,
        "room_id": verification.room_id,
        "conditions": verification.conditions or {},
        "standards": sorted([link.standard_id, link.calibration_id] for link in verification.standards),
        "spec": verification.spec or {},
        "readings": verification.readings or {},
        "result": verification.result,
        "passed": verification.passed,
        "notes": verification.notes,
    })


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Keys sorted, no spaces, UTF-8 (RFC 8785-like for the strings, booleans and decimal strings used here)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_sha256(verification: Verification) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record_document(verification)``."""
    return hashlib.sha256(canonical_json(record_document(verification))).hexdigest()


def signature_matches(session: Session, signature: Signature) -> bool:
    """Whether the record as stored now still has the hash its signature recorded (reloaded from the database)."""
    verification = session.execute(select(Verification).where(Verification.id == signature.verification_id)
                                    .execution_options(populate_existing=True)).scalar_one()
    return record_sha256(verification) == signature.record_sha256


# --- signatures ---------------------------------------------------------------------------------------------------

def _check_password(session: Session, *, verification: Verification, user: User, password: str,
                    meaning: str) -> None:
    if not auth.verify_password(user, password):
        audit.record(session, action="sign_failed", entity_type="verifications", entity_id=verification.id,
                     changes={"meaning": meaning, "signer_id": user.id, "signer": user.username})
        session.flush()
        raise WrongPasswordError(_("Mật khẩu không đúng: chữ ký không được ghi nhận (lần thử đã được ghi vào nhật "
                                   "ký kiểm toán)."))


def _sign(session: Session, *, verification: Verification, user: User, meaning: str, card_number: str = "",
          now: dt.datetime | None = None) -> Signature:
    if meaning not in MEANINGS:
        raise ValueError(f"meaning must be one of {MEANINGS}")
    digest = record_sha256(verification)
    signature = Signature(verification_id=verification.id, meaning=meaning, signer_id=user.id,
                          signer_name=user.full_name, signed_at=now or utcnow(), card_number=card_number or "",
                          record_sha256=digest)
    session.add(signature)
    verification.signatures.append(signature)
    audit.record(session, action="sign", entity_type="verifications", entity_id=verification.id,
                 changes={"meaning": meaning, "signer_id": user.id, "signer": user.full_name,
                          "record_sha256": digest, "card_number": card_number or ""})
    session.flush()
    return signature


def _lock(session: Session, verification: Verification) -> None:
    """Hold the record's row until the caller's transaction ends, so that two signing requests for the same record
    (a double click, a replay) run one after the other and the second sees the state the first left. SQLite's writer
    session holds the database's write lock already."""
    if session.get_bind().dialect.name != "sqlite":
        table = Verification.__table__
        session.execute(select(table.c.id).where(table.c.id == verification.id).with_for_update())
        session.refresh(verification)  # what the previous holder of the lock committed


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, int(user_id))
    if user is None or not user.is_active:
        raise SignatureRefusedError(_("Người ký không tồn tại hoặc đã ngừng hoạt động."))
    return user


def _newer_revision(session: Session, verification: Verification) -> Verification | None:
    latest = latest_revision(session, verification)
    return latest if latest.id != verification.id else None


# --- submission -------------------------------------------------------------------------------------------------

def _readings_points(type_code: str, readings: Mapping[str, Any]) -> list[Any]:
    """The loads or points at which the standards' adequacy is judged (``standards.assess_adequacy``)."""
    points: list[Any] = []

    def items(key: str) -> list:
        value = readings.get(key)
        return value if isinstance(value, list) else []

    if type_code == "nawi":
        loads = [item.get("load") for item in items("weighing") if isinstance(item, Mapping)]
        ecc = readings.get("eccentricity")
        if isinstance(ecc, Mapping):
            loads.append(ecc.get("load"))
        loads += [item.get("load") for item in items("repeatability") if isinstance(item, Mapping)]
        seen = set()
        for load in loads:
            try:
                number = Decimal(str(load))
            except (InvalidOperation, TypeError, ValueError):
                continue
            if number > 0 and number not in seen:
                seen.add(number)
                points.append(str(load))
    elif type_code == "weight":
        points.append(None)
    elif type_code == "energy_meter":
        points = [{"current_a": item.get("current_a"), "pf": item.get("pf") or "1"}
                  for item in items("accuracy") if isinstance(item, Mapping)]
    elif type_code == "taximeter":
        mode = readings.get("mode") or "installed"
        points = [{"quantity": "distance", "reference": item.get("reference_m"), "mode": mode}
                  for item in items("distance") if isinstance(item, Mapping)]
        points += [{"quantity": "time", "reference": item.get("reference_s"), "mode": mode}
                   for item in items("time") if isinstance(item, Mapping)]
    return points


def _plan_points(type_code: str, spec: Mapping[str, Any]) -> list[Any]:
    lay = entry.layout_for(type_code, spec, STAGE)
    readings: dict[str, Any] = {}
    for section in lay.sections:
        rows = [dict(row.defaults) for row in section.rows if row.defaults]
        if section.shape == "list" and rows:
            readings[section.test] = rows
        elif section.shape == "nested" and section.header:
            readings[section.test] = {"load": section.header[0].default}
    return _readings_points(type_code, readings)


def _judge_standard(standard: Standard, *, type_code: str, spec: Mapping[str, Any], points: Sequence[Any],
                    divisor: Any) -> tuple[bool, bool, str]:
    """(usable at some point, inadequate at some point, the reason to show)."""
    adequate_somewhere, reason = False, ""
    for point in points:
        try:
            result = standards.assess_adequacy(standard, instrument_type=type_code, spec=spec, load_or_point=point,
                                               divisor=divisor, stage=STAGE)
        except standards.AdequacyError:
            continue
        if result.is_adequate:
            adequate_somewhere = True
        elif result.standard_error is not None:
            return adequate_somewhere, True, result.reason
        else:
            reason = reason or result.reason
    return adequate_somewhere, False, reason


def offered_standards(session: Session, *, instrument: Instrument, spec: Mapping[str, Any], on: dt.date,
                      method: MethodVersion | None) -> list[standards.StandardStatus]:
    """What the form offers: standards intended for the type and usable on ``on``; where the method sets an
    adequacy ratio, measuring standards only when adequate at one or more of the plan's points (auxiliary ones —
    thermo-hygrometers, barometers, comparators — always)."""
    type_code = instrument.type_code
    usable = standards.usable_standards(session, instrument_type=type_code, on=on)
    if method is None or not method.adequacy_divisor:
        return usable
    points = _plan_points(type_code, spec)
    kept = []
    for status in usable:
        if status.standard.kind not in MEASURING_KINDS[type_code]:
            kept.append(status)
            continue
        adequate, _inadequate, _reason = _judge_standard(status.standard, type_code=type_code, spec=spec,
                                                         points=points, divisor=method.adequacy_divisor)
        if adequate:
            kept.append(status)
    return kept


def _conditions_problems(session: Session, verification: Verification, method: MethodVersion) -> list[str]:
    limits = {q: v for q, v in (method.environment_limits or {}).items() if q in facilities.QUANTITIES and v}
    if not limits:
        return []
    if verification.started_at is None or verification.finished_at is None:
        return [_("Chưa ghi giờ bắt đầu và kết thúc công việc: không kiểm tra được điều kiện môi trường theo "
                  "%(method)s.", method=method.designation)]
    conditions = verification.conditions or {}
    if verification.room_id is not None:
        check = facilities.check_conditions(session, room_id=verification.room_id, start=verification.started_at,
                                            end=verification.finished_at, limits=limits)
        if check.readings or conditions.get("source") != "entered":
            return [_("Điều kiện môi trường ngoài giới hạn của %(method)s: %(message)s.", method=method.designation,
                      message=message) for message in check.messages]
    problems = []
    for quantity, bounds in limits.items():
        low = Decimal(str(bounds["min"])) if bounds.get("min") not in (None, "") else None
        high = Decimal(str(bounds["max"])) if bounds.get("max") not in (None, "") else None
        if low is None and high is None:
            continue
        name, unit = facilities.QUANTITIES[quantity][:2]
        limit = facilities.range_text(quantity, low, high)
        value = conditions.get(quantity)
        if value in (None, ""):
            problems.append(_("Chưa ghi %(name)s, mà %(method)s giới hạn %(limit)s.", name=str(name).lower(),
                              method=method.designation, limit=limit))
            continue
        number = Decimal(str(value))
        if (low is not None and number < low) or (high is not None and number > high):
            problems.append(_("%(name)s %(value)s %(unit)s ngoài giới hạn %(limit)s của %(method)s.", name=name,
                              value=facilities.decimal_text(number), unit=unit, limit=limit,
                              method=method.designation))
    return problems


def submission_problems(session: Session, *, verification: Verification) -> list[str]:
    """Every reason the record may not be submitted (empty when it may), each a sentence naming what is wrong:
    the work date (not before the receipt, not in the future), authorisation, method, readings, required tests,
    standards (status and adequacy), conditions."""
    v = verification
    type_code = v.instrument.type_code
    on = v.performed_date
    problems: list[str] = []
    if v.job_item is not None and on < v.job_item.job.received_date:
        problems.append(_("Ngày thực hiện %(on)s trước ngày tiếp nhận %(received)s của yêu cầu %(number)s.",
                          on=on.strftime("%d/%m/%Y"), received=v.job_item.job.received_date.strftime("%d/%m/%Y"),
                          number=v.job_item.job.number))
    if on > centre_today():
        problems.append(_("Ngày thực hiện %(on)s chưa đến.", on=on.strftime("%d/%m/%Y")))
    decision = personnel.may_perform(session, user_id=v.technician_id, instrument_type=type_code, on=on)
    if not decision.allowed:
        problems.append(decision.reason)
    method = None
    if v.method_version_id is None:
        problems.append(_("Chưa chọn phương pháp (quy trình kiểm định, hiệu chuẩn)."))
    else:
        try:
            method = methods.method_in_force(session, method_version_id=v.method_version_id, on=on,
                                             instrument_type=type_code, kind=method_kind(v.kind))
        except methods.MethodError as exc:
            problems.append(str(exc))
            method = session.get(MethodVersion, v.method_version_id)
    try:
        instruments.get(type_code).evaluate(v.spec, v.readings or {}, STAGE)
    except instruments.MetrologyError as exc:
        path, text = entry.split_message(str(exc))
        problems.append(_("Số đo chưa tính được kết quả: %(where)s%(message)s", where=f"{path}: " if path else "",
                          message=engine_message(text)))
    if method is not None:
        missing = [t for t in method.required_tests if not (v.readings or {}).get(t)]
        if missing:
            problems.append(_("Thiếu phép thử mà %(method)s yêu cầu: %(tests)s.", method=method.designation,
                              tests=", ".join(methods.required_test_label(t) for t in missing)))
    links = list(v.standards)
    if not links:
        problems.append(_("Chưa chọn chuẩn đo lường nào."))
    else:
        try:
            standards.check_usable(session, standard_ids=[link.standard_id for link in links], on=on)
        except standards.StandardNotUsableError as exc:
            problems.extend(p.message for p in exc.problems)
        if method is not None and method.adequacy_divisor:
            points = _readings_points(type_code, v.readings or {})
            for link in links:
                standard = link.standard
                if standard.kind not in MEASURING_KINDS[type_code]:
                    continue
                adequate, inadequate, reason = _judge_standard(standard, type_code=type_code, spec=v.spec,
                                                               points=points, divisor=method.adequacy_divisor)
                if inadequate:
                    problems.append(reason)
                elif not adequate and points:
                    problems.append(_("Chuẩn %(code)s không dùng được ở điểm đo nào của phương tiện đo này: "
                                      "%(why)s", code=standard.code, why=reason))
    if method is not None:
        problems.extend(_conditions_problems(session, v, method))
    return problems


def submit(session: Session, *, verification: Verification, user_id: int, password: str,
           now: dt.datetime | None = None) -> Verification:
    """The technician signs the record "performed": refused with every reason when a check fails
    (``SubmissionRefusedError``), or for a wrong password (``WrongPasswordError``, recorded — commit anyway).
    The previous revision, if any, becomes superseded. Callers commit."""
    user = _user(session, user_id)
    _lock(session, verification)
    if verification.state != "draft":
        raise SignatureRefusedError(_("Biên bản #%(id)s đã %(state)s.", id=verification.root_id,
                                      state=str(STATE_LABELS[verification.state]).lower()))
    if user.id != verification.technician_id:
        raise SignatureRefusedError(_("Chỉ kiểm định viên thực hiện (%(name)s) mới ký gửi biên bản này.",
                                      name=verification.technician.full_name))
    _check_password(session, verification=verification, user=user, password=password, meaning="performed")
    problems = submission_problems(session, verification=verification)
    if problems:
        raise SubmissionRefusedError(problems)
    # The result signed is the one the engine computes now from the stored readings, with its version.
    result = instruments.get(verification.instrument.type_code).evaluate(verification.spec, verification.readings,
                                                                         STAGE)
    verification.result, verification.passed = result.to_dict(), bool(result.passed)
    _refresh_calibrations(session, verification)
    decision = personnel.may_perform(session, user_id=user.id, instrument_type=verification.instrument.type_code,
                                     on=verification.performed_date)
    session.flush()
    _sign(session, verification=verification, user=user, meaning="performed", card_number=decision.card_number,
          now=now)
    verification.state = "submitted"
    if verification.supersedes_id is not None:
        previous = session.get(Verification, verification.supersedes_id)
        with audit.reason(session, verification.amendment_reason or None):
            previous.state = "superseded"
    session.flush()
    return verification


def _check_signer(session: Session, *, verification: Verification, user: User, meaning: str, expected_state: str,
                  on: dt.date) -> personnel.Decision:
    _lock(session, verification)
    if verification.state != expected_state:
        raise SignatureRefusedError(_("Biên bản #%(id)s đang ở trạng thái “%(state)s”, không ký %(meaning)s "
                                      "được.", id=verification.root_id, state=STATE_LABELS[verification.state],
                                      meaning=str(MEANING_LABELS[meaning]).lower()))
    if newer := _newer_revision(session, verification):
        raise SignatureRefusedError(_("Biên bản #%(id)s đang được sửa đổi (lần %(n)d): hãy ký bản mới khi bản đó "
                                      "được gửi.", id=verification.root_id, n=newer.revision))
    if user.id == verification.technician_id:
        raise SignatureRefusedError(_("%(name)s là người thực hiện biên bản này nên không được ký %(meaning)s.",
                                      name=user.full_name, meaning=str(MEANING_LABELS[meaning]).lower()))
    decision = personnel.may_sign(session, user_id=user.id, instrument_type=verification.instrument.type_code,
                                  meaning=meaning, on=on)
    if not decision.allowed:
        raise SignatureRefusedError(decision.reason)
    return decision


def review(session: Session, *, verification: Verification, reviewer_id: int, password: str,
           on: dt.date | None = None, now: dt.datetime | None = None) -> Verification:
    """The reviewer signs "reviewed": never the technician, and holding a reviewing authorisation for the type on
    ``on`` (today at the centre). Wrong password: ``WrongPasswordError`` (recorded — commit anyway). Callers commit."""
    user = _user(session, reviewer_id)
    decision = _check_signer(session, verification=verification, user=user, meaning="reviewed",
                             expected_state="submitted", on=on or centre_today())
    _check_password(session, verification=verification, user=user, password=password, meaning="reviewed")
    _sign(session, verification=verification, user=user, meaning="reviewed", card_number=decision.card_number,
          now=now)
    verification.state = "reviewed"
    session.flush()
    return verification


def approve(session: Session, *, verification: Verification, approver_id: int, password: str,
            on: dt.date | None = None, now: dt.datetime | None = None) -> Verification:
    """The approver signs "approved": not the technician, and holding an approving authorisation for the type on
    ``on`` (today at the centre). Returns the approved record; the job is completed when all its items are.
    Wrong password: ``WrongPasswordError`` (recorded — commit anyway). Callers commit (issue the certificate in the
    same transaction)."""
    user = _user(session, approver_id)
    decision = _check_signer(session, verification=verification, user=user, meaning="approved",
                             expected_state="reviewed", on=on or centre_today())
    _check_password(session, verification=verification, user=user, password=password, meaning="approved")
    _sign(session, verification=verification, user=user, meaning="approved", card_number=decision.card_number,
          now=now)
    verification.state = "approved"
    session.flush()
    if verification.job_item is not None:
        jobs.follow_verifications(session, job=verification.job_item.job)
    return verification


# --- amendments ---------------------------------------------------------------------------------------------------

def amend(session: Session, *, verification: Verification, actor_id: int, reason: Any) -> Verification:
    """Open a new revision of a submitted, reviewed or approved record as a draft (a copy with ``revision`` + 1,
    ``supersedes_id``, the same ``root_id`` and the reason); the old revision keeps its state and signatures until
    the new one is submitted. Callers commit."""
    why = _clean_text(reason, "reason", label=_("Lý do sửa đổi"), required=True)
    _lock(session, verification)
    if verification.state not in ("submitted", "reviewed", "approved"):
        raise VerificationError("state", _("Chỉ sửa đổi được biên bản đã gửi; bản nháp thì sửa trực tiếp."))
    if newer := _newer_revision(session, verification):
        raise VerificationError("state", _("Biên bản #%(id)s đã có bản sửa đổi lần %(n)d.", id=verification.root_id,
                                           n=newer.revision))
    actor = _user(session, actor_id)
    copy = Verification(root_id=verification.root_id, revision=verification.revision + 1,
                        supersedes_id=verification.id, amendment_reason=why, job_item_id=verification.job_item_id,
                        batch_id=verification.batch_id, instrument_id=verification.instrument_id,
                        kind=verification.kind, method_version_id=verification.method_version_id,
                        technician_id=actor.id, performed_date=verification.performed_date,
                        started_at=verification.started_at, finished_at=verification.finished_at,
                        place=verification.place, room_id=verification.room_id,
                        conditions=dict(verification.conditions or {}), spec=dict(verification.spec or {}),
                        readings=json.loads(json.dumps(verification.readings or {})),
                        result=verification.result, passed=verification.passed, state="draft",
                        notes=verification.notes)
    copy.standards = [VerificationStandard(standard_id=link.standard_id, calibration_id=link.calibration_id)
                      for link in verification.standards]
    with audit.reason(session, why):
        session.add(copy)
        session.flush()
    return copy


# --- lists --------------------------------------------------------------------------------------------------------

QUEUES = {"mine": _l("Việc của tôi"), "review": _l("Chờ soát xét"), "approve": _l("Chờ phê duyệt")}


@dataclass(frozen=True)
class VerificationFilter:
    queue: str = ""          # mine | review | approve
    state: str = ""
    type_code: str = ""
    q: str = ""              # serial, job number or customer
    user_id: int | None = None


def verification_query(flt: VerificationFilter):
    query = select(Verification).join(Verification.instrument)
    if flt.queue == "mine":
        query = query.where(Verification.technician_id == flt.user_id, Verification.state.in_(("draft",
                                                                                              "submitted")))
    elif flt.queue == "review":
        query = query.where(Verification.state == "submitted")
    elif flt.queue == "approve":
        query = query.where(Verification.state == "reviewed")
    if flt.state in STATES:
        query = query.where(Verification.state == flt.state)
    elif not flt.queue:
        query = query.where(Verification.state != "superseded")
    if flt.type_code:
        query = query.where(Instrument.type_code == flt.type_code)
    if q := flt.q.strip():
        job_ids = select(JobItem.id).join(Job).where(Job.number.contains(q.upper(), autoescape=True))
        owners = select(Customer.id).where(Customer.name_key.contains(fold(q), autoescape=True))
        query = query.where(Instrument.serial_key.startswith(fold_serial(q), autoescape=True)
                            | Verification.job_item_id.in_(job_ids) | Instrument.customer_id.in_(owners))
    return query.order_by(Verification.performed_date.desc(), Verification.id.desc())


def list_verifications(session: Session, flt: VerificationFilter, *, limit: int = 200) -> list[Verification]:
    return list(session.scalars(verification_query(flt).limit(limit)).unique())


def queue_counts(session: Session, *, user_id: int) -> dict[str, int]:
    def count(flt: VerificationFilter) -> int:
        return session.scalar(select(func.count()).select_from(verification_query(flt).order_by(None).subquery()))

    return {queue: count(VerificationFilter(queue=queue, user_id=user_id)) for queue in QUEUES}


def technician_choices(session: Session) -> list[User]:
    return jobs.assignable_users(session)


def method_choices(session: Session, *, type_code: str, kind: str, on: dt.date,
                   current_id: int | None = None) -> list[MethodVersion]:
    """Versions in force on ``on`` for the type and kind of work (plus the one already chosen, so that a draft whose
    method was withdrawn still shows it — and its submission says why it is refused)."""
    versions = methods.versions_for(session, type_code, on, kind=method_kind(kind))
    if current_id and current_id not in {v.id for v in versions}:
        current = session.get(MethodVersion, current_id)
        if current is not None:
            versions.append(current)
    return versions


def room_choices(session: Session) -> list[Room]:
    return facilities.list_rooms(session)


# --- what a certificate needs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StandardFact:
    code: str
    name: str
    serial: str
    certificate_number: str
    calibration_date: dt.date | None
    valid_until: dt.date | None
    traceable_to: str


@dataclass(frozen=True)
class SignatureFact:
    meaning: str
    name: str
    signed_at: dt.datetime
    card_number: str
    record_sha256: str
    matches: bool


@dataclass(frozen=True)
class CertificateFacts:
    """Everything of an approved record a certificate prints (17025 7.8.2–7.8.4), read in one place."""

    verification_id: int
    root_id: int
    revision: int
    supersedes_id: int | None
    amendment_reason: str
    kind: str
    passed: bool | None
    record_sha256: str
    instrument: Instrument
    customer_name: str
    customer_address: str
    job_number: str
    receipt_date: dt.date | None
    performed_date: dt.date
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    place: str
    method_designation: str
    method_title: str
    conditions: dict
    standards: tuple[StandardFact, ...]
    result: dict | None
    signatures: tuple[SignatureFact, ...]
    technician_name: str
    interval_months: int | None = None
    extra: dict = field(default_factory=dict)


def certificate_facts(session: Session, verification: Verification) -> CertificateFacts:
    v = verification
    instrument = v.instrument
    customer = instrument.customer
    job = v.job_item.job if v.job_item is not None else None
    method = v.method_version
    facts = []
    for link in sorted(v.standards, key=lambda link: link.standard.code_key):
        calibration = link.calibration
        facts.append(StandardFact(code=link.standard.code, name=link.standard.name, serial=link.standard.serial,
                                  certificate_number=calibration.certificate_number if calibration else "",
                                  calibration_date=calibration.calibration_date if calibration else None,
                                  valid_until=calibration.due_date if calibration else None,
                                  traceable_to=calibration.traceable_to if calibration else ""))
    signatures = tuple(SignatureFact(meaning=s.meaning, name=s.signer_name, signed_at=s.signed_at,
                                     card_number=s.card_number, record_sha256=s.record_sha256,
                                     matches=signature_matches(session, s)) for s in v.signatures)
    try:
        months = instruments.get(instrument.type_code).interval_months(v.spec, on=v.performed_date)
    except instruments.SpecError:
        months = None
    address = ", ".join(p for p in (customer.address, customer.commune, customer.district, customer.province) if p)
    return CertificateFacts(
        verification_id=v.id, root_id=v.root_id, revision=v.revision, supersedes_id=v.supersedes_id,
        amendment_reason=v.amendment_reason, kind=v.kind, passed=v.passed, record_sha256=record_sha256(v),
        instrument=instrument, customer_name=customer.name, customer_address=address,
        job_number=job.number if job else "", receipt_date=job.received_date if job else None,
        performed_date=v.performed_date, started_at=v.started_at, finished_at=v.finished_at, place=v.place,
        method_designation=method.designation if method else "", method_title=method.procedure.title if method else "",
        conditions=dict(v.conditions or {}), standards=tuple(facts), result=v.result, signatures=signatures,
        technician_name=v.technician.full_name, interval_months=months)


def local_time(moment: dt.datetime | None) -> str:
    return local(moment).strftime("%H:%M") if moment else ""
