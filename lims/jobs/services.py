"""Jobs: a customer's request, the items received (ISO/IEC 17025 7.4), fees, assignment and the job board.

Services take the session and keyword arguments, raise ``JobError`` (``field`` names the argument at fault) with a
sentence a receptionist understands, flush, and leave the commit to their caller.

Numbers: ``next_number(session, series=…, year=…)`` hands out the next number of a series and year from
``number_counters`` under a row lock held until the caller's transaction ends (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite the writer session already holds the database's write lock from ``BEGIN IMMEDIATE``). A
transaction that rolls back gives its number back, so numbers are gapless and consecutive. Job numbers are
``YC-<year>-<00001>``; the certificates use the same counter table with their own series.

States: ``received`` → ``in_progress`` (the first verification record of an item is opened) → ``completed`` (every
item's latest record approved) → ``delivered`` (items and
certificates handed back); ``cancelled`` from ``received`` or ``in_progress`` with a reason.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.auth.models import User, UserRole
from lims.exceptions import FieldError
from lims.registry import services as registry
from lims.registry.models import Customer, Instrument
from lims.text import fold

from .models import JOB_STATES, LOCATIONS, SERVICES, FeeLine, Job, JobItem, NumberCounter

JOB_SERIES = "YC"

STATE_LABELS = {
    "received": _l("Đã tiếp nhận"),
    "in_progress": _l("Đang thực hiện"),
    "completed": _l("Đã hoàn thành"),
    "delivered": _l("Đã trả khách hàng"),
    "cancelled": _l("Đã huỷ"),
}
LOCATION_LABELS = {"lab": _l("Tại phòng thí nghiệm"), "on_site": _l("Tại hiện trường")}
SERVICE_LABELS = {
    "initial": _l("Kiểm định ban đầu"),
    "periodic": _l("Kiểm định định kỳ"),
    "after_repair": _l("Kiểm định sau sửa chữa"),
    "extraordinary": _l("Kiểm định bất thường"),
    "calibration": _l("Hiệu chuẩn"),
}
#: Manual state changes a person may make (the others follow the verification records).
TRANSITIONS = {
    "received": ("in_progress", "cancelled"),
    "in_progress": ("completed", "cancelled"),
    "completed": ("delivered",),
    "delivered": (),
    "cancelled": (),
}
#: Roles whose members may be assigned a job.
ASSIGNABLE_ROLES = ("technician",)

# Lengths mirror the columns in models.py (PostgreSQL enforces them; SQLite would not, so the service does).
LENGTHS = {"site_address": 300, "contact_name": 120, "notes": 4000, "condition_on_receipt": 2000,
           "accessories": 300, "description": 200}
MAX_ITEMS = 500
MAX_PRICE = Decimal("99999999999999")
DUE_DAYS = 10


class JobError(FieldError):
    """A job or one of its items was refused; ``field`` names the argument at fault."""


# --- numbers --------------------------------------------------------------------------------------------------------

def next_number(session: Session, *, series: str, year: int) -> int:
    """The next number of ``series`` in ``year`` (1, 2, 3 …), taken under a lock held until the caller commits.

    The row is created on first use (``INSERT … ON CONFLICT DO NOTHING``, so two first users do not collide), then
    locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writer session holds the database's write lock already)
    and incremented. Callers commit; a rollback gives the number back, so numbers stay gapless.
    """
    table = NumberCounter.__table__
    dialect = session.get_bind().dialect.name
    values = {"series": series, "year": int(year), "last": 0}
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())
    elif session.execute(select(table.c.last).where(table.c.series == series, table.c.year == year)).first() is None:
        session.execute(table.insert().values(**values))
    query = select(table.c.last).where(table.c.series == series, table.c.year == int(year))
    if dialect != "sqlite":
        query = query.with_for_update()
    last = session.execute(query).scalar_one()
    session.execute(table.update().where(table.c.series == series, table.c.year == int(year))
                    .values(last=last + 1))
    return last + 1


def format_job_number(year: int, number: int) -> str:
    """>>> format_job_number(2026, 17)
    'YC-2026-00017'
    """
    return f"{JOB_SERIES}-{year}-{number:05d}"


# --- field rules ----------------------------------------------------------------------------------------------------

def clean_text(value: Any, field: str, *, label: str, max_length: int | None = None, required: bool = False,
               multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = text.strip() if multiline else " ".join(text.split())
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise JobError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label))
    if required and not text:
        raise JobError(field, _("%(label)s không được để trống.", label=label))
    limit = max_length or LENGTHS[field]
    if len(text) > limit:
        raise JobError(field, _("%(label)s dài quá %(n)d ký tự.", label=label, n=limit))
    return text


def clean_service(value: Any) -> str:
    service = str(value or "").strip()
    if service not in SERVICES:
        raise JobError("service", _("Hãy chọn loại dịch vụ: kiểm định ban đầu, định kỳ, sau sửa chữa, bất thường "
                                    "hoặc hiệu chuẩn."))
    return service


def clean_price(value: Any) -> Decimal:
    """A price in đồng: a whole, non-negative number; "1.200.000", "1 200 000" and "1200000" are the same.

    >>> clean_price("1.200.000")
    Decimal('1200000')
    """
    if isinstance(value, Decimal):
        number = value
    else:
        text = "".join(str(value or "").split()).replace(".", "").replace(",", "").removesuffix("đ")
        if not text:
            raise JobError("unit_price_vnd", _("Hãy nhập đơn giá (đồng)."))
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise JobError("unit_price_vnd", _("Đơn giá phải là số đồng, ví dụ 150000.")) from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0 or number > MAX_PRICE:
        raise JobError("unit_price_vnd", _("Đơn giá phải là số đồng nguyên, không âm."))
    return number.quantize(Decimal(1))


def _require_user(session: Session, user_id: Any, field: str) -> User | None:
    if user_id in (None, ""):
        return None
    try:
        user = session.get(User, int(user_id))
    except (TypeError, ValueError):
        user = None
    if user is None or not user.is_active:
        raise JobError(field, _("Người dùng được chọn không tồn tại hoặc đã ngừng hoạt động."))
    return user


def _require_instrument(session: Session, instrument_id: Any, customer_id: int) -> Instrument:
    try:
        instrument = session.get(Instrument, int(instrument_id))
    except (TypeError, ValueError):
        instrument = None
    if instrument is None:
        raise JobError("instrument_id", _("Không tìm thấy phương tiện đo số %(id)s.", id=instrument_id))
    if instrument.customer_id != customer_id:
        raise JobError("instrument_id", _("Phương tiện đo %(serial)s không thuộc khách hàng của yêu cầu này.",
                                          serial=instrument.serial))
    if instrument.status == "retired":
        raise JobError("instrument_id", _("Phương tiện đo %(serial)s đã ngừng sử dụng; không tiếp nhận được.",
                                          serial=instrument.serial))
    return instrument


def _check_dates(received_date: Any, due_date: Any) -> None:
    if not isinstance(received_date, dt.date):
        raise JobError("received_date", _("Hãy nhập ngày tiếp nhận (dd/mm/yyyy)."))
    if due_date is not None and due_date < received_date:
        raise JobError("due_date", _("Ngày hẹn trả phải từ ngày tiếp nhận trở đi."))


# --- receipt ------------------------------------------------------------------------------------------------------

def receive_job(session: Session, *, customer_id: Any, received_date: dt.date, received_by_id: int | None,
                location: str = "lab", site_address: Any = "", due_date: dt.date | None = None,
                assigned_to_id: Any = None, contact_name: Any = "", notes: Any = "",
                items: Sequence[Mapping[str, Any]] = (), fees: Sequence[Mapping[str, Any]] = ()) -> Job:
    """Open a job for a customer's request with the items received, numbered ``YC-<year>-<n>``. Callers commit.

    ``items``: mappings of ``instrument_id``, ``service``, ``condition_on_receipt``, ``accessories``;
    ``fees``: mappings of ``description``, ``quantity``, ``unit_price_vnd`` and optionally ``item_index`` (the
    position in ``items`` the line is for).
    """
    try:
        customer = session.get(Customer, int(customer_id)) if customer_id not in (None, "") else None
    except (TypeError, ValueError):
        customer = None
    if customer is None:
        raise JobError("customer_id", _("Hãy chọn khách hàng gửi yêu cầu."))
    _check_dates(received_date, due_date)
    if location not in LOCATIONS:
        raise JobError("location", _("Nơi thực hiện phải là tại phòng thí nghiệm hoặc tại hiện trường."))
    address = clean_text(site_address, "site_address", label=_("Địa chỉ hiện trường"))
    if location == "on_site" and not address:
        raise JobError("site_address", _("Công việc tại hiện trường cần địa chỉ nơi thực hiện."))
    assignee = _require_user(session, assigned_to_id, "assigned_to_id")
    _require_user(session, received_by_id, "received_by_id")
    if not items:
        raise JobError("items", _("Hãy chọn ít nhất một phương tiện đo được tiếp nhận."))
    if len(items) > MAX_ITEMS:
        raise JobError("items", _("Một yêu cầu nhận tối đa %(n)d phương tiện đo; hãy tách thành nhiều yêu cầu.",
                                  n=MAX_ITEMS))
    seen: set[int] = set()
    for item in items:
        instrument_id = int(item.get("instrument_id") or 0)
        if instrument_id in seen:
            raise JobError("items", _("Một phương tiện đo được chọn hai lần."))
        seen.add(instrument_id)
    year = received_date.year
    job = Job(number=format_job_number(year, next_number(session, series=JOB_SERIES, year=year)),
              customer_id=customer.id, received_date=received_date, received_by_id=received_by_id,
              location=location, site_address=address if location == "on_site" else "", due_date=due_date,
              state="received", assigned_to_id=assignee.id if assignee else None,
              contact_name=clean_text(contact_name, "contact_name", label=_("Người giao")),
              notes=clean_text(notes, "notes", label=_("Ghi chú"), multiline=True))
    session.add(job)
    session.flush()
    added = [add_item(session, job=job, **item) for item in items]
    for fee in fees:
        fee = dict(fee)
        index = fee.pop("item_index", None)
        add_fee(session, job=job, job_item_id=added[index].id if index is not None else None, **fee)
    return job


def add_item(session: Session, *, job: Job, instrument_id: Any, service: Any, condition_on_receipt: Any = "",
             accessories: Any = "") -> JobItem:
    """Record one more instrument received under ``job``. Callers commit."""
    _check_open(job)
    instrument = _require_instrument(session, instrument_id, job.customer_id)
    if any(item.instrument_id == instrument.id for item in job.items):
        raise JobError("instrument_id", _("Phương tiện đo %(serial)s đã có trong yêu cầu này.",
                                          serial=instrument.serial))
    service = clean_service(service)
    if service == "calibration" and instrument.type_code != "weight":
        # The engine calibrates weights (R 111); other types are verified (DOMAIN.md §1).
        raise JobError("service", _("%(type)s được kiểm định, không hiệu chuẩn ở trung tâm.",
                                    type=instruments.get(instrument.type_code).name_vi))
    item = JobItem(job=job, position=max((i.position for i in job.items), default=0) + 1,
                   instrument_id=instrument.id, service=service,
                   condition_on_receipt=clean_text(condition_on_receipt, "condition_on_receipt",
                                                   label=_("Tình trạng khi nhận"), multiline=True),
                   accessories=clean_text(accessories, "accessories", label=_("Phụ kiện kèm theo")))
    session.add(item)
    session.flush()
    return item


def register_and_add_item(session: Session, *, job: Job, service: Any, condition_on_receipt: Any = "",
                          accessories: Any = "", today: dt.date | None = None, **instrument_fields) -> JobItem:
    """Register an instrument of the job's customer on the spot (``registry.register_instrument``; its
    ``RegistryError`` passes through) and record it as received. Callers commit."""
    _check_open(job)
    service = clean_service(service)
    instrument_fields.pop("customer_id", None)
    instrument = registry.register_instrument(session, customer_id=job.customer_id, today=today,
                                              **instrument_fields)
    return add_item(session, job=job, instrument_id=instrument.id, service=service,
                    condition_on_receipt=condition_on_receipt, accessories=accessories)


def remove_item(session: Session, *, job: Job, item: JobItem, reason: Any) -> None:
    """Take an item off a job (received by mistake) while no record was opened for it. Callers commit."""
    from lims.verifications.models import Verification

    _check_open(job)
    why = clean_text(reason, "reason", label=_("Lý do"), max_length=500, required=True)
    if session.scalar(select(Verification.id).where(Verification.job_item_id == item.id).limit(1)):
        raise JobError("item", _("Đã có biên bản cho phương tiện đo này; không bỏ khỏi yêu cầu được."))
    with audit.reason(session, why):
        for fee in [f for f in job.fees if f.job_item_id == item.id]:
            job.fees.remove(fee)
        job.items.remove(item)
        session.flush()


def add_fee(session: Session, *, job: Job, description: Any, unit_price_vnd: Any, quantity: Any = 1,
            job_item_id: Any = None) -> FeeLine:
    """Add a line to the job's fees (in đồng). Callers commit."""
    if job.state in ("delivered", "cancelled"):
        raise JobError("description", _("Yêu cầu %(number)s đã %(state)s; không sửa phí được.", number=job.number,
                                        state=str(STATE_LABELS[job.state]).lower()))
    text = clean_text(description, "description", label=_("Nội dung"), required=True)
    try:
        count = int(str(quantity).strip())
    except (TypeError, ValueError):
        raise JobError("quantity", _("Số lượng phải là số nguyên dương.")) from None
    if not 1 <= count <= 100000:
        raise JobError("quantity", _("Số lượng phải là số nguyên dương."))
    item_id = None
    if job_item_id not in (None, ""):
        item_id = int(job_item_id)
        if item_id not in {item.id for item in job.items}:
            raise JobError("job_item_id", _("Phương tiện đo được chọn không thuộc yêu cầu này."))
    line = FeeLine(job=job, description=text, quantity=count, unit_price_vnd=clean_price(unit_price_vnd),
                   job_item_id=item_id)
    session.add(line)
    session.flush()
    return line


