"""Issuing certificates: numbering, validity, stamp, record, seal and PDF; amendment, revocation; the public check.

Services flush and never commit (STYLE.md): the view or command that calls them commits once, so a certificate, its
number, its stamp and its PDF are written in one transaction or not at all (a ``kill -9`` between two issuances leaves
every committed certificate whole, and the gapless counter gives back the number of a transaction that died).

Conventions decided here (DOMAIN.md §6, 17025 7.8):

- Series: ``KĐ`` certificates of verification, ``HC`` calibration certificates, ``TB`` notices of failure; the number is
  ``<series>-<year of issue>-<6-digit sequence>``, gapless per series and year (``lims.jobs.services.next_number``,
  under a row lock, inside the issuing transaction).
- Validity: a verification is valid from the day it was performed for the legal interval in force that day
  (``instruments.get(type).interval_months(spec, on=performed_date)``), up to and including the day before the same
  date that many months later: performed 15/10/2024, 18 months → "hiệu lực đến hết ngày 14/04/2026". This is how
  Vietnamese verification certificates print it (the sample certificates of lims.certificates.samples too), and the
  next verification is due on the anniversary itself. Calibration certificates and notices carry no validity (17025
  7.8.4.3: no interval unless agreed).
- Stamps: only certificates of verification carry one, taken from the technician's assigned stamps, lowest number of
  the oldest batch first. An amendment keeps the stamp already stuck on the instrument.
- A calibration record always gives a calibration certificate (with a conformity statement for weights); a
  verification gives a certificate when passed and a notice of failure otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
import time
import types
from collections.abc import Mapping
from typing import Any

import instruments
from flask_babel import gettext as _
from sqlalchemy import bindparam, create_engine, event, func, or_, select
from sqlalchemy.orm import Session

from lims.dates import add_months, centre_today
from lims.models import utcnow
from lims.text import fold, fold_serial

from . import keys as seal_keys
from . import pdf, record as records, results, seal
from .document import (Amendment, CertificateDocument, Centre, Conditions, DocumentKind, InstrumentInfo, MethodInfo,
                       Party, Signature, StandardUsed)
from .models import Certificate, CertificateRecord, Stamp

SERIES = {"verification": "KĐ", "calibration": "HC", "failure_notice": "TB"}
KIND_LABELS = {
    "verification": "Giấy chứng nhận kiểm định",
    "calibration": "Giấy chứng nhận hiệu chuẩn",
    "failure_notice": "Thông báo kiểm định không đạt",
}
_VERDICTS = {"verification": seal.Verdict.PASSED, "calibration": seal.Verdict.CALIBRATION,
             "failure_notice": seal.Verdict.FAILED}
_SIGNATURE_ORDER = {"performed": 0, "reviewed": 1, "approved": 2}
MAX_REASON = 1000


# --- errors -------------------------------------------------------------------------------------------------------

class CertificateError(ValueError):
    """A refusal a person can read (Vietnamese); ``field`` names the form field it concerns, when one does."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotApprovedError(CertificateError):
    """Only an approved verification record is certified."""


class AlreadyIssuedError(CertificateError):
    """The verification already has its certificate (``certificate`` is it)."""

    def __init__(self, message: str, certificate: Certificate):
        super().__init__(message)
        self.certificate = certificate


class NoStampError(CertificateError):
    """The technician holds no stamp to put on the instrument."""


class NotInForceError(CertificateError):
    """Amending or revoking a certificate that was already superseded or revoked."""


class ReasonRequiredError(CertificateError):
    """Amendments and revocations state why."""


class CertificateImmutableError(RuntimeError):
    """Raised by the ORM hook below when code tries to change what a certificate says, or to delete one."""


SealKeyError = seal_keys.SealKeyError


# --- settings -----------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IssueSettings:
    """What issuing needs from the configuration: who issues, where, the public address and the signing key file."""

    centre: Centre
    public_url: str
    key_file: str
    issue_place: str = ""
    decimal_comma: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IssueSettings:
        return cls(
            centre=Centre(name=config.get("CENTRE_NAME", ""), address=config.get("CENTRE_ADDRESS", ""),
                          accreditation=config.get("CENTRE_ACCREDITATION", ""),
                          designation=config.get("CENTRE_DESIGNATION", ""), parent=config.get("CENTRE_PARENT", ""),
                          phone=config.get("CENTRE_PHONE", ""), email=config.get("CENTRE_EMAIL", "")),
            public_url=config["PUBLIC_URL"], key_file=config["SEAL_KEY_FILE"],
            issue_place=config.get("CENTRE_PLACE", ""), decimal_comma=config.get("DECIMAL_COMMA", True))


def _settings(settings: IssueSettings | None) -> IssueSettings:
    if settings is not None:
        return settings
    from flask import current_app  # the application's configuration, when the caller passes none

    return IssueSettings.from_config(current_app.config)


