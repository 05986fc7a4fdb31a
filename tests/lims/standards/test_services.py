"""Standards register services: status, the usability check, traceability, adequacy, immutability, lists."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.standards import services
from lims.standards.models import StandardCalibration

from .conftest import TODAY
from lims.dates import centre_today

D = dt.date


# --- the usability check ----------------------------------------------------------------------------------------------

def test_check_usable_refuses_an_overdue_standard_saying_since_when(session, make_standard, calibrate):
    standard = make_standard("QC-M1-01", accuracy_class="M1")
    calibrate(standard, D(2025, 10, 12), D(2026, 10, 12), certificate_number="HC-KL-2025-051")

    with pytest.raises(services.StandardNotUsableError) as refused:
        services.check_usable(session, standard_ids=[standard.id], on=D(2026, 11, 2))

    assert str(refused.value) == ("Chuẩn QC-M1-01 quá hạn hiệu chuẩn từ 13/10/2026 (giấy chứng nhận HC-KL-2025-051 "
                                  "có hiệu lực đến 12/10/2026); không được dùng cho đến khi được hiệu chuẩn lại.")
    assert refused.value.standard_ids == [standard.id]
    # The last day of validity is still usable.
    [status] = services.check_usable(session, standard_ids=[standard.id], on=D(2026, 10, 12))
    assert status.code == "due_soon" and status.until == D(2026, 10, 12)


def test_check_usable_refuses_a_standard_taken_out_of_service_with_the_reason(session, make_standard, calibrate):
    standard = make_standard("TX-DH-03", kind="timer", accuracy_class="0.01", type_codes=["taximeter"],
                             range_=("0", "3600", "s"))
    calibrate(standard, D(2026, 1, 10))
    services.take_out_of_service(session, standard=standard, event_date=D(2026, 5, 4),
                                 reason="Rơi vỡ màn hình khi thử trên xe", today=TODAY)

    with pytest.raises(services.StandardNotUsableError) as refused:
        services.check_usable(session, standard_ids=[standard.id], on=D(2026, 5, 4))
    assert str(refused.value) == ("Chuẩn TX-DH-03 ngừng sử dụng từ 04/05/2026: Rơi vỡ màn hình khi thử trên xe. "
                                  "Không được dùng cho đến khi được hiệu chuẩn lại hoặc đưa trở lại sử dụng.")
    # Work dated before the event is judged as it was then.
    assert services.check_usable(session, standard_ids=[standard.id], on=D(2026, 5, 3))[0].code == "in_service"

    services.return_to_service(session, standard=standard, event_date=D(2026, 6, 1), reason="Đã thay màn hình, "
                               "kiểm tra lại đạt", today=TODAY)
    assert services.check_usable(session, standard_ids=[standard.id], on=D(2026, 6, 1))[0].usable


def test_check_usable_names_every_refused_standard_and_refuses_an_uncalibrated_one(session, make_standard,
                                                                                   calibrate):
    good = make_standard("QC-F2-01", accuracy_class="F2")
    calibrate(good, D(2026, 1, 5))
    never = make_standard("QC-F2-09", accuracy_class="F2")
    with pytest.raises(services.StandardNotUsableError) as refused:
        services.check_usable(session, standard_ids=[good.id, never.id], on=D(2026, 3, 1))
    assert refused.value.standard_ids == [never.id]
    assert str(refused.value) == ("Chuẩn QC-F2-09 chưa có giấy chứng nhận hiệu chuẩn vào ngày 01/03/2026; không "
                                  "được dùng cho đến khi được hiệu chuẩn.")
    # Before its first calibration a standard is not calibrated either.
    with pytest.raises(services.StandardNotUsableError):
        services.check_usable(session, standard_ids=[good.id], on=D(2026, 1, 4))


def test_status_is_due_soon_within_the_window_and_in_service_before(session, make_standard, calibrate):
    standard = make_standard("QC-F1-01")
    calibrate(standard, D(2026, 1, 10), D(2027, 1, 10))
    assert services.standard_status(session, standard, on=D(2026, 12, 10)).code == "in_service"
    status = services.standard_status(session, standard, on=D(2026, 12, 11))
    assert (status.code, status.days_left) == ("due_soon", 30)
    assert status.message == "Chuẩn QC-F1-01 sắp đến hạn hiệu chuẩn: hiệu lực đến 10/01/2027 (còn 30 ngày)."
    assert services.standard_status(session, standard, on=D(2026, 12, 11), due_soon_days=10).code == "in_service"


def test_usable_standards_offers_only_usable_ones_intended_for_the_type(session, make_standard, calibrate):
    ok = make_standard("QC-F2-01", accuracy_class="F2")
    calibrate(ok, D(2026, 1, 5))
    overdue = make_standard("QC-F2-02", accuracy_class="F2")
    calibrate(overdue, D(2025, 1, 5))
    meter = make_standard("CT-CHUAN-01", kind="reference_meter", accuracy_class="0.05", type_codes=["energy_meter"],
                          range_=("0.01", "100", "A"))
    calibrate(meter, D(2026, 1, 5))
    assert [s.standard.code for s in services.usable_standards(session, instrument_type="nawi",
                                                               on=D(2026, 3, 1))] == ["QC-F2-01"]
    assert [s.standard.code for s in services.usable_standards(session, instrument_type="energy_meter",
                                                               on=D(2026, 3, 1))] == ["CT-CHUAN-01"]


# --- intermediate checks ----------------------------------------------------------------------------------------------

def test_intermediate_check_computes_mean_deviation_and_verdict(session, make_standard):
    standard = make_standard("QC-F1-01")
    check = services.record_intermediate_check(
        session, standard=standard, check_date=D(2026, 3, 1), nominal="1", unit="kg", value_unit="mg",
        reference_value="0,1", measured_values="0,12; 0.15\n0.11", limit="0.05", performed_by_name="Trần Thị Lan",
        today=TODAY)
    assert (check.measured_values, check.mean_value, check.deviation, check.is_passed) == (
        ["0.12", "0.15", "0.11"], "0.127", "0.027", True)
    # An error equal to the limit passes; beyond it fails.
    at_limit = services.record_intermediate_check(
        session, standard=standard, check_date=D(2026, 4, 1), nominal="1", unit="kg", value_unit="mg",
        reference_value="0.1", measured_values=["0.15"], limit="0.05", performed_by_name="Trần Thị Lan", today=TODAY)
    assert at_limit.is_passed is True


@pytest.mark.parametrize(("field", "value", "message"), [
    ("measured_values", "", "Hãy nhập ít nhất một giá trị đo."),
    ("measured_values", "0.1; abc", "Giá trị đo phải là một số, ví dụ 0,5 (nhận: abc)."),
    ("limit", "0", "Giới hạn chấp nhận phải lớn hơn 0."),
    ("check_date", D(2027, 7, 1), "Ngày kiểm tra không được sau hôm nay."),
])
def test_intermediate_check_refuses_bad_input(session, make_standard, field, value, message):
    standard = make_standard("QC-F1-01")
    args = dict(check_date=D(2026, 3, 1), nominal="1", unit="kg", value_unit="mg", reference_value="0.1",
                measured_values="0.1", limit="0.05", performed_by_name="Lan")
    args[field] = value
    with pytest.raises(services.StandardError) as refused:
        services.record_intermediate_check(session, standard=standard, today=TODAY, **args)
    assert (refused.value.field, str(refused.value)) == (field, message)


def test_failed_intermediate_check_puts_the_standard_out_of_service(session, make_standard, calibrate):
    standard = make_standard("QC-M1-04", accuracy_class="M1")
    calibrate(standard, D(2026, 1, 10))
    services.record_intermediate_check(
        session, standard=standard, check_date=D(2026, 9, 8), nominal="1", unit="kg", value_unit="mg",
        reference_value="5", measured_values="24; 25; 26", limit="16", performed_by_name="Lê Minh Tuấn", today=TODAY)

    status = services.standard_status(session, standard, on=D(2026, 9, 8))
    assert (status.code, status.since, status.usable) == ("out_of_service", D(2026, 9, 8), False)
    with pytest.raises(services.StandardNotUsableError) as refused:
        services.check_usable(session, standard_ids=[standard.id], on=D(2026, 9, 10))
    assert str(refused.value) == (
        "Chuẩn QC-M1-04 ngừng sử dụng từ 08/09/2026: kiểm tra giữa kỳ ngày 08/09/2026 không đạt (độ lệch 20 mg tại "
        "1 kg, giới hạn ±16 mg). Không được dùng cho đến khi được hiệu chuẩn lại hoặc đưa trở lại sử dụng.")
    assert services.standard_status(session, standard, on=D(2026, 9, 7)).code == "in_service"

    # A recalibration after the failed check puts it back in service.
    calibrate(standard, D(2026, 9, 20))
    assert services.standard_status(session, standard, on=D(2026, 9, 20)).code == "in_service"


def test_failed_check_is_cleared_by_a_return_to_service_or_a_later_passing_check(session, make_standard, calibrate):
    standard = make_standard("MT-NA-01", kind="thermo_hygrometer", accuracy_class="±0,3 °C", type_codes=[],
                             range_=("", "", ""))
    calibrate(standard, D(2026, 1, 10))
    args = dict(nominal="20", unit="°C", value_unit="°C", reference_value="20", limit="0.5",
                performed_by_name="Lan", today=TODAY)
    services.record_intermediate_check(session, standard=standard, check_date=D(2026, 3, 1), measured_values="20.9",
                                       **args)
    with pytest.raises(services.StandardError) as refused:  # before the failed check it was in service
        services.return_to_service(session, standard=standard, event_date=D(2026, 2, 1), reason="x", today=TODAY)
    assert refused.value.field == "event_date"
    services.return_to_service(session, standard=standard, event_date=D(2026, 3, 5), reason="Đã hiệu chỉnh",
                               today=TODAY)
    assert services.standard_status(session, standard, on=D(2026, 3, 5)).code == "in_service"

    services.record_intermediate_check(session, standard=standard, check_date=D(2026, 4, 1), measured_values="21",
                                       **args)
    assert services.standard_status(session, standard, on=D(2026, 4, 1)).code == "out_of_service"
    services.record_intermediate_check(session, standard=standard, check_date=D(2026, 4, 2), measured_values="20.1",
                                       **args)
    assert services.standard_status(session, standard, on=D(2026, 4, 2)).code == "in_service"


def test_return_to_service_refuses_a_standard_in_service(session, make_standard, calibrate):
    standard = make_standard("QC-F1-01")
    calibrate(standard, D(2026, 1, 10))
    with pytest.raises(services.StandardError) as refused:
        services.return_to_service(session, standard=standard, event_date=D(2026, 2, 1), reason="x", today=TODAY)
    assert str(refused.value) == "Chuẩn QC-F1-01 không ở trạng thái ngừng sử dụng vào ngày 01/02/2026."


def test_control_chart_data_follows_the_most_checked_point(session, make_standard):
    standard = make_standard("QC-F1-01")
    for month, value in ((1, "1.2"), (2, "1.3"), (3, "2.9")):
        services.record_intermediate_check(
            session, standard=standard, check_date=D(2026, month, 1), nominal="1", unit="kg", value_unit="mg",
            reference_value="1.2", measured_values=value, limit="1.6", performed_by_name="Lan", today=TODAY)
    checks = services.intermediate_checks(session, standard)
    data = services.control_chart_data(checks)
    assert data.points == [(D(2026, 1, 1), Decimal("1.2")), (D(2026, 2, 1), Decimal("1.3")),
                           (D(2026, 3, 1), Decimal("2.9"))]
    assert data.failed == [(D(2026, 3, 1), Decimal("2.9"))]
    assert (data.reference, data.limit, data.value_unit) == (Decimal("1.2"), Decimal("1.6"), "mg")


# --- traceability -----------------------------------------------------------------------------------------------------

@pytest.fixture
def mass_chain(make_standard, calibrate):
    """VMI → E2 (24 months) → F1 (12 months) → M1 (12 months), like the demo's."""
    e2 = make_standard("QC-E2-01", accuracy_class="E2", interval=24)
    calibrate(e2, D(2026, 1, 5), certificate_number="KL 0417/2026")
    f1 = make_standard("QC-F1-01", accuracy_class="F1")
    calibrate(f1, D(2026, 2, 1), D(2026, 12, 31), references=[e2])
    m1 = make_standard("QC-M1-01", accuracy_class="M1")
    calibrate(m1, D(2026, 3, 1), D(2027, 3, 1), references=[f1])
    return e2, f1, m1


