"""A small laboratory for the certificate and public-check tests: people, a customer, instruments, approved records
with valid signatures, a seal key and stamps. Records are written with the models (as the workflow leaves them after
approval), so that these tests exercise issuance whatever path led to the approval."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import instruments
from lims.certificates import keys, samples, services, stamps

TEST_PASSWORD = "correct horse battery staple"
PERFORMED = dt.date(2026, 3, 4)
TODAY = dt.date(2026, 3, 5)
CENTRE_CONFIG = {
    "CENTRE_NAME": "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Gia Lai",
    "CENTRE_ADDRESS": "Số 1 đường Lê Lợi, phường Hội Thương, TP. Pleiku, tỉnh Gia Lai",
    "CENTRE_DESIGNATION": "Quyết định chỉ định số 1234/QĐ-TĐC",
    "CENTRE_ACCREDITATION": "VILAS 123 — ISO/IEC 17025:2017",
    "CENTRE_PLACE": "Pleiku",
}
TAXI_READINGS = {"mode": "installed", "distance": [{"reference_m": "1000", "indicated_m": "1010"}],
                 "time": [{"reference_s": "600", "indicated_s": "600.4"}]}
WEIGHT_SPEC = {"nominal": "10", "unit": "kg", "accuracy_class": "M1"}
WEIGHT_READINGS = {
    "reference": {"conventional_mass_g": "10000.005", "expanded_uncertainty_mg": "45", "k": "2", "drift_mg": "15"},
    "cycles": [{"ref1": "0.000", "test1": "0.010", "test2": "0.010", "ref2": "0.000"},
               {"ref1": "0.000", "test1": "0.030", "test2": "0.030", "ref2": "0.000"},
               {"ref1": "0.000", "test1": "0.020", "test2": "0.020", "ref2": "0.000"}],
    "balance": {"d_mg": "10"},
}
_serials = itertools.count(1)


def failing_scale_readings() -> dict:
    readings = dict(samples.SCALE_READINGS)
    readings["eccentricity"] = {"load": "10", "positions": [
        {"position": str(k), "indication": "10.02" if k == 3 else "10.00", "delta_l": "0.003"} for k in range(1, 6)]}
    return readings


@dataclasses.dataclass
class Lab:
    app: object
    session: object
    technician: object = None
    reviewer: object = None
    approver: object = None
    customer: object = None

    def __post_init__(self):
        from lims.auth import services as auth
        from lims.registry import services as registry

        s = self.session
        self.technician = auth.create_user(s, username="kdv", full_name="Trần Đức Thịnh", password=TEST_PASSWORD,
                                           roles=["technician"])
        self.reviewer = auth.create_user(s, username="soatxet", full_name="Nguyễn Thị Thu Hà",
                                         password=TEST_PASSWORD, roles=["reviewer"])
        self.approver = auth.create_user(s, username="giamdoc", full_name="Phạm Văn Hưng", password=TEST_PASSWORD,
                                         roles=["approver"])
        self.customer = registry.create_customer(s, name="Công ty TNHH Taxi Phố Núi", tax_code="5900123456",
                                                 address="12 Hùng Vương", district="TP. Pleiku", province="Gia Lai")
        s.commit()

    @property
    def settings(self) -> services.IssueSettings:
        return services.IssueSettings.from_config(self.app.config)

    def create_key(self):
        row = keys.create_key(self.session, self.app.config["SEAL_KEY_FILE"])
        self.session.commit()
        return row

    def stamps(self, first: int = 1, last: int = 20, *, series: str = "GL-26", technician=None):
        batch = stamps.receive_stamps(self.session, series=series, first_number=first, last_number=last,
                                      received_date=PERFORMED)
        stamps.assign_stamps(self.session, series=series, first_number=first, last_number=last,
                             technician_id=(technician or self.technician).id)
        self.session.commit()
        return batch

    def instrument(self, *, type_code: str = "nawi", serial: str | None = None, spec: dict | None = None):
        from lims.registry import services as registry

        spec = spec or {"nawi": samples.SCALE_SPEC, "weight": WEIGHT_SPEC,
                        "taximeter": {"k_imp_per_km": "1600", "vehicle_plate": "81A-123.45"}}[type_code]
        instrument = registry.register_instrument(
            self.session, customer_id=self.customer.id, type_code=type_code,
            serial=serial or f"SN-{next(_serials):05d}", manufacturer="CAS (Hàn Quốc)", model="SW-1S", spec=spec,
            year_made=2023, today=PERFORMED)
        self.session.commit()
        return instrument

    def verification(self, *, instrument=None, type_code: str = "nawi", failing: bool = False,
                     performed_date: dt.date = PERFORMED, kind: str = "periodic", state: str = "approved",
                     supersedes=None, amendment_reason: str = "", commit: bool = True):
        """A record as the workflow leaves it: readings, the engine's result, three signatures over its hash."""
        from lims.verifications.models import Signature, Verification
        from lims.verifications.services import record_sha256

        instrument = instrument or self.instrument(type_code=type_code)
        type_code = instrument.type_code
        readings = {"nawi": failing_scale_readings() if failing else samples.SCALE_READINGS,
                    "taximeter": TAXI_READINGS, "weight": WEIGHT_READINGS}[type_code]
        stage = "initial" if kind == "initial" else "in_service"
        kind_type = instruments.get(type_code)
        result = (kind_type.evaluate(instrument.spec, readings) if type_code == "weight"
                  else kind_type.evaluate(instrument.spec, readings, stage=stage)).to_dict()
        v = Verification(instrument_id=instrument.id, kind=kind, technician_id=self.technician.id,
                         performed_date=performed_date, place="Phòng thí nghiệm khối lượng (phòng 102)",
                         conditions={"temperature_c": "24.6", "humidity_pct": "61", "pressure_hpa": "1008",
                                     "source": "entered"},
                         spec=dict(instrument.spec), readings=readings, result=result, passed=result["passed"],
                         state=state, revision=supersedes.revision + 1 if supersedes else 1,
                         root_id=supersedes.root_id if supersedes else None,
                         supersedes_id=supersedes.id if supersedes else None, amendment_reason=amendment_reason)
        self.session.add(v)
        self.session.flush()
        if v.root_id is None:
            v.root_id = v.id
            self.session.flush()
        self.session.refresh(v)
        digest = record_sha256(v)
        signed = dt.datetime.combine(performed_date, dt.time(2, 0), tzinfo=dt.timezone.utc)
        if state in ("submitted", "reviewed", "approved"):
            for offset, meaning, user in ((0, "performed", self.technician), (1, "reviewed", self.reviewer),
                                          (2, "approved", self.approver)):
                if meaning == "reviewed" and state == "submitted" or meaning == "approved" and state != "approved":
                    continue
                self.session.add(Signature(verification_id=v.id, meaning=meaning, signer_id=user.id,
                                           signer_name=user.full_name, card_number=f"{user.id:04d}",
                                           signed_at=signed + dt.timedelta(hours=offset), record_sha256=digest))
        if supersedes is not None:
            supersedes.state = "superseded"
        self.session.flush()
        self.session.expire(v, ["signatures"])
        if commit:
            self.session.commit()
        return v

    def issue(self, verification, *, key: str | None = None, today: dt.date = TODAY):
        certificate = services.issue_for_verification(
            self.session, verification=verification, issued_by_id=self.approver.id,
            request_key=key or f"test:{verification.id}", today=today, settings=self.settings)
        self.session.commit()
        return certificate

    def ready(self, stamps_count: int = 20):
        """A key and stamps for the technician: what issuing needs."""
        self.create_key()
        self.stamps(1, stamps_count)
        return self

