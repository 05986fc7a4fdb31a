"""Methods services: which version is in force on a date, document control, the rules of the register."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

import instruments
from lims.audit.models import AuditEvent
from lims.methods import demo, services
from lims.methods.models import MethodVersion, Procedure

from .conftest import M1_LIMITS

D = dt.date


# --- in force, withdrawn, not yet ---------------------------------------------------------------------------------

def test_method_in_force_returns_the_version_on_a_day_it_is_in_force(session, taximeter_versions):
    old, new = taximeter_versions
    assert services.method_in_force(session, method_version_id=new.id, on=D(2026, 11, 23)) is new
    assert services.method_in_force(session, method_version_id=old.id, on=D(2019, 12, 31)) is old


def test_method_in_force_refuses_a_withdrawn_version_naming_its_successor(session, taximeter_versions):
    old, _new = taximeter_versions
    with pytest.raises(services.MethodNotInForceError) as caught:
        services.method_in_force(session, method_version_id=old.id, on=D(2026, 11, 23))
    assert str(caught.value) == ("Phương pháp ĐLVN 01:2003 đã hết hiệu lực từ ngày 01/01/2020 (thay thế bởi "
                                 "ĐLVN 01:2019), không dùng được cho công việc ngày 23/11/2026.")
    assert caught.value.field == "method_version_id"


def test_method_in_force_refuses_a_version_withdrawn_without_successor(session, make_procedure):
    version = make_procedure()
    services.withdraw_version(session, method_version_id=version.id, withdrawn_date=D(2026, 7, 1),
                              reason="Quy trình bị huỷ bỏ theo quyết định của Tổng cục.")
    with pytest.raises(services.MethodNotInForceError,
                       match="^Phương pháp ĐLVN 286:2015 đã hết hiệu lực từ ngày 01/07/2026, không dùng được cho "
                             "công việc ngày 01/07/2026.$"):
        services.method_in_force(session, method_version_id=version.id, on=D(2026, 7, 1))
    # The day before it is withdrawn is still in force.
    assert services.method_in_force(session, method_version_id=version.id, on=D(2026, 6, 30)) is version


def test_method_in_force_refuses_a_version_not_yet_in_force(session, taximeter_versions):
    _old, new = taximeter_versions
    with pytest.raises(services.MethodNotInForceError) as caught:
        services.method_in_force(session, method_version_id=new.id, on=D(2019, 12, 31))
    assert str(caught.value) == ("Phương pháp ĐLVN 01:2019 chưa có hiệu lực vào ngày 31/12/2019: có hiệu lực từ "
                                 "ngày 01/01/2020.")


def test_method_in_force_checks_the_instrument_type_and_kind(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.MethodNotApplicableError,
                       match="^Phương pháp ĐLVN 286:2015 không áp dụng cho taximet.$"):
        services.method_in_force(session, method_version_id=version.id, on=D(2026, 1, 5), instrument_type="taximeter")
    with pytest.raises(services.MethodNotApplicableError,
                       match="^Phương pháp ĐLVN 286:2015 dùng cho hiệu chuẩn, không dùng cho kiểm định.$"):
        services.method_in_force(session, method_version_id=version.id, on=D(2026, 1, 5), kind="verification")
    assert services.method_in_force(session, method_version_id=version.id, on=D(2026, 1, 5), instrument_type="weight",
                                    kind="calibration") is version


def test_method_in_force_names_an_unknown_version(session):
    with pytest.raises(services.MethodError, match="^Không tìm thấy phiên bản phương pháp số 999.$"):
        services.method_in_force(session, method_version_id=999, on=D(2026, 1, 5))


def test_withdrawn_versions_stay_readable(session, taximeter_versions):
    old, _new = taximeter_versions
    session.commit()
    session.expire_all()
    again = session.get(MethodVersion, old.id)
    assert again.designation == "ĐLVN 01:2003" and again.required_tests == ["distance"]


# --- document control ----------------------------------------------------------------------------------------------

def test_issuing_a_new_version_withdraws_the_previous_one_with_the_reason(session, taximeter_versions):
    old, new = taximeter_versions
    assert old.withdrawn_date == D(2020, 1, 1)
    assert old.withdrawal_reason == "Thay thế bởi ĐLVN 01:2019. Ban hành ĐLVN 01:2019 thay thế ĐLVN 01:2003."
    assert new.replaces is old and new.withdrawn_date is None
    assert services.successor_of(session, old) is new
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "method_versions",
                                                      AuditEvent.entity_id == str(old.id),
                                                      AuditEvent.action == "update")).all()
    assert [(e.changes["withdrawn_date"], e.reason) for e in events] == [
        ([None, "2020-01-01"], "Ban hành ĐLVN 01:2019 thay thế ĐLVN 01:2003.")]


def test_issuing_a_new_version_needs_a_reason(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.ReasonRequiredError) as caught:
        services.issue_version(session, procedure_id=version.procedure_id, version_label="2024",
                               effective_date=D(2025, 1, 1), kind="calibration", instrument_types=["weight"])
    assert str(caught.value) == ("Cần nêu lý do ban hành phiên bản mới: ĐLVN 286:2015 sẽ hết hiệu lực từ ngày "
                                 "01/01/2025.")
    assert caught.value.field == "reason"
    assert version.withdrawn_date is None


def test_a_new_version_must_take_effect_after_the_current_one(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.MethodError) as caught:
        services.issue_version(session, procedure_id=version.procedure_id, version_label="2014",
                               effective_date=D(2015, 12, 1), kind="calibration", instrument_types=["weight"],
                               reason="x")
    assert caught.value.field == "effective_date"
    assert str(caught.value) == ("Phiên bản mới phải có hiệu lực sau ngày 01/12/2015 (ngày có hiệu lực của "
                                 "ĐLVN 286:2015).")


def test_a_version_label_is_unique_within_its_procedure(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.MethodError, match="^Phương pháp ĐLVN 286 đã có phiên bản 2015.$") as caught:
        services.issue_version(session, procedure_id=version.procedure_id, version_label="2015",
                               effective_date=D(2024, 1, 1), kind="calibration", instrument_types=["weight"],
                               reason="x")
    assert caught.value.field == "version_label"
    assert version.withdrawn_date is None  # nothing changed on refusal


def test_procedure_numbers_are_unique_accent_insensitively_and_carry_no_year(session, make_procedure):
    make_procedure()
    with pytest.raises(services.MethodError, match="^Đã có phương pháp ĐLVN 286.$"):
        services.create_procedure(session, number="dlvn 286", title="Bản trùng")
    with pytest.raises(services.MethodError) as caught:
        services.create_procedure(session, number="ĐLVN 39:2004", title="Công tơ")
    assert caught.value.field == "number" and "không kèm năm ban hành" in str(caught.value)


def test_editing_a_version_in_use_needs_a_reason_which_reaches_the_audit_trail(session, make_procedure):
    version = make_procedure()
    args = {"version_label": "2015", "effective_date": D(2015, 12, 1), "kind": "calibration",
            "instrument_types": ["weight"], "environment_limits": M1_LIMITS | {"pressure_hpa": {"min": "900"}},
            "adequacy_divisor": 3, "required_tests": ["cycles", "reference", "balance", "air"]}
    with pytest.raises(services.ReasonRequiredError,
                       match="^Phiên bản ĐLVN 286:2015 đã có hiệu lực từ ngày 01/12/2015: cần nêu lý do sửa đổi.$"):
        services.update_version(session, method_version_id=version.id, today=D(2026, 11, 23), **args)
    services.update_version(session, method_version_id=version.id, today=D(2026, 11, 23),
                            reason="Bổ sung giới hạn áp suất theo văn bản gốc.", **args)
    assert version.environment_limits["pressure_hpa"] == {"min": "900"}
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "method_versions",
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Bổ sung giới hạn áp suất theo văn bản gốc."
    assert event.changes["environment_limits"][1]["pressure_hpa"] == {"min": "900"}


def test_editing_a_version_not_yet_in_force_needs_no_reason(session, make_procedure):
    version = make_procedure(effective_date=D(2027, 1, 1))
    services.update_version(session, method_version_id=version.id, version_label="2015", effective_date=D(2027, 2, 1),
                            kind="calibration", instrument_types=["weight"], today=D(2026, 11, 23))
    assert version.effective_date == D(2027, 2, 1) and version.environment_limits == {}


def test_editing_the_procedure_needs_a_reason_once_a_version_is_in_use(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.ReasonRequiredError,
                       match="^Phương pháp ĐLVN 286 đang được áp dụng: cần nêu lý do sửa đổi.$"):
        services.update_procedure(session, procedure_id=version.procedure_id, number="ĐLVN 286",
                                  title="Quả cân – Quy trình hiệu chuẩn", today=D(2026, 11, 23))
    services.update_procedure(session, procedure_id=version.procedure_id, number="ĐLVN 286",
                              title="Quả cân – Quy trình hiệu chuẩn", reason="Sửa tên theo văn bản.",
                              today=D(2026, 11, 23))
    assert version.procedure.title == "Quả cân – Quy trình hiệu chuẩn"
    assert version.procedure.search_key == "dlvn 286 qua can – quy trinh hieu chuan"


def test_moving_a_replacement_moves_the_previous_withdrawal(session, taximeter_versions):
    old, new = taximeter_versions
    services.update_version(session, method_version_id=new.id, version_label="2019", effective_date=D(2020, 3, 1),
                            kind="verification", instrument_types=["taximeter"], required_tests=["distance", "time"],
                            reason="Ngày có hiệu lực theo quyết định ban hành.")
    assert old.withdrawn_date == D(2020, 3, 1)
    with pytest.raises(services.MethodError) as caught:
        services.update_version(session, method_version_id=new.id, version_label="2019",
                                effective_date=D(2003, 1, 1), kind="verification", instrument_types=["taximeter"],
                                reason="x")
    assert caught.value.field == "effective_date"


def test_withdraw_version_needs_a_reason_and_a_later_date(session, make_procedure):
    version = make_procedure()
    with pytest.raises(services.ReasonRequiredError, match="^Cần nêu lý do huỷ bỏ phiên bản ĐLVN 286:2015.$"):
        services.withdraw_version(session, method_version_id=version.id, withdrawn_date=D(2026, 7, 1), reason=" ")
    with pytest.raises(services.MethodError, match="^Ngày hết hiệu lực phải sau ngày có hiệu lực \\(01/12/2015\\).$"):
        services.withdraw_version(session, method_version_id=version.id, withdrawn_date=D(2015, 12, 1), reason="x")
    services.withdraw_version(session, method_version_id=version.id, withdrawn_date=D(2026, 7, 1), reason="Huỷ bỏ.")
    with pytest.raises(services.MethodError, match="^Phiên bản ĐLVN 286:2015 đã hết hiệu lực từ ngày 01/07/2026.$"):
        services.withdraw_version(session, method_version_id=version.id, withdrawn_date=D(2026, 8, 1), reason="x")


# --- choices for the workflow -------------------------------------------------------------------------------------

def test_version_in_force_finds_the_one_version_and_refuses_to_guess(session, make_procedure, taximeter_versions):
    _old, new = taximeter_versions
    assert services.version_in_force(session, instrument_type="taximeter", kind="verification",
                                     on=D(2026, 11, 23)) is new
    assert services.version_in_force(session, instrument_type="taximeter", kind="calibration",
                                     on=D(2026, 11, 23)) is None
    assert services.version_in_force(session, instrument_type="taximeter", kind="verification",
                                     on=D(2003, 8, 31)) is None
    scales = [make_procedure(number, title, version_label="2009", effective_date=D(2009, 12, 30), kind="verification",
                             instrument_types=["nawi"], required_tests=["weighing"])
              for number, title in (("ĐLVN 14", "Cân bàn"), ("ĐLVN 16", "Cân phân tích và cân kỹ thuật"))]
    with pytest.raises(services.AmbiguousMethodError) as caught:
        services.version_in_force(session, instrument_type="nawi", kind="verification", on=D(2026, 11, 23))
    assert str(caught.value) == ("Có nhiều phương pháp đang có hiệu lực cho cân điện tử (cân không tự động): "
                                 "ĐLVN 14:2009, ĐLVN 16:2009; hãy chọn một.")
    assert caught.value.candidates == scales
    assert services.version_in_force(session, instrument_type="nawi", kind="verification", on=D(2026, 11, 23),
                                     procedure_id=scales[1].procedure_id) is scales[1]


def test_versions_for_lists_only_versions_in_force_on_the_day(session, make_procedure, taximeter_versions):
    old, new = taximeter_versions
    assert services.versions_for(session, "taximeter", D(2019, 6, 1)) == [old]
    assert services.versions_for(session, "taximeter", D(2026, 11, 23)) == [new]
    assert services.versions_for(session, "taximeter", D(2026, 11, 23), kind="calibration") == []


def test_list_versions_searches_without_accents_and_filters(session, make_procedure, taximeter_versions):
    make_procedure()
    today = D(2026, 11, 23)
    assert [v.designation for v in services.list_versions(session, q="dlvn 01", on=today)] == [
        "ĐLVN 01:2019", "ĐLVN 01:2003"]
    assert [v.designation for v in services.list_versions(session, q="qua can", on=today)] == ["ĐLVN 286:2015"]
    assert [v.designation for v in services.list_versions(session, status="withdrawn", on=today)] == ["ĐLVN 01:2003"]
    assert [v.designation for v in services.list_versions(session, status="in_force", on=today)] == [
        "ĐLVN 01:2019", "ĐLVN 286:2015"]
    assert [v.designation for v in services.list_versions(session, instrument_type="weight", on=today)] == [
        "ĐLVN 286:2015"]
    assert [v.designation for v in services.list_versions(session, kind="calibration", on=today)] == [
        "ĐLVN 286:2015"]
    assert services.list_versions(session, q="100%_", on=today) == []


# --- field rules ---------------------------------------------------------------------------------------------------

def test_environment_limits_keep_the_shared_shape_as_decimal_strings():
    assert services.clean_environment_limits({
        "temperature_c": {"min": "18.0", "max": 27, "max_rate_per_h": "3", "max_change_12h": "5,0"},
        "humidity_pct": {"min": "30", "max": "80", }, "pressure_hpa": {"min": None, "max": ""}}) == {
        "temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3", "max_change_12h": "5"},
        "humidity_pct": {"min": "30", "max": "80"}}
    assert services.clean_environment_limits(None) == {}


@pytest.mark.parametrize("limits, field, message", [
    ({"temperature_c": {"min": "27", "max": "18"}}, "environment_limits.temperature_c.max",
     "Giới hạn tối đa của nhiệt độ phải không nhỏ hơn giới hạn tối thiểu."),
    ({"humidity_pct": {"max": "120"}}, "environment_limits.humidity_pct.max",
     "Độ ẩm tối đa phải từ 0 đến 100 %RH."),
    ({"temperature_c": {"max_rate_per_h": "0"}}, "environment_limits.temperature_c.max_rate_per_h",
     "Nhiệt độ tốc độ thay đổi tối đa mỗi giờ phải lớn hơn 0."),
    ({"temperature_c": {"min": "mười"}}, "environment_limits.temperature_c.min", "Nhiệt độ tối thiểu phải là một số."),
    ({"humidity_pct": {"max_rate_per_h": "3"}}, "environment_limits.humidity_pct",
     "Giới hạn không được hỗ trợ: max_rate_per_h."),
    ({"voltage_v": {"max": "230"}}, "environment_limits", "Đại lượng không được hỗ trợ: voltage_v."),
])
def test_environment_limits_refuse_bad_values_naming_the_field(limits, field, message):
    with pytest.raises(services.MethodError) as caught:
        services.clean_environment_limits(limits)
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_required_tests_must_belong_to_the_covered_types(session, make_procedure):
    with pytest.raises(services.MethodError) as caught:
        make_procedure(required_tests=["weighing"])
    assert caught.value.field == "required_tests"
    assert str(caught.value) == "Phép thử không thuộc loại phương tiện đo đã chọn: weighing."
    with pytest.raises(services.MethodError, match="^Loại phương tiện đo không tồn tại: gas_meter.$"):
        make_procedure("ĐLVN 99", instrument_types=["gas_meter"])
    with pytest.raises(services.MethodError, match="^Chọn ít nhất một loại phương tiện đo.$"):
        make_procedure("ĐLVN 98", instrument_types=[])


def test_required_tests_are_stored_in_the_engines_order(session, make_procedure):
    version = make_procedure("ĐLVN 16", instrument_types=["nawi"], kind="verification",
                             required_tests=["weighing", "eccentricity", "repeatability", "zero"])
    assert version.required_tests == ["zero", "weighing", "eccentricity", "repeatability"]


def test_adequacy_divisor_is_a_small_positive_integer_or_none(session, make_procedure):
    assert make_procedure("ĐLVN 01", adequacy_divisor=None).adequacy_divisor is None
    with pytest.raises(services.MethodError, match="phải từ 1 đến 10"):
        make_procedure("ĐLVN 02", adequacy_divisor=0)


def test_test_keys_are_readings_keys_of_the_engine():
    """Each key a method may require is a test the engine evaluates (DESIGN.md §6)."""
    from instruments import nawi, taximeter, weight

    assert set(services.TEST_KEYS) == {t.code for t in instruments.all_types()}
    assert set(services.TEST_KEYS["nawi"]) == set(nawi.READINGS_FIELDS)
    assert set(services.TEST_KEYS["weight"]) <= set(weight.READINGS_KEYS)
    assert set(services.TEST_KEYS["taximeter"]) <= set(taximeter.READINGS_KEYS)
    spec = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600",
            "kind": "electronic"}
    plan = instruments.get("energy_meter").test_plan(spec)
    assert set(services.TEST_KEYS["energy_meter"]) == {t["test"] for t in plan}


def test_kind_labels_match_the_check_constraint():
    from lims.methods.models import KIND_CODES

    assert tuple(services.KINDS) == KIND_CODES


def test_limits_text_reads_like_the_procedure():
    assert services.limits_text(M1_LIMITS) == "18–27 °C; ≤ 3 °C/h; ≤ 5 °C/12 h; 40–80 %RH"
    assert services.limits_text({"humidity_pct": {"max": "85"}, "pressure_hpa": {"min": "860.5"}}) == (
        "≤ 85 %RH; ≥ 860,5 hPa")


# --- documents ------------------------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def test_documents_are_stored_by_sha256_and_checked_when_read(session, make_procedure, tmp_path):
    version = make_procedure(document=services.Upload("ĐLVN 286-2015.pdf", PDF), instance_dir=tmp_path)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (version.document_filename, version.document_sha256, version.document_size_bytes) == (
        "ĐLVN 286-2015.pdf", digest, len(PDF))
    assert version.document_path == f"documents/methods/{digest}.pdf"
    assert services.read_document(version, instance_dir=tmp_path) == PDF
    (tmp_path / version.document_path).write_bytes(PDF + b"tampered")
    with pytest.raises(services.MethodError, match="đã bị thay đổi trên đĩa"):
        services.read_document(version, instance_dir=tmp_path)


@pytest.mark.parametrize("filename, content, message", [
    ("quy-trinh.exe", b"MZ", "Chỉ nhận tệp PDF, DOC hoặc DOCX."),
    ("quy-trinh.pdf", b"PK\x03\x04word", "Nội dung tệp không phải PDF."),
    ("quy-trinh.pdf", b"", "Tệp tài liệu rỗng."),
])
def test_documents_of_the_wrong_kind_are_refused(session, make_procedure, tmp_path, filename, content, message):
    with pytest.raises(services.MethodError) as caught:
        make_procedure(document=services.Upload(filename, content), instance_dir=tmp_path)
    assert (caught.value.field, str(caught.value)) == ("document", message)


# --- demo -----------------------------------------------------------------------------------------------------------

def test_demo_seeds_the_procedures_once(session):
    lines = demo.seed(session)
    assert len(lines) == 8 and any("ĐLVN 01:2003, ĐLVN 01:2019" in line for line in lines)
    assert demo.seed(session) == []
    today = D(2026, 11, 23)
    m1 = services.version_in_force(session, instrument_type="weight", kind="calibration", on=today)
    assert m1.designation == "ĐLVN 286:2015"
    assert m1.environment_limits["temperature_c"] == {"min": "18", "max": "27", "max_rate_per_h": "3",
                                                      "max_change_12h": "5"}
    assert m1.adequacy_divisor == 3
    taxi = services.version_in_force(session, instrument_type="taximeter", kind="verification", on=today)
    assert taxi.designation == "ĐLVN 01:2019" and taxi.replaces.designation == "ĐLVN 01:2003"
    with pytest.raises(services.MethodNotInForceError):
        services.method_in_force(session, method_version_id=taxi.replaces.id, on=today)
    assert session.scalar(select(Procedure).where(Procedure.number == "ĐLVN 39")).versions[0].kind == "verification"
