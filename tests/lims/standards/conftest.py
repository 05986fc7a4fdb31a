"""Factories for the standards register's tests."""

from __future__ import annotations

import datetime as dt

import pytest

#: A fixed "today" for services that refuse records dated in the future, so the tests do not depend on the clock.
TODAY = dt.date(2026, 11, 22)
#: The external laboratory at the top of the test chains.
VMI = {"laboratory_name": "Viện Đo lường Việt Nam (VMI)", "accreditation_number": "VILAS 002"}


@pytest.fixture
def make_standard(session):
    """Add a standard with sensible defaults: make_standard("QC-F1-01", accuracy_class="F1")."""
    from lims.standards import services

    def make(code: str, *, kind: str = "weight_set", accuracy_class: str = "F1", type_codes=("nawi", "weight"),
             range_=("1", "20000", "g"), interval: int | None = 12, name: str | None = None, **fields):
        return services.create_standard(
            session, code=code, name=name or f"Chuẩn {code}", kind=kind, accuracy_class=accuracy_class,
            type_codes=list(type_codes), range_min=range_[0], range_max=range_[1], range_unit=range_[2],
            calibration_interval_months=interval, **fields)

    return make


@pytest.fixture
def calibrate(session):
    """Record a calibration: external (VMI) unless ``references`` are given; due date from the interval unless given."""
    from lims.standards import services

    counter = iter(range(1, 10_000))

    def record(standard, calibration_date: dt.date, due_date: dt.date | None = None, *, references=(),
               certificate_number: str | None = None, results=None, **fields):
        source = {"source": "internal", "reference_ids": [r.id for r in references]} if references else \
            {"source": "external", **VMI}
        number = f"GCN-{next(counter):04d}" if certificate_number is None else certificate_number
        return services.record_calibration(
            session, standard=standard, calibration_date=calibration_date, due_date=due_date,
            certificate_number=number, results=results or [
                {"nominal": "1", "unit": "kg", "correction": "0.3", "expanded_uncertainty": "0.5", "k": "2",
                 "result_unit": "mg"}], today=TODAY, **source, **fields)

    return record
