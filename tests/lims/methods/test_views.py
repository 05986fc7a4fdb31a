"""Methods pages: list, detail, forms with per-field errors, document control, files, export."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

from openpyxl import load_workbook
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.methods.models import MethodVersion, Procedure

from .test_services import PDF

D = dt.date


def _version_form(**overrides) -> dict:
    data = {"version_label": "2015", "effective_date": "2015-12-01", "kind": "calibration",
            "instrument_types": ["weight"], "environment_limits-temperature_c-min": "18",
            "environment_limits-temperature_c-max": "27", "environment_limits-temperature_c-max_rate_per_h": "3",
            "environment_limits-temperature_c-max_change_12h": "5", "environment_limits-humidity_pct-min": "40",
            "environment_limits-humidity_pct-max": "80", "adequacy_divisor": "3",
            "required_tests": ["reference", "cycles", "balance", "air"], "notes": ""}
    return data | overrides


def _create_form(**overrides) -> dict:
    return {"number": "ĐLVN 286", "title": "Quả cân cấp chính xác F1, F2, M1 – Quy trình hiệu chuẩn",
            "issuer": "Tổng cục Tiêu chuẩn Đo lường Chất lượng"} | _version_form(**overrides)


def test_list_searches_without_accents_and_filters(client, auth, session, make_procedure, taximeter_versions):
    make_procedure()
    session.commit()
    auth.login("auditor")
    body = client.get("/methods/?q=dlvn+01").get_data(as_text=True)
    assert body.count('data-testid="version-row"') == 2 and "ĐLVN 01:2019" in body and "ĐLVN 286" not in body
    body = client.get("/methods/?status=withdrawn").get_data(as_text=True)
    assert body.count('data-testid="version-row"') == 1 and "ĐLVN 01:2003" in body and "Đã hết hiệu lực" in body
    body = client.get("/methods/?instrument_type=weight").get_data(as_text=True)
    assert "ĐLVN 286:2015" in body and "18–27 °C; ≤ 3 °C/h; ≤ 5 °C/12 h; 40–80 %RH" in body
    assert "Thêm phương pháp" not in body  # the auditor changes nothing


def test_create_adds_a_procedure_with_its_first_version(client, auth, session):
    auth.login("quality_manager")
    response = client.post("/methods/new", data=_create_form())
    assert response.status_code == 302
    version = session.scalar(select(MethodVersion))
    assert response.headers["Location"] == f"/methods/{version.procedure_id}"
    assert version.designation == "ĐLVN 286:2015"
    assert version.environment_limits == {
        "temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3", "max_change_12h": "5"},
        "humidity_pct": {"min": "40", "max": "80"}}
    assert version.required_tests == ["reference", "cycles", "balance", "air"]
    assert version.adequacy_divisor == 3 and version.kind == "calibration"
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sai số hoặc độ không đảm bảo đo của chuẩn ≤ 1/3 MPE" in body


def test_create_shows_errors_on_the_fields_they_concern(client, auth, session):
    auth.login("quality_manager")
    body = client.post("/methods/new", data=_create_form(**{
        "environment_limits-temperature_c-min": "27", "environment_limits-temperature_c-max": "18"})
    ).get_data(as_text=True)
    assert 'data-field="environment_limits-temperature_c-max"' in body
    assert "Giới hạn tối đa của nhiệt độ phải không nhỏ hơn giới hạn tối thiểu." in body
    body = client.post("/methods/new", data=_create_form(number="ĐLVN 286:2015")).get_data(as_text=True)
    assert 'data-field="number"' in body and "không kèm năm ban hành" in body
    body = client.post("/methods/new", data=_create_form(**{"environment_limits-humidity_pct-max": "tám mươi"})
                       ).get_data(as_text=True)
    assert 'data-field="environment_limits-humidity_pct-max"' in body and "Không phải là số." in body
    body = client.post("/methods/new", data=_create_form(instrument_types=[])).get_data(as_text=True)
    assert 'data-field="instrument_types"' in body
    body = client.post("/methods/new", data=_create_form(required_tests=["weighing"])).get_data(as_text=True)
    assert 'data-field="required_tests"' in body and "không thuộc loại phương tiện đo đã chọn: weighing" in body
    session.rollback()
    assert session.scalar(select(Procedure)) is None  # the procedure of a refused version is not kept


def test_decimal_comma_is_accepted_in_limits(client, auth, session):
    auth.login("quality_manager")
    response = client.post("/methods/new", data=_create_form(**{"environment_limits-temperature_c-min": "18,5"}))
    assert response.status_code == 302
    assert session.scalar(select(MethodVersion)).environment_limits["temperature_c"]["min"] == "18.5"


def test_new_version_withdraws_the_current_one_only_with_a_reason(client, auth, session, taximeter_versions):
    old, new = taximeter_versions
    session.commit()
    auth.login("quality_manager")
    form = _version_form(version_label="2025", effective_date="2026-12-01", kind="verification",
                         instrument_types=["taximeter"], required_tests=["distance", "time", "fare"],
                         adequacy_divisor="")
    body = client.post(f"/methods/{new.procedure_id}/versions/new", data=form).get_data(as_text=True)
    assert 'data-field="reason"' in body
    assert "Cần nêu lý do ban hành phiên bản mới: ĐLVN 01:2019 sẽ hết hiệu lực từ ngày 01/12/2026." in body
    response = client.post(f"/methods/{new.procedure_id}/versions/new",
                           data=form | {"reason": "Bổ sung phép thử tiền cước."})
    assert response.status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(MethodVersion, new.id).withdrawn_date == D(2026, 12, 1)
    body = client.get(f"/methods/{new.procedure_id}").get_data(as_text=True)
    assert "Thay thế ĐLVN 01:2019" in body and "Bổ sung phép thử tiền cước." in body


def test_new_version_form_starts_from_the_current_version(client, auth, session, make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("quality_manager")
    body = client.get(f"/methods/{version.procedure_id}/versions/new").get_data(as_text=True)
    assert 'name="environment_limits-temperature_c-max" type="text" value="27"' in body
    assert 'name="version_label" required type="text" value=""' in body


def test_editing_a_version_in_force_needs_a_reason_that_reaches_the_audit_trail(client, auth, session,
                                                                                   make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("quality_manager")
    url = f"/methods/versions/{version.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "cần nêu lý do" in page and 'name="reason"' in page
    form = _version_form(**{"environment_limits-pressure_hpa-min": "900"})
    body = client.post(url, data=form).get_data(as_text=True)
    assert 'data-field="reason"' in body and "đã có hiệu lực từ ngày 01/12/2015: cần nêu lý do sửa đổi" in body
    assert client.post(url, data=form | {"reason": "Thêm giới hạn áp suất."}).status_code == 302
    session.rollback()
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "method_versions",
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Thêm giới hạn áp suất." and event.actor_name == "quality_manager"


def test_withdraw_page_withdraws_with_a_reason(client, auth, session, make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("admin")
    url = f"/methods/versions/{version.id}/withdraw"
    body = client.post(url, data={"withdrawn_date": "2026-12-01", "reason": ""}).get_data(as_text=True)
    assert 'data-field="reason"' in body
    assert client.post(url, data={"withdrawn_date": "2026-12-01", "reason": "Huỷ bỏ."}).status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(MethodVersion, version.id).withdrawn_date == D(2026, 12, 1)


def test_document_is_uploaded_downloaded_and_checked(client, auth, session, app, make_procedure):
    auth.login("quality_manager")
    data = _create_form() | {"document": (io.BytesIO(PDF), "ĐLVN 286-2015 (bản gốc).pdf")}
    response = client.post("/methods/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    version = session.scalar(select(MethodVersion))
    assert version.document_sha256 == hashlib.sha256(PDF).hexdigest()
    download = client.get(f"/methods/versions/{version.id}/document")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert 'filename="dlvn-286-2015.pdf"' in download.headers["Content-Disposition"]
    assert "filename*=UTF-8''%C4%90LVN%20286-2015%20%28b%E1%BA%A3n%20g%E1%BB%91c%29.pdf" in download.headers[
        "Content-Disposition"]
    from pathlib import Path

    (Path(app.instance_path) / version.document_path).write_bytes(b"%PDF-changed")
    tampered = client.get(f"/methods/versions/{version.id}/document")
    assert tampered.status_code == 409 and "SHA-256 không khớp" in tampered.get_data(as_text=True)
    bad = client.post("/methods/new", data=_create_form(number="ĐLVN 47") | {"document": (io.BytesIO(b"MZ"), "x.exe")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-field="document"' in bad and "Chỉ nhận tệp PDF, DOC hoặc DOCX." in bad


def test_document_of_a_version_without_file_is_not_found(client, auth, session, make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("auditor")
    assert client.get(f"/methods/versions/{version.id}/document").status_code == 404


def test_export_csv_and_xlsx(client, auth, session, make_procedure, taximeter_versions):
    make_procedure(notes="=HYPERLINK(\"http://x\")")
    session.commit()
    auth.login("auditor")
    response = client.get("/methods/export.csv?q=dlvn")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Số hiệu", "Tên phương pháp", "Cơ quan ban hành"]
    by_number = {row[0]: row for row in rows[1:]}
    assert set(by_number) == {"ĐLVN 01:2019", "ĐLVN 01:2003", "ĐLVN 286:2015"}
    m1 = by_number["ĐLVN 286:2015"]
    assert m1[3:10] == ["Hiệu chuẩn", "Quả cân", "01/12/2015", "", "Đang có hiệu lực",
                        "18–27 °C; ≤ 3 °C/h; ≤ 5 °C/12 h; 40–80 %RH", "1/3"]
    assert by_number["ĐLVN 01:2003"][5:8] == ["01/09/2003", "01/01/2020", "Đã hết hiệu lực"]
    xlsx = client.get("/methods/export.xlsx?status=withdrawn")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["Số hiệu", "ĐLVN 01:2003"]
    assert client.get("/methods/export.pdf").status_code == 404


def test_pages_escape_what_people_typed(client, auth, session, make_procedure):
    version = make_procedure(title="<script>alert(1)</script>")
    session.commit()
    auth.login("auditor")
    for url in ("/methods/", f"/methods/{version.procedure_id}"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_only_method_managers_change_methods(client, auth, session, make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("technician")
    assert client.get("/methods/").status_code == 200
    assert client.get(f"/methods/{version.procedure_id}").status_code == 200
    for url in ("/methods/new", f"/methods/{version.procedure_id}/edit",
                f"/methods/{version.procedure_id}/versions/new", f"/methods/versions/{version.id}/edit",
                f"/methods/versions/{version.id}/withdraw"):
        assert client.post(url, data={}).status_code == 403, url
    assert client.get("/methods/999").status_code == 404


def test_edit_procedure_with_reason(client, auth, session, make_procedure):
    version = make_procedure()
    session.commit()
    auth.login("quality_manager")
    url = f"/methods/{version.procedure_id}/edit"
    form = {"number": "ĐLVN 286", "title": "Quả cân – Quy trình hiệu chuẩn", "issuer": "Tổng cục TĐC"}
    body = client.post(url, data=form).get_data(as_text=True)
    assert 'data-field="reason"' in body
    assert client.post(url, data=form | {"reason": "Rút gọn tên."}).status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Procedure, version.procedure_id).title == "Quả cân – Quy trình hiệu chuẩn"
