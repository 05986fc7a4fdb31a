"""Methods and document control (ISO/IEC 17025 7.2, 8.3): procedures (ĐLVN …) and their versions.

A ``Procedure`` is a controlled document identified by its number without the year ("ĐLVN 39"); each
``MethodVersion`` is one edition of it ("2004"), printed together as its designation "ĐLVN 39:2004". A version is in
force from ``effective_date`` until the day before ``withdrawn_date``; withdrawn versions are kept and stay readable.
Rules (which version is in force, when an edit needs a reason, how a new version withdraws the old) live in
``services.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, JSONDocument, TimestampMixin, search_key_type

#: Kinds of work a version is written for; labels in services.KINDS. Must match the CHECK constraint below.
KIND_CODES = ("verification", "calibration")


class Procedure(TimestampMixin, Base):
    """A procedure document, e.g. ĐLVN 39 "Công tơ điện xoay chiều kiểu điện tử – Quy trình kiểm định"."""

    __tablename__ = "procedures"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    # Without the year of issue, which belongs to the version (services.clean_number refuses a ":").
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    # Who issued it: the national body for ĐLVN documents, the centre itself for in-house procedures.
    issuer: Mapped[str] = mapped_column(String(200), default="")
    # fold(number + " " + title): what the list's search matches (lims.text.fold).
    search_key: Mapped[str] = mapped_column(search_key_type(400), index=True)

    versions: Mapped[list[MethodVersion]] = relationship(
        back_populates="procedure", order_by="MethodVersion.effective_date", lazy="selectin")


class MethodVersion(TimestampMixin, Base):
    """One edition of a procedure: when it is in force, what it covers, its limits and its document file."""

    __tablename__ = "method_versions"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("procedure_id", "version_label"),
        CheckConstraint("kind IN ('" + "', '".join(KIND_CODES) + "')", name="kind_known"),
        # A version withdrawn on the day it takes effect was never in force: refused (services.check_dates too).
        CheckConstraint("withdrawn_date IS NULL OR withdrawn_date > effective_date", name="dates_ordered"),
        CheckConstraint("adequacy_divisor IS NULL OR adequacy_divisor > 0", name="divisor_positive"),
        Index("ix_method_versions_effective", "effective_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="RESTRICT"), index=True)
    # The edition, usually the year of issue ("2004"); unique within its procedure.
    version_label: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date]
    # First day the version is no longer in force (None: still in force).
    withdrawn_date: Mapped[dt.date | None]
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")
    # The version this one replaced when it was issued (document control: the chain of editions).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("method_versions.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    # Codes of instruments.all_types() the version covers, e.g. ["nawi"] (services.clean_instrument_types).
    instrument_types: Mapped[list[str]] = mapped_column(JSONDocument)
    # {"temperature_c": {"min", "max", "max_rate_per_h", "max_change_12h"}, "humidity_pct": {"min", "max"},
    #  "pressure_hpa": {"min", "max"}}, every key optional, decimal strings (services.clean_environment_limits).
    # Other packages (facilities.check_conditions, the verification workflow) read this exact shape.
    environment_limits: Mapped[dict[str, Any]]
    # A standard's error or uncertainty must be ≤ MPE / adequacy_divisor; None when the method sets no such rule.
    adequacy_divisor: Mapped[int | None]
    # Readings keys of the metrology engine the method requires, e.g. ["weighing", "eccentricity"].
    required_tests: Mapped[list[str]] = mapped_column(JSONDocument)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The document file, stored in the instance folder under document_path (relative), named by its SHA-256 so that
    # a change of the file on disk is detected when it is served.
    document_filename: Mapped[str] = mapped_column(String(200), default="")
    document_path: Mapped[str] = mapped_column(String(200), default="")
    document_sha256: Mapped[str] = mapped_column(String(64), default="")
    document_size_bytes: Mapped[int | None]

    procedure: Mapped[Procedure] = relationship(back_populates="versions", lazy="joined")
    replaces: Mapped[MethodVersion | None] = relationship(remote_side=[id], lazy="select")

    @property
    def designation(self) -> str:
        """How the version is cited on records and certificates: "ĐLVN 39:2004"."""
        return f"{self.procedure.number}:{self.version_label}"
