"""Issuing certificates (17025 7.8.2, 7.8.4): numbers, validity, stamps, seal, record and PDF; notices of failure;
calibration certificates; replays; refusals."""

import datetime as dt
import hashlib
import io
import threading

import pypdf
import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.certificates import keys, record, seal, services
from lims.certificates.models import Certificate, CertificateRecord, Stamp
from lims.jobs.models import NumberCounter
from lims.registry.models import Instrument

from .factories import PERFORMED, TODAY


def _text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages).split())


def test_issue_certificate_numbers_stamps_seals_and_prints(ready_lab):
    lab = ready_lab
    verification = lab.verification()
    certificate = lab.issue(verification)

    assert certificate.number == "KĐ-2026-000001"
    assert (certificate.series, certificate.year, certificate.seq, certificate.revision) == ("KĐ", 2026, 1, 0)
    assert certificate.kind == "verification" and certificate.status == "issued"
    assert certificate.issue_date == TODAY and certificate.issued_by_id == lab.approver.id
    # Class III scale in service: 12 months from the day of verification, up to the day before.
    assert certificate.valid_until == dt.date(2027, 3, 3)
    # The technician's stamps, lowest number first; the stamp is now used.
    assert certificate.stamp.number == "GL-26 0000001" and certificate.stamp.state == "used"
    # The record is what was sealed and printed.
    assert certificate.record_digest == seal.record_digest(certificate.record).hex()
    payload = seal.verify(certificate.seal_token, keys.public_keys(lab.session))
    assert (payload.number, payload.revision, payload.issue_date, payload.valid_until, payload.verdict) == (
        "KĐ-2026-000001", 0, TODAY, dt.date(2027, 3, 3), seal.Verdict.PASSED)
    assert payload.digest.hex() == certificate.record_digest and payload.serial == verification.instrument.serial
    assert certificate.seal_url == f"HTTP://LIMS.TEST/V/{certificate.seal_token}"
    stored = lab.session.get(CertificateRecord, certificate.id).pdf
    assert hashlib.sha256(stored).hexdigest() == certificate.pdf_sha256
    text = _text(stored)
    for expected in ("GIẤY CHỨNG NHẬN KIỂM ĐỊNH", "KĐ-2026-000001", verification.instrument.serial,
                     "Công ty TNHH Taxi Phố Núi", "Đạt yêu cầu kỹ thuật đo lường", "GL-26 0000001", "03/03/2027",
                     "Trần Đức Thịnh", "Nguyễn Thị Thu Hà", "Phạm Văn Hưng", "Kiểm định viên, thẻ số",
                     "Nhiệt độ/Temperature: 24,6 °C", "Pleiku, ngày 05 tháng 03 năm 2026"):
        assert expected in text, expected
    # The registry's due list follows the certificate in force.
    instrument = lab.session.get(Instrument, verification.instrument_id)
    assert instrument.last_verified_date == PERFORMED and instrument.next_due_date == dt.date(2027, 3, 4)
    # The provenance binds the certificate to the record revision and its signatures.
    provenance = certificate.record["provenance"]
    assert provenance["verification_id"] == verification.id
    assert [s["meaning"] for s in provenance["signatures"]] == ["performed", "reviewed", "approved"]


def test_issue_writes_an_audit_event_for_the_certificate_its_pdf_and_its_stamp(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    events = {(e.action, e.entity_type) for e in lab.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type.in_(("certificates", "certificate_records", "stamps"))))}
    assert {("insert", "certificates"), ("insert", "certificate_records"), ("update", "stamps")} <= events
    pdf_event = lab.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "certificate_records")).one()
    assert pdf_event.changes["pdf"][1] == f"sha256:{certificate.pdf_sha256}"


def test_consecutive_issuances_take_consecutive_numbers_per_series(ready_lab):
    lab = ready_lab
    numbers = [lab.issue(lab.verification()).number for _ in range(3)]
    notice = lab.issue(lab.verification(failing=True))
    numbers.append(lab.issue(lab.verification()).number)
    assert numbers == ["KĐ-2026-000001", "KĐ-2026-000002", "KĐ-2026-000003", "KĐ-2026-000004"]
    assert notice.number == "TB-2026-000001"
    next_year = lab.issue(lab.verification(), today=dt.date(2027, 1, 2))
    assert next_year.number == "KĐ-2027-000001"