# --- small helpers ------------------------------------------------------------------------------------------------

def certificate_number(series: str, year: int, seq: int) -> str:
    """``KĐ-2026-000123``.

    >>> certificate_number("KĐ", 2026, 123)
    'KĐ-2026-000123'
    """
    return f"{series}-{year}-{seq:06d}"


def kind_for(verification) -> str:
    """What an approved record gives: a calibration certificate, a certificate of verification, or a notice."""
    if verification.kind == "calibration":
        return "calibration"
    if verification.passed is None:
        raise CertificateError(_("Biên bản chưa có kết quả tính toán: không thể cấp giấy chứng nhận."))
    return "verification" if verification.passed else "failure_notice"


def valid_until_for(type_code: str, spec: Mapping[str, Any], performed_date: dt.date) -> dt.date | None:
    """The last day of validity of a verification performed on ``performed_date`` (see the module docstring);
    ``None`` when the type is not subject to periodic verification.

    >>> valid_until_for("taximeter", {}, dt.date(2024, 10, 15))
    datetime.date(2026, 4, 14)
    >>> valid_until_for("taximeter", {}, dt.date(2024, 10, 14))
    datetime.date(2025, 10, 13)
    """
    months = instruments.get(type_code).interval_months(spec, on=performed_date)
    if not months:
        return None
    return add_months(performed_date, months) - dt.timedelta(days=1)


def status_on(certificate: Certificate, today: dt.date) -> str:
    """The live status: ``valid``, ``expired`` (derived from valid-until), ``superseded`` or ``revoked``."""
    if certificate.status != "issued":
        return certificate.status
    if certificate.valid_until is not None and certificate.valid_until < today:
        return "expired"
    return "valid"


def _clean_reason(reason: Any, message: str) -> str:
    text = " ".join(str(reason or "").split())
    if not text:
        raise ReasonRequiredError(message, field="reason")
    if len(text) > MAX_REASON:
        raise ReasonRequiredError(_("Lý do dài quá %(n)d ký tự.", n=MAX_REASON), field="reason")
    return text


def _clean_request_key(request_key: Any) -> str:
    key = str(request_key or "").strip()
    if not key or len(key) > 100:
        raise ValueError("request_key: give a non-empty key of at most 100 characters")
    return key


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def _sql_lock(query, session: Session, **kwargs):
    """``SELECT … FOR UPDATE`` where the database has it; SQLite's write transaction (BEGIN IMMEDIATE) already
    serialises writers."""
    return query if session.get_bind().dialect.name == "sqlite" else query.with_for_update(**kwargs)


# --- building the document ----------------------------------------------------------------------------------------

def _traceability(session: Session, verification, facts) -> str:
    """Where the standards' chains leave the centre (the external laboratories and the references they name)."""
    from lims.standards import services as standards

    tops = []
    for link in sorted(verification.standards, key=lambda item: item.standard_id):
        chain = standards.traceability_chain(session, link.standard, on=verification.performed_date)
        for top in chain.top():
            label = ", ".join(part for part in (top.laboratory_name, top.traceable_to) if part)
            if label and label not in tops:
                tops.append(label)
    if not tops:
        tops = list(dict.fromkeys(fact.traceable_to for fact in facts.standards if fact.traceable_to))
    if not tops:
        return ""
    return "Chuẩn đo lường sử dụng được liên kết đến " + "; ".join(tops) + ", và qua đó đến Hệ đơn vị đo quốc tế (SI)."


def _signatures(facts, kind: str) -> tuple[Signature, ...]:
    out = []
    for fact in sorted(facts.signatures, key=lambda s: _SIGNATURE_ORDER.get(s.meaning, 9)):
        if fact.meaning == "performed":
            title = "Người hiệu chuẩn" if kind == "calibration" else "Kiểm định viên"
            if fact.card_number:
                title += f", thẻ số {fact.card_number}"
        else:
            title = f"Ủy quyền số {fact.card_number}" if fact.card_number else ""
        out.append(Signature(name=fact.name, role=fact.meaning, signed_at=fact.signed_at, title=title))
    return tuple(out)


def _conformity(result: Mapping[str, Any], spec: Mapping[str, Any]) -> tuple[str, str]:
    if result.get("type") != "weight":
        return "", ""
    accuracy_class = spec.get("accuracy_class", "")
    verdict = "Phù hợp" if result.get("passed") else "Không phù hợp"
    return (f"{verdict} cấp chính xác {accuracy_class} theo OIML R 111-1:2004",
            "OIML R 111-1 5.2: |mc − m0| ≤ δm − U và U ≤ δm/3")


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    from lims.dates import local

    return local(moment).date() if moment else None