def test_traceability_chain_of_three_levels_is_intact_up_to_vmi(session, mass_chain):
    e2, f1, m1 = mass_chain
    chain = services.traceability_chain(session, m1, on=D(2026, 6, 1))
    assert (chain.broken, chain.reasons) == (False, [])
    assert [[link.standard.code for link in level] for level in chain.levels()] == [
        ["QC-E2-01"], ["QC-F1-01"], ["QC-M1-01"]]
    [top] = chain.top()
    assert (top.laboratory_name, top.accreditation_number, top.certificate_number) == (
        "Viện Đo lường Việt Nam (VMI)", "VILAS 002", "KL 0417/2026")
    assert chain.root.uncertainty == "U = 0.5 mg (k = 2)"


def test_traceability_chain_breaks_when_a_middle_calibration_expires(session, mass_chain):
    e2, f1, m1 = mass_chain
    # M1 is still valid on 05/01/2027, but the F1 set it was calibrated against expired on 31/12/2026.
    assert services.standard_status(session, m1, on=D(2027, 1, 5)).usable
    chain = services.traceability_chain(session, m1, on=D(2027, 1, 5))
    assert chain.broken is True
    assert chain.reasons == ["Hiệu chuẩn của chuẩn QC-F1-01 hết hiệu lực ngày 31/12/2026."]
    assert [link.broken for link in chain.links()] == [False, True, False]


