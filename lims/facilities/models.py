"""Facilities and environmental conditions (ISO/IEC 17025 6.3): rooms and sites, and their condition readings.

Readings are evidence behind results: they are added (by hand or from a data-logger file) and never edited. A room
(or on-site location) is identified by its code. Rules (the conditions check, the logger import) live in
``services.py``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, TimestampMixin, search_key_type, utcnow

#: Kinds of place; labels in services.ROOM_KINDS. Must match the CHECK constraint on rooms.kind.
ROOM_KIND_CODES = ("laboratory", "on_site")
#: Where a reading came from; must match the CHECK constraint on condition_readings.source.
SOURCE_CODES = ("manual", "logger")


class Room(TimestampMixin, Base):
    """A laboratory room, or a place where the centre works on site (a market, a customer's premises)."""

    __tablename__ = "rooms"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("kind IN ('" + "', '".join(ROOM_KIND_CODES) + "')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Upper case, letters, digits and - . _ / (services.clean_code); unique.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20), default="laboratory")
    notes: Mapped[str] = mapped_column(Text, default="")
    # fold(code + name + building): what the list's search matches (lims.text.fold).
    search_key: Mapped[str] = mapped_column(search_key_type(420), index=True)


class ConditionReading(Base):
    """Temperature, humidity and pressure in a room at one moment (UTC). At least one quantity is given."""

    __tablename__ = "condition_readings"
    __audit__ = True
    __table_args__ = (
        # One reading per room and moment: re-importing a logger file adds nothing (services.import_logger_csv).
        UniqueConstraint("room_id", "taken_at"),
        CheckConstraint("temperature_c IS NOT NULL OR humidity_pct IS NOT NULL OR pressure_hpa IS NOT NULL",
                        name="some_value"),
        CheckConstraint("source IN ('" + "', '".join(SOURCE_CODES) + "')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    taken_at: Mapped[dt.datetime]
    temperature_c: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    humidity_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    pressure_hpa: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    # "manual" (typed in the form) or "logger" (imported; source_file is the logger file's name).
    source: Mapped[str] = mapped_column(String(10))
    source_file: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship(lazy="raise_on_sql")
