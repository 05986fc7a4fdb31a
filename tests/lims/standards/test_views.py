"""Standards register pages: status codes, per-field errors, files, chart, exports, escaping, permissions."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import openpyxl
import pytest
from sqlalchemy import select

from lims.standards import services
from lims.standards.models import IntermediateCheck, Standard, StandardCalibration
from lims.dates import centre_today

D = dt.date


@pytest.fixture
def today():
    return centre_today()


@pytest.fixture
def demo_like(session, make_standard, calibrate, today):
    """E2 (VMI) → F2 set and an M1 set; an overdue F2; committed so that the app sees them."""
    e2 = make_standard("QC-E2-01", accuracy_class="E2", interval=24, name="Bộ quả cân chuẩn E2")
    calibrate(e2, today - dt.timedelta(days=500), certificate_number="KL 0417/2026")
    f2 = make_standard("QC-F2-01", accuracy_class="F2", name="Bộ quả cân F2")
    calibrate(f2, today - dt.timedelta(days=100), references=[e2], certificate_number="HC-KL-019")
    m1 = make_standard("QC-M1-01", accuracy_class="M1", name="Bộ quả cân M1")
    calibrate(m1, today - dt.timedelta(days=100), references=[e2])
    old = make_standard("QC-F2-02", accuracy_class="F2", name="Bộ quả cân F2 cũ")
    calibrate(old, today - dt.timedelta(days=400), today - dt.timedelta(days=35), references=[e2])
    session.commit()
    return {"e2": e2, "f2": f2, "m1": m1, "old": old}


def _errors(body: str, field: str) -> list[str]:
    marker = f'data-field="{field}">'
    return [part.split("</div>")[0] for part in body.split(marker)[1:]]


# --- list, due list, exports ---------------------------------------------------------------------------------------

def test_index_lists_with_status_and_filters(client, auth, demo_like):
    auth.login("auditor")
    body = client.get("/standards/").get_data(as_text=True)
    assert "QC-E2-01" in body and 'data-status="overdue"' in body
    filtered = client.get("/standards/?status=overdue").get_data(as_text=True)
    assert "QC-F2-02" in filtered and "QC-E2-01" not in filtered
    searched = client.get("/standards/?q=qua+can+cu").get_data(as_text=True)
    assert "QC-F2-02" in searched and "QC-F2-01<" not in searched
    assert client.get("/standards/?kind=barometer").status_code == 200


def test_export_csv_and_xlsx_hold_the_register(client, auth, demo_like, today):
    auth.login("auditor")
    response = client.get("/standards/export.csv?kind=weight_set")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Mã", "Tên chuẩn", "Loại"]
    assert [r[0] for r in rows[1:]] == ["QC-E2-01", "QC-F2-01", "QC-F2-02", "QC-M1-01"]
    overdue = next(r for r in rows if r[0] == "QC-F2-02")
    assert overdue[9] == (today - dt.timedelta(days=35)).strftime("%d/%m/%Y")
    assert overdue[13] == "Quá hạn hiệu chuẩn"
    xlsx = client.get("/standards/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    assert [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))][:2] == ["QC-E2-01", "Bộ quả cân chuẩn E2"]
    assert client.get("/standards/export.pdf").status_code == 404


def test_due_list_and_its_export_hold_only_what_is_due(client, auth, demo_like, make_standard, calibrate, session,
                                                        today):
    calibrate(make_standard("MT-NA-03", kind="thermo_hygrometer", accuracy_class="±0,3 °C", type_codes=[],
                            range_=("", "", "")), today - dt.timedelta(days=300), today + dt.timedelta(days=10))
    session.commit()
    auth.login("technician")
    body = client.get("/standards/due?days=30").get_data(as_text=True)
    assert "QC-F2-02" in body and "MT-NA-03" in body and "QC-E2-01" not in body
    rows = list(csv.reader(io.StringIO(client.get("/standards/due/export.csv?days=30").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert [(r[0], r[10], r[13]) for r in rows[1:]] == [("QC-F2-02", "-35", "Quá hạn hiệu chuẩn"),
                                                        ("MT-NA-03", "10", "Sắp đến hạn hiệu chuẩn")]
    assert len(list(csv.reader(io.StringIO(client.get("/standards/due/export.csv?days=500")
                                           .get_data(as_text=True))))) == 6
    assert client.get("/standards/due?days=abc").status_code == 200


# --- create, edit ----------------------------------------------------------------------------------------------------

def test_create_shows_per_field_errors_and_creates(client, auth, session):
    auth.login("quality_manager")
    assert client.get("/standards/new").status_code == 200
    data = {"code": "QC-M1-01", "name": "Bộ quả cân M1", "kind": "weight_set", "accuracy_class": "III",
            "type_codes": ["nawi"], "range_min": "1", "range_max": "10", "range_unit": "kg"}
    response = client.post("/standards/new", data=data)
    assert response.status_code == 200
    assert _errors(response.get_data(as_text=True), "accuracy_class") == [
        "Quả cân phải có cấp chính xác theo OIML R 111: E1, E2, F1, F2, M1, M2, M3."]
    response = client.post("/standards/new", data=data | {"accuracy_class": "m1"})
    assert response.status_code == 302
    standard = session.scalar(select(Standard).where(Standard.code == "QC-M1-01"))
    assert (standard.accuracy_class, standard.type_codes, standard.range_max) == ("M1", ["nawi"], "10")
    duplicate = client.post("/standards/new", data=data | {"accuracy_class": "M1", "code": "qc m1 01"})
    assert _errors(duplicate.get_data(as_text=True), "code") == [
        "Mã chuẩn qc m1 01 đã được dùng cho một chuẩn khác."]
    assert _errors(client.post("/standards/new", data={}).get_data(as_text=True), "name")


def test_edit_needs_a_reason_once_the_standard_has_calibrations(client, auth, demo_like, session):
    auth.login("admin")
    standard = demo_like["f2"]
    data = {"code": "QC-F2-01", "name": "Bộ quả cân F2", "kind": "weight_set", "accuracy_class": "F2",
            "location": "Tủ số 4", "calibration_interval_months": "12"}
    response = client.post(f"/standards/{standard.id}/edit", data=data)
    assert response.status_code == 200
    assert _errors(response.get_data(as_text=True), "reason") == [
        "Chuẩn QC-F2-01 đã có hồ sơ hiệu chuẩn: hãy ghi lý do thay đổi."]
    assert client.post(f"/standards/{standard.id}/edit", data=data | {"reason": "Chuyển tủ"}).status_code == 302
    session.expire_all()
    assert session.get(Standard, standard.id).location == "Tủ số 4"


# --- calibrations ----------------------------------------------------------------------------------------------------

def test_record_calibration_with_a_certificate_file_and_download_it(client, auth, app, demo_like, session, today):
    auth.login("admin")
    standard = demo_like["m1"]
    pdf = b"%PDF-1.4 GCN HC-KL-2026-051"
    response = client.post(f"/standards/{standard.id}/calibrations/new", data={
        "calibration_date": today.isoformat(), "source": "internal", "reference_ids": [str(demo_like["e2"].id)],
        "certificate_number": "HC-KL-2026-051", "results": "1; kg; -3,2; 12; 2; mg\n10; kg; 25; 120; 2; mg",
        "certificate_file": (io.BytesIO(pdf), "GCN HC-KL-2026-051.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    session.rollback()
    calibration = session.scalars(select(StandardCalibration).where(StandardCalibration.standard_id == standard.id)
                                  .order_by(StandardCalibration.id.desc())).first()
    assert calibration.certificate_sha256 == hashlib.sha256(pdf).hexdigest()
    assert calibration.results[0] == {"nominal": "1", "unit": "kg", "correction": "-3.2",
                                      "expanded_uncertainty": "12", "k": "2", "result_unit": "mg"}
    assert calibration.due_date == services.add_months(today, 12)
    download = client.get(f"/standards/calibrations/{calibration.id}/certificate")
    assert download.status_code == 200 and download.get_data() == pdf
    download.close()
    stored = services.certificate_path(__import__("pathlib").Path(app.instance_path) / "standards" / "certificates",
                                       calibration)
    stored.write_bytes(pdf + b"changed")
    assert client.get(f"/standards/calibrations/{calibration.id}/certificate").status_code == 409
    detail = client.get(f"/standards/{standard.id}").get_data(as_text=True)
    assert "tệp thiếu hoặc bị thay đổi" in detail


def test_record_calibration_shows_errors_on_the_fields(client, auth, demo_like, today):
    auth.login("admin")
    url = f"/standards/{demo_like['m1'].id}/calibrations/new"
    response = client.post(url, data={"calibration_date": today.isoformat(), "source": "internal",
                                      "results": "1; kg; 0,1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _errors(body, "results") == ["Dòng 1: cần 4 đến 6 phần cách nhau bằng dấu chấm phẩy: danh định; đơn "
                                        "vị; số hiệu chính; U; k; đơn vị của số hiệu chính và U."]
    response = client.post(url, data={"calibration_date": today.isoformat(), "source": "internal",
                                      "results": "1; kg; 0,1; 0,5"})
    assert _errors(response.get_data(as_text=True), "reference_ids") == [
        "Hiệu chuẩn nội bộ: hãy chọn chuẩn của trung tâm đã dùng để hiệu chuẩn."]
    response = client.post(url, data={"calibration_date": today.isoformat(), "source": "internal",
                                      "reference_ids": [str(demo_like["old"].id)], "results": "1; kg; 0,1; 0,5"})
    assert _errors(response.get_data(as_text=True), "reference_ids")[0].startswith(
        "Chuẩn dùng để hiệu chuẩn không hợp lệ vào ngày")
    response = client.post(url, data={"calibration_date": today.isoformat(), "source": "external",
                                      "laboratory_name": "VMI", "results": "1; kg; 0,1; 0,5",
                                      "certificate_file": (io.BytesIO(b"MZ"), "virus.exe")},
                           content_type="multipart/form-data")
    assert _errors(response.get_data(as_text=True), "certificate_file") == [
        "Giấy chứng nhận phải là tệp PDF, PNG hoặc JPG."]


def test_correct_calibration_keeps_the_original_as_superseded(client, auth, demo_like, session):
    auth.login("admin")
    standard = demo_like["f2"]
    original = session.scalar(select(StandardCalibration).where(StandardCalibration.standard_id == standard.id))
    form = client.get(f"/standards/calibrations/{original.id}/correct").get_data(as_text=True)
    assert "HC-KL-019" in form and "1; kg; 0.3; 0.5; 2; mg" in form
    data = {"calibration_date": original.calibration_date.isoformat(), "due_date": original.due_date.isoformat(),
            "source": "internal", "reference_ids": [str(demo_like["e2"].id)], "certificate_number": "HC-KL-091",
            "results": "1; kg; 0.3; 0.5; 2; mg"}
    missing_reason = client.post(f"/standards/calibrations/{original.id}/correct", data=data)
    assert _errors(missing_reason.get_data(as_text=True), "reason")
    response = client.post(f"/standards/calibrations/{original.id}/correct",
                           data=data | {"reason": "Sai số giấy chứng nhận"})
    assert response.status_code == 302
    session.rollback()
    rows = session.scalars(select(StandardCalibration).where(StandardCalibration.standard_id == standard.id)
                           .order_by(StandardCalibration.id)).all()
    assert [(r.certificate_number, r.supersedes_id) for r in rows] == [("HC-KL-019", None),
                                                                       ("HC-KL-091", original.id)]
    detail = client.get(f"/standards/{standard.id}").get_data(as_text=True)
    assert f"Đã được thay thế bởi #{rows[1].id}" in detail and f"Bản sửa của #{original.id}" in detail
    again = client.get(f"/standards/calibrations/{original.id}/correct").get_data(as_text=True)
    assert f"Bản ghi này đã được thay thế bởi bản ghi #{rows[1].id}" in again


# --- detail: chain, checks, chart ------------------------------------------------------------------------------------

def test_detail_draws_the_traceability_chain_and_marks_a_broken_link(client, auth, demo_like, today):
    auth.login("auditor")
    body = client.get(f"/standards/{demo_like['f2'].id}").get_data(as_text=True)
    assert 'data-testid="chain-intact"' in body
    assert body.index('data-code="QC-E2-01"') < body.index('data-code="QC-F2-01"')
    assert "Viện Đo lường Việt Nam (VMI)" in body and "VILAS 002" in body and "KL 0417/2026" in body
    assert 'style="' not in body and "<style" not in body
    later = (today + dt.timedelta(days=400)).isoformat()
    broken = client.get(f"/standards/{demo_like['f2'].id}?on={later}").get_data(as_text=True)
    assert 'data-testid="chain-broken"' in broken and 'data-broken="true"' in broken
    assert "Hiệu chuẩn của chuẩn QC-F2-01 hết hiệu lực ngày" in broken
    assert client.get("/standards/999999").status_code == 404


def test_failed_check_from_the_form_puts_the_standard_out_of_service(client, auth, demo_like, session, today):
    auth.login("technician")
    standard = demo_like["m1"]
    assert client.get(f"/standards/{standard.id}/checks/new").status_code == 200
    response = client.post(f"/standards/{standard.id}/checks/new", data={
        "check_date": today.isoformat(), "nominal": "1", "unit": "kg", "value_unit": "mg", "reference_value": "5",
        "measured_values": "24; 25\n26", "limit": "16"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "Kiểm tra giữa kỳ KHÔNG ĐẠT: độ lệch 20 mg vượt giới hạn ±16 mg." in body
    assert 'data-status="out_of_service"' in body
    session.rollback()
    check = session.scalar(select(IntermediateCheck).where(IntermediateCheck.standard_id == standard.id))
    assert (check.performed_by_name, check.is_passed) == ("Technician", False)
    bad = client.post(f"/standards/{standard.id}/checks/new", data={
        "check_date": today.isoformat(), "nominal": "1", "unit": "kg", "value_unit": "mg", "reference_value": "5",
        "measured_values": "x", "limit": "16"})
    assert _errors(bad.get_data(as_text=True), "measured_values") == [
        "Giá trị đo phải là một số, ví dụ 0,5 (nhận: x)."]


def test_chart_route_returns_a_png(client, auth, demo_like, session, today):
    standard = demo_like["m1"]
    for days, value in ((90, "5.2"), (60, "6.1"), (30, "7.3")):
        services.record_intermediate_check(
            session, standard=standard, check_date=today - dt.timedelta(days=days), nominal="1", unit="kg",
            value_unit="mg", reference_value="5", measured_values=value, limit="16", performed_by_name="Lan",
            today=today)
    session.commit()
    auth.login("auditor")
    response = client.get(f"/standards/{standard.id}/chart.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.get_data().startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="/standards/{standard.id}/chart.png?point=1%7Ckg"' in client.get(
        f"/standards/{standard.id}").get_data(as_text=True)
    empty = client.get(f"/standards/{demo_like['e2'].id}/chart.png")
    assert empty.status_code == 200 and empty.get_data().startswith(b"\x89PNG")


def test_take_out_and_return_to_service(client, auth, demo_like, today):
    auth.login("admin")
    standard = demo_like["f2"]
    url = f"/standards/{standard.id}/out-of-service"
    assert _errors(client.post(url, data={"event_date": today.isoformat()}).get_data(as_text=True), "reason")
    response = client.post(url, data={"event_date": today.isoformat(), "reason": "Quả 10 kg bị móp"},
                           follow_redirects=True)
    body = response.get_data(as_text=True)
    assert f"Chuẩn QC-F2-01 ngừng sử dụng từ {today.strftime('%d/%m/%Y')}: Quả 10 kg bị móp." in body
    response = client.post(f"/standards/{standard.id}/return", data={"event_date": today.isoformat(),
                                                                      "reason": "Đã thay quả 10 kg"},
                           follow_redirects=True)
    assert 'data-status="in_service"' in response.get_data(as_text=True)


# --- adequacy page ---------------------------------------------------------------------------------------------------

def test_adequacy_page_offers_f2_not_m1_for_a_class_ii_30_kg_scale(client, auth, demo_like):
    auth.login("technician")
    assert client.get("/standards/adequacy").status_code == 200
    body = client.get("/standards/adequacy?instrument_type=nawi&nawi_max=30&nawi_e=0.001&nawi_unit=kg"
                      "&nawi_class=II&nawi_load=30&divisor=3").get_data(as_text=True)
    assert 'data-code="QC-F2-01" data-adequate="true"' in body
    assert 'data-code="QC-M1-01" data-adequate="false"' in body
    choices = body.split('data-testid="adequate-choices"')[1].split("</ul>")[0]
    assert f'value="{demo_like["f2"].id}"' in choices and f'value="{demo_like["m1"].id}"' not in choices
    assert f'value="{demo_like["old"].id}"' not in choices  # adequate class, but overdue
    error = client.get("/standards/adequacy?instrument_type=nawi&nawi_max=30&nawi_e=0.001&nawi_unit=kg"
                       "&nawi_class=II&nawi_load=31&divisor=3").get_data(as_text=True)
    assert "Tải 31 kg lớn hơn Max của cân." in error


# --- escaping and permissions ----------------------------------------------------------------------------------------

def test_user_text_is_escaped(client, auth, make_standard, session):
    standard = make_standard("QC-XSS", name='<script>alert("x")</script>', location="<b>tủ</b>")
    session.commit()
    auth.login("auditor")
    for url in ("/standards/", f"/standards/{standard.id}", "/standards/due"):
        body = client.get(url).get_data(as_text=True)
        assert '<script>alert("x")</script>' not in body and "&lt;script&gt;" in body, url


@pytest.mark.parametrize(("role", "url", "method", "status"), [
    ("auditor", "/standards/new", "post", 403),
    ("auditor", "/standards/{id}/checks/new", "get", 403),
    ("technician", "/standards/new", "get", 403),
    ("technician", "/standards/{id}/edit", "get", 403),
    ("technician", "/standards/{id}/out-of-service", "post", 403),
    ("technician", "/standards/{id}/checks/new", "get", 200),
    ("reviewer", "/standards/{id}", "get", 200),
])
def test_permissions(client, auth, demo_like, role, url, method, status):
    auth.login(role)
    response = getattr(client, method)(url.format(id=demo_like["f2"].id))
    assert response.status_code == status


def test_pages_need_login(client):
    assert client.get("/standards/").status_code == 302
