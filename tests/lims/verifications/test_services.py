"""Verification records: readings and results, every reason a submission is refused, signatures and their hashes,
amendments. The laboratory is tests/lims/workflow_fixtures.py (work two days ago, 09:00–10:00, room at 23 °C)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from lims.audit.models import AuditEvent
from lims.verifications import services
from lims.verifications.models import Signature, Verification
from tests.conftest import TEST_PASSWORD
from tests.lims.workflow_fixtures import TODAY, WORK_DAY


def _refused(lab, verification) -> list[str]:
    with pytest.raises(services.SubmissionRefusedError) as info:
        services.submit(lab.session, verification=verification, user_id=verification.technician_id,
                        password=TEST_PASSWORD)
    lab.session.rollback()
    return info.value.reasons


# --- readings ---------------------------------------------------------------------------------------------------

def test_record_readings_stores_the_server_computed_result_with_the_engine_version(lab):
    verification = lab.draft()
    values = lab.good_values(verification, **{"weighing[4].indication": "30,02"})
    evaluation = services.record_readings(lab.session, verification=verification, values=values)
    lab.session.commit()
    assert evaluation.errors == {}
    stored = lab.session.get(Verification, verification.id)
    assert stored.readings["weighing"][4] == {"load": "30", "direction": "up", "indication": "30.02"}
    weighing = next(t for t in stored.result["tests"] if t["name"] == "weighing")
    # 30 kg = 3 000 e: MPE 1.5 e = 0.015 kg (OIML R 76-1 Table 6); E = 0.02 kg fails.
    assert (weighing["points"][4]["error"], weighing["points"][4]["mpe"], weighing["points"][4]["passed"]) == \
        ("0.02", "0.015", False)
    assert stored.passed is False
    assert stored.result["engine_version"] == "1.0.0" and len(stored.result["rules_digest"]) == 64


def test_record_readings_keeps_junk_as_typed_without_a_result(lab):
    verification = lab.draft()
    values = lab.good_values(verification, **{"weighing[2].indication": "15,0l"})
    evaluation = services.record_readings(lab.session, verification=verification, values=values)
    assert evaluation.errors == {"weighing[2].indication": "Không phải là số ('15,0l')."}
    assert verification.readings["weighing"][2]["indication"] == "15,0l"
    assert verification.result is None and verification.passed is None


def test_empty_rows_are_left_out_and_errors_name_the_sheet_row(lab):
    verification = lab.draft()
    values = {"zero.indication": "0", "weighing[0].indication": "0.2", "weighing[6].indication": "abc"}
    evaluation = services.evaluate(verification, values)
    # Row 6 of the sheet is the second item of the readings sent to the engine; the error comes back to row 6.
    assert list(evaluation.errors) == ["weighing[6].indication"]
    assert evaluation.cells["weighing-0"]["passed"] is True  # the other rows are still evaluated


def test_draft_only_is_edited(lab):
    verification = lab.sign_ready()
    services.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    with pytest.raises(services.VerificationError, match="không sửa trực tiếp được"):
        services.record_readings(lab.session, verification=verification, values={})


def test_conditions_are_taken_from_the_room_log(lab):
    verification = lab.draft()
    assert verification.conditions["source"] == "log"
    assert (verification.conditions["temperature_c"], verification.conditions["humidity_pct"]) == ("23", "60")


def test_conditions_from_the_log_need_readings_near_the_work(lab):
    with pytest.raises(services.VerificationError, match="không có số đo nào trong vòng 30 phút"):
        lab.draft(start="15:00", end="16:00")


# --- submission: every reason -------------------------------------------------------------------------------------

def test_submit_signs_performed_and_records_the_hash(lab):
    verification = lab.sign_ready()
    services.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    lab.session.commit()
    assert verification.state == "submitted"
    [signature] = verification.signatures
    assert (signature.meaning, signature.signer_name, signature.card_number) == (
        "performed", "Trần Đức Thịnh", f"KĐV {lab.technician.id:04d}")
    assert signature.signed_at.tzinfo is not None
    assert signature.record_sha256 == services.record_sha256(verification)
    assert len(signature.record_sha256) == 64
    assert verification.standards[0].calibration.certificate_number == "KL QC-F2-T/2026"
    events = lab.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign")).all()
    assert [(e.entity_id, e.changes["meaning"], e.changes["record_sha256"]) for e in events] == [
        (str(verification.id), "performed", signature.record_sha256)]


def test_submission_refused_for_an_expired_authorisation(lab):
    expired = lab.user("kdv2", full_name="Lê Văn Cường",
                       authorise={"valid_from": TODAY - dt.timedelta(days=800),
                                  "valid_until": WORK_DAY - dt.timedelta(days=1)})
    verification = lab.sign_ready(technician=expired)
    reasons = _refused(lab, verification)
    until = (WORK_DAY - dt.timedelta(days=1)).strftime("%d/%m/%Y")
    assert reasons == [f"Lê Văn Cường không được thực hiện kiểm định, hiệu chuẩn Cân điện tử (cân không tự "
                       f"động) vào ngày {WORK_DAY:%d/%m/%Y}: ủy quyền (thẻ kiểm định viên số KĐV {expired.id:04d}) "
                       f"đã hết hạn, chỉ có hiệu lực "
                       f"đến hết ngày {until}."]


def test_submission_refused_for_an_overdue_standard(lab):
    due = WORK_DAY - dt.timedelta(days=3)
    overdue = lab.standard("QC-F2-OLD", calibration_date=due - dt.timedelta(days=365), due_date=due)
    verification = lab.sign_ready(standards=[lab.weights, overdue])
    reasons = _refused(lab, verification)
    assert reasons == [f"Chuẩn QC-F2-OLD quá hạn hiệu chuẩn từ {due + dt.timedelta(days=1):%d/%m/%Y} (giấy chứng "
                       f"nhận KL QC-F2-OLD/2026 có hiệu lực đến {due:%d/%m/%Y}); không được dùng cho đến khi được "
                       f"hiệu chuẩn lại."]


def test_submission_refused_for_an_inadequate_standard(lab):
    # At 5 kg (500 e) the scale's MPE is 0.5 e = 5 g; an M3 5 kg weight may be off by 2.5 g (R 111 Table 1), more
    # than a third of it. (At 0.2 kg the same set is adequate, so the form offered it.)
    coarse = lab.standard("QC-M3-T", accuracy_class="M3")
    verification = lab.sign_ready(standards=[coarse])
    assert _refused(lab, verification) == [
        "Chuẩn QC-M3-T không phù hợp: sai số lớn nhất 2500 mg (5 kg) > MPE/3 = 1666.6667 mg (cân cấp III, e = 0.01 "
        "kg, tại tải 5 kg: MPE = 5000 mg)."]


def test_submission_refused_for_conditions_outside_the_method_limits(lab):
    from lims.dates import from_local
    from lims.facilities import services as facilities

    facilities.record_reading(lab.session, room_id=lab.room.id, taken_at=from_local(
        dt.datetime.combine(WORK_DAY, dt.time(9, 40))), temperature_c="31.5", humidity_pct="55")
    lab.session.commit()
    verification = lab.sign_ready()
    reasons = _refused(lab, verification)
    assert reasons == [f"Điều kiện môi trường ngoài giới hạn của ĐLVN 15:2009: Nhiệt độ 31,5 °C lúc 09:40 "
                       f"{WORK_DAY:%d/%m/%Y} vượt giới hạn 18–28 °C."]


def test_submission_refused_for_conditions_entered_by_hand_outside_the_limits(lab):
    verification = lab.sign_ready(room_id=None, conditions_source="entered", temperature_c="16.5",
                                  humidity_pct="70")
    reasons = _refused(lab, verification)
    assert reasons == ["Nhiệt độ 16,5 °C ngoài giới hạn 18–28 °C của ĐLVN 15:2009."]


def test_submission_refused_for_a_withdrawn_method(lab):
    from lims.methods import services as methods

    methods.issue_version(lab.session, procedure_id=lab.procedure.id, version_label="2025",
                          effective_date=WORK_DAY - dt.timedelta(days=10), kind="verification",
                          instrument_types=["nawi"], environment_limits={}, adequacy_divisor=3,
                          required_tests=["weighing"], reason="Ban hành phiên bản mới")
    lab.session.commit()
    verification = lab.sign_ready()  # still on ĐLVN 15:2009
    reasons = _refused(lab, verification)
    withdrawn = WORK_DAY - dt.timedelta(days=10)
    assert reasons[0] == (f"Phương pháp ĐLVN 15:2009 đã hết hiệu lực từ ngày {withdrawn:%d/%m/%Y} (thay thế bởi "
                          f"ĐLVN 15:2025), không dùng được cho công việc ngày {WORK_DAY:%d/%m/%Y}.")


def test_submission_refused_for_a_missing_required_test(lab):
    verification = lab.draft()
    values = {k: v for k, v in lab.good_values(verification).items() if not k.startswith("eccentricity")}
    services.record_readings(lab.session, verification=verification, values=values)
    lab.session.commit()
    assert _refused(lab, verification) == ["Thiếu phép thử mà ĐLVN 15:2009 yêu cầu: Độ lệch tâm."]


def test_submission_lists_every_reason_at_once(lab):
    from lims.methods import services as methods

    coarse = lab.standard("QC-M3-T", accuracy_class="M3")
    other = methods.create_procedure(lab.session, number="ĐLVN 39", title="Công tơ điện")
    meters = methods.issue_version(lab.session, procedure_id=other.id, version_label="2004",
                                   effective_date=dt.date(2004, 12, 1), kind="verification",
                                   instrument_types=["energy_meter"], environment_limits={}, required_tests=[])
    lab.session.commit()
    verification = lab.draft(standards=[coarse], method=meters, start=None, end=None, conditions_source="entered")
    reasons = _refused(lab, verification)
    assert reasons[0] == "Phương pháp ĐLVN 39:2004 không áp dụng cho cân điện tử (cân không tự động)."
    assert reasons[1].startswith("Số đo chưa tính được kết quả: weighing: Chưa nhập.")
    assert len(reasons) == 2  # the meters' method sets no adequacy ratio, limits or required tests
    verification = lab.draft(standards=[coarse], start=None, end=None, conditions_source="entered")
    reasons = _refused(lab, verification)
    assert [r[:40] for r in reasons] == [
        "Số đo chưa tính được kết quả: weighing: ",
        "Thiếu phép thử mà ĐLVN 15:2009 yêu cầu: ",
        "Chưa ghi giờ bắt đầu và kết thúc công vi"]


def test_only_the_technician_of_record_submits(lab):
    verification = lab.sign_ready()
    with pytest.raises(services.SignatureRefusedError, match="Chỉ kiểm định viên thực hiện"):
        services.submit(lab.session, verification=verification, user_id=lab.reviewer.id, password=TEST_PASSWORD)


# --- signatures -------------------------------------------------------------------------------------------------

def _submitted(lab):
    verification = lab.sign_ready()
    services.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    lab.session.commit()
    return verification


def test_wrong_password_is_refused_and_counted_in_the_audit_trail(lab):
    verification = lab.sign_ready()
    with pytest.raises(services.WrongPasswordError, match="Mật khẩu không đúng"):
        services.submit(lab.session, verification=verification, user_id=lab.technician.id, password="wrong one")
    lab.session.commit()  # as the view does: the failed attempt is kept
    assert verification.state == "draft" and verification.signatures == []
    failed = lab.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_failed")).all()
    assert [(e.entity_id, e.changes["meaning"], e.changes["signer"]) for e in failed] == [
        (str(verification.id), "performed", "kdv")]


def test_review_and_approve_sign_with_their_meanings(lab):
    verification = _submitted(lab)
    services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    approved = services.approve(lab.session, verification=verification, approver_id=lab.approver.id,
                                password=TEST_PASSWORD)
    lab.session.commit()
    assert approved is verification and verification.state == "approved"
    assert [(s.meaning, s.signer_name) for s in verification.signatures] == [
        ("performed", "Trần Đức Thịnh"), ("reviewed", "Nguyễn Thị Thu Hà"), ("approved", "Phạm Văn Hưng")]
    assert len({s.record_sha256 for s in verification.signatures}) == 1  # one record version, signed three times
    assert all(services.signature_matches(lab.session, s) for s in verification.signatures)
    assert verification.job_item.job.state == "completed"


def test_reviewer_is_never_the_technician(lab):
    # The technician also holds a reviewing authorisation: the refusal is the rule, not a missing card.
    from lims.personnel import services as personnel

    personnel.grant_authorisation(lab.session, user_id=lab.technician.id, instrument_type="nawi",
                                  scope="Soát xét cân", card_number="", can_perform=False, can_review=True,
                                  valid_from=TODAY - dt.timedelta(days=10), valid_until=TODAY + dt.timedelta(days=10),
                                  granted_by_authority="Trung tâm")
    verification = _submitted(lab)
    with pytest.raises(services.SignatureRefusedError) as info:
        services.review(lab.session, verification=verification, reviewer_id=lab.technician.id,
                        password=TEST_PASSWORD)
    assert str(info.value) == "Trần Đức Thịnh là người thực hiện biên bản này nên không được ký người soát xét."


def test_approver_without_authorisation_is_refused(lab):
    stranger = lab.user("phogiamdoc", roles=("approver",), full_name="Đỗ Minh Khoa")
    verification = _submitted(lab)
    services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    with pytest.raises(services.SignatureRefusedError) as info:
        services.approve(lab.session, verification=verification, approver_id=stranger.id, password=TEST_PASSWORD)
    assert str(info.value) == ("Đỗ Minh Khoa không được phê duyệt kết quả Cân điện tử (cân không tự động): chưa có "
                               "ủy quyền nào cho loại phương tiện đo này.")
    with pytest.raises(services.SignatureRefusedError, match="không gồm việc đó"):
        services.approve(lab.session, verification=verification, approver_id=lab.reviewer.id,
                         password=TEST_PASSWORD)


def test_signatures_follow_the_states(lab):
    verification = lab.sign_ready()
    with pytest.raises(services.SignatureRefusedError, match="Bản nháp"):
        services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id,
                        password=TEST_PASSWORD)
    services.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    with pytest.raises(services.SignatureRefusedError, match="Chờ soát xét"):
        services.approve(lab.session, verification=verification, approver_id=lab.approver.id,
                         password=TEST_PASSWORD)


def _tamper(session, verification_id: int, readings: dict) -> None:
    cast = "CAST(:readings AS JSONB)" if session.get_bind().dialect.name == "postgresql" else ":readings"
    session.execute(text(f"UPDATE verifications SET readings = {cast} WHERE id = :id"),
                    {"readings": json.dumps(readings), "id": verification_id})
    session.commit()


def test_signature_no_longer_matches_after_the_stored_readings_are_changed(lab):
    verification = _submitted(lab)
    [signature] = verification.signatures
    assert services.signature_matches(lab.session, signature)
    readings = json.loads(json.dumps(verification.readings))
    readings["weighing"][4]["indication"] = "30.001"
    _tamper(lab.session, verification.id, readings)
    signature = lab.session.get(Signature, signature.id)
    assert services.signature_matches(lab.session, signature) is False
    assert services.record_sha256(lab.session.get(Verification, verification.id)) != signature.record_sha256


def test_record_hash_covers_the_content_not_the_state(lab):
    verification = lab.sign_ready()
    before = services.record_sha256(verification)
    verification.state = "submitted"
    assert services.record_sha256(verification) == before
    verification.conditions = {**verification.conditions, "temperature_c": "23.1"}
    assert services.record_sha256(verification) != before


# --- amendments -------------------------------------------------------------------------------------------------

def test_amendment_keeps_the_old_revision_and_its_signatures(lab):
    verification = _submitted(lab)
    services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    services.approve(lab.session, verification=verification, approver_id=lab.approver.id, password=TEST_PASSWORD)
    lab.session.commit()
    with pytest.raises(services.VerificationError, match="Lý do sửa đổi không được để trống"):
        services.amend(lab.session, verification=verification, actor_id=lab.technician.id, reason=" ")
    revision = services.amend(lab.session, verification=verification, actor_id=lab.technician.id,
                              reason="Ghi nhầm số chỉ tại 15 kg")
    lab.session.commit()
    assert (revision.root_id, revision.revision, revision.supersedes_id, revision.state) == (
        verification.root_id, 2, verification.id, "draft")
    assert verification.state == "approved"  # until the new revision is submitted
    with pytest.raises(services.VerificationError, match="đã có bản sửa đổi lần 2"):
        services.amend(lab.session, verification=verification, actor_id=lab.technician.id, reason="lần nữa")
    values = lab.good_values(revision, **{"weighing[2].indication": "15.01"})
    services.record_readings(lab.session, verification=revision, values=values)
    services.submit(lab.session, verification=revision, user_id=lab.technician.id, password=TEST_PASSWORD)
    lab.session.commit()
    old = lab.session.get(Verification, verification.id)
    assert old.state == "superseded"
    assert [s.meaning for s in old.signatures] == ["performed", "reviewed", "approved"]
    assert all(services.signature_matches(lab.session, s) for s in old.signatures)
    assert old.readings["weighing"][2]["indication"] == "15"
    assert [r.revision for r in services.revisions(lab.session, revision)] == [1, 2]
    assert [s.meaning for s in revision.signatures] == ["performed"]


def test_a_revision_being_amended_cannot_be_signed(lab):
    verification = _submitted(lab)
    services.amend(lab.session, verification=verification, actor_id=lab.technician.id, reason="Sửa nơi thực hiện")
    with pytest.raises(services.SignatureRefusedError, match="đang được sửa đổi"):
        services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id,
                        password=TEST_PASSWORD)


def test_one_live_record_per_item_and_cancelled_drafts_free_it(lab):
    verification = lab.draft()
    with pytest.raises(services.VerificationError, match="đã có biên bản"):
        services.create_verification(lab.session, job_item=verification.job_item, technician_id=lab.technician.id,
                                     performed_date=WORK_DAY)
    services.cancel(lab.session, verification=verification, reason="Lập nhầm")
    again = services.create_verification(lab.session, job_item=verification.job_item,
                                         technician_id=lab.technician.id, performed_date=WORK_DAY)
    assert again.root_id == again.id != verification.id


# --- offered standards and the certificate's facts ---------------------------------------------------------------

def test_offered_standards_are_usable_and_adequate_somewhere(lab):
    from lims.standards import services as standards

    lab.standard("QC-M3-T", accuracy_class="M3")                       # adequate at small loads: offered
    lab.standard("QC-20KG-M3", accuracy_class="M3", kind="single_weight",  # 20 kg M3: 10 g > 5 g: never adequate
                 range_=("20", "20", "kg"))
    due = WORK_DAY - dt.timedelta(days=3)
    lab.standard("QC-OLD", calibration_date=due - dt.timedelta(days=365), due_date=due)
    broken = lab.standard("QC-BROKEN")
    standards.take_out_of_service(lab.session, standard=broken, event_date=WORK_DAY - dt.timedelta(days=1),
                                  reason="Rơi vỡ quả 5 kg", today=TODAY)
    lab.session.commit()
    offered = services.offered_standards(lab.session, instrument=lab.scale, spec=lab.scale.spec, on=WORK_DAY,
                                         method=lab.method)
    assert [s.standard.code for s in offered] == ["QC-F2-T", "QC-M3-T"]


def test_certificate_facts_gather_what_a_certificate_prints(lab):
    verification = _submitted(lab)
    services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    services.approve(lab.session, verification=verification, approver_id=lab.approver.id, password=TEST_PASSWORD)
    facts = services.certificate_facts(lab.session, verification)
    assert facts.passed is True and facts.method_designation == "ĐLVN 15:2009"
    assert facts.customer_name == "Hộ kinh doanh Rơ Châm H'Blơi"
    assert facts.job_number.startswith(f"YC-{facts.receipt_date.year}-")
    assert [(s.code, s.certificate_number) for s in facts.standards] == [("QC-F2-T", "KL QC-F2-T/2026")]
    assert [(s.meaning, s.matches) for s in facts.signatures] == [
        ("performed", True), ("reviewed", True), ("approved", True)]
    assert facts.conditions["temperature_c"] == "23" and facts.interval_months == 12
    assert facts.record_sha256 == verification.signatures[0].record_sha256


def test_two_concurrent_approvals_sign_once(app, lab):
    """A double click or a replayed request: the record's row is locked while it is signed, so the second request
    finds it approved and is refused (no second signature, no unique-constraint crash)."""
    import threading

    verification = _submitted(lab)
    services.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    lab.session.commit()
    db = app.extensions["lims.db"]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def approve():
        session = db.session()
        try:
            start.wait()
            record = session.get(Verification, verification.id)
            services.approve(session, verification=record, approver_id=lab.approver.id, password=TEST_PASSWORD)
            session.commit()
            outcomes.append("approved")
        except services.SignatureRefusedError as exc:
            session.rollback()
            outcomes.append(str(exc))
        finally:
            session.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [f"Biên bản #{verification.root_id} đang ở trạng thái “Đã phê duyệt”, không ký người "
                                "phê duyệt được.", "approved"]
    lab.refresh()
    assert [s.meaning for s in lab.session.get(Verification, verification.id).signatures] == [
        "performed", "reviewed", "approved"]


def test_submission_refused_for_work_dated_before_the_receipt(lab):
    verification = lab.sign_ready()
    job = verification.job_item.job
    job.received_date = WORK_DAY + dt.timedelta(days=1)
    lab.session.commit()
    assert _refused(lab, verification) == [
        f"Ngày thực hiện {WORK_DAY:%d/%m/%Y} trước ngày tiếp nhận {job.received_date:%d/%m/%Y} của yêu cầu "
        f"{job.number}."]