def remove_fee(session: Session, *, job: Job, fee_id: int) -> None:
    """Remove a fee line. Callers commit."""
    line = next((f for f in job.fees if f.id == fee_id), None)
    if line is None:
        raise JobError("fee", _("Không tìm thấy dòng phí này."))
    if job.state in ("delivered", "cancelled"):
        raise JobError("fee", _("Yêu cầu %(number)s đã %(state)s; không sửa phí được.", number=job.number,
                                state=str(STATE_LABELS[job.state]).lower()))
    job.fees.remove(line)
    session.flush()


def total_vnd(job: Job) -> Decimal:
    return sum((line.unit_price_vnd * line.quantity for line in job.fees), Decimal(0))


def format_vnd(amount: Decimal | int) -> str:
    """Đồng with dots between thousands, as Vietnamese invoices print them.

    >>> format_vnd(Decimal("1250000"))
    '1.250.000'
    """
    return f"{int(amount):,}".replace(",", ".")


def assign_job(session: Session, *, job: Job, assigned_to_id: Any) -> Job:
    """Give the job to a technician (or to nobody). Callers commit."""
    _check_open(job)
    user = _require_user(session, assigned_to_id, "assigned_to_id")
    if user is not None and not set(ASSIGNABLE_ROLES) & user.role_codes:
        raise JobError("assigned_to_id", _("%(name)s không phải kiểm định viên.", name=user.full_name))
    job.assigned_to_id = user.id if user else None
    session.flush()
    return job


