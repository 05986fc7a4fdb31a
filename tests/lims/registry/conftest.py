"""Fixtures of the registry's tests: factories that fill sensible defaults."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

#: "Today" for the services in these tests.
TODAY = dt.date(2026, 6, 15)
SCALE = {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"}
METER = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600"}

_tax_codes = itertools.count(1)


@pytest.fixture
def create_customer(session):
    """Add and commit a customer: create_customer("Chợ Tân Phú", tax_code="0100112437")."""
    from lims.registry import services

    def make(name: str = "Hộ kinh doanh Nguyễn Thị Lan", *, tax_code: str | None = "auto", **fields):
        if tax_code == "auto":
            tax_code = f"59{next(_tax_codes):08d}"
        customer = services.create_customer(session, name=name, tax_code=tax_code, **fields)
        session.commit()
        return customer

    return make


@pytest.fixture
def create_instrument(session, create_customer):
    """Register and commit an instrument: create_instrument(serial="A1", type_code="nawi", spec={...})."""
    from lims.registry import services

    def make(serial: str = "20A12345", *, type_code: str = "nawi", customer=None, spec=None, manufacturer="CAS",
             **fields):
        customer = customer or create_customer()
        if spec is None:
            spec = {"nawi": SCALE, "energy_meter": METER, "taximeter": {"k_imp_per_km": "1600"},
                    "weight": {"nominal": "1", "unit": "kg", "accuracy_class": "M1"}}[type_code]
        instrument = services.register_instrument(session, customer_id=customer.id, type_code=type_code,
                                                  serial=serial, manufacturer=manufacturer, spec=spec, today=TODAY,
                                                  **fields)
        session.commit()
        return instrument

    return make


@pytest.fixture
def counts(session):
    """Rows of the registry's tables and the audit trail: the "database unchanged" check."""
    from sqlalchemy import func, select

    from lims.audit.models import AuditEvent
    from lims.registry.models import Customer, Instrument

    def take() -> dict:
        session.rollback()
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Customer, Instrument, AuditEvent)}

    return take
