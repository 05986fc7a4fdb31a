"""Facilities pages: rooms, readings by hand and from a logger file, the chart, the check, the export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import func, select

from lims.facilities import services
from lims.facilities.models import ConditionReading, Room
from lims.methods import services as methods

from .conftest import M1_LIMITS
from .test_services import LOGGER as LOGGER_23

# Pages import with the real clock: the file's day must be in the past.
LOGGER = LOGGER_23.replace(b"23/11/2026", b"20/11/2026").replace(b"2026-11-23", b"2026-11-20")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(ConditionReading))


def test_rooms_list_shows_the_latest_reading(client, auth, session, mass_lab, steady_morning):
    services.create_room(session, code="HT-CHO", name="Chợ Đắk Hà", kind="on_site")
    session.commit()
    auth.login("auditor")
    body = client.get("/facilities/").get_data(as_text=True)
    assert body.count('data-testid="room-row"') == 2 and "23/11/2026 12:00" in body
    body = client.get("/facilities/?q=cho+dak").get_data(as_text=True)
    assert body.count('data-testid="room-row"') == 1 and "HT-CHO" in body and "Địa điểm hiện trường" in body
    assert "Thêm phòng" not in body


def test_create_room_and_its_field_errors(client, auth, session):
    auth.login("quality_manager")
    response = client.post("/facilities/new", data={"code": "p-ct", "name": "Phòng công tơ", "building": "Nhà A",
                                                    "kind": "laboratory", "notes": ""})
    assert response.status_code == 302
    room = session.scalar(select(Room))
    assert response.headers["Location"] == f"/facilities/{room.id}" and room.code == "P-CT"
    body = client.post("/facilities/new", data={"code": "P-CT", "name": "Khác", "kind": "laboratory"}
                       ).get_data(as_text=True)
    assert 'data-field="code"' in body and "Mã phòng P-CT đã được dùng cho Phòng công tơ." in body
    body = client.post("/facilities/new", data={"code": "", "name": "", "kind": "laboratory"}).get_data(as_text=True)
    assert 'data-field="code"' in body and 'data-field="name"' in body


def test_edit_room_with_readings_needs_a_reason(client, auth, session, mass_lab, steady_morning):
    session.commit()
    auth.login("admin")
    url = f"/facilities/{mass_lab.id}/edit"
    assert 'name="reason"' in client.get(url).get_data(as_text=True)
    form = {"code": "P-KL", "name": "Phòng khối lượng (tầng 2)", "building": "Nhà A", "kind": "laboratory"}
    body = client.post(url, data=form).get_data(as_text=True)
    assert 'data-field="reason"' in body and "cần nêu lý do sửa đổi" in body
    assert client.post(url, data=form | {"reason": "Chuyển tầng."}).status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Room, mass_lab.id).name == "Phòng khối lượng (tầng 2)"


def test_manual_reading_form_records_local_time_as_utc(client, auth, session, mass_lab):
    session.commit()
    auth.login("technician")
    url = f"/facilities/{mass_lab.id}/readings/new"
    assert 'type="datetime-local"' in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"taken_at": "2026-11-20T08:15", "temperature_c": "22,5", "humidity_pct": "61"})
    assert response.status_code == 302
    reading = session.scalar(select(ConditionReading))
    assert reading.taken_at == dt.datetime(2026, 11, 20, 1, 15, tzinfo=dt.timezone.utc)
    assert reading.temperature_c == Decimal("22.5") and reading.recorded_by_id is not None
    body = client.post(url, data={"taken_at": "2026-11-20T08:15", "temperature_c": "23"}).get_data(as_text=True)
    assert 'data-field="taken_at"' in body and "Phòng P-KL đã có số đo lúc 08:15 20/11/2026." in body
    body = client.post(url, data={"taken_at": "2026-11-20T09:15", "humidity_pct": "abc"}).get_data(as_text=True)
    assert 'data-field="humidity_pct"' in body and "Không phải là số." in body
    body = client.post(url, data={"taken_at": "2026-11-20T09:15"}).get_data(as_text=True)
    assert 'data-field="temperature_c"' in body and "Nhập ít nhất một giá trị" in body


def test_logger_import_page_imports_once_and_reports_skipped_rows(client, auth, session, mass_lab):
    session.commit()
    auth.login("technician")
    url = f"/facilities/{mass_lab.id}/readings/import"
    page = client.get(url).get_data(as_text=True)
    assert "/static/examples/logger-example.csv" in page
    response = client.post(url, data={"file": (io.BytesIO(LOGGER), "P-KL_2026-11.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã nhập 4 số đo (08:00 20/11/2026 – 09:30 20/11/2026); bỏ qua 0 số đo đã có." in follow
    again = client.post(url, data={"file": (io.BytesIO(LOGGER), "P-KL_2026-11.csv")},
                        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "Đã nhập 0 số đo" in again and "bỏ qua 4 số đo đã có" in again
    assert _count(session) == 4


def test_logger_import_page_lists_errors_and_imports_nothing(client, auth, session, mass_lab):
    session.commit()
    auth.login("technician")
    bad = LOGGER + b"20/11/2026 10:00,<b>hot</b>,50\r\n99/99/2026 10:30,22,50\r\n"
    response = client.post(f"/facilities/{mass_lab.id}/readings/import",
                           data={"file": (io.BytesIO(bad), "bad.csv")}, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="import-errors"' in body
    assert "Dòng 6: Nhiệt độ “&lt;b&gt;hot&lt;/b&gt;” không phải là số." in body
    assert "Dòng 7: thời gian “99/99/2026 10:30” không đúng dạng" in body
    assert _count(session) == 0
    body = client.post(f"/facilities/{mass_lab.id}/readings/import", data={},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-field="file"' in body and "Chọn một tệp CSV." in body


def test_chart_route_draws_a_png_with_or_without_a_method(client, auth, session, mass_lab, steady_morning):
    version = _m1_method(session)
    session.commit()
    auth.login("auditor")
    for query in ("", f"&method_version_id={version.id}"):
        response = client.get(f"/facilities/{mass_lab.id}/chart/temperature_c.png?start_date=2026-11-22"
                              f"&end_date=2026-11-23{query}")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.data.startswith(PNG_SIGNATURE) and len(response.data) > 5000
    assert client.get(f"/facilities/{mass_lab.id}/chart/humidity_pct.png").status_code == 200
    assert client.get(f"/facilities/{mass_lab.id}/chart/voltage.png").status_code == 404
    assert client.get("/facilities/999/chart/temperature_c.png").status_code == 404


def _m1_method(session):
    procedure = methods.create_procedure(session, number="ĐLVN 286", title="Quả cân – Quy trình hiệu chuẩn")
    return methods.issue_version(session, procedure_id=procedure.id, version_label="2015",
                                 effective_date=dt.date(2015, 12, 1), kind="calibration", instrument_types=["weight"],
                                 environment_limits=M1_LIMITS)


def test_room_page_checks_the_period_against_a_method(client, auth, session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:10", "26.5", "55"), ("2026-11-23 09:40", "28.1", "55")])
    version = _m1_method(session)
    session.commit()
    auth.login("auditor")
    base = f"/facilities/{mass_lab.id}?start_date=2026-11-23&end_date=2026-11-23"
    body = client.get(base).get_data(as_text=True)
    assert 'data-testid="conditions-check"' not in body and body.count('data-testid="reading-row"') == 2
    assert f'src="/facilities/{mass_lab.id}/chart/temperature_c.png?start_date=2026-11-23' in body
    body = client.get(f"{base}&method_version_id={version.id}").get_data(as_text=True)
    assert 'data-testid="conditions-check"' in body and "không đạt giới hạn của ĐLVN 286:2015" in body
    assert "Nhiệt độ 28,1 °C lúc 09:40 23/11/2026 vượt giới hạn 18–27 °C" in body
    assert f"method_version_id={version.id}" in body  # the charts draw the same limits
    body = client.get(f"/facilities/{mass_lab.id}?start_date=2026-13-01").get_data(as_text=True)
    assert "Ngày không hợp lệ" in body


def test_export_readings_csv_and_xlsx(client, auth, session, mass_lab, steady_morning):
    session.commit()
    auth.login("auditor")
    response = client.get(f"/facilities/{mass_lab.id}/readings.csv?start_date=2026-11-23&end_date=2026-11-23")
    assert response.mimetype == "text/csv"
    assert 'filename="dieu-kien-p-kl-2026-11-23-2026-11-23.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Mã phòng", "Thời điểm (giờ Việt Nam)", "Thời điểm (UTC, ISO 8601)", "Nhiệt độ (°C)",
                       "Độ ẩm (%RH)", "Áp suất (hPa)", "Nguồn", "Tệp", "Người ghi"]
    assert len(rows) == 1 + 25  # 00:00 … 12:00 on the 23rd
    assert rows[1] == ["P-KL", "23/11/2026 00:00:00", "2026-11-22T17:00:00+00:00", "22.00", "55.00", "",
                       "Tệp data-logger", "logger.csv", ""]
    xlsx = client.get(f"/facilities/{mass_lab.id}/readings.xlsx?start_date=2026-11-22&end_date=2026-11-23")
    values = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert len(values) == 1 + 31 and values[-1][1] == "23/11/2026 12:00:00"
    assert client.get(f"/facilities/{mass_lab.id}/readings.json").status_code == 404


def test_pages_escape_what_people_typed(client, auth, session):
    room = services.create_room(session, code="X1", name="<img src=x onerror=alert(1)>")
    session.commit()
    auth.login("auditor")
    for url in ("/facilities/", f"/facilities/{room.id}"):
        body = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_permissions_of_the_facilities_pages(client, auth, session, mass_lab):
    session.commit()
    auth.login("auditor")
    assert client.get(f"/facilities/{mass_lab.id}").status_code == 200
    for url in ("/facilities/new", f"/facilities/{mass_lab.id}/edit", f"/facilities/{mass_lab.id}/readings/new",
                f"/facilities/{mass_lab.id}/readings/import"):
        assert client.post(url, data={}).status_code == 403, url
    auth.logout()
    auth.login("technician")  # records conditions, does not manage rooms
    assert client.get(f"/facilities/{mass_lab.id}/readings/new").status_code == 200
    assert client.post("/facilities/new", data={}).status_code == 403
    assert client.get("/facilities/999").status_code == 404
