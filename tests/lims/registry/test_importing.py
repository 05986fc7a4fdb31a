"""Bulk import: formats and encodings, all-or-nothing, the error report, re-import, the upload, the command."""

from __future__ import annotations

import csv
import io
import re
import time
import unicodedata
from pathlib import Path

import pytest
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy import func, select

from lims.audit import services as audit
from lims.audit.models import AuditEvent
from lims.registry import importing
from lims.registry.models import Customer, Instrument

from .conftest import TODAY

EXAMPLES = Path(__file__).resolve().parents[3] / "lims" / "static" / "examples"

HEADER = ["Mã số thuế", "Tên khách hàng", "Địa chỉ khách hàng", "Loại phương tiện đo", "Hãng sản xuất",
          "Số sản xuất", "Năm sản xuất", "Hạn kiểm định", "Mức cân lớn nhất (Max)", "e", "d", "Đơn vị",
          "Cấp chính xác", "Un (V)", "Ib (A)", "Imax (A)", "Hằng số công tơ (imp/kWh)"]


def scale(serial: str, *, tax="5901234567", name="Hộ kinh doanh Nguyễn Thị Lan", due="15/03/2027", max_="30",
          accuracy="III", year="2020") -> list[str]:
    return [tax, name, "Ki-ốt 12, Chợ Tân Phú", "nawi", "CAS", serial, year, due, max_, "0,01", "0.01", "kg",
            accuracy, "", "", "", ""]


def meter(serial: str, *, tax="5915881391-001", name="Điện lực Pleiku") -> list[str]:
    return [tax, name, "285 Lý Thái Tổ", "Công tơ điện", "EMIC", serial, "2024", "10/01/2030", "", "", "", "", "1",
            "220", "5", "20", "1600"]