def test_traceability_chain_breaks_on_a_missing_certificate_until_a_correction_adds_it(session, make_standard,
                                                                                       calibrate):
    barometer = make_standard("MT-AP-01", kind="barometer", accuracy_class="±0,3 hPa", type_codes=[],
                              range_=("500", "1100", "hPa"))
    pending = calibrate(barometer, D(2026, 5, 1), certificate_number="")
    chain = services.traceability_chain(session, barometer, on=D(2026, 6, 1))
    assert chain.reasons == ["Thiếu giấy chứng nhận hiệu chuẩn của chuẩn MT-AP-01 (bản ghi ngày 01/05/2026 chưa có "
                             "số giấy chứng nhận)."]
    services.correct_calibration(session, calibration=pending, reason="Đã nhận giấy chứng nhận của VMI",
                                 calibration_date=pending.calibration_date, due_date=pending.due_date,
                                 source="external", laboratory_name=pending.laboratory_name,
                                 accreditation_number="VILAS 002", certificate_number="AS 0051/2026",
                                 results=pending.results, today=TODAY)
    assert services.traceability_chain(session, barometer, on=D(2026, 6, 1)).broken is False


def test_traceability_chain_breaks_when_the_reference_was_overdue_when_used(session, make_standard, calibrate):
    e2 = make_standard("QC-E2-01", accuracy_class="E2")
    calibrate(e2, D(2025, 1, 5), D(2026, 1, 5))
    f1 = make_standard("QC-F1-01")
    # Recorded through the model: the service would refuse it (see test_record_calibration_refuses_...).
    session.add(StandardCalibration(standard_id=f1.id, calibration_date=D(2026, 2, 1), due_date=D(2027, 2, 1),
                                    source="internal", certificate_number="HC-1", results=[]))
    session.flush()
    calibration = session.scalar(select(StandardCalibration).where(StandardCalibration.standard_id == f1.id))
    from lims.standards.models import CalibrationReference
    session.add(CalibrationReference(calibration_id=calibration.id, reference_id=e2.id))
    session.flush()
    session.expire_all()
    calibrate(e2, D(2026, 3, 1))
    reasons = services.traceability_chain(session, f1, on=D(2026, 4, 1)).reasons
    assert reasons == ["Chuẩn QC-E2-01 chưa được hiệu chuẩn hoặc đã quá hạn vào ngày 01/02/2026, khi được dùng để "
                       "hiệu chuẩn QC-F1-01."]


