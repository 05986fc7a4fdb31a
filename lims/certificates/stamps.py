"""The stamp inventory (tem kiểm định): batches received in numbered ranges, ranges assigned to technicians, stamps
used by certificates (lims.certificates.services) or spoiled (cancelled, with the reason).

Services flush and never commit. Receiving and assigning touch whole ranges at once with SQL (a batch is thousands of
stamps) and record one audit event per range; spoiling a stamp is an ORM change, audited like any other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.dates import centre_today
from lims.models import utcnow

from .models import STAMP_STATES, Certificate, Stamp, StampBatch

#: Most stamps received in one batch (a year's supply of a large centre is ~100 000: several batches).
MAX_BATCH = 100_000
NUMBER_DIGITS = 7
STATE_LABELS = {"available": "Trong kho", "assigned": "Đã giao", "used": "Đã dùng", "spoiled": "Đã hủy"}


class StampError(ValueError):
    """A refusal a person can read; ``field`` names the form field concerned."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def stamp_number(series: str, serial_no: int) -> str:
    """As printed: ``"GL-26 0001234"`` (no series: the digits alone).

    >>> stamp_number("GL-26", 1234)
    'GL-26 0001234'
    """
    digits = f"{serial_no:0{NUMBER_DIGITS}d}"
    return f"{series} {digits}" if series else digits


def clean_series(value: Any) -> str:
    series = " ".join(str(value or "").split()).upper()
    if len(series) > 20:
        raise StampError(_("Ký hiệu sê-ri tem dài quá 20 ký tự."), field="series")
    return series


def _clean_range(first: Any, last: Any) -> tuple[int, int]:
    try:
        first_number, last_number = int(first), int(last)
    except (TypeError, ValueError):
        raise StampError(_("Số tem phải là số nguyên dương."), field="first_number") from None
    if first_number < 1 or last_number < 1:
        raise StampError(_("Số tem phải là số nguyên dương."), field="first_number")
    if last_number < first_number:
        raise StampError(_("Số tem cuối nhỏ hơn số tem đầu."), field="last_number")
    if last_number >= 10 ** NUMBER_DIGITS:
        raise StampError(_("Số tem có tối đa %(n)d chữ số.", n=NUMBER_DIGITS), field="last_number")
    return first_number, last_number


def receive_stamps(session: Session, *, series: Any, first_number: Any, last_number: Any,
                   received_date: dt.date | None = None, received_by_id: int | None = None,
                   notes: str = "") -> StampBatch:
    """Record a delivery of stamps ``first_number … last_number`` of ``series``, all in stock. Refuses a range that
    overlaps stamps already received. Callers commit."""
    series = clean_series(series)
    first, last = _clean_range(first_number, last_number)
    if last - first + 1 > MAX_BATCH:
        raise StampError(_("Mỗi lần nhận tối đa %(n)s tem.", n=f"{MAX_BATCH:,}".replace(",", ".")),
                         field="last_number")
    overlap = session.scalar(select(Stamp.number).where(Stamp.series == series, Stamp.serial_no.between(first, last))
                             .order_by(Stamp.serial_no).limit(1))
    if overlap is not None:
        raise StampError(_("Tem số %(number)s đã được nhận trước đây: dải số tem bị trùng.", number=overlap),
                         field="first_number")
    batch = StampBatch(series=series, first_number=first, last_number=last,
                       received_date=received_date or centre_today(), received_by_id=received_by_id,
                       notes=" ".join(str(notes or "").split())[:1000])
    session.add(batch)
    session.flush()
    rows = [{"batch_id": batch.id, "series": series, "serial_no": n, "number": stamp_number(series, n),
             "state": "available", "spoiled_reason": ""} for n in range(first, last + 1)]
    connection = session.connection()
    for start in range(0, len(rows), 5000):
        connection.execute(insert(Stamp), rows[start:start + 5000])
    audit.record(session, action="receive_stamps", entity_type="stamps", entity_id=f"batch {batch.id}",
                 changes={"series": series, "first": stamp_number(series, first), "last": stamp_number(series, last),
                          "count": last - first + 1})
    return batch


@dataclasses.dataclass(frozen=True)
class Assignment:
    assigned: int
    skipped: int