def update_job(session: Session, *, job: Job, due_date: dt.date | None, contact_name: Any = "", notes: Any = "",
               location: str | None = None, site_address: Any = None) -> Job:
    """Change the due date, contact, notes or place of an open job. Callers commit."""
    _check_open(job)
    _check_dates(job.received_date, due_date)
    job.due_date = due_date
    job.contact_name = clean_text(contact_name, "contact_name", label=_("Người giao"))
    job.notes = clean_text(notes, "notes", label=_("Ghi chú"), multiline=True)
    if location is not None:
        if location not in LOCATIONS:
            raise JobError("location", _("Nơi thực hiện phải là tại phòng thí nghiệm hoặc tại hiện trường."))
        address = clean_text(site_address, "site_address", label=_("Địa chỉ hiện trường"))
        if location == "on_site" and not address:
            raise JobError("site_address", _("Công việc tại hiện trường cần địa chỉ nơi thực hiện."))
        job.location, job.site_address = location, address if location == "on_site" else ""
    session.flush()
    return job


def _check_open(job: Job) -> None:
    if job.state not in ("received", "in_progress"):
        raise JobError("state", _("Yêu cầu %(number)s đã %(state)s; không sửa được.", number=job.number,
                                  state=str(STATE_LABELS[job.state]).lower()))


