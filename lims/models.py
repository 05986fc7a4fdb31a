"""The declarative base shared by every feature's models, and column types used across them.

Every mapped class declares ``__audit__``: ``True`` when the audit trail records its inserts, updates and deletes,
or a sentence saying why it is exempt. ``__audit_redact__`` names columns whose values never reach the trail
(the trail records that they changed, not to what). A test walks the mappers and fails on a class without it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A point in time, always timezone-aware UTC in Python; naive UTC in SQLite, ``timestamptz`` in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; use datetime.now(timezone.utc)")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


#: JSON documents (specs, readings, results): JSONB on PostgreSQL.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def search_key_type(length: int) -> String:
    """A folded search key; byte-order collation on PostgreSQL so that prefix ranges use the B-tree index."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSONDocument}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def import_all_models() -> None:
    """Import every feature's models so that ``Base.metadata`` is complete (Alembic, tests)."""
    import importlib

    from lims import MODEL_PACKAGES

    for feature in MODEL_PACKAGES:
        importlib.import_module(f"lims.{feature}.models")