def test_traceability_chain_stops_at_a_cycle(session, make_standard, calibrate):
    a = make_standard("QC-A")
    b = make_standard("QC-B")
    calibrate(a, D(2026, 1, 1))
    calibrate(b, D(2026, 2, 1), references=[a])
    calibrate(a, D(2026, 3, 1), references=[b])  # A later recalibrated against B, which was calibrated against A
    chain = services.traceability_chain(session, a, on=D(2026, 4, 1))
    assert chain.broken is True
    assert [link.standard.code for link in chain.links()] == ["QC-A", "QC-B"]
    assert chain.reasons == ["Chuỗi liên kết chuẩn bị vòng lặp: QC-B được hiệu chuẩn bằng QC-A, chuẩn nằm dưới nó "
                             "trong chuỗi."]


def test_traceability_chain_of_an_uncalibrated_standard_is_broken(session, make_standard):
    standard = make_standard("QC-X")
    chain = services.traceability_chain(session, standard, on=D(2026, 4, 1))
    assert chain.reasons == ["Chuẩn QC-X chưa có giấy chứng nhận hiệu chuẩn vào ngày 01/04/2026."]
    assert chain.top() == []


# --- calibrations: rules, supersede, immutability ---------------------------------------------------------------------

def test_correction_supersedes_and_keeps_both_records(session, make_standard, calibrate):
    meter = make_standard("CT-CHUAN-01", kind="reference_meter", accuracy_class="0.05", type_codes=["energy_meter"],
                          range_=("0.01", "100", "A"))
    original = calibrate(meter, D(2026, 7, 25), certificate_number="ĐN 0231/2026")
    correction = services.correct_calibration(
        session, calibration=original, reason="Nhập nhầm số giấy chứng nhận", calibration_date=D(2026, 7, 25),
        due_date=original.due_date, source="external", laboratory_name=original.laboratory_name,
        accreditation_number="VILAS 002", certificate_number="ĐN 0213/2026", results=original.results, today=TODAY)

    history = services.calibration_history(session, meter)
    assert [(c.id, c.certificate_number, c.supersedes_id) for c in history] == [
        (correction.id, "ĐN 0213/2026", original.id), (original.id, "ĐN 0231/2026", None)]
    assert services.superseded_by(session, original).id == correction.id
    assert services.standard_status(session, meter, on=D(2026, 8, 1)).calibration.id == correction.id
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "standard_calibrations",
                                                    AuditEvent.entity_id == str(correction.id)))
    assert (event.action, event.reason) == ("insert", "Nhập nhầm số giấy chứng nhận")

    with pytest.raises(services.StandardError) as refused:
        services.correct_calibration(session, calibration=original, reason="lần nữa", calibration_date=D(2026, 7, 25),
                                     due_date=original.due_date, source="external", laboratory_name="VMI",
                                     certificate_number="X", results=original.results, today=TODAY)
    assert str(refused.value) == (f"Bản ghi này đã được thay thế bởi bản ghi #{correction.id} ngày 25/07/2026; hãy "
                                  "sửa bản ghi mới nhất.")