def to_cp1258(text: str) -> bytes:
    """Text as Windows writes Vietnamese in code page 1258: base letters (with â ă ê ô ơ ư) and combining tones."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(m for m in marks if m not in tones))
            out += base.encode("cp1258") + "".join(m for m in marks if m in tones).encode("cp1258")
    return bytes(out)


def csv_bytes(rows, *, header=HEADER, encoding="utf-8", delimiter=",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    return to_cp1258(text) if encoding == "cp1258" else text.encode(encoding)


def xlsx_bytes(rows, *, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def run_import(session, tmp_path):
    """Import bytes as a file named ``name``; commit when good (as the view and the command do)."""

    def run(data: bytes, name: str = "may-can.csv", **kwargs) -> importing.ImportReport:
        path = tmp_path / name
        path.write_bytes(data)
        with force_locale("vi"):
            report = importing.import_file(session, path, filename=name, today=TODAY, **kwargs)
        if report.ok:
            session.commit()
        else:
            session.rollback()
        return report

    return run


def _instruments(session) -> dict[str, Instrument]:
    session.expire_all()
    return {i.serial: i for i in session.scalars(select(Instrument))}


# --- formats and encodings --------------------------------------------------------------------------------------

def test_import_csv_creates_customers_instruments_and_audit_events(session, run_import):
    report = run_import(csv_bytes([scale("20A1"), scale("20A2"), meter("24123456789")]))
    assert report.ok, report.errors
    assert (report.rows, report.created, report.skipped, report.customers_created) == (3, 3, 0, 2)
    found = _instruments(session)
    lan = found["20A1"].customer
    assert (lan.name, lan.tax_code, lan.name_key) == ("Hộ kinh doanh Nguyễn Thị Lan", "5901234567",
                                                      "ho kinh doanh nguyen thi lan")
    assert found["20A1"].spec == {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III",
                                  "min": "0.2", "supports": "4"}
    assert found["24123456789"].type_code == "energy_meter"
    assert found["20A1"].next_due_date.isoformat() == "2027-03-15"
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "instruments")).all()
    assert sorted(e.entity_id for e in events) == sorted(str(i.id) for i in found.values())
    assert all(e.action == "insert" and e.reason == "Nhập từ tệp may-can.csv" for e in events)
    event = next(e for e in events if e.entity_id == str(found["20A1"].id))
    assert event.changes["serial"] == "20A1" and event.changes["spec"]["max"] == "30"
    assert audit.verify_chain(session).ok
    assert audit.history(session, entity_type="instrument_imports", entity_id=report.batch)[0].changes["created"] == 3


def test_import_accepts_utf8_with_bom_and_semicolons(session, run_import):
    report = run_import(b"\xef\xbb\xbf" + csv_bytes([scale("20A1")], delimiter=";"))
    assert report.ok, report.errors
    assert _instruments(session)["20A1"].customer.name == "Hộ kinh doanh Nguyễn Thị Lan"


def test_import_decodes_windows_1258_into_composed_text(session, run_import):
    data = csv_bytes([scale("20A1", name="Chợ Tân Phú")], encoding="cp1258")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    report = run_import(data)
    assert report.ok, report.errors
    name = _instruments(session)["20A1"].customer.name
    assert name == "Chợ Tân Phú" and unicodedata.is_normalized("NFC", name)


def test_import_refuses_an_undecodable_file_with_a_clear_message(session, run_import, counts):
    before = counts()
    report = run_import(csv_bytes([scale("20A1")]) + b"\x81\x8d\x8f\x90\x9d")
    assert not report.ok
    assert report.errors[0].row == 0 and "UTF-8" in report.errors[0].message
    assert counts() == before


def test_import_xlsx_with_real_dates_and_numbers(session, run_import):
    import datetime as dt

    row = scale("20A1")
    row[6], row[7], row[8] = 2020, dt.datetime(2027, 3, 15), 30
    report = run_import(xlsx_bytes([row, scale("20A2")]), name="may-can.xlsx")
    assert report.ok, report.errors
    found = _instruments(session)
    assert (found["20A1"].year_made, found["20A1"].next_due_date.isoformat()) == (2020, "2027-03-15")


def test_shipped_examples_import_cleanly_and_twice_without_duplicates(session, run_import):
    first = run_import((EXAMPLES / "instruments-example.xlsx").read_bytes(), name="instruments-example.xlsx")
    assert first.ok, first.errors
    again = run_import((EXAMPLES / "instruments-example.csv").read_bytes(), name="instruments-example.csv")
    assert again.ok, again.errors
    assert (again.created, again.skipped) == (0, first.created)


# --- all or nothing, and the report -----------------------------------------------------------------------------

def test_one_bad_row_leaves_the_database_exactly_as_it_was(session, run_import, counts, create_instrument):
    create_instrument("OLD-1")
    before = counts()
    head_before = audit.verify_chain(session).checked
    rows = [scale(f"20A{i}") for i in range(2500)]  # more than one batch, so earlier batches were written
    rows.append(scale("BAD-1", accuracy="II"))
    report = run_import(csv_bytes(rows))
    assert not report.ok
    assert counts() == before
    assert audit.verify_chain(session).checked == head_before


def test_errors_name_row_column_and_reason(session, run_import):
    rows = [scale("20A1"), scale("", year="1850"), scale("20A3", accuracy="II"), meter("M1", tax="12345"),
            scale("20A5", due="31/02/2027")]
    rows[0][3] = "cân đồng hồ"
    report = run_import(csv_bytes(rows))
    found = {(p.row, p.column): p.message for p in report.errors}
    assert found[(2, "Loại phương tiện đo")].startswith("Loại phương tiện đo không hợp lệ: “cân đồng hồ”")
    assert found[(3, "Số sản xuất")] == "Số sản xuất không được để trống."
    assert found[(3, "Năm sản xuất")].startswith("Năm sản xuất phải từ 1900")
    assert "out of range for class II" in found[(4, "Cấp chính xác")]
    assert "10 chữ số" in found[(5, "Mã số thuế")]
    assert found[(6, "Hạn kiểm định")] == "Ngày không hợp lệ: “31/02/2027” (dùng dd/mm/yyyy)."
    assert report.error_count == 6


def test_header_problems_are_reported_on_row_one(session, run_import):
    header = ["Số sản xuất", "Số serial", "Màu sắc", "Tên khách hàng"]
    report = run_import(csv_bytes([["1", "2", "đỏ", "Lan"]], header=header))
    messages = {(p.row, p.column): p.message for p in report.errors}
    assert messages[(1, "Số serial")].startswith("Cột bị lặp")
    assert messages[(1, "Màu sắc")].startswith("Cột không nhận ra")
    assert messages[(1, "Loại phương tiện đo")] == "Thiếu cột bắt buộc."


def test_characteristics_of_another_type_are_refused(session, run_import):
    row = meter("M1")
    row[8] = "30"  # Max on an electricity meter
    report = run_import(csv_bytes([row]))
    assert [(p.column, p.message[:30]) for p in report.errors] == [
        ("Mức cân lớn nhất (Max)", "Đặc trưng này không áp dụng ch")]


def test_unknown_customer_without_name_is_an_error(session, run_import):
    row = scale("20A1", name="")
    report = run_import(csv_bytes([row]))
    assert report.errors[0].column == "Mã số thuế"
    assert "thêm cột Tên khách hàng" in report.errors[0].message


def test_error_report_csv_lists_row_column_message(session, run_import):
    report = run_import(csv_bytes([scale("20A1", accuracy="V")]))
    out = io.StringIO()
    with force_locale("vi"):
        importing.write_error_report(report.errors, out)
    rows = list(csv.reader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    assert rows[0] == ["Dòng", "Cột", "Lỗi"]
    assert rows[1][:2] == ["2", "Cấp chính xác"] and "V" in rows[1][2]


# --- re-import --------------------------------------------------------------------------------------------------

def test_reimport_skips_unchanged_rows_and_reports_conflicts(session, run_import, counts):
    assert run_import(csv_bytes([scale("20A1"), scale("20A2"), meter("24123456789")])).ok
    after_first = counts()
    again = run_import(csv_bytes([scale("20A1"), scale("20A2"), meter("24123456789")]))
    assert (again.ok, again.created, again.skipped, again.customers_created) == (True, 0, 3, 0)
    assert counts()["Instrument"] == after_first["Instrument"]
    conflict = run_import(csv_bytes([scale("20-a-1", due="01/01/2028"), scale("20A9")]))
    assert not conflict.ok
    [problem] = conflict.errors
    assert (problem.row, problem.column) == (2, "Hạn kiểm định")
    assert "15/03/2027 trong sổ, 01/01/2028 trong tệp" in problem.message
    assert counts()["Instrument"] == after_first["Instrument"]  # 20A9 was not kept either


def test_duplicate_rows_within_a_file(session, run_import):
    same = run_import(csv_bytes([scale("20A1"), scale("20a-1")]))
    assert (same.ok, same.created, same.skipped) == (True, 1, 1)
    different = run_import(csv_bytes([scale("30B1"), scale("30B1", due="01/01/2029")]))
    assert not different.ok
    assert different.errors[0].row == 3 and "dòng 2" in different.errors[0].message


# --- the upload page --------------------------------------------------------------------------------------------

def _upload(client, data: bytes, name: str = "may-can.csv", **headers):
    return client.post("/instruments/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=headers)


def test_upload_imports_and_shows_the_result(client, auth, session):
    auth.login("technician")
    response = _upload(client, csv_bytes([scale("20A1")]))
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "thêm 1 phương tiện đo" in html
    assert session.scalar(select(func.count()).select_from(Instrument)) == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "instruments")).one()
    assert event.actor_name == "technician"


def test_upload_of_an_xlsx_file(client, auth, session):
    auth.login("technician")
    response = _upload(client, xlsx_bytes([scale("20A1"), meter("24123456789")]), name="Danh sách.xlsx")
    assert "thêm 2 phương tiện đo" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Instrument)) == 2


def test_upload_with_errors_offers_the_report_and_writes_nothing(client, auth, counts):
    auth.login("technician")
    before = counts()
    response = _upload(client, csv_bytes([scale("20A1"), scale("20A2", accuracy="II")]))
    status = client.get(response.headers["Location"])
    html = status.get_data(as_text=True)
    assert "1 lỗi" in html
    report_url = re.search(r'href="([^"]+errors\.csv)"', html).group(1)
    report = client.get(report_url)
    assert report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data().decode("utf-8-sig"))))
    assert rows[1][:2] == ["3", "Cấp chính xác"]
    assert counts() == before


def test_upload_as_json_then_poll_progress_in_background(client, auth, app, session):
    app.config["IMPORT_BACKGROUND_BYTES"] = 0  # force the background job
    auth.login("technician")
    response = _upload(client, csv_bytes([scale(f"20A{i}") for i in range(50)]), Accept="application/json")
    assert response.status_code == 200
    progress_url = response.get_json()["progress_url"]
    for _attempt in range(200):
        state = client.get(progress_url).get_json()
        if state["state"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert (state["state"], state["created"], state["error_count"]) == ("done", 50, 0)
    assert session.scalar(select(func.count()).select_from(Instrument)) == 50


def test_other_users_cannot_see_an_import(client, auth):
    auth.login("technician")
    location = _upload(client, csv_bytes([scale("20A1")])).headers["Location"]
    auth.logout()
    auth.login("reception")
    assert client.get(location).status_code == 404
    assert client.get("/instruments/imports/..%2F..%2Fsecret_key").status_code == 404


def test_upload_of_50_mb_is_refused_and_nothing_is_kept(client, auth, app, counts):
    auth.login("technician")
    before = counts()
    size = app.config["IMPORT_MAX_BYTES"]
    # The multipart body built by hand: the test client would spool it to a temporary file it never closes.
    boundary = "lims-test-boundary"
    body = b"".join([f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                     f"Content-Type: text/csv\r\n\r\n".encode(), csv_bytes([scale("20A1")]), b"#" * size,
                     f"\r\n--{boundary}--\r\n".encode()])
    response = client.post("/instruments/import", input_stream=io.BytesIO(body), content_length=len(body),
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200
    assert "Tệp quá lớn: giới hạn là dưới 50 MB" in response.get_data(as_text=True)
    assert counts() == before
    assert not any(Path(app.instance_path, "imports").glob("*.upload"))


def test_upload_without_file_names_the_field(client, auth):
    auth.login("technician")
    html = client.post("/instruments/import", data={}).get_data(as_text=True)
    assert 'data-field="file">Hãy chọn một tệp.' in html


def test_upload_of_a_legacy_xls_file_says_what_to_do(client, auth):
    auth.login("technician")
    response = _upload(client, b"\xd0\xcf\x11\xe0" + b"\0" * 600, name="cu.xls")
    assert ".xls" in client.get(response.headers["Location"]).get_data(as_text=True)


# --- the command ------------------------------------------------------------------------------------------------

def test_command_imports_and_exits_0(runner, tmp_path, session):
    path = tmp_path / "may-can.csv"
    path.write_bytes(csv_bytes([scale("20A1"), meter("24123456789")]))
    result = runner.invoke(args=["import", "instruments", str(path)])
    assert result.exit_code == 0, result.output
    assert "đã thêm 2 phương tiện đo" in result.output
    assert session.scalar(select(func.count()).select_from(Instrument)) == 2
    assert session.scalar(select(func.count()).select_from(Customer)) == 2


def test_command_prints_errors_and_exits_1(runner, tmp_path, session):
    path = tmp_path / "may-can.csv"
    path.write_bytes(csv_bytes([scale("20A1"), scale("20A2", accuracy="II")]))
    result = runner.invoke(args=["import", "instruments", str(path)])
    assert result.exit_code == 1
    assert "1 lỗi" in result.output and "dòng 3, Cấp chính xác" in result.output
    assert session.scalar(select(func.count()).select_from(Instrument)) == 0