def build_document(session: Session, *, verification, kind: str, number: str, revision: int, issue_date: dt.date,
                   valid_until: dt.date | None, stamp_number: str, amendment: Amendment | None,
                   settings: IssueSettings) -> tuple[CertificateDocument, dict]:
    """The document of an approved record (read through ``verifications.services.certificate_facts``), and its
    provenance (which record revision, which signatures over which record hash): what is stored and sealed.
    Refuses a record whose signatures no longer match it (changed after signing)."""
    from lims.verifications import services as workflow

    facts = workflow.certificate_facts(session, verification)
    if not all(fact.matches for fact in facts.signatures):
        raise CertificateError(_("Biên bản đã bị thay đổi sau khi ký (chữ ký không còn khớp với nội dung): không cấp "
                                 "giấy chứng nhận. Báo phụ trách chất lượng."))
    instrument = facts.instrument
    kind_type = instruments.get(instrument.type_code)
    result = facts.result or {}
    place = facts.place
    if not place and verification.room is not None:
        place = ", ".join(part for part in (verification.room.name, verification.room.building) if part)
    conditions = facts.conditions or {}
    conformity, decision_rule = _conformity(result, verification.spec) if kind == "calibration" else ("", "")
    document = CertificateDocument(
        kind=DocumentKind(kind),
        centre=settings.centre,
        number=number,
        revision=revision,
        amendment=amendment,
        issue_date=issue_date,
        valid_until=valid_until,
        stamp_number=stamp_number,
        customer=Party(facts.customer_name, facts.customer_address),
        instrument=InstrumentInfo(
            type_name_vi=kind_type.name_vi, type_name_en=kind_type.name_en, manufacturer=instrument.manufacturer,
            model=instrument.model, serial=instrument.serial,
            year=str(instrument.year_made) if instrument.year_made else "",
            pattern_approval=instrument.pattern_approval_mark,
            characteristics=results.characteristic_rows(instrument.type_code, verification.spec,
                                                        decimal_comma=settings.decimal_comma)),
        method=MethodInfo(facts.method_designation, facts.method_title),
        place_of_work=place,
        receipt_date=facts.receipt_date,
        work_start_date=_local_date(facts.started_at) or facts.performed_date,
        work_end_date=_local_date(facts.finished_at) or facts.performed_date,
        conditions=Conditions(temperature_c=_text_or_none(conditions.get("temperature_c")),
                              humidity_pct=_text_or_none(conditions.get("humidity_pct")),
                              pressure_hpa=_text_or_none(conditions.get("pressure_hpa"))) if conditions else None,
        standards=tuple(StandardUsed(name=fact.name, identification=fact.code,
                                     certificate_number=fact.certificate_number, valid_until=fact.valid_until)
                        for fact in facts.standards),
        traceability=_traceability(session, verification, facts),
        results=results.result_tables(result, decimal_comma=settings.decimal_comma),
        uncertainties=results.uncertainty_statements(result, decimal_comma=settings.decimal_comma),
        conformity=conformity,
        decision_rule=decision_rule,
        failure_reasons=results.failed_tests(result) if kind == "failure_notice" else (),
        signatures=_signatures(facts, kind),
        issue_place=settings.issue_place,
        decimal_comma=settings.decimal_comma,
    )
    provenance = {
        "verification_id": facts.verification_id,
        "verification_root_id": facts.root_id,
        "verification_revision": facts.revision,
        "verification_record_sha256": facts.record_sha256,
        "job_number": facts.job_number,
        "instrument_id": instrument.id,
        "engine_version": result.get("engine_version"),
        "rules_digest": result.get("rules_digest"),
        "signatures": [{"meaning": fact.meaning, "record_sha256": fact.record_sha256} for fact in facts.signatures],
    }
    return document, provenance


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def public_summary(document: CertificateDocument) -> dict:
    """What the public check shows besides the seal's own fields (stored with the certificate)."""
    inst = document.instrument
    return {
        "title": list(document.title),
        "instrument": {"type_vi": inst.type_name_vi, "type_en": inst.type_name_en, "manufacturer": inst.manufacturer,
                       "model": inst.model, "serial": inst.serial},
        "owner": document.customer.name,
        "centre": document.centre.name,
        "stamp_number": document.stamp_number,
        "method": document.method.number,
        "work_date": document.work_end_date.isoformat() if document.work_end_date else None,
    }


# --- stamps used by issuance --------------------------------------------------------------------------------------

def _take_stamp(session: Session, *, technician_id: int) -> Stamp:
    query = (select(Stamp).where(Stamp.assigned_to_id == technician_id, Stamp.state == "assigned")
             .order_by(Stamp.id).limit(1))
    stamp = session.scalars(_sql_lock(query, session, skip_locked=True)).first()
    if stamp is None:
        from lims.auth.models import User

        user = session.get(User, technician_id)
        raise NoStampError(_("%(name)s không còn tem kiểm định nào được giao: giao thêm tem (trang Tem kiểm định) "
                             "rồi cấp lại giấy chứng nhận.", name=user.full_name if user else technician_id))
    stamp.state = "used"
    stamp.used_at = utcnow()
    return stamp


