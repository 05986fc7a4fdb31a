"""A small laboratory for the jobs and verification tests: staff with authorisations, a customer and a market
scale, a scale procedure in force, a weighing room with its condition log, and weight sets in calibration.

Dates are relative to the centre's today (the signing services judge authorisations on the day of signing): the work
is done two days ago, from 09:00 to 10:00, in a room logged every 30 minutes at 23 °C and 60 %RH.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from lims.dates import centre_today, from_local
from tests.conftest import TEST_PASSWORD

TODAY = centre_today()
WORK_DAY = TODAY - dt.timedelta(days=2)
#: Class III, Max 30 kg, e = d = 10 g (a market scale, DOMAIN.md §2).
SCALE_SPEC = {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"}
SCALE_LIMITS = {"temperature_c": {"min": "18", "max": "28"}, "humidity_pct": {"max": "85"}}
SCALE_TESTS = ["zero", "weighing", "eccentricity", "repeatability"]
VMI = {"laboratory_name": "Viện Đo lường Việt Nam (VMI)", "accreditation_number": "VILAS 002"}


@dataclass
class Lab:
    session: object
    technician: object
    reviewer: object
    approver: object
    customer: object
    scale: object
    procedure: object
    method: object
    room: object
    weights: object

    def refresh(self) -> None:
        """See what the app under test committed (a rollback alone is a no-op outside a transaction)."""
        self.session.rollback()
        self.session.expire_all()

    # -- builders ------------------------------------------------------------------------------------------------

    def user(self, username: str, *, roles=("technician",), authorise: dict | None = None,
             full_name: str | None = None):
        """A user with an authorisation for scales (``authorise``: overrides of ``grant_authorisation``)."""
        from lims.auth import services as auth
        from lims.personnel import services as personnel

        user = auth.create_user(self.session, username=username, full_name=full_name or f"Nguyễn Văn {username}",
                                password=TEST_PASSWORD, roles=list(roles))
        if authorise is not None:
            args = {"instrument_type": "nawi", "scope": "Cân không tự động cấp III đến 150 kg",
                    "card_number": f"KĐV {user.id:04d}", "valid_from": TODAY - dt.timedelta(days=400),
                    "valid_until": TODAY + dt.timedelta(days=400), "can_perform": True,
                    "granted_by_authority": "Tổng cục Tiêu chuẩn Đo lường Chất lượng"} | authorise
            if not args["can_perform"]:
                args["card_number"] = ""
            personnel.grant_authorisation(self.session, user_id=user.id, **args)
        self.session.commit()
        return user

    def standard(self, code: str, *, accuracy_class: str = "F2", due_date: dt.date | None = None,
                 calibration_date: dt.date | None = None, kind: str = "weight_set", range_=("1", "20000", "g"),
                 certificate_number: str | None = None):
        from lims.standards import services as standards

        standard = standards.create_standard(
            self.session, code=code, name=f"Bộ quả cân {accuracy_class} {code}", kind=kind,
            accuracy_class=accuracy_class, type_codes=["nawi", "weight"], range_min=range_[0],
            range_max=range_[1], range_unit=range_[2], calibration_interval_months=12)
        calibrated = calibration_date or WORK_DAY - dt.timedelta(days=100)
        standards.record_calibration(
            self.session, standard=standard, calibration_date=calibrated,
            due_date=due_date or calibrated + dt.timedelta(days=365), source="external",
            certificate_number=certificate_number or f"KL {code}/2026", traceable_to="Chuẩn quốc gia khối lượng",
            results=[{"nominal": "1", "unit": "kg", "correction": "0.3", "expanded_uncertainty": "0.5", "k": "2",
                      "result_unit": "mg"}], today=TODAY, **VMI)
        self.session.commit()
        return standard

    def instrument(self, serial: str, *, spec: dict | None = None, type_code: str = "nawi", customer=None):
        from lims.registry import services as registry

        instrument = registry.register_instrument(self.session, customer_id=(customer or self.customer).id,
                                                  type_code=type_code, manufacturer="CAS", model="SW-1S",
                                                  serial=serial, spec=spec or SCALE_SPEC, today=TODAY)
        self.session.commit()
        return instrument

    def job(self, *instruments, service: str = "periodic", received_date: dt.date | None = None):
        from lims.jobs import services as jobs

        job = jobs.receive_job(self.session, customer_id=self.customer.id,
                               received_date=received_date or WORK_DAY - dt.timedelta(days=1),
                               received_by_id=self.technician.id, due_date=TODAY + dt.timedelta(days=5),
                               assigned_to_id=self.technician.id, contact_name="Nguyễn Thị Hạnh",
                               items=[{"instrument_id": i.id, "service": service,
                                       "condition_on_receipt": "Nguyên vẹn, còn tem niêm phong"}
                                      for i in (instruments or (self.scale,))])
        self.session.commit()
        return job

    def draft(self, *, instrument=None, technician=None, standards=None, method=None, start="09:00",
              end="10:00", conditions_source: str = "log", values: dict | None = None, **details):
        """A draft record for a new job of ``instrument`` with its details set (and readings when ``values``)."""
        from lims.verifications import services

        job = self.job(instrument or self.scale)
        technician = technician or self.technician
        verification = services.create_verification(self.session, job_item=job.items[0],
                                                    technician_id=technician.id, performed_date=WORK_DAY)
        args = {"method_version_id": (method or self.method).id, "performed_date": WORK_DAY,
                "start_time": dt.time.fromisoformat(start) if start else None,
                "end_time": dt.time.fromisoformat(end) if end else None, "place": "Phòng kiểm định cân",
                "room_id": self.room.id, "standard_ids": [s.id for s in (standards or [self.weights])],
                "conditions_source": conditions_source} | details
        services.update_details(self.session, verification=verification, **args)
        if values is not None:
            services.record_readings(self.session, verification=verification, values=values)
        self.session.commit()
        return verification

    def good_values(self, verification, **changes) -> dict:
        """A full sheet whose every indication equals its load (errors 0: passes), then ``changes``."""
        from lims.verifications import services

        layout = services.layout(verification)
        values = {}
        for section in layout.sections:
            for header in section.header:
                values[header.name] = header.default
            for row in section.rows:
                load = row.defaults.get("load") or (section.header[0].default if section.header else "0")
                for column in section.columns:
                    name = section.name(row, column)
                    if column.key in row.defaults:
                        values[name] = row.defaults[column.key]
                    elif column.key.endswith("indication") or column.key == "indication":
                        values[name] = load if section.test != "zero" else "0"
        return values | changes

    def sign_ready(self, **kwargs):
        """A draft with good readings, ready to submit."""
        verification = self.draft(**kwargs)
        from lims.verifications import services

        services.record_readings(self.session, verification=verification, values=self.good_values(verification))
        self.session.commit()
        return verification


def build_lab(session) -> Lab:
    from lims.facilities import services as facilities
    from lims.methods import services as methods
    from lims.registry import services as registry

    session.info.update(actor_name="test")
    lab = Lab(session, *([None] * 9))
    lab.technician = lab.user("kdv", full_name="Trần Đức Thịnh", authorise={})
    lab.reviewer = lab.user("soatxet", roles=("reviewer",), full_name="Nguyễn Thị Thu Hà",
                            authorise={"can_review": True})
    lab.approver = lab.user("giamdoc", roles=("approver",), full_name="Phạm Văn Hưng",
                            authorise={"can_perform": False, "can_review": True, "can_approve": True})
    lab.customer = registry.create_customer(session, name="Hộ kinh doanh Rơ Châm H'Blơi", tax_code="5900123456",
                                            address="Ki-ốt 12, Chợ Trung tâm Pleiku", district="TP. Pleiku",
                                            province="Gia Lai", contact_name="Rơ Châm H'Blơi")
    lab.procedure = methods.create_procedure(session, number="ĐLVN 15", title="Cân đĩa – Quy trình kiểm định",
                                             issuer="Tổng cục Tiêu chuẩn Đo lường Chất lượng")
    lab.method = methods.issue_version(session, procedure_id=lab.procedure.id, version_label="2009",
                                       effective_date=dt.date(2009, 12, 30), kind="verification",
                                       instrument_types=["nawi"], environment_limits=SCALE_LIMITS,
                                       adequacy_divisor=3, required_tests=SCALE_TESTS)
    lab.room = facilities.create_room(session, code="P-CAN", name="Phòng kiểm định cân", building="Nhà A")
    at = from_local(dt.datetime.combine(WORK_DAY, dt.time(8, 0)))
    while at <= from_local(dt.datetime.combine(WORK_DAY, dt.time(12, 0))):
        facilities.record_reading(session, room_id=lab.room.id, taken_at=at, temperature_c="23.0",
                                  humidity_pct="60.0", pressure_hpa="1008.0")
        at += dt.timedelta(minutes=30)
    session.commit()
    lab.scale = lab.instrument("24A112233")
    lab.weights = lab.standard("QC-F2-T")
    return lab


@pytest.fixture
def lab(session) -> Lab:
    return build_lab(session)