def test_calibration_records_cannot_be_changed_or_deleted_in_place(session, make_standard, calibrate):
    calibration = calibrate(make_standard("QC-F1-01"), D(2026, 1, 5))
    calibration.certificate_number = "changed"
    with pytest.raises(services.CalibrationImmutableError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"due_date": D(2026, 1, 5)}, "due_date", "Hạn hiệu chuẩn phải sau ngày hiệu chuẩn."),
    ({"calibration_date": D(2027, 7, 1)}, "calibration_date", "Ngày hiệu chuẩn không được sau hôm nay."),
    ({"laboratory_name": ""}, "laboratory_name", "Phòng thí nghiệm hiệu chuẩn không được để trống."),
    ({"results": []}, "results", "Hãy nhập ít nhất một điểm hiệu chuẩn (giá trị danh định, số hiệu chính và độ "
                                 "không đảm bảo đo mở rộng)."),
    ({"results": [{"nominal": "1", "unit": "kg", "correction": "0.1", "expanded_uncertainty": "-1"}]}, "results",
     "Điểm 1: U không được âm."),
    ({"source": "internal", "reference_ids": []}, "reference_ids",
     "Hiệu chuẩn nội bộ: hãy chọn chuẩn của trung tâm đã dùng để hiệu chuẩn."),
])
def test_record_calibration_refuses_bad_input(session, make_standard, change, field, message):
    standard = make_standard("QC-F1-01", interval=None)
    args = dict(calibration_date=D(2026, 1, 5), due_date=D(2027, 1, 5), source="external",
                laboratory_name="Viện Đo lường Việt Nam (VMI)", certificate_number="KL 1",
                results=[{"nominal": "1", "unit": "kg", "correction": "0.1", "expanded_uncertainty": "0.5"}])
    args.update(change)
    with pytest.raises(services.StandardError) as refused:
        services.record_calibration(session, standard=standard, today=TODAY, **args)
    assert (refused.value.field, str(refused.value)) == (field, message)


def test_record_calibration_proposes_the_due_date_and_refuses_a_repeat_certificate(session, make_standard,
                                                                                    calibrate):
    standard = make_standard("QC-F1-01", interval=12)
    first = calibrate(standard, D(2026, 1, 31), certificate_number="KL 7")
    assert first.due_date == D(2027, 1, 31)
    assert first.results == [{"nominal": "1", "unit": "kg", "correction": "0.3", "expanded_uncertainty": "0.5",
                              "k": "2", "result_unit": "mg"}]
    with pytest.raises(services.StandardError) as refused:
        calibrate(standard, D(2026, 2, 2), certificate_number="KL 7")
    assert str(refused.value) == "Giấy chứng nhận số KL 7 đã được ghi cho chuẩn này (bản ghi ngày 31/01/2026)."


def test_internal_calibration_refuses_itself_and_a_reference_not_usable_that_day(session, make_standard, calibrate):
    reference = make_standard("QC-E2-01", accuracy_class="E2")
    calibrate(reference, D(2025, 1, 5), D(2026, 1, 5))
    standard = make_standard("QC-F1-01")
    with pytest.raises(services.StandardError) as refused:
        calibrate(standard, D(2026, 2, 1), references=[standard])
    assert str(refused.value) == "Một chuẩn không thể được hiệu chuẩn bằng chính nó."
    with pytest.raises(services.StandardError) as refused:
        calibrate(standard, D(2026, 2, 1), references=[reference])
    assert refused.value.field == "reference_ids"
    assert str(refused.value).startswith("Chuẩn dùng để hiệu chuẩn không hợp lệ vào ngày 01/02/2026: Chuẩn QC-E2-01 "
                                         "quá hạn hiệu chuẩn từ 06/01/2026")


def test_certificate_file_is_stored_under_its_sha256_and_checked(tmp_path, session, make_standard, calibrate):
    data = b"%PDF-1.4 giay chung nhan"
    standard = make_standard("QC-E2-01", accuracy_class="E2")
    calibration = calibrate(standard, D(2026, 1, 5), files_dir=tmp_path, certificate_file=data,
                            certificate_filename="C:\\scan\\GCN KL 0417.pdf")
    assert calibration.certificate_sha256 == hashlib.sha256(data).hexdigest()
    assert calibration.certificate_filename == "GCN KL 0417.pdf"
    path = services.certificate_path(tmp_path, calibration)
    assert path.read_bytes() == data and services.certificate_intact(tmp_path, calibration)
    path.write_bytes(data + b"tampered")
    assert not services.certificate_intact(tmp_path, calibration)
    with pytest.raises(services.StandardError) as refused:
        services.store_certificate(tmp_path, filename="gcn.pdf", data=b"MZ not a pdf")
    assert str(refused.value) == "Nội dung tệp không đúng định dạng PDF."
    with pytest.raises(services.StandardError):
        services.store_certificate(tmp_path, filename="gcn.exe", data=b"%PDF")