def change_state(session: Session, *, job: Job, state: str, reason: Any = "") -> Job:
    """Move a job to ``state`` by hand (see ``TRANSITIONS``); cancelling needs a reason. Callers commit."""
    if state not in JOB_STATES:
        raise JobError("state", _("Trạng thái không hợp lệ: %(value)s.", value=state))
    if state not in TRANSITIONS[job.state]:
        raise JobError("state", _("Không chuyển được yêu cầu %(number)s từ “%(old)s” sang “%(new)s”.",
                                  number=job.number, old=STATE_LABELS[job.state], new=STATE_LABELS[state]))
    why = clean_text(reason, "reason", label=_("Lý do"), max_length=500, required=state == "cancelled")
    if state == "completed":
        pending = [p for p in item_progress(session, job) if not p.done]
        if pending:
            raise JobError("state", _("Còn %(n)d phương tiện đo chưa có biên bản được phê duyệt.", n=len(pending)))
    if state == "cancelled":
        from lims.verifications.models import Verification

        signed = session.scalar(select(func.count()).select_from(Verification).join(JobItem).where(
            JobItem.job_id == job.id, Verification.state.in_(("submitted", "reviewed", "approved"))))
        if signed:
            raise JobError("state", _("Yêu cầu %(number)s đã có biên bản được ký; không huỷ được.",
                                      number=job.number))
    with audit.reason(session, why or None):
        job.state = state
        session.flush()
    return job


