"""Demo procedures: the ĐLVN documents a provincial centre works to, with their versions (``lims demo``).

Numbers, titles and the M1 weight-calibration conditions (18–27 °C, ≤ 3 °C/h, ≤ 5 °C in 12 h) follow DOMAIN.md; the
effective dates and the other environmental limits are plausible values for a demonstration, and each version's notes
say so. Idempotent: a procedure whose number exists is left alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import services
from .models import Procedure

ISSUER = "Tổng cục Tiêu chuẩn Đo lường Chất lượng"
PLAUSIBLE = ("Dữ liệu mẫu: ngày có hiệu lực và giới hạn điều kiện môi trường là giá trị minh hoạ, chưa đối chiếu "
             "văn bản gốc.")
SCALE_TESTS = ["zero", "weighing", "eccentricity", "repeatability"]
METER_TESTS = ["accuracy", "starting", "no_load"]

PROCEDURES = [
    ("ĐLVN 14", "Cân bàn – Quy trình kiểm định", [
        {"version_label": "2009", "effective_date": dt.date(2009, 12, 30), "kind": "verification",
         "instrument_types": ["nawi"], "adequacy_divisor": 3, "required_tests": SCALE_TESTS,
         "environment_limits": {"temperature_c": {"min": "10", "max": "35"}, "humidity_pct": {"max": "85"}},
         "notes": "Cân bàn cấp chính xác III, IIII. " + PLAUSIBLE},
    ]),
    ("ĐLVN 15", "Cân đĩa – Quy trình kiểm định", [
        {"version_label": "2009", "effective_date": dt.date(2009, 12, 30), "kind": "verification",
         "instrument_types": ["nawi"], "adequacy_divisor": 3, "required_tests": SCALE_TESTS,
         "environment_limits": {"temperature_c": {"min": "10", "max": "35"}, "humidity_pct": {"max": "85"}},
         "notes": "Cân đĩa cấp chính xác III, IIII. " + PLAUSIBLE},
    ]),
    ("ĐLVN 16", "Cân phân tích và cân kỹ thuật – Quy trình kiểm định", [
        {"version_label": "2009", "effective_date": dt.date(2009, 12, 30), "kind": "verification",
         "instrument_types": ["nawi"], "adequacy_divisor": 3, "required_tests": SCALE_TESTS,
         "environment_limits": {"temperature_c": {"min": "18", "max": "28", "max_rate_per_h": "2"},
                                "humidity_pct": {"min": "40", "max": "80"}},
         "notes": "Cân cấp chính xác I, II. " + PLAUSIBLE},
    ]),
    ("ĐLVN 39", "Công tơ điện xoay chiều kiểu điện tử – Quy trình kiểm định", [
        {"version_label": "2004", "effective_date": dt.date(2004, 12, 1), "kind": "verification",
         "instrument_types": ["energy_meter"], "adequacy_divisor": 3, "required_tests": METER_TESTS,
         "environment_limits": {"temperature_c": {"min": "21", "max": "25"},
                                "humidity_pct": {"min": "45", "max": "75"}},
         "notes": "Công tơ chuẩn có sai số ≤ 1/3 sai số cho phép của công tơ cần kiểm định (ĐLVN 39:2004). "
                  "Nhiệt độ 23 ± 2 °C theo điều kiện chuẩn IEC 62053-21. " + PLAUSIBLE},
    ]),
    ("ĐLVN 07", "Công tơ điện xoay chiều kiểu cảm ứng – Quy trình kiểm định", [
        {"version_label": "2012", "effective_date": dt.date(2012, 10, 1), "kind": "verification",
         "instrument_types": ["energy_meter"], "adequacy_divisor": 3, "required_tests": METER_TESTS,
         "environment_limits": {"temperature_c": {"min": "21", "max": "25"},
                                "humidity_pct": {"min": "45", "max": "75"}},
         "notes": "Công tơ cảm ứng không còn thuộc danh mục phải kiểm định từ 15/10/2024 (TT 03/2024/TT-BKHCN); "
                  "vẫn dùng khi khách hàng yêu cầu. " + PLAUSIBLE},
    ]),
    ("ĐLVN 01", "Taximet – Quy trình kiểm định", [
        {"version_label": "2003", "effective_date": dt.date(2003, 9, 1), "kind": "verification",
         "instrument_types": ["taximeter"], "adequacy_divisor": None, "required_tests": ["distance"],
         "environment_limits": {"temperature_c": {"min": "5", "max": "40"}},
         "notes": PLAUSIBLE},
        {"version_label": "2019", "effective_date": dt.date(2020, 1, 1), "kind": "verification",
         "instrument_types": ["taximeter"], "adequacy_divisor": None, "required_tests": ["distance", "time"],
         "environment_limits": {"temperature_c": {"min": "5", "max": "40"}, "humidity_pct": {"max": "90"}},
         "notes": "Thử trên băng thử con lăn hoặc đường thử đã biết chiều dài. " + PLAUSIBLE,
         "reason": "Ban hành ĐLVN 01:2019 thay thế ĐLVN 01:2003 (bổ sung phép thử thời gian)."},
    ]),
    ("ĐLVN 47", "Quả cân cấp chính xác F2, M1, M2 – Quy trình kiểm định", [
        {"version_label": "2009", "effective_date": dt.date(2009, 12, 30), "kind": "verification",
         "instrument_types": ["weight"], "adequacy_divisor": 3, "required_tests": ["reference", "cycles", "balance"],
         "environment_limits": {"temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3"},
                                "humidity_pct": {"min": "40", "max": "80"}},
         "notes": PLAUSIBLE},
    ]),
    ("ĐLVN 286", "Quả cân cấp chính xác F1, F2, M1 – Quy trình hiệu chuẩn", [
        {"version_label": "2015", "effective_date": dt.date(2015, 12, 1), "kind": "calibration",
         "instrument_types": ["weight"], "adequacy_divisor": 3,
         "required_tests": ["reference", "cycles", "balance", "air"],
         "environment_limits": {"temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3",
                                                  "max_change_12h": "5"},
                                "humidity_pct": {"min": "40", "max": "80"}},
         "notes": "Hiệu chuẩn quả cân M1: 18–27 °C, thay đổi ≤ 3 °C/h và ≤ 5 °C trong 12 h (bảng điều kiện "
                  "kiểu ĐLVN 286). Giới hạn độ ẩm và ngày có hiệu lực là giá trị minh hoạ."},
    ]),
]


def seed(session: Session) -> list[str]:
    """Add the demo procedures that are missing; returns one line per procedure created. Callers commit."""
    existing = set(session.scalars(select(Procedure.number)))
    lines = []
    for number, title, versions in PROCEDURES:
        if number in existing:
            continue
        procedure = services.create_procedure(session, number=number, title=title, issuer=ISSUER)
        for spec in versions:
            version = services.issue_version(session, procedure_id=procedure.id, **spec)
        names = ", ".join(f"{number}:{spec['version_label']}" for spec in versions)
        lines.append(f"Phương pháp {names} — {title} (hiện hành {version.designation})")
    return lines