def assign_stamps(session: Session, *, series: Any, first_number: Any, last_number: Any, technician_id: int,
                  now: dt.datetime | None = None) -> Assignment:
    """Give the stamps of a range to a technician (those in stock or held by another technician); used and spoiled
    stamps in the range stay as they are and are counted as skipped. Callers commit."""
    from lims.auth.models import User

    series = clean_series(series)
    first, last = _clean_range(first_number, last_number)
    user = session.get(User, technician_id)
    if user is None or not user.is_active:
        raise StampError(_("Chọn một kiểm định viên đang làm việc."), field="technician_id")
    in_range = and_(Stamp.series == series, Stamp.serial_no.between(first, last))
    session.flush()
    total = session.scalar(select(func.count()).select_from(Stamp).where(in_range))
    if not total:
        raise StampError(_("Không có tem nào trong dải số này."), field="first_number")
    result = session.execute(
        update(Stamp).where(in_range, Stamp.state.in_(("available", "assigned")))
        .values(state="assigned", assigned_to_id=user.id, assigned_at=now or utcnow())
        .execution_options(synchronize_session=False))
    assigned = result.rowcount
    if not assigned:
        raise StampError(_("Mọi tem trong dải số này đã dùng hoặc đã hủy."), field="first_number")
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Stamp):
            session.expire(obj)  # stamps loaded before the UPDATE show their new holder
    audit.record(session, action="assign_stamps", entity_type="stamps", entity_id=f"{series} {first}-{last}",
                 changes={"first": stamp_number(series, first), "last": stamp_number(series, last),
                          "assigned_to_id": user.id, "assigned_to": user.full_name, "assigned": assigned,
                          "skipped": total - assigned})
    return Assignment(assigned=assigned, skipped=total - assigned)


def spoil_stamp(session: Session, *, stamp: Stamp, reason: Any, spoiled_by_id: int | None,
                now: dt.datetime | None = None) -> Stamp:
    """Cancel a damaged or lost stamp that was never used on a certificate, with the reason. Callers commit."""
    text = " ".join(str(reason or "").split())
    if not text:
        raise StampError(_("Ghi lý do hủy tem."), field="reason")
    if stamp.state == "used":
        raise StampError(_("Tem số %(number)s đã dùng cho một giấy chứng nhận: không thể hủy (hãy thu hồi giấy "
                           "chứng nhận).", number=stamp.number), field="reason")
    if stamp.state == "spoiled":
        raise StampError(_("Tem số %(number)s đã bị hủy trước đây.", number=stamp.number), field="reason")
    with audit.reason(session, text):
        stamp.state = "spoiled"
        stamp.spoiled_at = now or utcnow()
        stamp.spoiled_reason = text[:1000]
        stamp.spoiled_by_id = spoiled_by_id
        session.flush()
    return stamp


def find_stamp(session: Session, number: str) -> Stamp | None:
    text = " ".join(str(number or "").split()).upper()
    stamp = session.scalars(select(Stamp).where(Stamp.number == text)).first()
    if stamp is None and text.isdigit():
        matches = list(session.scalars(select(Stamp).where(Stamp.serial_no == int(text)).limit(2)))
        stamp = matches[0] if len(matches) == 1 else None
    return stamp


def get_stamp(session: Session, stamp_id: int) -> Stamp | None:
    return session.get(Stamp, stamp_id)


@dataclasses.dataclass(frozen=True)
class StampFilter:
    state: str = ""
    technician_id: int | None = None
    series: str = ""
    q: str = ""


def list_stamps(session: Session, flt: StampFilter = StampFilter(), *, page: int = 1,
                page_size: int = 100) -> tuple[list[tuple[Stamp, str | None]], bool]:
    """A page of stamps (lowest numbers first) with the number of the latest certificate that used each."""
    latest = (select(Certificate.number).where(Certificate.stamp_id == Stamp.id)
              .order_by(Certificate.revision.desc()).limit(1).scalar_subquery())
    query = select(Stamp, latest)
    if flt.state in STAMP_STATES:
        query = query.where(Stamp.state == flt.state)
    if flt.technician_id:
        query = query.where(Stamp.assigned_to_id == flt.technician_id)
    if flt.series:
        query = query.where(Stamp.series == clean_series(flt.series))
    q = " ".join(flt.q.split()).upper()
    if q:
        query = query.where(Stamp.number.contains(q))
    query = query.order_by(Stamp.series, Stamp.serial_no).offset((max(page, 1) - 1) * page_size).limit(page_size + 1)
    rows = [(stamp, number) for stamp, number in session.execute(query)]
    return rows[:page_size], len(rows) > page_size


def state_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(Stamp.state, func.count()).group_by(Stamp.state)).all())
    return {state: counts.get(state, 0) for state in STAMP_STATES}


def holdings(session: Session) -> list[tuple[int, str, int]]:
    """``(user id, name, stamps held)`` for every technician holding stamps, most first."""
    from lims.auth.models import User

    rows = session.execute(select(User.id, User.full_name, func.count(Stamp.id))
                           .join(Stamp, Stamp.assigned_to_id == User.id).where(Stamp.state == "assigned")
                           .group_by(User.id, User.full_name).order_by(func.count(Stamp.id).desc()))
    return [tuple(row) for row in rows]


def batches(session: Session, *, limit: int = 50) -> list[StampBatch]:
    return list(session.scalars(select(StampBatch).order_by(StampBatch.id.desc()).limit(limit)))


def technicians(session: Session) -> list:
    """Active users with the technician role (who may hold stamps)."""
    from lims.auth.models import User, UserRole

    return list(session.scalars(select(User).join(UserRole).where(UserRole.role == "technician",
                                                                  User.is_active.is_(True))
                                .order_by(User.full_name)))
