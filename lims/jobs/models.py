"""A job is one customer request: the items received, when and in what condition, where the work is done, fees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, TimestampMixin
from lims.registry.models import Customer, Instrument

#: Job states, in workflow order (services.JOB_STATES has the labels).
JOB_STATES = ("received", "in_progress", "completed", "delivered", "cancelled")
#: Where the work is done.
LOCATIONS = ("lab", "on_site")
#: What is asked for an item: the four kinds of verification, or a calibration (DOMAIN.md §1).
SERVICES = ("initial", "periodic", "after_repair", "extraordinary", "calibration")


class Job(TimestampMixin, Base):
    __tablename__ = "jobs"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("state IN ('" + "', '".join(JOB_STATES) + "')", name="state_known"),
        CheckConstraint("location IN ('" + "', '".join(LOCATIONS) + "')", name="location_known"),
        Index("ix_jobs_state_due", "state", "due_date"),
        Index("ix_jobs_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "YC-2026-00017": gapless per year, assigned by services.receive_job from number_counters.
    number: Mapped[str] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    received_date: Mapped[dt.date]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    location: Mapped[str] = mapped_column(String(10), default="lab")
    site_address: Mapped[str] = mapped_column(String(300), default="")
    due_date: Mapped[dt.date | None]
    state: Mapped[str] = mapped_column(String(20), default="received")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship(lazy="joined")
    items: Mapped[list[JobItem]] = relationship(back_populates="job", order_by="JobItem.position",
                                                cascade="all, delete-orphan", lazy="selectin")
    fees: Mapped[list[FeeLine]] = relationship(back_populates="job", order_by="FeeLine.id",
                                               cascade="all, delete-orphan", lazy="selectin")


class JobItem(TimestampMixin, Base):
    """One instrument received under a job, with its identification and condition on receipt (17025 7.4)."""

    __tablename__ = "job_items"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("job_id", "position"),
        CheckConstraint("service IN ('" + "', '".join(SERVICES) + "')", name="service_known"),
        Index("ix_job_items_instrument", "instrument_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    position: Mapped[int]
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="RESTRICT"))
    service: Mapped[str] = mapped_column(String(20))
    condition_on_receipt: Mapped[str] = mapped_column(Text, default="")
    accessories: Mapped[str] = mapped_column(String(300), default="")

    job: Mapped[Job] = relationship(back_populates="items")
    instrument: Mapped[Instrument] = relationship(lazy="joined")


class FeeLine(Base):
    """A line of the job's fees (phí kiểm định), in đồng."""

    __tablename__ = "fee_lines"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    job_item_id: Mapped[int | None] = mapped_column(ForeignKey("job_items.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_vnd: Mapped[Decimal] = mapped_column(Numeric(14, 0))

    job: Mapped[Job] = relationship(back_populates="fees")


class NumberCounter(Base):
    """The last number given in a series and year. Numbers are taken under a row lock inside the transaction that
    uses them, so they are gapless: a rolled-back transaction gives its number back."""

    __tablename__ = "number_counters"
    __audit__ = "a counter whose every value is recorded on the job or certificate that took it"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
