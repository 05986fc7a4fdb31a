"""Facilities services: rooms, readings, the logger import, and the conditions check the workflow calls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.facilities import demo, services
from lims.facilities.models import ConditionReading, Room

from .conftest import M1_LIMITS, at

NOW = at("2026-11-23 18:00")


# --- rooms ----------------------------------------------------------------------------------------------------------

def test_create_room_normalises_the_code_and_refuses_a_taken_one(session, mass_lab):
    assert mass_lab.code == "P-KL" and mass_lab.search_key == "p-kl phong khoi luong nha a"
    with pytest.raises(services.FacilitiesError, match="^Mã phòng P-KL đã được dùng cho Phòng khối lượng.$"):
        services.create_room(session, code="P-KL ", name="Khác")
    with pytest.raises(services.FacilitiesError) as caught:
        services.create_room(session, code="Phòng 1", name="Khác")
    assert caught.value.field == "code"
    with pytest.raises(services.FacilitiesError) as caught:
        services.create_room(session, code="X1", name="Khác", kind="garage")
    assert caught.value.field == "kind"


def test_editing_a_room_with_readings_needs_a_reason(session, mass_lab):
    services.update_room(session, room_id=mass_lab.id, code="P-KL", name="Phòng khối lượng 1", building="Nhà A")
    services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 08:00"), temperature_c="22.5",
                            now=NOW)
    with pytest.raises(services.ReasonRequiredError,
                       match="^Phòng P-KL đã có số đo điều kiện môi trường: cần nêu lý do sửa đổi.$"):
        services.update_room(session, room_id=mass_lab.id, code="P-KL", name="Phòng khối lượng 2")
    services.update_room(session, room_id=mass_lab.id, code="P-KL", name="Phòng khối lượng 2",
                         reason="Đổi tên theo sơ đồ mới.")
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "rooms",
                                                     AuditEvent.action == "update")
                            .order_by(AuditEvent.seq.desc())).first()
    assert event.reason == "Đổi tên theo sơ đồ mới."
    assert event.changes["name"] == ["Phòng khối lượng 1", "Phòng khối lượng 2"]


def test_list_rooms_searches_without_accents(session, mass_lab):
    services.create_room(session, code="HT-CHO", name="Chợ Đắk Hà", kind="on_site")
    assert [r.code for r in services.list_rooms(session, q="cho dak")] == ["HT-CHO"]
    assert [r.code for r in services.list_rooms(session, kind="laboratory")] == ["P-KL"]
    assert [r.code for r in services.list_rooms(session)] == ["HT-CHO", "P-KL"]


# --- manual readings ------------------------------------------------------------------------------------------------

def test_record_reading_stores_utc_and_two_decimals(session, mass_lab):
    reading = services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 08:00"),
                                      temperature_c="22,45", humidity_pct=Decimal("61"), recorded_by_id=None, now=NOW)
    assert reading.taken_at == dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.timezone.utc)
    assert (reading.temperature_c, reading.humidity_pct, reading.pressure_hpa) == (Decimal("22.45"), Decimal("61.00"),
                                                                                   None)
    assert reading.source == "manual"


@pytest.mark.parametrize("values, field, message", [
    ({}, "temperature_c", "Nhập ít nhất một giá trị: nhiệt độ, độ ẩm hoặc áp suất."),
    ({"humidity_pct": "120"}, "humidity_pct", "Độ ẩm 120 %RH nằm ngoài khoảng hợp lý 0 … 100 %RH."),
    ({"temperature_c": "hai mươi"}, "temperature_c", "Nhiệt độ “hai mươi” không phải là số."),
    ({"pressure_hpa": "101.3"}, "pressure_hpa", "Áp suất 101,3 hPa nằm ngoài khoảng hợp lý 300 … 1200 hPa."),
])
def test_record_reading_refuses_bad_values(session, mass_lab, values, field, message):
    with pytest.raises(services.FacilitiesError) as caught:
        services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 08:00"), now=NOW, **values)
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_record_reading_refuses_a_duplicate_moment_and_the_future(session, mass_lab):
    services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 08:00"), temperature_c="22",
                            now=NOW)
    with pytest.raises(services.FacilitiesError, match="^Phòng P-KL đã có số đo lúc 08:00 23/11/2026.$"):
        services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 08:00"), temperature_c="23",
                                now=NOW)
    with pytest.raises(services.FacilitiesError, match="^Thời điểm đo 19:00 23/11/2026 ở tương lai.$"):
        services.record_reading(session, room_id=mass_lab.id, taken_at=at("2026-11-23 19:00"), temperature_c="23",
                                now=NOW)


# --- conditions_at --------------------------------------------------------------------------------------------------

def test_conditions_at_finds_the_nearest_reading_within_the_window(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:00", "22.0"), ("2026-11-23 09:30", "22.4")])
    assert services.conditions_at(session, room_id=mass_lab.id, at=at("2026-11-23 09:20")).temperature_c == Decimal(
        "22.4")
    assert services.conditions_at(session, room_id=mass_lab.id, at=at("2026-11-23 09:15")).temperature_c == Decimal(
        "22.0")  # a tie goes to the earlier reading
    assert services.conditions_at(session, room_id=mass_lab.id, at=at("2026-11-23 10:01")) is None
    assert services.conditions_at(session, room_id=mass_lab.id, at=at("2026-11-23 10:01"),
                                  window_minutes=40).temperature_c == Decimal("22.4")


# --- check_conditions -----------------------------------------------------------------------------------------------

def test_check_conditions_passes_within_limits(session, mass_lab, steady_morning):
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 11:00"), limits=M1_LIMITS)
    assert check.ok is True and check.messages == []
    assert [services.time_text(r.taken_at)[:5] for r in check.readings] == ["09:00", "09:30", "10:00", "10:30",
                                                                             "11:00"]


def test_check_conditions_names_the_value_the_limit_and_the_time(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:10", "26.5", "55"), ("2026-11-23 09:40", "28.1", "55"),
                            ("2026-11-23 10:10", "26.9", "85")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 10:30"), limits={"temperature_c": {"min": "18", "max": "27"},
                                                                           "humidity_pct": {"min": "30", "max": "80"}})
    assert check.ok is False
    assert check.messages == ["Nhiệt độ 28,1 °C lúc 09:40 23/11/2026 vượt giới hạn 18–27 °C",
                              "Độ ẩm 85 %RH lúc 10:10 23/11/2026 vượt giới hạn 30–80 %RH"]


def test_check_conditions_reports_values_below_a_one_sided_limit(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:10", "17.5")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 09:30"), limits={"temperature_c": {"min": "18"}})
    assert check.messages == ["Nhiệt độ 17,5 °C lúc 09:10 23/11/2026 dưới giới hạn tối thiểu 18 °C"]


def test_check_conditions_refuses_a_temperature_changing_too_fast(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 08:00", "21.0"), ("2026-11-23 08:30", "22.4"), ("2026-11-23 09:00", "24.6"),
                            ("2026-11-23 09:30", "25.0")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 09:30"), limits={"temperature_c": {"max_rate_per_h": "3"}})
    assert check.ok is False
    # The hour before the work counts: the room was still warming up when the work began.
    assert check.messages == ["Nhiệt độ thay đổi 3,6 °C trong vòng 1 giờ (từ 08:00 23/11/2026 đến 09:00 23/11/2026), "
                              "vượt giới hạn 3 °C/h"]


def test_check_conditions_averages_the_rate_over_sparse_readings(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 08:00", "20.0"), ("2026-11-23 10:00", "27.0")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 08:00"),
                                      end=at("2026-11-23 10:00"), limits={"temperature_c": {"max_rate_per_h": "3"}})
    assert check.messages == ["Nhiệt độ thay đổi trung bình 3,5 °C/h từ 08:00 23/11/2026 đến 10:00 23/11/2026, "
                              "vượt giới hạn 3 °C/h"]


def test_check_conditions_refuses_a_change_over_12_hours(session, mass_lab, add_readings):
    rows = [(f"2026-11-23 {hour:02d}:00", f"{Decimal('20.0') + Decimal('0.5') * (hour - 1)}") for hour in range(1, 13)]
    add_readings(mass_lab, rows)  # 20.0 °C at 01:00 up to 25.5 °C at 12:00: 0.5 °C/h, but 5.5 °C in 11 hours
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 11:00"),
                                      end=at("2026-11-23 12:00"), limits={"temperature_c": M1_LIMITS["temperature_c"]})
    assert check.messages == ["Nhiệt độ thay đổi 5,5 °C trong vòng 12 giờ (từ 01:00 23/11/2026 đến 12:00 23/11/2026), "
                              "vượt giới hạn 5 °C"]


def test_check_conditions_without_readings_is_not_ok(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 07:00", "22.0")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 10:00"), limits=M1_LIMITS)
    assert check.ok is False and check.readings == []
    assert check.messages == ["Không có số đo điều kiện môi trường của phòng P-KL từ 09:00 23/11/2026 đến "
                              "10:00 23/11/2026."]


def test_check_conditions_uses_the_readings_that_bracket_a_short_period(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:00", "22.0", "50"), ("2026-11-23 09:30", "22.2", "50")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:05"),
                                      end=at("2026-11-23 09:25"), limits=M1_LIMITS)
    assert check.ok is True and len(check.readings) == 2


def test_check_conditions_asks_for_a_quantity_the_limits_need(session, mass_lab, add_readings):
    add_readings(mass_lab, [("2026-11-23 09:00", "22.0")])
    check = services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                      end=at("2026-11-23 09:30"), limits=M1_LIMITS)
    assert check.messages == ["Không có số đo độ ẩm của phòng P-KL từ 09:00 23/11/2026 đến 09:30 23/11/2026."]


def test_check_conditions_with_no_limits_only_asks_for_readings(session, mass_lab, steady_morning):
    assert services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 09:00"),
                                     end=at("2026-11-23 10:00"), limits={}).ok is True


def test_check_conditions_refuses_naive_or_reversed_periods(session, mass_lab):
    with pytest.raises(services.FacilitiesError):
        services.check_conditions(session, room_id=mass_lab.id, start=dt.datetime(2026, 11, 23, 9),
                                  end=dt.datetime(2026, 11, 23, 10), limits={})
    with pytest.raises(services.FacilitiesError, match="kết thúc phải sau"):
        services.check_conditions(session, room_id=mass_lab.id, start=at("2026-11-23 10:00"),
                                  end=at("2026-11-23 09:00"), limits={})


# --- logger files ---------------------------------------------------------------------------------------------------

LOGGER = (b"Date/Time,Temperature(\xc2\xb0C),Humidity(%RH),Pressure(hPa)\r\n"
          b"23/11/2026 08:00,22.4,61.5,1009.8\r\n"
          b"23/11/2026 08:30:00,22.6,61.0,1009.9\r\n"
          b"2026-11-23 09:00,22.9,60.2,\r\n"
          b"2026-11-23T09:30:00+07:00,23.1,,1010.1\r\n")


def test_parse_logger_csv_reads_both_date_formats_as_local_time():
    rows = services.parse_logger_csv(LOGGER, now=NOW)
    assert [(r.line, r.taken_at.isoformat()) for r in rows] == [
        (2, "2026-11-23T01:00:00+00:00"), (3, "2026-11-23T01:30:00+00:00"), (4, "2026-11-23T02:00:00+00:00"),
        (5, "2026-11-23T02:30:00+00:00")]
    assert (rows[0].temperature_c, rows[0].humidity_pct, rows[0].pressure_hpa) == (
        Decimal("22.40"), Decimal("61.50"), Decimal("1009.80"))
    assert rows[2].pressure_hpa is None and rows[3].humidity_pct is None


def test_parse_logger_csv_skips_a_preamble_and_reads_semicolons_with_decimal_commas():
    content = ("Thiết bị: RC-4HC\nSố máy: EL2309-1147\n\nNgày;Giờ;Nhiệt độ (°C);Độ ẩm (%RH)\n"
               "23-11-2026;08:00;22,4;61,5\n23-11-2026;08:30;22,6;61\n").encode("utf-8")
    rows = services.parse_logger_csv(content, now=NOW)
    assert [(r.line, services.time_text(r.taken_at), r.temperature_c) for r in rows] == [
        (5, "08:00 23/11/2026", Decimal("22.40")), (6, "08:30 23/11/2026", Decimal("22.60"))]


def test_parse_logger_csv_reads_a_lone_time_column_holding_the_whole_stamp():
    content = "No.,Time,Temperature(°C),Humidity(%RH)\n1,2026-11-23 08:00:00,22.4,61.5\n".encode()
    rows = services.parse_logger_csv(content, now=NOW)
    assert (rows[0].line, services.time_text(rows[0].taken_at), rows[0].humidity_pct) == (
        2, "08:00 23/11/2026", Decimal("61.50"))


def test_parse_logger_csv_reads_a_windows_encoded_file():
    content = "Date/Time\tTemperature(°C)\n23/11/2026 08:00\t22.4\n".encode("cp1252")
    assert services.parse_logger_csv(content, now=NOW)[0].temperature_c == Decimal("22.40")


def test_parse_logger_csv_lists_every_bad_line_by_number():
    content = (b"Date/Time,Temperature(\xc2\xb0C),Humidity(%RH)\n"
               b"23/11/2026 08:00,22.4,61.5\n"
               b"31/02/2026 08:30,22.6,61.0\n"
               b"23/11/2026 09:00,abc,60\n"
               b"\n"
               b"23/11/2026 09:30,23.0,130\n"
               b"23/11/2026 10:00,,\n"
               b"23/11/2026 08:00,22.4,61.5\n"
               b"24/11/2026 10:00,22.4,61.5\n")
    with pytest.raises(services.LoggerImportError) as caught:
        services.parse_logger_csv(content, now=NOW)
    assert caught.value.errors == [
        "Dòng 3: thời gian “31/02/2026 08:30” không đúng dạng dd/mm/yyyy HH:MM[:SS] hoặc yyyy-mm-dd HH:MM[:SS].",
        "Dòng 4: Nhiệt độ “abc” không phải là số.",
        "Dòng 6: Độ ẩm 130 %RH nằm ngoài khoảng hợp lý 0 … 100 %RH.",
        "Dòng 7: không có giá trị đo nào.",
        "Dòng 8: trùng thời điểm 08:00 23/11/2026 với dòng 2.",
        "Dòng 9: thời điểm 10:00 24/11/2026 ở tương lai (đồng hồ của logger có đúng không?).",
    ]
    assert str(caught.value) == "Tệp có 6 lỗi; không nhập dòng nào."


@pytest.mark.parametrize("content, message", [
    (b"Time stamp;Value\n1;2\n", "Không tìm thấy dòng tiêu đề có cột thời gian"),
    ("Date/Time,Temperature(°F)\n23/11/2026 08:00,72.1\n".encode(), "Dòng 1: cột Temperature(°F) không tính bằng °C"),
    (b"Date/Time,Temperature(C)\n", "Tệp không có dòng số liệu nào sau dòng tiêu đề."),
])
def test_parse_logger_csv_refuses_files_it_cannot_read(content, message):
    with pytest.raises(services.LoggerImportError) as caught:
        services.parse_logger_csv(content, now=NOW)
    assert message in caught.value.errors[0]


def test_import_is_all_or_nothing(session, mass_lab):
    bad = LOGGER + b"23/11/2026 10:00,hot,50\r\n"
    with pytest.raises(services.LoggerImportError) as caught:
        services.import_logger_csv(session, room_id=mass_lab.id, content=bad, filename="P-KL.csv", now=NOW)
    assert caught.value.errors == ["Dòng 6: Nhiệt độ “hot” không phải là số."]
    assert session.scalar(select(func.count()).select_from(ConditionReading)) == 0


def test_reimporting_the_same_file_adds_nothing(session, mass_lab):
    first = services.import_logger_csv(session, room_id=mass_lab.id, content=LOGGER, filename="C:\\logs\\P-KL.csv",
                                       now=NOW)
    assert (first.added, first.skipped) == (4, 0)
    again = services.import_logger_csv(session, room_id=mass_lab.id, content=LOGGER + b"23/11/2026 10:00,23.3,59\n",
                                       filename="P-KL.csv", now=NOW)
    assert (again.added, again.skipped) == (1, 4)
    readings = session.scalars(select(ConditionReading).order_by(ConditionReading.taken_at)).all()
    assert len(readings) == 5 and {(r.source, r.source_file) for r in readings} == {("logger", "P-KL.csv")}
    imports = session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert [(e.changes["added"], e.changes["skipped"], e.changes["file"]) for e in imports] == [
        (4, 0, "P-KL.csv"), (1, 4, "P-KL.csv")]
    assert len(imports[0].changes["sha256"]) == 64


def test_the_shipped_example_file_imports(session, mass_lab):
    from pathlib import Path

    import lims

    example = Path(lims.__file__).parent / "static" / "examples" / "logger-example.csv"
    rows = services.parse_logger_csv(example.read_bytes(), now=NOW)
    assert len(rows) == 25 and rows[0].pressure_hpa is not None


# --- demo -----------------------------------------------------------------------------------------------------------

def test_demo_logs_a_month_with_one_excursion_the_check_finds(session):
    now = at("2026-11-23 10:10")
    lines = demo.seed(session, now=now)
    assert len(lines) == 5 and demo.seed(session, now=now) == []
    mass_lab = session.scalar(select(Room).where(Room.code == "P-KL"))
    count = session.scalar(select(func.count()).where(ConditionReading.room_id == mass_lab.id))
    assert count == 30 * 48 + 1
    assert session.scalar(select(func.max(ConditionReading.taken_at))) == at("2026-11-23 10:00")
    day = dt.date(2026, 11, 18)
    start, end = services.day_bounds(day, day)
    check = services.check_conditions(session, room_id=mass_lab.id, start=start, end=end, limits=M1_LIMITS)
    assert "Nhiệt độ 28,1 °C lúc 15:00 18/11/2026 vượt giới hạn 18–27 °C" in check.messages
    assert any(m.startswith("Nhiệt độ thay đổi") and "°C/h" in m for m in check.messages)
    quiet = services.day_bounds(dt.date(2026, 11, 21), dt.date(2026, 11, 21))
    assert services.check_conditions(session, room_id=mass_lab.id, start=quiet[0], end=quiet[1],
                                     limits=M1_LIMITS).ok is True
