"""The verification / calibration record (biên bản kiểm định), its standards, signatures and bench batches.

A record is edited only while it is a draft. From submission on it is frozen: an amendment is a new revision (same
``root_id``, ``revision`` + 1, ``supersedes_id`` → the previous one) with a reason, and the signatures on the old
revision stay with it (ISO/IEC 17025 7.5.2, 7.8.8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.facilities.models import Room
from lims.jobs.models import JobItem
from lims.methods.models import MethodVersion
from lims.models import Base, TimestampMixin
from lims.registry.models import Instrument
from lims.standards.models import Standard, StandardCalibration

#: Record states, in workflow order (DESIGN.md §5).
STATES = ("draft", "submitted", "reviewed", "approved", "superseded", "cancelled")
#: The four kinds of verification, and calibration.
KINDS = ("initial", "periodic", "after_repair", "extraordinary", "calibration")
#: What a signature means (21 CFR 11.50; DESIGN.md §5).
MEANINGS = ("performed", "reviewed", "approved")


class Verification(TimestampMixin, Base):
    __tablename__ = "verifications"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("root_id", "revision"),
        CheckConstraint("state IN ('" + "', '".join(STATES) + "')", name="state_known"),
        CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')", name="kind_known"),
        Index("ix_verifications_state", "state", "performed_date"),
        Index("ix_verifications_instrument", "instrument_id", "performed_date"),
        Index("ix_verifications_technician", "technician_id", "performed_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first revision's id (equal to id for revision 1); all revisions of one record share it.
    root_id: Mapped[int | None] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("verifications.id", ondelete="RESTRICT"))
    amendment_reason: Mapped[str] = mapped_column(Text, default="")

    job_item_id: Mapped[int | None] = mapped_column(ForeignKey("job_items.id", ondelete="RESTRICT"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("bench_batches.id", ondelete="RESTRICT"), index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    method_version_id: Mapped[int | None] = mapped_column(ForeignKey("method_versions.id", ondelete="RESTRICT"))
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    performed_date: Mapped[dt.date]
    # The work period (UTC): the conditions check covers it (lims.facilities.services.check_conditions).
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    place: Mapped[str] = mapped_column(String(300), default="")
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    # {"temperature_c", "humidity_pct", "pressure_hpa", "source": "log"|"entered", "taken_at"} as decimal strings.
    conditions: Mapped[dict[str, Any]]
    # As typed, in the engine's readings shape (DESIGN.md §6); the spec is copied from the instrument at creation.
    spec: Mapped[dict[str, Any]]
    readings: Mapped[dict[str, Any]]
    # The engine's result.to_dict() (carries engine_version and rules_digest), recomputed on the server on save.
    result: Mapped[dict[str, Any] | None]
    passed: Mapped[bool | None]
    state: Mapped[str] = mapped_column(String(20), default="draft")
    notes: Mapped[str] = mapped_column(Text, default="")

    instrument: Mapped[Instrument] = relationship(lazy="joined")
    job_item: Mapped[JobItem | None] = relationship(lazy="select")
    method_version: Mapped[MethodVersion | None] = relationship(lazy="select")
    technician: Mapped[User] = relationship(lazy="joined")
    room: Mapped[Room | None] = relationship(lazy="select")
    standards: Mapped[list[VerificationStandard]] = relationship(back_populates="verification",
                                                                 cascade="all, delete-orphan", lazy="selectin")
    signatures: Mapped[list[Signature]] = relationship(back_populates="verification", order_by="Signature.id",
                                                       lazy="selectin")


class VerificationStandard(Base):
    """A standard used in a verification, and which of its calibrations was in force that day (traceability)."""

    __tablename__ = "verification_standards"
    __audit__ = True

    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="CASCADE"),
                                                 primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="RESTRICT"), primary_key=True,
                                             index=True)
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("standard_calibrations.id",
                                                                  ondelete="RESTRICT"))

    verification: Mapped[Verification] = relationship(back_populates="standards")
    standard: Mapped[Standard] = relationship(lazy="joined")
    calibration: Mapped[StandardCalibration | None] = relationship(lazy="select")


class Signature(Base):
    """An electronic signature: who, when, what it means, and the SHA-256 of the exact record version signed.

    Never updated or deleted; the password was re-entered to make it (21 CFR 11.200).
    """

    __tablename__ = "signatures"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("verification_id", "meaning"),
        CheckConstraint("meaning IN ('" + "', '".join(MEANINGS) + "')", name="meaning_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="RESTRICT"))
    meaning: Mapped[str] = mapped_column(String(20))
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    signer_name: Mapped[str] = mapped_column(String(120))
    signed_at: Mapped[dt.datetime]
    # The card or authorisation relied on (lims.personnel.services.Decision.card_number), as it was at signing.
    card_number: Mapped[str] = mapped_column(String(40), default="")
    record_sha256: Mapped[str] = mapped_column(String(64))

    verification: Mapped[Verification] = relationship(back_populates="signatures")


class BenchBatch(TimestampMixin, Base):
    """A bench result file imported at once (e.g. a 5-position meter bench's run over hundreds of meters)."""

    __tablename__ = "bench_batches"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    method_version_id: Mapped[int | None] = mapped_column(ForeignKey("method_versions.id", ondelete="RESTRICT"))
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    performed_date: Mapped[dt.date]
    meters: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
