"""Factories for the methods register's tests."""

from __future__ import annotations

import datetime as dt

import pytest

from lims.methods import services

M1_LIMITS = {"temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3", "max_change_12h": "5"},
             "humidity_pct": {"min": "40", "max": "80"}}


@pytest.fixture
def make_procedure(session):
    """A procedure with a first version; keyword arguments override the version's defaults."""

    def make(number: str = "ĐLVN 286", title: str = "Quả cân cấp chính xác F1, F2, M1 – Quy trình hiệu chuẩn",
             **version):
        procedure = services.create_procedure(session, number=number, title=title,
                                              issuer="Tổng cục Tiêu chuẩn Đo lường Chất lượng")
        fields = {"version_label": "2015", "effective_date": dt.date(2015, 12, 1), "kind": "calibration",
                  "instrument_types": ["weight"], "environment_limits": M1_LIMITS, "adequacy_divisor": 3,
                  "required_tests": ["cycles", "reference", "balance", "air"]} | version
        return services.issue_version(session, procedure_id=procedure.id, **fields)

    return make


@pytest.fixture
def taximeter_versions(session, make_procedure):
    """ĐLVN 01:2003, replaced by ĐLVN 01:2019 from 01/01/2020."""
    old = make_procedure("ĐLVN 01", "Taximet – Quy trình kiểm định", version_label="2003",
                         effective_date=dt.date(2003, 9, 1), kind="verification", instrument_types=["taximeter"],
                         environment_limits={}, adequacy_divisor=None, required_tests=["distance"])
    new = services.issue_version(session, procedure_id=old.procedure_id, version_label="2019",
                                 effective_date=dt.date(2020, 1, 1), kind="verification",
                                 instrument_types=["taximeter"], required_tests=["distance", "time"],
                                 reason="Ban hành ĐLVN 01:2019 thay thế ĐLVN 01:2003.")
    return old, new
