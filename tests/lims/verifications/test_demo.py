"""The workflow demo: jobs and records in every state on top of the lab-resource demo, idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.jobs.models import Job
from lims.verifications import demo, services
from lims.verifications.models import Verification


def test_demo_needs_the_lab_resources(session):
    lines = demo.seed(session)
    assert len(lines) == 1 and lines[0].startswith("Workflow demo skipped: missing the demo login of role")
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_demo_creates_jobs_and_records_in_every_state_and_is_idempotent(session, client):
    from lims import demo as centre
    from lims.facilities import demo as facilities
    from lims.methods import demo as methods
    from lims.personnel import demo as personnel
    from lims.standards import demo as standards

    centre.seed(session, instrument_count=400)
    for module in (standards, methods, facilities, personnel):
        module.seed(session)
    session.commit()
    lines = demo.seed(session)
    session.commit()
    assert any(line.endswith("approved (passed)") for line in lines), lines
    assert any("submitted, waiting for review" in line for line in lines), lines
    states = sorted(session.scalars(select(Verification.state)))
    assert states == ["approved", "draft", "submitted"]
    approved = session.scalars(select(Verification).where(Verification.state == "approved")).one()
    assert [s.meaning for s in approved.signatures] == ["performed", "reviewed", "approved"]
    assert all(services.signature_matches(session, s) for s in approved.signatures)
    assert approved.conditions["source"] == "log" and approved.result["engine_version"]
    assert {link.standard.kind for link in approved.standards} == {"weight_set", "thermo_hygrometer"}
    jobs = session.scalar(select(func.count()).select_from(Job))
    assert jobs >= 4
    assert demo.seed(session) == []
    assert session.scalar(select(func.count()).select_from(Job)) == jobs

    # The pages show the demo as the demo technician sees it.
    username, password = next((u, p) for u, p, role in centre.LOGINS if role == "technician")
    assert client.post("/login", data={"username": username, "password": password}).status_code == 302
    board = client.get("/jobs/").get_data(as_text=True)
    assert 'data-testid="count-in_progress">2<' in board and 'data-testid="count-received">2<' in board
    page = client.get(f"/verifications/{approved.id}").get_data(as_text=True)
    assert page.count("✓ Khớp") == 3 and "ĐLVN 15:2009" in page
    for job_id in session.scalars(select(Job.id)):
        assert client.get(f"/jobs/{job_id}").status_code == 200
    for record_id in session.scalars(select(Verification.id)):
        assert client.get(f"/verifications/{record_id}/entry").status_code == 200
    assert client.get("/verifications/?queue=mine").status_code == 200
