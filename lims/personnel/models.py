"""Personnel competence (ISO/IEC 17025 6.2): qualifications, training records and authorisations.

A person is a ``lims.auth.models.User``; these tables point at ``users.id`` and never change the users table.
Rules (validity on a date, who may perform or sign, when an edit needs a reason) live in ``services.py``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.models import Base, TimestampMixin

#: Degree codes, highest first (labels in services.DEGREES); must match the CHECK constraint on qualifications.degree.
DEGREE_CODES = ("doctorate", "master", "engineer", "bachelor", "college", "vocational", "other")


class Qualification(TimestampMixin, Base):
    """A degree or diploma a person holds (17025 6.2.2: education)."""

    __tablename__ = "qualifications"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("degree IN ('" + "', '".join(DEGREE_CODES) + "')", name="degree_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    degree: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(160))
    institution: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]

    user: Mapped[User] = relationship(lazy="joined")


class Training(TimestampMixin, Base):
    """A course a person attended (17025 6.2.5 c). Counted in the yearly training report by the year of
    ``end_date``. The certificate file lives in the instance folder under ``certificate_path`` (relative), named by
    its SHA-256 so that a later change of the file on disk is detected when it is served."""

    __tablename__ = "trainings"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("hours > 0", name="hours_positive"),
        Index("ix_trainings_end_date", "end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    certificate_number: Mapped[str] = mapped_column(String(60), default="")
    certificate_filename: Mapped[str] = mapped_column(String(200), default="")
    certificate_path: Mapped[str] = mapped_column(String(200), default="")
    certificate_sha256: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship(lazy="joined")


class Authorisation(TimestampMixin, Base):
    """Permission for one person to work on one instrument type between two dates (17025 6.2.5 f, 6.2.6): to
    perform verifications (the verification officer's card, thẻ kiểm định viên) and/or to sign results as reviewer or
    approver. Valid from ``valid_from`` to ``valid_until`` inclusive, unless revoked: a revocation takes effect on
    ``revoked_date`` (work done the day before still stands)."""

    __tablename__ = "authorisations"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="dates_ordered"),
        CheckConstraint("can_perform OR can_review OR can_approve", name="some_role"),
        CheckConstraint("(revoked_date IS NULL) = (revocation_reason IS NULL)", name="revocation_complete"),
        Index("ix_authorisations_user_type", "user_id", "instrument_type"),
        Index("ix_authorisations_valid_until", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # A code of instruments.all_types() (checked by the service: the engine's list may grow without a migration).
    instrument_type: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(300))
    can_perform: Mapped[bool] = mapped_column(default=True)
    can_review: Mapped[bool] = mapped_column(default=False)
    can_approve: Mapped[bool] = mapped_column(default=False)
    # Số thẻ kiểm định viên; required when can_perform (services.clean_authorisation).
    card_number: Mapped[str] = mapped_column(String(40), default="")
    valid_from: Mapped[dt.date]
    valid_until: Mapped[dt.date]
    # Granted by a user of the system (the head of the centre) or by an outside authority; exactly one of the two.
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    granted_by_authority: Mapped[str] = mapped_column(String(200), default="")
    revoked_date: Mapped[dt.date | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id], lazy="joined")