def test_replayed_request_issues_one_certificate(ready_lab):
    lab = ready_lab
    verification = lab.verification()
    first = lab.issue(verification, key="approve-form-7f3a")
    again = lab.issue(verification, key="approve-form-7f3a")
    assert again.id == first.id
    assert lab.session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert lab.session.get(NumberCounter, ("KĐ", 2026)).last == 1
    assert lab.session.scalar(select(func.count()).select_from(Stamp).where(Stamp.state == "used")) == 1


def test_a_second_issuance_for_the_same_record_is_refused_with_the_number(ready_lab):
    lab = ready_lab
    verification = lab.verification()
    first = lab.issue(verification)
    with pytest.raises(services.AlreadyIssuedError, match="KĐ-2026-000001") as caught:
        lab.issue(verification, key="another-request")
    assert caught.value.certificate.id == first.id


@pytest.mark.parametrize("state", ["draft", "submitted", "reviewed"])
def test_issue_refuses_a_record_not_approved(ready_lab, state):
    lab = ready_lab
    verification = lab.verification(state=state)
    with pytest.raises(services.NotApprovedError, match="chưa được phê duyệt"):
        lab.issue(verification)
    lab.session.rollback()
    assert lab.session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_failed_verification_gives_a_notice_without_stamp_or_validity(ready_lab):
    lab = ready_lab
    verification = lab.verification(failing=True)
    assert verification.passed is False
    notice = lab.issue(verification)
    assert notice.number == "TB-2026-000001" and notice.kind == "failure_notice"
    assert notice.stamp_id is None and notice.valid_until is None
    assert seal.verify(notice.seal_token, keys.public_keys(lab.session)).verdict is seal.Verdict.FAILED
    assert lab.session.scalar(select(func.count()).select_from(Stamp).where(Stamp.state == "used")) == 0
    text = _text(lab.session.get(CertificateRecord, notice.id).pdf)
    assert "THÔNG BÁO KẾT QUẢ KIỂM ĐỊNH KHÔNG ĐẠT" in text and "Không đạt yêu cầu kỹ thuật đo lường" in text
    assert "Kiểm tra độ lệch tâm: 1/5 điểm không đạt" in text
    assert "Tem kiểm định số" not in text and "Hiệu lực đến" not in text


def test_a_failed_record_needs_no_stamp(lab):
    lab.create_key()  # no stamps at all
    assert lab.issue(lab.verification(failing=True)).kind == "failure_notice"


def test_calibration_gives_a_calibration_certificate_with_uncertainty_and_no_validity(ready_lab):
    lab = ready_lab
    verification = lab.verification(type_code="weight", kind="calibration")
    certificate = lab.issue(verification)
    assert certificate.number == "HC-2026-000001" and certificate.kind == "calibration"
    assert certificate.valid_until is None and certificate.stamp_id is None
    assert seal.verify(certificate.seal_token, keys.public_keys(lab.session)).verdict is seal.Verdict.CALIBRATION
    text = _text(lab.session.get(CertificateRecord, certificate.id).pdf)
    assert "GIẤY CHỨNG NHẬN HIỆU CHUẨN" in text and "(k = 2)" in text
    assert "Phù hợp cấp chính xác M1 theo OIML R 111-1:2004" in text
    assert "Đạt yêu cầu kỹ thuật đo lường" not in text


def test_valid_until_for_a_taximeter_is_18_months_from_15_october_2024(ready_lab):
    """TT 03/2024/TT-BKHCN (in force 15/10/2024): taximeters every 18 months, 12 before (DOMAIN.md §6)."""
    lab = ready_lab
    after = lab.issue(lab.verification(type_code="taximeter", performed_date=dt.date(2024, 10, 15)),
                      today=dt.date(2024, 10, 16))
    assert after.valid_until == dt.date(2026, 4, 14)
    before = lab.issue(lab.verification(type_code="taximeter", performed_date=dt.date(2024, 10, 14)),
                       today=dt.date(2024, 10, 16))
    assert before.valid_until == dt.date(2025, 10, 13)
    assert "Hiệu lực đến hết ngày / Valid until: 14/04/2026" in _text(lab.session.get(CertificateRecord, after.id).pdf)


def test_no_stamp_is_a_clear_refusal_that_takes_no_number(lab):
    lab.create_key()
    verification = lab.verification()
    with pytest.raises(services.NoStampError, match="Trần Đức Thịnh không còn tem kiểm định nào được giao"):
        lab.issue(verification)
    lab.session.rollback()
    lab.stamps(100, 101)
    assert lab.issue(verification).number == "KĐ-2026-000001"