# --- issuing ------------------------------------------------------------------------------------------------------

def find_by_request_key(session: Session, request_key: str) -> Certificate | None:
    return session.scalars(select(Certificate).where(Certificate.issue_request_key == request_key)).first()


def issue_for_verification(session: Session, *, verification, issued_by_id: int | None, request_key: str,
                           today: dt.date | None = None, settings: IssueSettings | None = None) -> Certificate:
    """Issue what an approved record gives: a certificate of verification, a calibration certificate or a notice of
    failure, numbered, stamped, sealed and printed. Callers commit.

    The same ``request_key`` again returns the certificate it issued (a double-click, a replayed request). A record
    that amends an earlier revision whose certificate is in force issues an amendment of that certificate (17025
    7.8.8), with the record's amendment reason. ``settings`` default to the Flask application's configuration.
    Raises NotApprovedError, AlreadyIssuedError, NoStampError, SealKeyError (naming ``lims keys create``).
    """
    settings = _settings(settings)
    request_key = _clean_request_key(request_key)
    from lims.verifications.models import Verification

    # Serialise issuances of one record (PostgreSQL; SQLite's writer lock does it already), then look for a replay.
    session.execute(_sql_lock(select(Verification.id).where(Verification.id == verification.id), session))
    existing = find_by_request_key(session, request_key)
    if existing is not None:
        return existing
    if verification.state != "approved":
        raise NotApprovedError(_("Biên bản chưa được phê duyệt: chỉ cấp giấy chứng nhận cho biên bản đã phê duyệt."))
    already = session.scalars(select(Certificate).where(Certificate.verification_id == verification.id)
                              .order_by(Certificate.revision.desc())).first()
    if already is not None:
        raise AlreadyIssuedError(_("Biên bản này đã được cấp %(what)s số %(number)s.",
                                   what=KIND_LABELS[already.kind].lower(), number=already.number), already)
    previous = _in_force_for_earlier_revision(session, verification)
    if previous is not None:
        reason = verification.amendment_reason or _("Biên bản kiểm định được sửa đổi (lần %(n)d).",
                                                    n=verification.revision)
        return _issue(session, verification=verification, issued_by_id=issued_by_id, request_key=request_key,
                      issue_date=today or centre_today(), settings=settings, replaces=previous, reason=reason)
    return _issue(session, verification=verification, issued_by_id=issued_by_id, request_key=request_key,
                  issue_date=today or centre_today(), settings=settings)


def _in_force_for_earlier_revision(session: Session, verification) -> Certificate | None:
    from lims.verifications.models import Verification

    if not verification.root_id or verification.revision <= 1:
        return None
    earlier = select(Verification.id).where(Verification.root_id == verification.root_id,
                                            Verification.id != verification.id)
    return session.scalars(select(Certificate).where(Certificate.verification_id.in_(earlier),
                                                     Certificate.status == "issued")
                           .order_by(Certificate.revision.desc())).first()


def amend_certificate(session: Session, *, certificate: Certificate, reason: Any, issued_by_id: int | None,
                      request_key: str, verification=None, today: dt.date | None = None,
                      settings: IssueSettings | None = None) -> Certificate:
    """Issue a new revision of ``certificate`` (17025 7.8.8): a new number, the revision + 1, a statement of which
    certificate it replaces and why; the old one becomes superseded. The document is built again from
    ``verification`` (a later approved revision of the record) or the certificate's own record as it is now, with
    the registry's current customer and instrument data (the usual reason: a correction there). Callers commit."""
    settings = _settings(settings)
    request_key = _clean_request_key(request_key)
    existing = find_by_request_key(session, request_key)
    if existing is not None:
        return existing
    reason = _clean_reason(reason, _("Ghi lý do sửa đổi giấy chứng nhận."))
    from lims.verifications.models import Verification

    session.execute(_sql_lock(select(Certificate.id).where(Certificate.id == certificate.id), session))
    session.refresh(certificate)
    if certificate.status != "issued":
        raise NotInForceError(_("Giấy chứng nhận số %(number)s đã %(state)s: không thể sửa đổi.",
                                number=certificate.number, state=STATUS_WORDS[certificate.status]))
    verification = verification or session.get(Verification, certificate.verification_id)
    if verification.state != "approved":
        raise NotApprovedError(_("Biên bản chưa được phê duyệt: chỉ cấp giấy chứng nhận cho biên bản đã phê duyệt."))
    return _issue(session, verification=verification, issued_by_id=issued_by_id, request_key=request_key,
                  issue_date=today or centre_today(), settings=settings, replaces=certificate, reason=reason)