# --- standards --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"kind": "weight_set", "accuracy_class": "III"}, "accuracy_class",
     "Quả cân phải có cấp chính xác theo OIML R 111: E1, E2, F1, F2, M1, M2, M3."),
    ({"kind": "reference_meter", "accuracy_class": "abc"}, "accuracy_class",
     "Cấp chính xác phải là một số, ví dụ 0,5 (nhận: abc)."),
    ({"code": "QC F1 <01>"}, "code", "Mã chuẩn chỉ gồm chữ, chữ số và các dấu . - / _ (ví dụ QC-F1-01)."),
    ({"type_codes": ["scale"]}, "type_codes", "Loại phương tiện đo không hợp lệ: scale."),
    ({"range_min": "10", "range_max": "1", "range_unit": "kg"}, "range_max",
     "Giới hạn trên phải lớn hơn hoặc bằng giới hạn dưới."),
    ({"range_min": "10", "range_unit": ""}, "range_unit", "Hãy chọn đơn vị của phạm vi đo."),
    ({"name": "  "}, "name", "Tên chuẩn không được để trống."),
])
def test_create_standard_refuses_bad_fields(session, fields, field, message):
    args = {"code": "QC-F1-01", "name": "Bộ quả cân F1", "kind": "weight_set", "accuracy_class": "F1"} | fields
    with pytest.raises(services.StandardError) as refused:
        services.create_standard(session, **args)
    assert (refused.value.field, str(refused.value)) == (field, message)


def test_create_standard_normalises_and_refuses_a_folded_duplicate_code(session, make_standard):
    meter = make_standard("CT-CHUAN-01", kind="reference_meter", accuracy_class="0,05 %",
                          type_codes=["energy_meter", "nawi"], range_=("0.01", "100", "A"))
    assert (meter.accuracy_class, meter.type_codes) == ("0.05", ["nawi", "energy_meter"])
    with pytest.raises(services.DuplicateCodeError) as refused:
        make_standard("ct chuan 01")
    assert (str(refused.value), refused.value.existing_id) == (
        "Mã chuẩn ct chuan 01 đã được dùng cho một chuẩn khác.", meter.id)


def test_update_standard_needs_a_reason_once_calibrated_and_records_it(session, make_standard, calibrate):
    standard = make_standard("QC-F1-01")
    fields = dict(code="QC-F1-01", name="Bộ quả cân F1 (1 mg – 20 kg)", kind="weight_set", accuracy_class="F1",
                  location="Tủ chuẩn số 2", calibration_interval_months=12)
    services.update_standard(session, standard=standard, **fields)  # not calibrated yet: no reason needed
    calibrate(standard, D(2026, 1, 5))
    fields["location"] = "Tủ chuẩn số 3"
    with pytest.raises(services.StandardError) as refused:
        services.update_standard(session, standard=standard, **fields)
    assert (refused.value.field, str(refused.value)) == (
        "reason", "Chuẩn QC-F1-01 đã có hồ sơ hiệu chuẩn: hãy ghi lý do thay đổi.")
    services.update_standard(session, standard=standard, reason="Chuyển sang tủ mới", **fields)
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "standards",
                                                     AuditEvent.action == "update")
                            .order_by(AuditEvent.seq.desc())).first()
    assert (event.reason, event.changes["location"]) == ("Chuyển sang tủ mới", ["Tủ chuẩn số 2", "Tủ chuẩn số 3"])


# --- adequacy ---------------------------------------------------------------------------------------------------------

CLASS_II_30KG = {"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II"}


def test_adequacy_class_ii_30_kg_scale_needs_f2_or_better_not_m1(session, make_standard, calibrate):
    """DOMAIN.md §2: test weights ≤ 1/3 of the MPE at the load, "so a class II 30 kg scale needs F2 or better
    weights, not M1". At 30 kg = 30 000 e the MPE is 1.5 e = 1 500 mg (R 76-1 Table 6); 30 kg = 20 kg + 10 kg:
    F2 300 + 160 = 460 mg ≤ 500 mg; M1 1 000 + 500 = 1 500 mg > 500 mg (R 111-1 Table 1)."""
    f2 = make_standard("QC-F2-01", accuracy_class="F2")
    m1 = make_standard("QC-M1-01", accuracy_class="M1")
    for standard in (f2, m1):
        calibrate(standard, D(2026, 1, 5))

    ok = services.assess_adequacy(f2, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="30000")
    assert (ok.is_adequate, ok.standard_error, ok.limit, ok.unit) == (True, Decimal("460"), Decimal("500"), "mg")
    refused = services.assess_adequacy(m1, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="30000")
    assert (refused.is_adequate, refused.standard_error) == (False, Decimal("1500"))
    assert refused.reason == ("Chuẩn QC-M1-01 không phù hợp: sai số lớn nhất 1500 mg (20 kg + 10 kg) > MPE/3 = 500 mg "
                              "(cân cấp II, e = 1 g, tại tải 30000 g: MPE = 1500 mg).")
    offered = services.adequate_standards(session, instrument_type="nawi", spec=CLASS_II_30KG,
                                          load_or_point={"load": "30000"}, on=D(2026, 3, 1))
    assert [a.standard.code for a in offered] == ["QC-F2-01"]


