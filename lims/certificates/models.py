"""Certificates' tables. For now the seal's public keys; the Certificate itself is added by the issuing workflow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lims.models import Base, utcnow


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