def _issue(session: Session, *, verification, issued_by_id: int | None, request_key: str, issue_date: dt.date,
           settings: IssueSettings, replaces: Certificate | None = None, reason: str = "") -> Certificate:
    from lims.jobs.services import next_number

    kind = kind_for(verification)
    key_id, private_key = seal_keys.current_signer(session, settings.key_file)  # before anything is taken
    instrument = verification.instrument
    valid_until = (valid_until_for(instrument.type_code, verification.spec, verification.performed_date)
                   if kind == "verification" else None)

    series = SERIES[kind]
    seq = next_number(session, series=series, year=issue_date.year)
    number = certificate_number(series, issue_date.year, seq)

    stamp = None
    if kind == "verification":
        if replaces is not None and replaces.stamp_id is not None:
            stamp = replaces.stamp  # the stamp on the instrument stays; the new certificate names it again
        else:
            stamp = _take_stamp(session, technician_id=verification.technician_id)

    revision = replaces.revision + 1 if replaces is not None else 0
    amendment = Amendment(replaces.number, reason) if replaces is not None else None
    document, provenance = build_document(
        session, verification=verification, kind=kind, number=number, revision=revision, issue_date=issue_date,
        valid_until=valid_until, stamp_number=stamp.number if stamp else "", amendment=amendment, settings=settings)
    record = records.document_to_record(document, provenance=provenance)
    digest = seal.record_digest(record)
    token = seal.sign(seal.SealPayload(number=number, revision=revision, issue_date=issue_date,
                                       valid_until=valid_until, serial=_truncate_utf8(instrument.serial, 64),
                                       verdict=_VERDICTS[kind], digest=digest), private_key, key_id)
    url = seal.seal_url(settings.public_url, token)
    # Printed from the stored record, not from ``document``: what is issued is what a re-print gives.
    data = render_record(record, url)

    if replaces is not None:
        replaces.status = "superseded"
        replaces.superseded_at = utcnow()
        session.flush()  # superseded before its successor exists (the successor's replaces_id is unique)
    certificate = Certificate(
        number=number, series=series, year=issue_date.year, seq=seq, revision=revision, kind=kind,
        verification_id=verification.id, instrument_id=instrument.id, customer_id=instrument.customer_id,
        issue_date=issue_date, issued_at=utcnow(), issued_by_id=issued_by_id, valid_until=valid_until,
        stamp_id=stamp.id if stamp else None, status="issued",
        replaces_id=replaces.id if replaces is not None else None, amendment_reason=reason,
        serial=instrument.serial, serial_key=fold_serial(instrument.serial),
        customer_name=document.customer.name[:200], customer_key=fold(document.customer.name)[:200],
        instrument_type=instrument.type_code, summary=public_summary(document), record_digest=digest.hex(),
        seal_key_id=key_id, seal_token=token, seal_url=url,
        pdf_sha256=hashlib.sha256(data).hexdigest(), issue_request_key=request_key)
    session.add(certificate)
    session.flush()
    session.add(CertificateRecord(certificate_id=certificate.id, record=record, pdf=data))
    if kind == "verification":
        # The registry's due list follows the certificates in force.
        instrument.last_verified_date = verification.performed_date
        instrument.next_due_date = valid_until + dt.timedelta(days=1) if valid_until else None
    session.flush()
    return certificate


def revoke_certificate(session: Session, *, certificate: Certificate, reason: Any, revoked_by_id: int | None,
                       now: dt.datetime | None = None) -> Certificate:
    """Withdraw a certificate in force, with the reason and the time; nothing is deleted. Callers commit."""
    reason = _clean_reason(reason, _("Ghi lý do thu hồi giấy chứng nhận."))
    session.execute(_sql_lock(select(Certificate.id).where(Certificate.id == certificate.id), session))
    session.refresh(certificate)
    if certificate.status != "issued":
        raise NotInForceError(_("Giấy chứng nhận số %(number)s đã %(state)s: không thể thu hồi.",
                                number=certificate.number, state=STATUS_WORDS[certificate.status]))
    certificate.status = "revoked"
    certificate.revoked_at = now or utcnow()
    certificate.revocation_reason = reason
    certificate.revoked_by_id = revoked_by_id
    session.flush()
    return certificate


STATUS_WORDS = {"issued": "được cấp", "superseded": "được thay thế", "revoked": "bị thu hồi"}


# --- immutability -------------------------------------------------------------------------------------------------

#: What may change on an issued certificate: its life events, never what it says.
_MUTABLE = frozenset({"status", "superseded_at", "revoked_at", "revocation_reason", "revoked_by_id"})
_TRANSITIONS = {("issued", "superseded"), ("issued", "revoked")}


def _guard_update(_mapper, _connection, target: Certificate) -> None:
    from sqlalchemy import inspect

    state = inspect(target)
    changed = {attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()}
    frozen = changed - _MUTABLE
    if frozen:
        raise CertificateImmutableError(f"certificate {target.number}: {', '.join(sorted(frozen))} cannot change "
                                        "after issue (amend it: a new revision)")
    history = state.attrs["status"].history
    if history.has_changes():
        old = history.deleted[0] if history.deleted else None
        if (old, target.status) not in _TRANSITIONS:
            raise CertificateImmutableError(f"certificate {target.number}: status {old} → {target.status} refused")


