"""Demo data of the standards register: a provincial centre's standards, with calibration chains three levels deep.

VMI-calibrated E2 weights (and a mass comparator) → our F1 set → F2 sets, M1 sets and 20 kg M1 working weights;
a VMI-calibrated reference meter → the two 5-position meter benches and a portable reference meter; the taximeter
roller bench and timers; thermo-hygrometers and a barometer. Dates are placed around today so that some standards
are due soon, one is overdue, one is out of service after a failed intermediate check, one was damaged, one
certificate has been corrected (the original is kept as superseded) and one certificate has not arrived yet.

``seed(session)`` goes through the services (so the audit trail records it), never commits, and is idempotent: a
standard whose code exists is left alone, with its calibrations and checks.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from instruments import weight
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.dates import add_months, centre_today
from lims.text import fold_serial

from . import services
from .models import Standard

VMI = {"laboratory_name": "Viện Đo lường Việt Nam (VMI)", "accreditation_number": "VILAS 002"}
QUATEST1 = {"laboratory_name": "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng 1 (QUATEST 1)",
            "accreditation_number": "VILAS 003"}
TRACE_MASS = "Chuẩn quốc gia khối lượng (VMI) → BIPM, SI (kilôgam)"
TRACE_ENERGY = "Chuẩn quốc gia điện năng (VMI) → BIPM, SI"
TRACE_TIME = "Chuẩn quốc gia thời gian và tần số (VMI) → BIPM, SI (giây)"
TRACE_LENGTH = "Chuẩn quốc gia độ dài (VMI) → BIPM, SI (mét)"
TRACE_THERMO = "Chuẩn quốc gia nhiệt độ và độ ẩm (VMI) → BIPM, SI"
TRACE_PRESSURE = "Chuẩn quốc gia áp suất (VMI) → BIPM, SI"

TECHNICIANS = ("Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Minh Tuấn")
ALL_TYPES = ["nawi", "weight", "energy_meter", "taximeter"]


@dataclass
class _Calibration:
    """One calibration to record: ``ago`` days before today, or a ``due_in`` (days) that fixes the date."""

    ago: int | None = None
    due_in: int | None = None
    external: dict | None = None
    traceable_to: str = ""
    references: tuple[str, ...] = ()
    number: str = ""
    corrected_number: str = ""  # the record is corrected afterwards with this certificate number


@dataclass
class _Standard:
    code: str
    name: str
    kind: str
    manufacturer: str
    model: str
    serial: str
    location: str
    accuracy_class: str
    type_codes: list[str]
    range: tuple[str, str, str]
    interval: int
    points: list[dict]
    calibrations: list[_Calibration] = field(default_factory=list)


def _mass_points(accuracy_class: str, nominals_g: list[str], rng: random.Random) -> list[dict]:
    """Corrections within a fifth of δm and U about a quarter of it (R 111 asks U ≤ δm/3)."""
    points = []
    for text in nominals_g:
        nominal_g = Decimal(text)
        mpe = weight.mpe_mg(accuracy_class, nominal_g)
        u = (mpe / 4).quantize(Decimal("0.001")).normalize()
        correction = (mpe * Decimal(rng.randint(-20, 20)) / 100).quantize(Decimal("0.001")).normalize()
        nominal, unit = ((nominal_g / 1000).normalize(), "kg") if nominal_g >= 1000 else (nominal_g.normalize(), "g")
        points.append({"nominal": format(nominal, "f"), "unit": unit, "correction": format(correction, "f"),
                       "expanded_uncertainty": format(u, "f"), "k": "2", "result_unit": "mg"})
    return points


def _points(rows: list[tuple[str, str, str, str, str]]) -> list[dict]:
    return [{"nominal": n, "unit": u, "correction": c, "expanded_uncertainty": e, "k": "2", "result_unit": r}
            for n, u, c, e, r in rows]


def _catalogue(rng: random.Random) -> list[_Standard]:
    mass_room = "Phòng Khối lượng — tủ chuẩn số 1"
    field_kit = "Kho thiết bị hiện trường"
    electric_room = "Phòng Điện"
    taxi_station = "Trạm kiểm định taximet"
    weights_set = ["1", "10", "100", "1000", "10000", "20000"]
    standards = [
        _Standard("QC-E2-01", "Bộ quả cân chuẩn E2 (1 mg – 20 kg)", "weight_set", "Mettler Toledo", "OIML R111 E2",
                  "E2-2019-0147", mass_room, "E2", ["weight", "nawi"], ("0.001", "20000", "g"), 24,
                  _mass_points("E2", ["1", "100", "1000", "10000", "20000"], rng),
                  [_Calibration(ago=980, external=VMI, traceable_to=TRACE_MASS, number="KL 0388/2024"),
                   _Calibration(ago=250, external=VMI, traceable_to=TRACE_MASS, number="KL 0417/2026")]),
        _Standard("CC-SS-01", "Cân so sánh khối lượng 10 kg / 0,1 mg", "reference_scale", "Sartorius", "CCE10K3",
                  "37804512", mass_room, "I", ["weight"], ("0", "10", "kg"), 24,
                  _points([("1", "kg", "0.1", "0.3", "mg"), ("10", "kg", "0.4", "1.2", "mg")]),
                  [_Calibration(ago=240, external=VMI, traceable_to=TRACE_MASS, number="KL 0425/2026")]),
        _Standard("QC-F1-01", "Bộ quả cân chuẩn F1 (1 mg – 20 kg)", "weight_set", "Häfner", "OIML R111 F1",
                  "F1-2018-2231", mass_room, "F1", ["weight", "nawi"], ("0.001", "20000", "g"), 12,
                  _mass_points("F1", weights_set, rng),
                  [_Calibration(ago=515, references=("QC-E2-01",), number="HC-KL-2025-004"),
                   _Calibration(ago=150, references=("QC-E2-01", "CC-SS-01"), number="HC-KL-2026-011")]),
        _Standard("QC-F2-01", "Bộ quả cân F2 (1 g – 20 kg)", "weight_set", "Häfner", "OIML R111 F2", "F2-2020-0512",
                  mass_room, "F2", ["nawi", "weight"], ("1", "20000", "g"), 12,
                  _mass_points("F2", weights_set, rng),
                  [_Calibration(ago=100, references=("QC-F1-01",), number="HC-KL-2026-019")]),
        _Standard("QC-F2-02", "Bộ quả cân F2 (1 g – 10 kg), mang đi hiện trường", "weight_set", "Zwiebel",
                  "OIML R111 F2", "F2-2021-0098", field_kit, "F2", ["nawi"], ("1", "10000", "g"), 12,
                  _mass_points("F2", ["1", "100", "1000", "10000"], rng),
                  [_Calibration(due_in=25, references=("QC-F1-01",), number="HC-KL-2025-031")]),
    ]
    for number, (due_in, ago) in enumerate([(None, 200), (None, 60), (13, None), (None, 180)], 1):
        standards.append(_Standard(
            f"QC-M1-0{number}", f"Bộ quả cân M1 (1 g – 10 kg) số {number}", "weight_set", "Cơ khí Đo lường Hà Nội",
            "OIML R111 M1", f"M1-2022-{40 + number:04d}", field_kit if number != 1 else mass_room, "M1", ["nawi"],
            ("1", "10000", "g"), 12, _mass_points("M1", ["1", "100", "1000", "10000"], rng),
            [_Calibration(ago=ago, due_in=due_in, references=("QC-F1-01",), number=f"HC-KL-2026-{50 + number:03d}")]))
    for number in range(1, 7):
        overdue = number == 6
        standards.append(_Standard(
            f"QC-M1-20-0{number}", f"Quả cân M1 20 kg số {number:02d}", "single_weight", "Cơ khí Đo lường Hà Nội",
            "Quả cân gang 20 kg", f"M1-20-{2023}-{number:03d}", "Phòng Khối lượng — giá quả cân lớn", "M1", ["nawi"],
            ("20", "20", "kg"), 12, _mass_points("M1", ["20000"], rng),
            [_Calibration(due_in=-15 if overdue else None, ago=None if overdue else 90 + 7 * number,
                          references=("QC-F1-01",), number=f"HC-KL-2026-{70 + number:03d}")]))
    standards += [
        _Standard("CT-CHUAN-01", "Công tơ chuẩn 1 pha cấp 0,05", "reference_meter", "ZERA", "COM 3003", "204118",
                  electric_room, "0.05", ["energy_meter"], ("0.01", "100", "A"), 12,
                  _points([("0.5", "A", "0.012", "0.02", "%"), ("5", "A", "-0.008", "0.015", "%"),
                           ("20", "A", "-0.010", "0.015", "%")]),
                  [_Calibration(ago=480, external=VMI, traceable_to=TRACE_ENERGY, number="ĐN 0198/2025"),
                   _Calibration(ago=120, external=VMI, traceable_to=TRACE_ENERGY, number="ĐN 0231/2026",
                                corrected_number="ĐN 0213/2026")]),
        _Standard("CT-GIAN-01", "Giàn kiểm định công tơ 1 pha 5 vị trí (giàn số 1)", "meter_bench", "ZERA",
                  "MT 310 — 5 vị trí", "MT310-1187", electric_room, "0.1", ["energy_meter"], ("0.01", "100", "A"), 12,
                  _points([("0.25", "A", "0.03", "0.04", "%"), ("5", "A", "0.02", "0.03", "%"),
                           ("40", "A", "-0.02", "0.03", "%")]),
                  [_Calibration(ago=90, references=("CT-CHUAN-01",), number="HC-Đ-2026-007")]),
        _Standard("CT-GIAN-02", "Giàn kiểm định công tơ 1 pha 5 vị trí (giàn số 2)", "meter_bench", "EMIC",
                  "GKĐ-1P5", "GKD-2017-022", electric_room, "0.2", ["energy_meter"], ("0.05", "60", "A"), 12,
                  _points([("0.5", "A", "0.06", "0.08", "%"), ("5", "A", "0.04", "0.06", "%")]),
                  [_Calibration(due_in=20, references=("CT-CHUAN-01",), number="HC-Đ-2025-019")]),
        _Standard("CT-CHUAN-02", "Công tơ chuẩn xách tay 1 pha cấp 0,1", "reference_meter", "MTE", "PWS 2.3 genX",
                  "PWS-88213", field_kit, "0.1", ["energy_meter"], ("0.01", "120", "A"), 12,
                  _points([("5", "A", "0.03", "0.03", "%")]),
                  [_Calibration(ago=30, references=("CT-CHUAN-01",), number="HC-Đ-2026-015")]),
        _Standard("TX-DH-01", "Đồng hồ bấm giây chuẩn", "timer", "Seiko", "S23601P", "SK-601-7712", taxi_station,
                  "0.001", ["taximeter"], ("0", "36000", "s"), 12,
                  _points([("60", "s", "0.001", "0.002", "s"), ("3600", "s", "0.01", "0.02", "s")]),
                  [_Calibration(ago=520, external=VMI, traceable_to=TRACE_TIME, number="TS 0087/2025"),
                   _Calibration(ago=160, external=VMI, traceable_to=TRACE_TIME, number="TS 0102/2026")]),
        _Standard("TX-BANG-01", "Băng thử taximet kiểu con lăn", "taximeter_bench", "Công ty Thiết bị Kiểm định Việt",
                  "BTX-2R", "BTX-2020-004", taxi_station, "0.1", ["taximeter"], ("100", "20000", "m"), 12,
                  _points([("1000", "m", "0.3", "0.5", "m"), ("5000", "m", "1.2", "2", "m")]),
                  [_Calibration(ago=210, external=VMI, traceable_to=TRACE_LENGTH, number="ĐD 0077/2026")]),
        _Standard("TX-DH-02", "Đồng hồ bấm giây công tác số 2", "timer", "Casio", "HS-80TW", "HS80-20931",
                  taxi_station, "0.01", ["taximeter"], ("0", "36000", "s"), 12,
                  _points([("600", "s", "0.02", "0.05", "s")]),
                  [_Calibration(due_in=27, references=("TX-DH-01",), number="HC-TX-2025-008")]),
        _Standard("TX-DH-03", "Đồng hồ bấm giây công tác số 3", "timer", "Casio", "HS-80TW", "HS80-21007",
                  taxi_station, "0.01", ["taximeter"], ("0", "36000", "s"), 12,
                  _points([("600", "s", "0.03", "0.05", "s")]),
                  [_Calibration(ago=140, references=("TX-DH-01",), number="HC-TX-2026-002")]),
    ]
    rooms = ["Phòng Khối lượng", "Phòng Điện", "Trạm kiểm định taximet", "Kho thiết bị hiện trường",
             "Phòng Tiếp nhận mẫu"]
    for number, room in enumerate(rooms, 1):
        due_soon = number == 3
        standards.append(_Standard(
            f"MT-NA-0{number}", f"Nhiệt ẩm kế tự ghi — {room}", "thermo_hygrometer", "Testo", "175 H1",
            f"6107{number:04d}", room, "±0,3 °C; ±2 %RH", ALL_TYPES, ("-20", "55", "°C"), 12,
            _points([("20", "°C", "0.2", "0.3", "°C"), ("60", "%RH", "-1.5", "2.0", "%RH")]),
            [_Calibration(due_in=10 if due_soon else None, ago=None if due_soon else 40 + 30 * number,
                          external=QUATEST1, traceable_to=TRACE_THERMO, number=f"NĐ-{2026}-{300 + number}")]))
    standards += [
        _Standard("MT-AP-01", "Khí áp kế hiện số", "barometer", "Vaisala", "PTB330", "P4520117", "Phòng Khối lượng",
                  "±0,3 hPa", ALL_TYPES, ("500", "1100", "hPa"), 12,
                  _points([("1000", "hPa", "0.2", "0.3", "hPa")]),
                  # Recalibrated; the certificate has not arrived yet, so its traceability shows as broken.
                  [_Calibration(ago=400, external=VMI, traceable_to=TRACE_PRESSURE, number="AS 0051/2025"),
                   _Calibration(ago=12, external=VMI, traceable_to=TRACE_PRESSURE, number="")]),
        _Standard("CC-30-01", "Cân chuẩn 30 kg / 1 g (kiểm tra đo lường tại chợ)", "reference_scale", "Cas",
                  "DB-II 30", "DB30-2211-045", field_kit, "II", ["nawi"], ("0", "30", "kg"), 12,
                  _points([("10", "kg", "0", "0.5", "g"), ("30", "kg", "1", "0.6", "g")]),
                  [_Calibration(ago=75, references=("QC-F2-01",), number="HC-KL-2026-033")]),
    ]
    return standards


def _calibration_date(today: dt.date, spec: _Standard, calibration: _Calibration) -> tuple[dt.date, dt.date]:
    if calibration.due_in is not None:
        due = today + dt.timedelta(days=calibration.due_in)
        return add_months(due, -spec.interval), due
    date = today - dt.timedelta(days=calibration.ago)
    return date, add_months(date, spec.interval)


def _checks(session: Session, standard: Standard, *, today: dt.date, rng: random.Random, nominal: str, unit: str,
            value_unit: str, reference: Decimal, limit: Decimal, drift_per_month: Decimal, noise: Decimal,
            months: int = 12, fail_last: bool = False) -> int:
    """Monthly intermediate checks over a year, drifting; the last one beyond the limit when ``fail_last``."""
    count = 0
    for month in range(months, 0, -1):
        check_date = today - dt.timedelta(days=30 * month - 18)
        level = reference + drift_per_month * (months - month)
        if fail_last and month == 1:
            level = reference + limit * Decimal("1.25")
        values = [str((level + noise * Decimal(rng.randint(-10, 10)) / 10).quantize(noise)) for _ in range(3)]
        services.record_intermediate_check(
            session, standard=standard, check_date=check_date, nominal=nominal, unit=unit, value_unit=value_unit,
            reference_value=str(reference), measured_values=values, limit=str(limit),
            performed_by_name=TECHNICIANS[month % len(TECHNICIANS)], today=today,
            notes="Kiểm tra giữa kỳ định kỳ hằng tháng theo kế hoạch kiểm soát chuẩn.")
        count += 1
    return count


def seed(session: Session, *, today: dt.date | None = None) -> list[str]:
    """Seed the standards register around ``today`` (default: today at the centre). Idempotent; callers commit.
    Returns what it created, one line each."""
    today = today or centre_today()
    rng = random.Random(20261122)
    catalogue = _catalogue(rng)
    existing = set(session.scalars(select(Standard.code_key)))
    created: dict[str, Standard] = {}
    by_code = {s.code: s for s in session.scalars(select(Standard))}
    calibrations = corrections = 0
    for spec in catalogue:
        if fold_serial(spec.code) in existing:
            continue
        standard = services.create_standard(
            session, code=spec.code, name=spec.name, kind=spec.kind, manufacturer=spec.manufacturer,
            model=spec.model, serial=spec.serial, location=spec.location, accuracy_class=spec.accuracy_class,
            type_codes=spec.type_codes, range_min=spec.range[0], range_max=spec.range[1], range_unit=spec.range[2],
            calibration_interval_months=spec.interval,
            notes="Thuộc danh mục chuẩn và thiết bị của trung tâm; nhãn hiệu chuẩn dán trên thân hoặc hộp.")
        created[spec.code] = by_code[spec.code] = standard
        for item in spec.calibrations:
            date, due = _calibration_date(today, spec, item)
            fields = dict(calibration_date=date, due_date=due, certificate_number=item.number, results=spec.points,
                          today=today, notes="")
            if item.external:
                fields.update(source="external", traceable_to=item.traceable_to, **item.external)
            else:
                fields.update(source="internal", laboratory_name="", accreditation_number="",
                              reference_ids=[by_code[code].id for code in item.references])
            record = services.record_calibration(session, standard=standard, **fields)
            calibrations += 1
            if item.corrected_number:
                fields["certificate_number"] = item.corrected_number
                services.correct_calibration(session, calibration=record, reason="Nhập nhầm số giấy chứng nhận "
                                             f"({item.number} → {item.corrected_number}) so với bản gốc của VMI.",
                                             **fields)
                corrections += 1
    if not created:
        return []
    checks = 0
    if "QC-F1-01" in created:
        checks += _checks(session, created["QC-F1-01"], today=today, rng=rng, nominal="1", unit="kg",
                          value_unit="mg", reference=Decimal("1.2"), limit=Decimal("1.6"),
                          drift_per_month=Decimal("0.09"), noise=Decimal("0.1"))
    if "QC-M1-04" in created:
        checks += _checks(session, created["QC-M1-04"], today=today, rng=rng, nominal="1", unit="kg",
                          value_unit="mg", reference=Decimal("5"), limit=Decimal("16"),
                          drift_per_month=Decimal("1.1"), noise=Decimal("1"), fail_last=True)
    if "MT-NA-01" in created:
        checks += _checks(session, created["MT-NA-01"], today=today, rng=rng, nominal="20", unit="°C",
                          value_unit="°C", reference=Decimal("20.0"), limit=Decimal("0.5"),
                          drift_per_month=Decimal("0.02"), noise=Decimal("0.05"))
    lines = [f"Chuẩn đo lường: {len(created)} chuẩn, {calibrations} hồ sơ hiệu chuẩn ({corrections} bản sửa thay "
             f"thế), {checks} lần kiểm tra giữa kỳ."]
    if "TX-DH-03" in created:
        services.take_out_of_service(session, standard=created["TX-DH-03"], today=today,
                                     event_date=today - dt.timedelta(days=9),
                                     reason="Rơi khi đang thử taximet trên xe; màn hình hiển thị mất nét, chờ sửa "
                                            "chữa và hiệu chuẩn lại.")
        lines.append("Chuẩn đo lường: TX-DH-03 ngừng sử dụng (hư hỏng).")
    statuses = services.statuses(session, list(created.values()), on=today)
    for code in ("overdue", "out_of_service", "due_soon"):
        names = [s.standard.code for s in statuses if s.code == code]
        if names:
            lines.append(f"Chuẩn đo lường — {services.STATUS_LABELS[code]}: {', '.join(names)}.")
    return lines