def test_adequacy_at_a_band_edge_and_for_an_unusable_or_too_small_set(session, make_standard, calibrate):
    f2 = make_standard("QC-F2-01", accuracy_class="F2")
    calibrate(f2, D(2025, 1, 5))  # overdue on 01/03/2026
    small = make_standard("QC-F2-02", accuracy_class="F2", range_=("1", "1000", "g"))
    calibrate(small, D(2026, 1, 5))
    # 20 kg on the class II scale: MPE 1 g, a third is 333.3 mg; one F2 20 kg weight is 300 mg.
    at_20 = services.assess_adequacy(f2, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="20000")
    assert (at_20.is_adequate, at_20.standard_error) == (True, Decimal("300"))
    # The small set makes 20 kg only from twenty 1 kg weights: 20 × 16 mg = 320 mg, still adequate.
    rows = services.adequacy_table(session, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="20000",
                                   on=D(2026, 3, 1))
    assert [(s.standard.code, s.code, a.is_adequate) for s, a in rows] == [
        ("QC-F2-01", "overdue", True), ("QC-F2-02", "in_service", True)]
    assert [a.standard.code for a in services.adequate_standards(
        session, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="20000", on=D(2026, 3, 1))] == ["QC-F2-02"]
    single = make_standard("QC-M1-20-01", kind="single_weight", accuracy_class="M1", range_=("20", "20", "kg"))
    cannot = services.assess_adequacy(single, instrument_type="nawi", spec=CLASS_II_30KG, load_or_point="30000")
    assert cannot.reason == ("Chuẩn QC-M1-20-01 không phù hợp: không tạo được tải 30 kg từ các quả cân của chuẩn "
                             "(20 – 20 kg).")


def test_adequacy_of_reference_weights_meters_and_taximeter_benches(make_standard):
    f2 = make_standard("QC-F2-01", accuracy_class="F2")
    m1 = make_standard("QC-M1-01", accuracy_class="M1")
    weight_spec = {"nominal": "1", "unit": "kg", "accuracy_class": "M1"}  # δm = 50 mg, a third 16.67 mg
    assert services.assess_adequacy(f2, instrument_type="weight", spec=weight_spec).is_adequate is True  # 16 mg
    assert services.assess_adequacy(m1, instrument_type="weight", spec=weight_spec).is_adequate is False

    meter_spec = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600"}
    good = make_standard("CT-CHUAN-01", kind="reference_meter", accuracy_class="0.1", type_codes=["energy_meter"],
                         range_=("0.01", "100", "A"))
    poor = make_standard("CT-GIAN-09", kind="meter_bench", accuracy_class="0.5", type_codes=["energy_meter"],
                         range_=("0.01", "100", "A"))
    point = {"current_a": "5", "pf": "1"}  # class 1 limit ±1.0 %, a third 0.333 %
    assert services.assess_adequacy(good, instrument_type="energy_meter", spec=meter_spec,
                                    load_or_point=point).is_adequate is True
    assert services.assess_adequacy(poor, instrument_type="energy_meter", spec=meter_spec,
                                    load_or_point=point).is_adequate is False
    small = make_standard("CT-CHUAN-02", kind="reference_meter", accuracy_class="0.1", type_codes=["energy_meter"],
                          range_=("0.01", "10", "A"))
    outside = services.assess_adequacy(small, instrument_type="energy_meter", spec=meter_spec,
                                       load_or_point={"current_a": "20"})
    assert outside.reason == "Chuẩn CT-CHUAN-02 không phù hợp: dòng điện 20 A ngoài phạm vi của chuẩn."
    with pytest.raises(services.AdequacyError) as refused:  # the engine's own range check of the meter
        services.assess_adequacy(good, instrument_type="energy_meter", spec=meter_spec,
                                 load_or_point={"current_a": "150"})
    assert str(refused.value) == "current_a: 150 A is outside 0.05 Ib … Imax (0.25 … 20 A)"

    bench = make_standard("TX-BANG-01", kind="taximeter_bench", accuracy_class="0.1", type_codes=["taximeter"],
                          range_=("100", "20000", "m"))
    installed = services.assess_adequacy(bench, instrument_type="taximeter", spec={},
                                         load_or_point={"quantity": "distance", "reference": "1000"})
    assert (installed.is_adequate, installed.standard_error, installed.unit) == (True, Decimal("1.0"), "m")
    alone = services.assess_adequacy(bench, instrument_type="taximeter", spec={},
                                     load_or_point={"quantity": "distance", "reference": "1000", "mode": "alone"})
    assert alone.is_adequate is True  # 1 m ≤ 4 m / 3
    timer_for_distance = services.assess_adequacy(
        make_standard("TX-DH-01", kind="timer", accuracy_class="0.01", type_codes=["taximeter"],
                      range_=("0", "3600", "s")),
        instrument_type="taximeter", spec={}, load_or_point={"quantity": "distance", "reference": "1000"})
    assert timer_for_distance.is_adequate is False