def _refuse(_mapper, _connection, target) -> None:
    raise CertificateImmutableError(f"{type(target).__name__} is a record: never changed or deleted")


if not event.contains(Certificate, "before_update", _guard_update):
    event.listen(Certificate, "before_update", _guard_update)
    event.listen(Certificate, "before_delete", _refuse)
    event.listen(CertificateRecord, "before_update", _refuse)
    event.listen(CertificateRecord, "before_delete", _refuse)


# --- reading ------------------------------------------------------------------------------------------------------

def render_record(record: Mapping[str, Any], seal_url: str) -> bytes:
    """The PDF of a stored record (deterministic: the bytes whose SHA-256 was stored at issue)."""
    return pdf.render_certificate(records.document_from_record(record, seal_url=seal_url))


def render_pdf(certificate: Certificate) -> bytes:
    """Print ``certificate`` again from its stored record."""
    return render_record(certificate.record, certificate.seal_url)


def stored_pdf(session: Session, certificate: Certificate) -> bytes:
    """The PDF as issued; printed again from the record (same bytes) if the stored file were missing."""
    data = session.scalar(select(CertificateRecord.pdf).where(CertificateRecord.certificate_id == certificate.id))
    return data if data is not None else render_pdf(certificate)


def document_of(certificate: Certificate) -> CertificateDocument:
    return records.document_from_record(certificate.record, seal_url=certificate.seal_url)


@dataclasses.dataclass(frozen=True)
class Integrity:
    """Whether a stored certificate is whole: its record still has the digest the seal signed, the seal verifies, the
    stored PDF has the stored hash and printing the record again gives the same bytes."""

    record_ok: bool
    seal_ok: bool
    stored_pdf_ok: bool
    reprint_ok: bool

    @property
    def ok(self) -> bool:
        return self.record_ok and self.seal_ok and self.stored_pdf_ok and self.reprint_ok


def check_integrity(session: Session, certificate: Certificate) -> Integrity:
    record_ok = seal.record_digest(certificate.record).hex() == certificate.record_digest
    try:
        payload = seal.verify(certificate.seal_token, seal_keys.public_keys(session))
        seal_ok = payload.digest.hex() == certificate.record_digest and payload.number == certificate.number
    except seal.InvalidSeal:
        seal_ok = False
    stored = session.scalar(select(CertificateRecord.pdf).where(CertificateRecord.certificate_id == certificate.id))
    stored_ok = stored is not None and hashlib.sha256(stored).hexdigest() == certificate.pdf_sha256
    reprint_ok = hashlib.sha256(render_pdf(certificate)).hexdigest() == certificate.pdf_sha256
    return Integrity(record_ok, seal_ok, stored_ok, reprint_ok)


def get_certificate(session: Session, certificate_id: int) -> Certificate | None:
    return session.get(Certificate, certificate_id)


def get_by_number(session: Session, number: str) -> Certificate | None:
    """For the staff's pages and commands only; the public check never looks a certificate up by number alone."""
    return session.scalars(select(Certificate).where(Certificate.number == number.strip())).first()


def superseded_by(session: Session, certificate: Certificate) -> Certificate | None:
    return session.scalars(select(Certificate).where(Certificate.replaces_id == certificate.id)).first()


def revision_chain(session: Session, certificate: Certificate) -> list[Certificate]:
    """Every revision of the certificate, first issue first."""
    chain = [certificate]
    seen = {certificate.id}
    current = certificate
    while current.replaces_id is not None and current.replaces_id not in seen:
        current = session.get(Certificate, current.replaces_id)
        chain.insert(0, current)
        seen.add(current.id)
    current = certificate
    while (following := superseded_by(session, current)) is not None and following.id not in seen:
        chain.append(following)
        seen.add(following.id)
        current = following
    return chain


@dataclasses.dataclass(frozen=True)
class CertificateFilter:
    status: str = ""       # valid, expired, superseded, revoked, or empty
    kind: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""            # number, serial or customer


def list_certificates(session: Session, flt: CertificateFilter = CertificateFilter(), *, today: dt.date | None = None,
                      page: int = 1, page_size: int = 50) -> tuple[list[Certificate], bool]:
    """One page of certificates, newest first, and whether another page follows."""
    query = _filtered(flt, today or centre_today())
    query = query.order_by(Certificate.issue_date.desc(), Certificate.id.desc())
    rows = list(session.scalars(query.offset((max(page, 1) - 1) * page_size).limit(page_size + 1)))
    return rows[:page_size], len(rows) > page_size


