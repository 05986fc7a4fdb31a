"""The lab's reference standards and equipment, their calibrations, intermediate checks and service events.

ISO/IEC 17025:2017 6.4 (equipment records) and 6.5 (metrological traceability). A standard's status is never stored:
``services.standard_status`` derives it on any date from the rows below.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, JSONDocument, TimestampMixin, search_key_type, utcnow

#: Kinds of standard; labels in services.KIND_LABELS. The mass kinds carry an OIML R 111 class, the meter and
#: taximeter kinds a class in % (services.MASS_KINDS, services.PERCENT_KINDS).
KINDS = ("weight_set", "single_weight", "meter_bench", "reference_meter", "taximeter_bench", "timer",
         "reference_scale", "thermo_hygrometer", "barometer", "other")

#: Sources of a calibration: an outside laboratory's certificate, or our own calibration against our standards.
SOURCES = ("external", "internal")

#: Service events: taken out of service (damaged, suspected) or returned to service.
SERVICE_ACTIONS = ("out", "return")


class Standard(TimestampMixin, Base):
    __tablename__ = "standards"
    __audit__ = True
    __table_args__ = (
        # Mirrors services._check_code_free (folded, so that "QC-M1-01" and "qc m1 01" are one code).
        UniqueConstraint("code_key", name="uq_standards_code_key"),
        Index("ix_standards_kind", "kind", "code_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The identity painted on the case or label, e.g. "QC-F1-01".
    code: Mapped[str] = mapped_column(String(40))
    code_key: Mapped[str] = mapped_column(search_key_type(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial: Mapped[str] = mapped_column(String(80), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    # R 111 class for mass kinds (E2, F1 …), a percentage for meters and taximeter benches ("0.1"), free otherwise.
    accuracy_class: Mapped[str] = mapped_column(String(20), default="")
    # Intended use: codes of instruments.all_types() this standard may serve, within range_min … range_max.
    type_codes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # Decimal strings in range_unit; for weights the smallest and largest piece.
    range_min: Mapped[str] = mapped_column(String(40), default="")
    range_max: Mapped[str] = mapped_column(String(40), default="")
    range_unit: Mapped[str] = mapped_column(String(20), default="")
    # The lab's own recalibration interval; proposes the due date of a new calibration.
    calibration_interval_months: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    # fold() of code, name, manufacturer, model, serial and location: what the list's search box matches.
    search_key: Mapped[str] = mapped_column(search_key_type(700), default="")

    calibrations: Mapped[list[StandardCalibration]] = relationship(
        back_populates="standard", foreign_keys="StandardCalibration.standard_id", lazy="raise_on_sql",
        order_by="(StandardCalibration.calibration_date, StandardCalibration.id)")


class StandardCalibration(Base):
    """One calibration certificate of a standard. Immutable once recorded: a correction is a new row whose
    ``supersedes_id`` names the row it replaces (services.correct_calibration); both stay visible."""

    __tablename__ = "standard_calibrations"
    __audit__ = True
    __table_args__ = (
        # One correction per record: a second correction corrects the correction.
        UniqueConstraint("supersedes_id", name="uq_standard_calibrations_supersedes_id"),
        CheckConstraint("due_date > calibration_date", name="due_after_calibration"),
        CheckConstraint("source IN ('external', 'internal')", name="source"),
        Index("ix_standard_calibrations_standard", "standard_id", "calibration_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="RESTRICT"))
    calibration_date: Mapped[dt.date]
    # The last day the calibration is valid; the standard is overdue from the next day.
    due_date: Mapped[dt.date]
    source: Mapped[str] = mapped_column(String(10))
    # External: e.g. "Viện Đo lường Việt Nam (VMI)", "VILAS 002"; internal: the centre itself.
    laboratory_name: Mapped[str] = mapped_column(String(200), default="")
    accreditation_number: Mapped[str] = mapped_column(String(40), default="")
    # Empty while the certificate has not arrived: the traceability chain is broken until a correction adds it.
    certificate_number: Mapped[str] = mapped_column(String(60), default="")
    # Where an external chain ends, e.g. "Chuẩn quốc gia khối lượng (VMI) → BIPM, SI".
    traceable_to: Mapped[str] = mapped_column(String(200), default="")
    # [{"nominal", "unit", "correction" | "value", "expanded_uncertainty", "k", "result_unit"}], decimal strings.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    certificate_filename: Mapped[str] = mapped_column(String(200), default="")
    # The stored file is instance/standards/certificates/<sha256><ext>; the hash proves it unchanged.
    certificate_sha256: Mapped[str] = mapped_column(String(64), default="")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("standard_calibrations.id", ondelete="RESTRICT"))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    standard: Mapped[Standard] = relationship(back_populates="calibrations", foreign_keys=[standard_id],
                                              lazy="joined")
    references: Mapped[list[CalibrationReference]] = relationship(
        back_populates="calibration", cascade="all, delete-orphan", lazy="selectin")


class CalibrationReference(Base):
    """An internal calibration was made against this standard of ours (many-to-many to the parent standards)."""

    __tablename__ = "standard_calibration_references"
    __audit__ = True

    calibration_id: Mapped[int] = mapped_column(ForeignKey("standard_calibrations.id", ondelete="CASCADE"),
                                                primary_key=True)
    reference_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="RESTRICT"), primary_key=True,
                                              index=True)

    calibration: Mapped[StandardCalibration] = relationship(back_populates="references")
    reference: Mapped[Standard] = relationship(lazy="joined")


class IntermediateCheck(Base):
    """An intermediate check between calibrations (ISO/IEC 17025 6.4.10), judged against its acceptance limit."""

    __tablename__ = "standard_intermediate_checks"
    __audit__ = True
    __table_args__ = (Index("ix_standard_intermediate_checks_standard", "standard_id", "check_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="RESTRICT"))
    check_date: Mapped[dt.date]
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    performed_by_name: Mapped[str] = mapped_column(String(120))
    # The point checked, e.g. nominal "1", unit "kg"; values below are in value_unit.
    nominal: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    value_unit: Mapped[str] = mapped_column(String(20))
    reference_value: Mapped[str] = mapped_column(String(40))
    measured_values: Mapped[list[str]] = mapped_column(JSONDocument)
    # Derived by services.record_intermediate_check: mean, mean − reference, |deviation| ≤ limit.
    mean_value: Mapped[str] = mapped_column(String(40))
    deviation: Mapped[str] = mapped_column(String(40))
    limit: Mapped[str] = mapped_column(String(40))
    is_passed: Mapped[bool]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ServiceEvent(Base):
    """A standard taken out of service (damage, suspected fault) or returned to it, from ``event_date`` on."""

    __tablename__ = "standard_service_events"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("action IN ('out', 'return')", name="action"),
        Index("ix_standard_service_events_standard", "standard_id", "event_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="RESTRICT"))
    event_date: Mapped[dt.date]
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
