"""Customers (the businesses that own instruments) and their measuring instruments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, TimestampMixin, search_key_type

#: Instrument statuses; labels in lims.registry.services.STATUS_LABELS.
STATUSES = ("active", "suspended", "retired")


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # fold(name): accent-free, lower case (lims.text.fold); what searches match.
    name_key: Mapped[str] = mapped_column(search_key_type(200), index=True)
    # Mã số thuế: 10 digits, or 10 digits + "-" + 3 for a branch; unique when given.
    tax_code: Mapped[str | None] = mapped_column(String(14), unique=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    commune: Mapped[str] = mapped_column(String(100), default="")
    district: Mapped[str] = mapped_column(String(100), default="")
    province: Mapped[str] = mapped_column(String(100), default="")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    instruments: Mapped[list[Instrument]] = relationship(back_populates="customer", lazy="raise_on_sql")


class Instrument(TimestampMixin, Base):
    __tablename__ = "instruments"
    __audit__ = True
    __table_args__ = (
        # The registry's identity of an instrument (DESIGN §4), on folded keys so that "AB-12" and "ab12" by
        # "Cas" and "CAS" are one instrument; mirrored by services.register_instrument's duplicate check.
        UniqueConstraint("type_code", "manufacturer_key", "serial_key", name="uq_instruments_identity"),
        Index("ix_instruments_customer", "customer_id", "id"),
        Index("ix_instruments_due", "next_due_date"),
        Index("ix_instruments_type_status", "type_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    # One of instruments.all_types() codes (checked by the service against the engine).
    type_code: Mapped[str] = mapped_column(String(20))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    manufacturer_key: Mapped[str] = mapped_column(search_key_type(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial: Mapped[str] = mapped_column(String(80))
    # fold_serial(serial): lower case without spaces or separators; prefix searches use its index.
    serial_key: Mapped[str] = mapped_column(search_key_type(80), index=True)
    pattern_approval_mark: Mapped[str] = mapped_column(String(60), default="")
    year_made: Mapped[int | None]
    # The metrological characteristics, as normalised by the engine's validate_spec.
    spec: Mapped[dict[str, Any]]
    place_of_use: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    last_verified_date: Mapped[dt.date | None]
    next_due_date: Mapped[dt.date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    import_batch: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship(back_populates="instruments", lazy="joined")