def iter_certificates(session: Session, flt: CertificateFilter = CertificateFilter(), *,
                      today: dt.date | None = None):
    """Every matching certificate, oldest first (exports and ``lims certificate list``)."""
    query = _filtered(flt, today or centre_today()).order_by(Certificate.issue_date, Certificate.id)
    return session.scalars(query.execution_options(yield_per=500))


def _filtered(flt: CertificateFilter, today: dt.date):
    query = select(Certificate)
    if flt.status == "valid":
        query = query.where(Certificate.status == "issued",
                            or_(Certificate.valid_until.is_(None), Certificate.valid_until >= today))
    elif flt.status == "expired":
        query = query.where(Certificate.status == "issued", Certificate.valid_until < today)
    elif flt.status in ("superseded", "revoked", "issued"):
        query = query.where(Certificate.status == flt.status)
    if flt.kind:
        query = query.where(Certificate.kind == flt.kind)
    if flt.date_from:
        query = query.where(Certificate.issue_date >= flt.date_from)
    if flt.date_to:
        query = query.where(Certificate.issue_date <= flt.date_to)
    q = flt.q.strip()
    if q:
        serial, folded = fold_serial(q), fold(q)
        conditions = [Certificate.number == q.upper(), Certificate.number == q]
        if serial:
            conditions.append(Certificate.serial_key.startswith(serial))
        if folded:
            conditions.append(Certificate.customer_key.contains(folded))
        query = query.where(or_(*conditions))
    return query


def awaiting_issue(session: Session, *, limit: int = 20) -> list:
    """Approved records without a certificate (issuance refused at approval, e.g. for want of a stamp), oldest
    first."""
    from lims.verifications.models import Verification

    issued = select(Certificate.id).where(Certificate.verification_id == Verification.id).exists()
    return list(session.scalars(select(Verification).where(Verification.state == "approved", ~issued)
                                .order_by(Verification.performed_date, Verification.id).limit(limit)))


def counts_by_status(session: Session, *, today: dt.date | None = None) -> dict[str, int]:
    today = today or centre_today()
    out = {}
    for status in ("valid", "expired", "superseded", "revoked"):
        out[status] = session.scalar(_filtered(CertificateFilter(status=status), today)
                                     .with_only_columns(func.count()).order_by(None))
    return out


def summary_dict(certificate: Certificate, *, today: dt.date, superseded_by_number: str | None = None) -> dict:
    """A certificate as JSON (``lims certificate list --json``; the staff's JSON)."""
    return {
        "number": certificate.number, "revision": certificate.revision, "kind": certificate.kind,
        "status": certificate.status, "live_status": status_on(certificate, today),
        "issue_date": certificate.issue_date.isoformat(),
        "valid_until": certificate.valid_until.isoformat() if certificate.valid_until else None,
        "instrument_type": certificate.instrument_type, "serial": certificate.serial,
        "customer": certificate.customer_name,
        "stamp_number": certificate.stamp.number if certificate.stamp else None,
        "replaces": certificate.replaces.number if certificate.replaces_id else None,
        "superseded_by": superseded_by_number,
        "amendment_reason": certificate.amendment_reason or None,
        "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
        "revocation_reason": certificate.revocation_reason or None,
        "verification_id": certificate.verification_id,
        "record_digest": certificate.record_digest, "pdf_sha256": certificate.pdf_sha256,
        "seal_url": certificate.seal_url,
    }


# --- the public check ---------------------------------------------------------------------------------------------

class KeyRing:
    """The published public keys, cached in the process and reloaded when a seal names a key not yet known (a key
    created or rotated by another process), at most once a second. ``open_session`` gives a read-only session."""

    RELOAD_INTERVAL_S = 1.0

    def __init__(self, open_session):
        self._open_session = open_session
        self._keys: dict | None = None
        self._loaded = 0.0
        self._lock = threading.Lock()

    def keys(self) -> dict:
        if self._keys is None:
            self.reload()
        return self._keys

    def reload(self) -> bool:
        with self._lock:
            if self._keys is not None and time.monotonic() - self._loaded < self.RELOAD_INTERVAL_S:
                return False
            session = self._open_session()
            try:
                self._keys = seal_keys.public_keys(session)
            finally:
                session.close()
            self._loaded = time.monotonic()
            return True


#: What the public check reads: one narrow row by the unique number (never the record, never the PDF).
_PUBLIC_COLUMNS = (Certificate.id, Certificate.number, Certificate.revision, Certificate.kind, Certificate.status,
                   Certificate.issue_date, Certificate.valid_until, Certificate.record_digest, Certificate.revoked_at,
                   Certificate.revocation_reason, Certificate.summary)
_PUBLIC_QUERY = select(*_PUBLIC_COLUMNS).where(Certificate.number == bindparam("number"),
                                               Certificate.revision == bindparam("revision"))
_SUCCESSOR_QUERY = select(Certificate.number).where(Certificate.replaces_id == bindparam("id"))


