"""The audit trail: append-only, hash-chained events (ISO/IEC 17025 7.5, 21 CFR Part 11 §11.10(e))."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.models import Base, utcnow


class AuditEvent(Base):
    """One change or one security-relevant act. Rows are never updated or deleted (database triggers refuse it).

    ``seq`` is gapless and assigned under a lock on ``audit_head``; ``hash`` = SHA-256 of the canonical JSON of the
    row including ``prev_hash`` (see ``lims.audit.services.event_hash``), so a changed, removed, inserted or reordered
    row breaks the chain at a place ``lims audit verify`` names.
    """

    __tablename__ = "audit_events"
    __audit__ = "the audit trail itself: auditing its rows would recurse"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(80), default="")
    changes: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),
        Index("ix_audit_events_actor", "actor_id", "occurred_at"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )


class AuditHead(Base):
    """The single row that holds the chain's last ``seq`` and ``hash``; locking it serialises appends."""

    __tablename__ = "audit_head"
    __audit__ = "a pointer derived from audit_events (its last seq and hash), checked by the verifier"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheck(Base):
    """A run of the chain verifier, so the viewer can show when the chain was last verified and with what result."""

    __tablename__ = "audit_checks"
    __audit__ = "results of the chain verifier; recording them in the chain would change what each run checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ran_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    is_ok: Mapped[bool]
    events_checked: Mapped[int] = mapped_column(BigInteger)
    problems: Mapped[dict[str, Any]]