def test_stamps_of_another_technician_are_not_taken(lab):
    from lims.auth import services as auth

    lab.create_key()
    other = auth.create_user(lab.session, username="kdv2", full_name="Lê Văn Nam", password="x" * 12,
                             roles=["technician"])
    lab.session.commit()
    lab.stamps(1, 5, technician=other)
    with pytest.raises(services.NoStampError):
        lab.issue(lab.verification())


def test_missing_seal_key_names_the_command_to_run(lab):
    lab.stamps(1, 3)
    with pytest.raises(services.SealKeyError, match="lims keys create"):
        lab.issue(lab.verification())
    lab.session.rollback()
    assert lab.session.scalar(select(Stamp.state).where(Stamp.serial_no == 1)) == "assigned"


def test_a_record_changed_after_signing_is_not_certified(ready_lab):
    lab = ready_lab
    verification = lab.verification()
    verification.notes = "sửa sau khi ký"
    lab.session.commit()
    with pytest.raises(services.CertificateError, match="bị thay đổi sau khi ký"):
        lab.issue(verification)


def test_the_pdf_printed_again_from_the_record_is_identical(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    lab.session.expire_all()
    certificate = lab.session.get(Certificate, certificate.id)
    again = services.render_pdf(certificate)
    assert again == lab.session.get(CertificateRecord, certificate.id).pdf
    assert hashlib.sha256(again).hexdigest() == certificate.pdf_sha256
    assert services.check_integrity(lab.session, certificate).ok
    # The record alone (as JSON text, as a backup would hold it) gives the document back.
    document = record.document_from_record(certificate.record, seal_url=certificate.seal_url)
    assert document.number == certificate.number and document.stamp_number == "GL-26 0000001"


def test_what_a_certificate_says_cannot_be_changed_nor_a_certificate_deleted(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    certificate.valid_until = dt.date(2030, 1, 1)
    with pytest.raises(services.CertificateImmutableError, match="valid_until"):
        lab.session.flush()
    lab.session.rollback()
    certificate = lab.session.get(Certificate, certificate.id)
    lab.session.delete(certificate)
    with pytest.raises(services.CertificateImmutableError):
        lab.session.flush()
    lab.session.rollback()
    certificate = lab.session.get(Certificate, certificate.id)
    certificate.status = "issued"
    certificate.status = "superseded"
    certificate.status = "issued"  # no net change: nothing to refuse
    lab.session.flush()


def test_concurrent_issuances_give_exactly_n_consecutive_numbers(ready_lab, app):
    """N threads, each issuing in its own transaction: N certificates numbered 1 … N, no gap, no duplicate, on
    SQLite (BEGIN IMMEDIATE) and PostgreSQL (the counter's row lock)."""
    from lims.verifications.models import Verification

    lab = ready_lab
    count = 8
    ids = [lab.verification().id for _ in range(count)]
    database = app.extensions["lims.db"]
    settings = lab.settings
    barrier = threading.Barrier(count)
    numbers, errors = [], []

    def worker(verification_id: int) -> None:
        session = database.session()
        try:
            barrier.wait(timeout=30)
            certificate = services.issue_for_verification(
                session, verification=session.get(Verification, verification_id), issued_by_id=lab.approver.id,
                request_key=f"thread:{verification_id}", today=TODAY, settings=settings)
            session.commit()
            numbers.append(certificate.seq)
        except Exception as exc:  # reported below
            session.rollback()
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(vid,)) for vid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(numbers) == list(range(1, count + 1))
    lab.session.rollback()
    rows = list(lab.session.scalars(select(Certificate).order_by(Certificate.seq)))
    assert [row.number for row in rows] == [f"KĐ-2026-{n:06d}" for n in range(1, count + 1)]
    assert len({row.stamp_id for row in rows}) == count
    assert lab.session.get(NumberCounter, ("KĐ", 2026)).last == count


def test_concurrent_replays_of_one_request_issue_one_certificate(ready_lab, app):
    from lims.verifications.models import Verification

    lab = ready_lab
    verification_id = lab.verification().id
    database = app.extensions["lims.db"]
    barrier = threading.Barrier(4)
    ids, errors = [], []

    def worker() -> None:
        session = database.session()
        try:
            barrier.wait(timeout=30)
            certificate = services.issue_for_verification(
                session, verification=session.get(Verification, verification_id), issued_by_id=lab.approver.id,
                request_key="double-click", today=TODAY, settings=lab.settings)
            session.commit()
            ids.append(certificate.id)
        except Exception as exc:
            session.rollback()
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(set(ids)) == 1
    lab.session.rollback()
    assert lab.session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert lab.session.get(NumberCounter, ("KĐ", 2026)).last == 1