class PublicLookup:
    """The public check's two queries, compiled once for the engine's dialect and run on a DBAPI connection taken
    from the engine's pool, their values converted by the columns' own SQLAlchemy types.

    Why not ``connection.execute``: on this page SQLAlchemy's per-execution work (transaction events, cache keys,
    result metadata) costs ten times the indexed look-up itself, and this is the page that must hold under load.
    The SQL is still SQLAlchemy's, for SQLite and PostgreSQL alike; the connection goes back to its pool after
    each use, and a connection found dead (a server restart) is replaced once."""

    def __init__(self, engine):
        self.engine = engine
        if engine.dialect.name != "sqlite":
            # A pool of its own, in autocommit and without the pre-ping: a single SELECT needs neither the ping nor
            # the rollback on return (three round trips become one). Disposed with the application's engine.
            self.engine = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=4, max_overflow=8)
            event.listen(engine, "engine_disposed", lambda _engine: self.engine.dispose())
        self._errors = self.engine.dialect.loaded_dbapi.Error
        self._public = self._prepare(_PUBLIC_QUERY)
        self._successor = self._prepare(_SUCCESSOR_QUERY)

    def _prepare(self, statement):
        dialect = self.engine.dialect
        compiled = statement.compile(dialect=dialect)
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in statement.selected_columns]
        names = [column.key for column in statement.selected_columns]
        return str(compiled), compiled.positiontup, processors, names

    def _run(self, prepared, params: dict):
        sql, order, processors, names = prepared
        arguments = tuple(params[name] for name in order) if order is not None else params
        for attempt in (1, 2):
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(sql, arguments)
                row = cursor.fetchone()
                cursor.close()
                break
            except self._errors:
                connection.invalidate()  # e.g. the server restarted: this connection is gone, try a fresh one
                if attempt == 2:
                    raise
            finally:
                connection.close()  # back to the pool
        if row is None:
            return None
        return types.SimpleNamespace(**{name: value if process is None else process(value)
                                        for name, process, value in zip(names, processors, row)})

    def certificate(self, number: str, revision: int):
        return self._run(self._public, {"number": number, "revision": revision})

    def successor(self, certificate_id: int) -> str | None:
        row = self._run(self._successor, {"id": certificate_id})
        return row.number if row is not None else None


@dataclasses.dataclass(frozen=True)
class PublicCheck:
    """The answer of the public check. ``status``: valid, expired, superseded, revoked, or invalid (then ``reason``
    says why: format, unknown_key, signature, unknown_certificate, digest, and nothing from the token is kept).
    ``certificate`` is a row of ``_PUBLIC_COLUMNS`` (attributes named as the model's)."""

    status: str
    reason: str = ""
    certificate: Any = None
    payload: seal.SealPayload | None = None
    superseded_by: str | None = None

    @property
    def genuine(self) -> bool:
        return self.status != "invalid"

    def certificate_dict(self) -> dict | None:
        if not self.genuine:
            return None
        c, summary = self.certificate, self.certificate.summary
        return {
            "number": c.number, "revision": c.revision, "kind": c.kind, "title": summary.get("title"),
            "verdict": self.payload.verdict.value,
            "issue_date": c.issue_date.isoformat(),
            "valid_until": c.valid_until.isoformat() if c.valid_until else None,
            "instrument": summary.get("instrument"), "owner": summary.get("owner"),
            "issuer": summary.get("centre"), "stamp_number": summary.get("stamp_number") or None,
            "method": summary.get("method") or None, "work_date": summary.get("work_date"),
            "superseded_by": self.superseded_by,
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            "revocation_reason": c.revocation_reason or None,
        }

    def to_dict(self) -> dict:
        out = {"status": self.status, "certificate": self.certificate_dict()}
        if not self.genuine:
            out["reason"] = self.reason
        return out


def public_check(lookup: PublicLookup, *, token: str, key_ring: KeyRing,
                 today: dt.date | None = None) -> PublicCheck:
    """Check a seal token: the signature over the exact text received first, then the certificate it names (number
    and revision together, never the number alone) and the digest of its stored record; then its live status.
    Read-only."""
    try:
        payload = _verify(token, key_ring)
    except seal.InvalidSeal as exc:
        return PublicCheck("invalid", exc.reason)
    row = lookup.certificate(payload.number, payload.revision)
    if row is None:
        return PublicCheck("invalid", "unknown_certificate")
    if row.record_digest != payload.digest.hex():
        return PublicCheck("invalid", "digest")
    following = lookup.successor(row.id) if row.status == "superseded" else None
    return PublicCheck(status_on(row, today or centre_today()), certificate=row, payload=payload,
                       superseded_by=following)


def _verify(token: str, key_ring: KeyRing) -> seal.SealPayload:
    try:
        return seal.verify(token, key_ring.keys())
    except seal.InvalidSeal as exc:
        if exc.reason != "unknown_key" or not key_ring.reload():
            raise
    return seal.verify(token, key_ring.keys())
