"""Realistic certificate documents built from real engine results: for tests, the benchmark and demo data."""

from __future__ import annotations

import datetime as dt

import instruments

from . import results
from .document import (Amendment, CertificateDocument, Centre, Conditions, DocumentKind, InstrumentInfo, MethodInfo,
                       Party, Signature, StandardUsed)

CENTRE = Centre(
    name="Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Đồng Nai",
    address="Số 1597 Phạm Văn Thuận, phường Thống Nhất, TP. Biên Hòa, tỉnh Đồng Nai",
    accreditation="VILAS 123 — ISO/IEC 17025:2017",
    designation="Quyết định chỉ định tổ chức kiểm định số 1234/QĐ-TĐC",
    parent="Sở Khoa học và Công nghệ tỉnh Đồng Nai",
    phone="0251 3822 314",
    email="kiemdinh@example.vn",
)

SCALE_SPEC = {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"}
_LOADS = [("0.2", "up"), ("5", "up"), ("15", "up"), ("20", "up"), ("30", "up"),
          ("20", "down"), ("15", "down"), ("5", "down"), ("0.2", "down")]
SCALE_READINGS = {
    "zero": {"indication": "0.00", "delta_l": "0.005"},
    "weighing": [{"load": load, "indication": load, "delta_l": "0.004", "direction": direction}
                 for load, direction in _LOADS],
    "eccentricity": {"load": "10", "positions": [{"position": str(k), "indication": "10.00", "delta_l": "0.003"}
                                                 for k in range(1, 6)]},
    "repeatability": [{"load": "15", "readings": [{"indication": "15.00", "delta_l": d} for d in ("0.004", "0.006",
                                                                                                   "0.005")]},
                      {"load": "30", "readings": [{"indication": "30.00", "delta_l": d} for d in ("0.005", "0.003",
                                                                                                   "0.004")]}],
}


def scale_result(*, failing: bool = False) -> dict:
    """The engine's result of a 30 kg class III scale (passing, or failing its eccentricity test)."""
    readings = SCALE_READINGS
    if failing:
        readings = {**readings, "eccentricity": {"load": "10", "positions": [
            {"position": str(k), "indication": "10.02" if k == 3 else "10.00", "delta_l": "0.003"}
            for k in range(1, 6)]}}
    return instruments.get("nawi").evaluate(SCALE_SPEC, readings, stage="initial").to_dict()


def sample_document(*, kind: DocumentKind = DocumentKind.VERIFICATION, number: str = "KĐ-2026-012345",
                    seal_url: str = "", result: dict | None = None, extra_rows: int = 0,
                    amendment: Amendment | None = None) -> CertificateDocument:
    """A verification certificate (or notice of failure) of a market scale; ``extra_rows`` lengthens the weighing
    table, to make it spill onto another page."""
    failed = kind is DocumentKind.FAILURE_NOTICE
    result = result or scale_result(failing=failed)
    tables = results.result_tables(result)
    if extra_rows:
        weighing = tables[1]
        rows = weighing.rows + tuple(weighing.rows[i % len(weighing.rows)] for i in range(extra_rows))
        tables = (tables[0], type(weighing)(weighing.title_vi, weighing.title_en, weighing.columns, rows),
                  *tables[2:])
    issued = dt.date(2026, 3, 5)
    signed = dt.datetime(2026, 3, 5, 2, 15, tzinfo=dt.timezone.utc)
    return CertificateDocument(
        kind=kind,
        centre=CENTRE,
        number=number,
        revision=1 if amendment else 0,
        amendment=amendment,
        issue_date=issued,
        valid_until=None if failed else dt.date(2027, 3, 4),
        stamp_number="" if failed else "TEM-DN 0412377",
        customer=Party("Công ty TNHH Thương mại Chợ Tân Phú", "Số 12 đường Nguyễn Ái Quốc, phường Tân Phong, "
                                                               "TP. Biên Hòa, tỉnh Đồng Nai"),
        instrument=InstrumentInfo(
            type_name_vi="Cân điện tử", type_name_en="Electronic weighing instrument", manufacturer="CAS (Hàn Quốc)",
            model="SW-1S", serial="SW1S-2310457", year="2023", pattern_approval="PDM 1234-2021",
            characteristics=results.characteristic_rows("nawi", instruments.get("nawi").validate_spec(SCALE_SPEC))),
        place_of_work="Phòng thí nghiệm khối lượng, Trung tâm (phòng 102)",
        receipt_date=dt.date(2026, 3, 2),
        work_start_date=dt.date(2026, 3, 4),
        work_end_date=dt.date(2026, 3, 4),
        method=MethodInfo("ĐLVN 15:2009", "Cân đồng hồ lò xo, cân điện tử – Quy trình kiểm định"),
        conditions=Conditions(temperature_c="24.6", humidity_pct="61", pressure_hpa="1008"),
        standards=(StandardUsed("Bộ quả cân chuẩn cấp M1, 1 mg – 20 kg", "QC-M1-03", "HC-2025/0871",
                                dt.date(2026, 9, 30)),),
        traceability="Chuẩn đo lường được liên kết đến chuẩn quốc gia về khối lượng của Việt Nam (Viện Đo lường "
                     "Việt Nam, VMI), và qua đó đến Hệ đơn vị quốc tế SI.",
        results=tables,
        failure_reasons=results.failed_tests(result) if failed else (),
        signatures=(Signature("Nguyễn Văn Hùng", "performed", signed - dt.timedelta(hours=20),
                              "Kiểm định viên, thẻ số 0217"),
                    Signature("Trần Thị Lan", "reviewed", signed - dt.timedelta(hours=2), "Trưởng phòng Khối lượng"),
                    Signature("Lê Quốc Đạt", "approved", signed, "Giám đốc")),
        issue_place="Biên Hòa",
        seal_url=seal_url,
    )


def sample_calibration(*, number: str = "HC-2026-000781", seal_url: str = "") -> CertificateDocument:
    """A calibration certificate of a 10 kg class M1 weight (y ± U with k, no verdict on validity)."""
    spec = {"nominal": "10", "unit": "kg", "accuracy_class": "M1"}
    readings = {
        "reference": {"conventional_mass_g": "10000.005", "expanded_uncertainty_mg": "45", "k": "2",
                      "drift_mg": "15"},
        "cycles": [{"ref1": "0.000", "test1": "0.010", "test2": "0.010", "ref2": "0.000"},
                   {"ref1": "0.000", "test1": "0.030", "test2": "0.030", "ref2": "0.000"},
                   {"ref1": "0.000", "test1": "0.020", "test2": "0.020", "ref2": "0.000"}],
        "balance": {"d_mg": "10"},
    }
    result = instruments.get("weight").evaluate(spec, readings).to_dict()
    base = sample_document(seal_url=seal_url)
    return CertificateDocument(
        kind=DocumentKind.CALIBRATION, centre=base.centre, number=number, issue_date=base.issue_date,
        customer=base.customer,
        instrument=InstrumentInfo("Quả cân", "Weight", "Việt Nam", "trụ tròn", "QC-10-7781", "2020",
                                  characteristics=results.characteristic_rows("weight", spec)),
        method=MethodInfo("ĐLVN 286:2015", "Quả cân cấp chính xác F1, F2, M1 – Quy trình hiệu chuẩn"),
        place_of_work=base.place_of_work, receipt_date=base.receipt_date, work_start_date=base.work_start_date,
        work_end_date=base.work_end_date, conditions=Conditions("21.3", "55", "1009.5"),
        standards=(StandardUsed("Quả cân chuẩn 10 kg cấp F2", "QC-F2-10", "HC-2025/0412", dt.date(2026, 8, 31)),
                   StandardUsed("Cân so sánh 10 kg / 10 mg", "CSS-02", "HC-2025/0533", dt.date(2026, 6, 30))),
        traceability=base.traceability,
        results=results.result_tables(result),
        uncertainties=results.uncertainty_statements(result),
        conformity="Phù hợp cấp chính xác M1 theo OIML R 111-1:2004" if result["passed"] else
        "Không phù hợp cấp chính xác M1 theo OIML R 111-1:2004",
        decision_rule="OIML R 111-1 5.2: |mc − m0| ≤ δm − U và U ≤ δm/3",
        signatures=base.signatures, issue_place=base.issue_place, seal_url=seal_url,
    )
