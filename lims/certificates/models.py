"""Certificates' tables: the seal's public keys, issued certificates (and their PDFs), and the stamp inventory.

A certificate is a record (ISO/IEC 17025 7.8.8): once issued, nothing of what it says is changed or deleted. Its life
is told by ``status`` (issued → superseded by a new revision, or → revoked) and the columns of those two events; a
hook in :mod:`lims.certificates.services` refuses any other change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, search_key_type, utcnow

#: What a certificate is (lims.certificates.document.DocumentKind values).
KINDS = ("verification", "calibration", "failure_notice")
#: Where a certificate stands (DESIGN.md §5); "expired" is derived from valid_until, never stored.
STATUSES = ("issued", "superseded", "revoked")
#: A stamp's life: received into stock, given to a technician, stuck on an instrument (used), or cancelled.
STAMP_STATES = ("available", "assigned", "used", "spoiled")


class SealKey(Base):
    """A public key that signs (or signed) QR seals. The private half lives only in the file named by
    ``SEAL_KEY_FILE`` (never in the database, so never in a backup of it); retired keys stay here so that what they
    signed keeps verifying. At most one key is current (``retired_at`` empty): lims.certificates.keys keeps it so,
    and the partial unique index below refuses a second one."""

    __tablename__ = "seal_keys"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("length(public_key) = 32", name="public_key_length"),
        Index("uq_seal_keys_current", "algorithm", unique=True,
              sqlite_where=text("retired_at IS NULL"), postgresql_where=text("retired_at IS NULL")),
    )

    # lims.certificates.seal.key_id_for(public key): 8 hex digits of SHA-256 of the raw key; printed in every seal.
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20), default="Ed25519")
    # The raw 32-byte Ed25519 public key (RFC 8032), as published at /.well-known/lims-keys.json.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None]

    @property
    def is_current(self) -> bool:
        return self.retired_at is None


class StampBatch(Base):
    """A delivery of verification stamps (tem kiểm định), numbered ``first_number … last_number`` in a series."""

    __tablename__ = "stamp_batches"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("first_number > 0 AND last_number >= first_number", name="range_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(20))
    first_number: Mapped[int]
    last_number: Mapped[int]
    received_date: Mapped[dt.date]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def count(self) -> int:
        return self.last_number - self.first_number + 1


class Stamp(Base):
    """One stamp. Receiving and assigning ranges write one audit event per range (services.receive_stamps,
    assign_stamps); using and spoiling a stamp are ORM updates, audited row by row."""

    __tablename__ = "stamps"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("series", "serial_no"),
        CheckConstraint("state IN ('" + "', '".join(STAMP_STATES) + "')", name="state_known"),
        CheckConstraint("state <> 'assigned' OR assigned_to_id IS NOT NULL", name="assigned_has_holder"),
        # The issuing service takes a technician's assigned stamps in the order they were received (id).
        Index("ix_stamps_holder", "assigned_to_id", "state", "id"),
        Index("ix_stamps_batch", "batch_id", "serial_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stamp_batches.id", ondelete="RESTRICT"))
    series: Mapped[str] = mapped_column(String(20))
    serial_no: Mapped[int]
    # As printed on the stamp and on the certificate: services.stamp_number(series, serial_no).
    number: Mapped[str] = mapped_column(String(40), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="available")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_at: Mapped[dt.datetime | None]
    used_at: Mapped[dt.datetime | None]
    spoiled_at: Mapped[dt.datetime | None]
    spoiled_reason: Mapped[str] = mapped_column(Text, default="")
    spoiled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Certificate(Base):
    """An issued certificate of verification or calibration, or a notice of failure.

    Its record (everything the PDF shows, so that the PDF can be printed again, identical, years later) and its PDF
    are in :class:`CertificateRecord`; ``record_digest`` is what the QR seal signs. The columns from ``serial`` to
    ``summary`` repeat a few facts of the record for searching and for the public check, which reads only this row.
    """

    __tablename__ = "certificates"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("series", "year", "seq"),
        CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')", name="kind_known"),
        CheckConstraint("status IN ('" + "', '".join(STATUSES) + "')", name="status_known"),
        # Mirrors document.CertificateDocument: a notice of failure carries no stamp and no validity.
        CheckConstraint("kind <> 'failure_notice' OR (stamp_id IS NULL AND valid_until IS NULL)",
                        name="notice_has_no_stamp"),
        CheckConstraint("status <> 'revoked' OR revoked_at IS NOT NULL", name="revoked_has_date"),
        CheckConstraint("replaces_id IS NULL OR revision > 0", name="amendment_is_revision"),
        Index("ix_certificates_issue_date", "issue_date", "id"),
        Index("ix_certificates_status", "status", "issue_date"),
        Index("ix_certificates_verification", "verification_id"),
        Index("ix_certificates_instrument", "instrument_id", "issue_date"),
        Index("ix_certificates_serial", "serial_key"),
        Index("ix_certificates_customer", "customer_key"),
        Index("ix_certificates_stamp", "stamp_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "KĐ-2026-000123": series, year of issue and a gapless sequence number (services.certificate_number).
    number: Mapped[str] = mapped_column(String(40), unique=True)
    series: Mapped[str] = mapped_column(String(10))
    year: Mapped[int]
    seq: Mapped[int]
    # 0 for a first issue; an amendment (17025 7.8.8) has a new number and the revision of the one it replaces + 1.
    revision: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20))
    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="RESTRICT"))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    issue_date: Mapped[dt.date]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # Last day of validity ("hiệu lực đến hết ngày"); none for notices of failure and calibration certificates.
    valid_until: Mapped[dt.date | None]
    stamp_id: Mapped[int | None] = mapped_column(ForeignKey("stamps.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="issued")
    # Each certificate is replaced at most once (the chain of revisions is a line).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id", ondelete="RESTRICT"), unique=True)
    amendment_reason: Mapped[str] = mapped_column(Text, default="")
    superseded_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revocation_reason: Mapped[str] = mapped_column(Text, default="")
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    serial: Mapped[str] = mapped_column(String(80), default="")
    serial_key: Mapped[str] = mapped_column(search_key_type(80), default="")  # lims.text.fold_serial(serial)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_key: Mapped[str] = mapped_column(search_key_type(200), default="")  # lims.text.fold(customer_name)
    instrument_type: Mapped[str] = mapped_column(String(20), default="")
    # What the public check shows: services.public_summary(document).
    summary: Mapped[dict[str, Any]]
    # lims.certificates.seal.record_digest(record), 40 hex digits: what the seal signs (the record is in
    # certificate_records).
    record_digest: Mapped[str] = mapped_column(String(40))
    seal_key_id: Mapped[str] = mapped_column(String(8), ForeignKey("seal_keys.id", ondelete="RESTRICT"))
    seal_token: Mapped[str] = mapped_column(String(300))
    # The URL printed in the QR code (seal.seal_url with the public address of the day of issue).
    seal_url: Mapped[str] = mapped_column(String(500))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    # Idempotency: a double-click or a replayed request carries the same key and gets the same certificate.
    issue_request_key: Mapped[str] = mapped_column(String(100), unique=True)

    stamp: Mapped[Stamp | None] = relationship(lazy="joined")
    replaces: Mapped[Certificate | None] = relationship(remote_side=[id], lazy="select")
    archive: Mapped[CertificateRecord] = relationship(lazy="select", uselist=False, viewonly=True)

    @property
    def record(self) -> dict[str, Any]:
        """Everything the PDF shows (lims.certificates.record), as stored at issue."""
        return self.archive.record


class CertificateRecord(Base):
    """The certificate as issued: its record (what the seal's digest covers and the PDF prints) and the PDF itself
    (its SHA-256 is on the certificate). Kept apart so that the certificates table stays narrow for lists and the
    public check (a record is ~7 kB of JSON, a PDF ~50 kB). Written once, never changed. The audit trail holds the
    record and the PDF's SHA-256 (lims.audit.services.jsonable of bytes).

    The PDF is kept although printing the record again gives the same bytes (tested): a future reportlab or font
    package could print differently, and what was issued must stay available as issued."""

    __tablename__ = "certificate_records"
    __audit__ = True

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="RESTRICT"), primary_key=True)
    record: Mapped[dict[str, Any]]
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
