"""The certificates' demo data: idempotent, and every approved demo record gets its certificate."""

from sqlalchemy import func, select

from lims.certificates import demo
from lims.certificates.models import Certificate, SealKey, Stamp


def test_demo_seed_gives_a_key_stamps_and_the_certificates_of_approved_records(lab):
    session = lab.session
    approved = lab.verification()
    lab.verification(state="reviewed")
    # The demo technician is "kdv" (lims.demo.LOGINS), which the lab already has: its stamps go there.
    lines = demo.seed(session, settings=lab.settings)
    session.commit()
    assert any("Seal key" in line for line in lines)
    assert session.scalar(select(func.count()).select_from(Stamp)) == demo.LAST
    held = session.scalar(select(func.count()).select_from(Stamp).where(Stamp.assigned_to_id == lab.technician.id,
                                                                        Stamp.state == "assigned"))
    assert held == demo.ASSIGNED_LAST - 1  # one went on the approved record's certificate
    certificate = session.scalars(select(Certificate)).one()
    assert certificate.verification_id == approved.id and certificate.stamp.number == "GL-26 0000001"

    again = demo.seed(session, settings=lab.settings)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Stamp)) == demo.LAST
    assert session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert session.scalar(select(func.count()).select_from(SealKey)) == 1
    assert not any("issued" in line for line in again)