def follow_verifications(session: Session, *, job: Job) -> Job:
    """Move the job along with its items' records: ``received`` → ``in_progress`` when one is opened,
    ``in_progress`` → ``completed`` when every item is done. Called by the verification services. Callers commit."""
    if job.state == "received" and any(p.verification is not None for p in item_progress(session, job)):
        job.state = "in_progress"
    if job.state == "in_progress" and all(p.done for p in item_progress(session, job)):
        job.state = "completed"
    session.flush()
    return job


# --- reading ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemProgress:
    """One item of a job and the latest revision of its record (or ``None``)."""

    item: JobItem
    verification: Any  # lims.verifications.models.Verification | None

    @property
    def state(self) -> str:
        return self.verification.state if self.verification is not None else "none"

    @property
    def done(self) -> bool:
        return self.verification is not None and self.verification.state == "approved"


def item_progress(session: Session, job: Job) -> list[ItemProgress]:
    """Each item of ``job`` with the latest revision of its record, in receipt order (one query)."""
    return progress_by_job(session, [job])[job.id]


def progress_by_job(session: Session, jobs: Sequence[Job]) -> dict[int, list[ItemProgress]]:
    """``item_progress`` of several jobs in one query (the board)."""
    from lims.verifications.models import Verification

    ids = [item.id for job in jobs for item in job.items]
    latest: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        rows = session.scalars(select(Verification).where(Verification.job_item_id.in_(ids[start:start + 500]))
                               .order_by(Verification.job_item_id, Verification.id))
        for record in rows:
            current = latest.get(record.job_item_id)
            # The newest revision of the newest record; a cancelled draft does not hide an earlier live record.
            if current is None or record.state != "cancelled" or current.state == "cancelled":
                latest[record.job_item_id] = record
    return {job.id: [ItemProgress(item, latest.get(item.id)) for item in job.items] for job in jobs}


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def get_item(session: Session, job_item_id: int) -> JobItem | None:
    return session.get(JobItem, job_item_id)


@dataclass(frozen=True)
class JobFilter:
    q: str = ""
    state: str = ""
    assigned_to_id: int | None = None
    overdue: bool = False


def list_jobs(session: Session, flt: JobFilter = JobFilter(), *, today: dt.date, limit: int = 200) -> list[Job]:
    """Jobs for the board, the most urgent first (due date, then number); ``q`` matches the number or customer."""
    query = select(Job).join(Job.customer)
    if flt.state:
        query = query.where(Job.state == flt.state)
    if flt.assigned_to_id:
        query = query.where(Job.assigned_to_id == flt.assigned_to_id)
    if flt.overdue:
        query = query.where(Job.due_date < today, Job.state.in_(("received", "in_progress")))
    if q := flt.q.strip():
        key = fold(q)
        query = query.where(Job.number.contains(q.upper(), autoescape=True)
                            | Customer.name_key.contains(key, autoescape=True)
                            | (Customer.tax_code == q.replace(" ", "")))
    query = query.order_by(Job.due_date.is_(None), Job.due_date, Job.id.desc()).limit(limit)
    return list(session.scalars(query).unique())


def state_counts(session: Session) -> dict[str, int]:
    """How many jobs are in each state (every state listed, zero included)."""
    counts = dict.fromkeys(JOB_STATES, 0)
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[state] = count
    return counts


def assignable_users(session: Session) -> list[User]:
    """Active technicians, by name: who a job may be given to."""
    return list(session.scalars(select(User).join(UserRole).where(UserRole.role.in_(ASSIGNABLE_ROLES),
                                                                  User.is_active.is_(True))
                                .order_by(User.full_name).distinct()))


def customer_instruments(session: Session, *, customer_id: int, limit: int = 500) -> list[Instrument]:
    """A customer's instruments that can be received (not retired), by type and serial."""
    return list(session.scalars(select(Instrument).where(Instrument.customer_id == customer_id,
                                                         Instrument.status != "retired")
                                .order_by(Instrument.type_code, Instrument.serial_key).limit(limit)))


def default_service(instrument: Instrument) -> str:
    """What is usually asked for an instrument: periodic verification once verified, else initial (weights:
    calibration)."""
    if instrument.type_code == "weight":
        return "calibration"
    return "periodic" if instrument.last_verified_date else "initial"


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all())
