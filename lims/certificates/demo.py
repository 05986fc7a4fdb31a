"""Demo data of the certificates: the seal key, a stamp batch given to the demo technician, and the certificates of
the records the workflow's demo approved. Idempotent: a second run adds nothing. Called by ``lims demo`` (the lead's
``lims.demo.seed``) inside its transaction, with an application context."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import keys, services, stamps
from .models import StampBatch

SERIES = "GL-26"
FIRST, LAST = 1, 500          # the batch received
ASSIGNED_LAST = 200           # the demo technician's share
TECHNICIAN = "kdv"            # lims.demo.LOGINS
RECEIVED = dt.date(2026, 1, 5)


def seed(session: Session, *, settings: services.IssueSettings | None = None) -> list[str]:
    """Seed and return what was done, one line each. Callers commit."""
    from lims.auth.models import User

    settings = services._settings(settings)
    lines = []
    key = keys.ensure_key(session, settings.key_file)
    lines.append(f"Seal key {key.id} (private key in {settings.key_file}).")
    technician = session.scalars(select(User).where(User.username == TECHNICIAN)).first()
    exists = session.scalars(select(StampBatch).where(StampBatch.series == SERIES,
                                                      StampBatch.first_number == FIRST)).first()
    if exists is None:
        stamps.receive_stamps(session, series=SERIES, first_number=FIRST, last_number=LAST, received_date=RECEIVED)
        lines.append(f"Stamps {stamps.stamp_number(SERIES, FIRST)} … {stamps.stamp_number(SERIES, LAST)} received.")
        if technician is not None:
            stamps.assign_stamps(session, series=SERIES, first_number=FIRST, last_number=ASSIGNED_LAST,
                                 technician_id=technician.id)
            lines.append(f"Stamps up to {stamps.stamp_number(SERIES, ASSIGNED_LAST)} given to {technician.full_name}.")
    issued = 0
    for verification in services.awaiting_issue(session, limit=1000):
        try:
            with session.begin_nested():
                services.issue_for_verification(session, verification=verification,
                                                issued_by_id=_approver_id(verification),
                                                request_key=f"verification:{verification.id}",
                                                today=_issue_date(verification), settings=settings)
            issued += 1
        except services.CertificateError as exc:
            lines.append(f"Record {verification.id}: no certificate ({exc}).")
    if issued:
        lines.append(f"{issued} certificate(s) issued for the approved demo records.")
    return lines


def _approver_id(verification) -> int | None:
    approved = [s for s in verification.signatures if s.meaning == "approved"]
    return approved[0].signer_id if approved else None


def _issue_date(verification) -> dt.date:
    approved = [s for s in verification.signatures if s.meaning == "approved"]
    if approved:
        from lims.dates import local

        return local(approved[0].signed_at).date()
    return verification.performed_date