@pytest.mark.parametrize(("spec", "point", "field"), [
    ({"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "V"}, "100", "spec"),
    (CLASS_II_30KG, "31000", "load_or_point"),
    (CLASS_II_30KG, "abc", "load_or_point"),
    (CLASS_II_30KG, "0", "load_or_point"),
])
def test_adequacy_refuses_a_bad_spec_or_point(make_standard, spec, point, field):
    standard = make_standard("QC-F2-01", accuracy_class="F2")
    with pytest.raises(services.AdequacyError) as refused:
        services.assess_adequacy(standard, instrument_type="nawi", spec=spec, load_or_point=point)
    assert refused.value.field == field


# --- lists ------------------------------------------------------------------------------------------------------------

def test_list_searches_without_accents_and_filters_by_kind_and_status(session, make_standard, calibrate):
    calibrate(make_standard("QC-F1-01", name="Bộ quả cân chuẩn F1", location="Phòng Khối lượng"), D(2026, 1, 5))
    make_standard("MT-NA-01", name="Nhiệt ẩm kế", kind="thermo_hygrometer", accuracy_class="±0,3 °C",
                  type_codes=[], range_=("", "", ""))
    on = D(2026, 3, 1)
    assert [s.standard.code for s in services.list_standards(session, services.StandardFilter(q="qua can"),
                                                             on=on)] == ["QC-F1-01"]
    assert [s.standard.code for s in services.list_standards(session, services.StandardFilter(q="khoi luong"),
                                                             on=on)] == ["QC-F1-01"]
    assert [s.standard.code for s in services.list_standards(
        session, services.StandardFilter(kind="thermo_hygrometer"), on=on)] == ["MT-NA-01"]
    assert [s.standard.code for s in services.list_standards(
        session, services.StandardFilter(status="uncalibrated"), on=on)] == ["MT-NA-01"]
    assert services.list_standards(session, services.StandardFilter(q="100%_"), on=on) == []


def test_due_list_holds_overdue_uncalibrated_and_due_within_the_window(session, make_standard, calibrate):
    calibrate(make_standard("A-OVERDUE"), D(2025, 2, 1), D(2026, 2, 1))
    calibrate(make_standard("B-SOON"), D(2025, 3, 20), D(2026, 3, 20))
    calibrate(make_standard("C-LATER"), D(2025, 6, 1), D(2026, 6, 1))
    make_standard("D-NEVER")
    rows = services.due_standards(session, within_days=30, on=D(2026, 3, 1))
    assert [(s.standard.code, s.code) for s in rows] == [
        ("D-NEVER", "uncalibrated"), ("A-OVERDUE", "overdue"), ("B-SOON", "due_soon")]
    assert len(services.due_standards(session, within_days=100, on=D(2026, 3, 1))) == 4


# --- demo -------------------------------------------------------------------------------------------------------------

def test_demo_seed_is_idempotent_and_shows_every_status(session):
    from lims.standards import demo
    from lims.standards.models import Standard

    lines = demo.seed(session)
    assert lines[0].startswith("Chuẩn đo lường: 30 chuẩn")
    assert demo.seed(session) == []
    today = centre_today()
    by_code = {s.standard.code: s for s in services.statuses(session, list(session.scalars(select(Standard))),
                                                             on=today)}
    assert by_code["QC-M1-20-06"].code == "overdue"
    assert by_code["QC-M1-04"].code == "out_of_service" and by_code["QC-M1-04"].check is not None
    assert by_code["TX-DH-03"].code == "out_of_service" and by_code["TX-DH-03"].event is not None
    assert {c for c, s in by_code.items() if s.code == "due_soon"} >= {"QC-M1-03", "MT-NA-03"}
    chain = services.traceability_chain(session, by_code["QC-M1-01"].standard, on=today)
    assert not chain.broken and len(chain.levels()) == 3
    assert [c.laboratory_name for c in chain.top()] == ["Viện Đo lường Việt Nam (VMI)"]
    assert services.traceability_chain(session, by_code["MT-AP-01"].standard, on=today).broken
    assert len(services.intermediate_checks(session, by_code["QC-F1-01"].standard)) == 12
