"""Demo jobs and verification records (``lims demo``): requests from a few demo customers, their items, fees, and
records in every state — a draft half typed, one waiting for review, and one market scale fully approved with the
readings a technician would take.

Needs the lab-resource demo data (``lims.standards.demo``, ``lims.methods.demo``, ``lims.facilities.demo``,
``lims.personnel.demo``) and the demo logins of ``lims.demo``: without them it says what is missing and adds nothing.
Goes through the services (so the audit trail records it, signatures included, with the demo passwords), never
commits, and is idempotent: jobs carry ``DEMO_NOTE`` and a second run finds them and adds nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.dates import centre_today
from lims.facilities.models import Room
from lims.jobs import services as jobs
from lims.jobs.models import Job
from lims.methods.models import MethodVersion, Procedure
from lims.registry.models import Customer, Instrument

from . import services

DEMO_NOTE = "Dữ liệu mẫu (lims demo)."
SCALE_PROCEDURE = "ĐLVN 15"
ROOM = "P-CAN"
#: A class III market scale, 30 kg × 10 g (the commonest instrument a provincial centre verifies).
SCALE = {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"}
#: Indication − load (kg) a worn but good market scale shows: a few e, within the MPE everywhere.
WEIGHING_OFFSETS = {"0.2": "0", "5": "0", "15": "0.01", "20": "0.01", "30": "0.01"}
ECCENTRICITY = ["0", "0.01", "0", "-0.01", "0.01"]
REPEATABILITY = {"15": ["0.01", "0.01", "0"], "30": ["0.01", "0.02", "0.01"]}


def _logins() -> dict[str, tuple[str, str]]:
    """role -> (username, password) of the demo logins."""
    from lims.demo import LOGINS

    return {role: (username, password) for username, password, role in LOGINS}


def _missing(session: Session, today: dt.date) -> list[str]:
    from lims.personnel import services as personnel
    from lims.standards.models import Standard

    missing = []
    users = {}
    for role, (username, _password) in _logins().items():
        users[role] = session.scalar(select(User).where(User.username == username))
    for role in ("technician", "reviewer", "approver"):
        if users[role] is None:
            missing.append(f"the demo login of role {role} (run lims.demo.seed)")
    if users["technician"] is not None and not personnel.may_perform(
            session, user_id=users["technician"].id, instrument_type="nawi", on=today).allowed:
        missing.append("an authorisation of the demo technician for scales (lims.personnel.demo)")
    if session.scalar(select(Procedure.id).where(Procedure.number == SCALE_PROCEDURE)) is None:
        missing.append(f"the procedure {SCALE_PROCEDURE} (lims.methods.demo)")
    if session.scalar(select(Room.id).where(Room.code == ROOM)) is None:
        missing.append(f"the room {ROOM} and its log (lims.facilities.demo)")
    if session.scalar(select(Standard.id).limit(1)) is None:
        missing.append("the standards register (lims.standards.demo)")
    return missing


def _market_scales(session: Session, count: int, *, exclude: set[int]) -> list[Instrument]:
    """Active class III 30 kg scales of market customers, grouped by owner (several per owner first)."""
    found: dict[int, list[Instrument]] = {}
    for instrument in session.scalars(select(Instrument).where(Instrument.type_code == "nawi",
                                                               Instrument.status == "active")
                                      .order_by(Instrument.id).limit(2000)):
        if instrument.id in exclude or {k: instrument.spec.get(k) for k in SCALE} != SCALE:
            continue
        found.setdefault(instrument.customer_id, []).append(instrument)
    owners = sorted(found.values(), key=lambda group: (-len(group), group[0].id))
    return [i for group in owners for i in group][:count]


def _values(verification, *, complete: bool = True) -> dict:
    """The sheet a technician fills for a 30 kg scale: indications = load + a realistic offset."""
    layout = services.layout(verification)
    values: dict[str, str] = {}
    for section in layout.sections:
        for header in section.header:
            values[header.name] = header.default
        for index, row in enumerate(section.rows):
            for column in section.columns:
                name = section.name(row, column)
                if column.key in row.defaults:
                    values[name] = row.defaults[column.key]
            if section.test == "zero":
                values["zero.indication"] = "0"
            elif section.test == "weighing":
                load = row.defaults["load"]
                if complete or index < 3:
                    values[f"{row.prefix}.indication"] = str(Decimal(load) + Decimal(WEIGHING_OFFSETS.get(load, "0")))
            elif not complete:
                continue
            elif section.test == "eccentricity":
                load = Decimal(section.header[0].default)
                values[f"{row.prefix}.indication"] = str(load + Decimal(ECCENTRICITY[index % len(ECCENTRICITY)]))
            elif section.test == "repeatability":
                load = row.defaults["load"]
                for j, offset in enumerate(REPEATABILITY.get(load, ["0", "0", "0"])):
                    values[f"{row.prefix}.readings[{j}].indication"] = str(Decimal(load) + Decimal(offset))
    return values


def seed(session: Session, *, today: dt.date | None = None) -> list[str]:
    """Add the demo jobs and records; returns one line per thing created (or why nothing was). Callers commit."""
    today = today or centre_today()
    if session.scalar(select(Job.id).where(Job.notes == DEMO_NOTE).limit(1)) is not None:
        return []
    missing = _missing(session, today)
    if missing:
        return ["Workflow demo skipped: missing " + "; ".join(missing) + "."]
    logins = _logins()
    people = {role: session.scalar(select(User).where(User.username == logins[role][0]))
              for role in ("technician", "reviewer", "approver", "reception")}
    technician = people["technician"]
    reception = people["reception"] or technician
    work_day = today - dt.timedelta(days=3)
    procedure = session.scalar(select(Procedure).where(Procedure.number == SCALE_PROCEDURE))
    method = services.method_choices(session, type_code="nawi", kind="periodic", on=work_day)
    method = next((v for v in method if v.procedure_id == procedure.id), None) or session.scalar(
        select(MethodVersion).where(MethodVersion.procedure_id == procedure.id))
    room = session.scalar(select(Room).where(Room.code == ROOM))
    scales = _market_scales(session, 4, exclude=set())
    if len(scales) < 4:
        return ["Workflow demo skipped: fewer than 4 class III 30 kg scales in the registry (run lims.demo.seed)."]
    lines = []

    def receive(instruments_, *, received: dt.date, location: str = "lab", site_address: str = "",
                fee: tuple[str, int] | None = None) -> Job:
        job = jobs.receive_job(session, customer_id=instruments_[0].customer_id, received_date=received,
                               received_by_id=reception.id, location=location, site_address=site_address,
                               due_date=received + dt.timedelta(days=jobs.DUE_DAYS),
                               assigned_to_id=technician.id, contact_name=instruments_[0].customer.contact_name,
                               notes=DEMO_NOTE,
                               items=[{"instrument_id": i.id, "service": jobs.default_service(i),
                                       "condition_on_receipt": "Nguyên vẹn, còn tem niêm phong, hiển thị bình "
                                                               "thường", "accessories": "Bộ đổi nguồn"}
                                      for i in instruments_])
        if fee:
            jobs.add_fee(session, job=job, description=fee[0], quantity=len(instruments_), unit_price_vnd=fee[1])
        lines.append(f"Job {job.number}: {job.customer.name}, {len(job.items)} item(s)")
        return job

    first_owner = [s for s in scales if s.customer_id == scales[0].customer_id][:2]
    others = [s for s in scales if s not in first_owner]
    job = receive(first_owner, received=work_day - dt.timedelta(days=1),
                  fee=("Phí kiểm định cân đồng hồ, cân điện tử đến 30 kg", 150000))
    offered = services.offered_standards(session, instrument=first_owner[0], spec=first_owner[0].spec, on=work_day,
                                         method=method)
    # The working F2 set (a market scale is verified with F2 or M1 weights, not the E2 reference set), and the
    # thermo-hygrometer of the mass laboratory.
    measuring = sorted((s.standard for s in offered if s.standard.kind in services.MEASURING_KINDS["nawi"]),
                       key=lambda standard: (standard.accuracy_class not in ("F2", "M1"), standard.code_key))
    auxiliary = [s.standard for s in offered if s.standard.kind == "thermo_hygrometer"]
    weights = [standard.id for standard in measuring[:1] + auxiliary[:1]]
    details = {"method_version_id": method.id, "performed_date": work_day, "place": room.name, "room_id": room.id,
               "standard_ids": weights, "conditions_source": "log"}

    def record(item, start: str, end: str):
        verification = services.create_verification(session, job_item=item, technician_id=technician.id,
                                                    performed_date=work_day)
        services.update_details(session, verification=verification, start_time=dt.time.fromisoformat(start),
                                end_time=dt.time.fromisoformat(end), **details)
        return verification

    approved = record(job.items[0], "08:30", "09:30")
    services.record_readings(session, verification=approved, values=_values(approved))
    try:
        services.submit(session, verification=approved, user_id=technician.id, password=logins["technician"][1])
        services.review(session, verification=approved, reviewer_id=people["reviewer"].id,
                        password=logins["reviewer"][1], on=today)
        services.approve(session, verification=approved, approver_id=people["approver"].id,
                         password=logins["approver"][1], on=today)
        lines.append(f"Record #{approved.root_id}: {approved.instrument.serial} approved "
                     f"({'passed' if approved.passed else 'failed'})")
    except services.SubmissionRefusedError as exc:
        lines.append(f"Record #{approved.root_id}: left as a draft — " + " ".join(exc.reasons))
    except services.SignatureRefusedError as exc:
        lines.append(f"Record #{approved.root_id}: not signed ({exc}); were the demo passwords changed?")

    draft = record(job.items[1], "09:40", "10:30")
    services.record_readings(session, verification=draft, values=_values(draft, complete=False))
    lines.append(f"Record #{draft.root_id}: {draft.instrument.serial} draft, readings half typed")

    second = receive([others[0]], received=work_day - dt.timedelta(days=1),
                     fee=("Phí kiểm định cân đồng hồ, cân điện tử đến 30 kg", 150000))
    submitted = record(second.items[0], "13:30", "14:20")
    services.record_readings(session, verification=submitted, values=_values(submitted))
    try:
        services.submit(session, verification=submitted, user_id=technician.id, password=logins["technician"][1])
        lines.append(f"Record #{submitted.root_id}: {submitted.instrument.serial} submitted, waiting for review")
    except services.VerificationError as exc:
        lines.append(f"Record #{submitted.root_id}: left as a draft — {exc}")

    market = others[1].customer
    receive([others[1]], received=today, location="on_site",
            site_address=", ".join(p for p in (market.address, market.commune, market.district) if p))
    meters = list(session.scalars(select(Instrument).join(Customer).where(
        Instrument.type_code == "energy_meter", Instrument.status == "active").order_by(Instrument.id).limit(3)))
    if meters:
        same_owner = [m for m in meters if m.customer_id == meters[0].customer_id]
        receive(same_owner, received=today, fee=("Phí kiểm định công tơ điện 1 pha", 30000))
    return lines
