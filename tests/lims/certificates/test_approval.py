"""Approval issues the certificate in the same transaction (the approve page of lims.verifications), through the
whole workflow: a job received, a record with readings, submitted, reviewed, approved — then the public check."""

import urllib.parse

import pytest
from sqlalchemy import select

from lims.certificates import keys, stamps
from lims.certificates.models import Certificate
from lims.verifications import services as workflow
from lims.verifications.models import Verification
from tests.conftest import TEST_PASSWORD
from tests.lims.workflow_fixtures import build_lab


@pytest.fixture
def workflow_lab(session):
    return build_lab(session)


def _reviewed(lab):
    verification = lab.sign_ready()
    workflow.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    workflow.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id, password=TEST_PASSWORD)
    lab.session.commit()
    return verification


def _login(client, user):
    client.post("/logout")
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302


def test_approving_on_the_page_issues_the_certificate_and_the_seal_opens_the_public_page(client, app,
                                                                                         workflow_lab):
    lab = workflow_lab
    keys.create_key(lab.session, app.config["SEAL_KEY_FILE"])
    stamps.receive_stamps(lab.session, series="GL-26", first_number=1, last_number=5)
    stamps.assign_stamps(lab.session, series="GL-26", first_number=1, last_number=5, technician_id=lab.technician.id)
    lab.session.commit()
    verification = _reviewed(lab)
    _login(client, lab.approver)
    page = client.post(f"/verifications/{verification.id}/approve", data={"password": TEST_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "Đã ký: Người phê duyệt." in page and "Đã cấp Giấy chứng nhận kiểm định số KĐ-" in page
    lab.refresh()
    certificate = lab.session.scalars(select(Certificate)).one()
    assert certificate.verification_id == verification.id and certificate.stamp.number == "GL-26 0000001"
    document = certificate.record["document"]
    assert document["method"] == {"number": "ĐLVN 15:2009", "title": "Cân đĩa – Quy trình kiểm định"}
    assert document["receipt_date"] is not None and document["place_of_work"] == "Phòng kiểm định cân"
    assert document["standards"][0]["identification"] == "QC-F2-T"
    assert "Viện Đo lường Việt Nam (VMI)" in document["traceability"]
    assert [s["role"] for s in document["signatures"]] == ["performed", "reviewed", "approved"]
    assert document["signatures"][0]["title"].startswith("Kiểm định viên, thẻ số KĐV")
    check = client.get(urllib.parse.urlsplit(certificate.seal_url).path, headers={"Accept": "application/json"})
    assert check.get_json()["status"] == "valid"
    # Approving again is refused by the workflow; nothing is issued twice.
    client.post(f"/verifications/{verification.id}/approve", data={"password": TEST_PASSWORD})
    lab.refresh()
    assert len(lab.session.scalars(select(Certificate)).all()) == 1


def test_an_approval_without_a_stamp_stands_and_the_record_waits_for_its_certificate(client, app, workflow_lab):
    lab = workflow_lab
    keys.create_key(lab.session, app.config["SEAL_KEY_FILE"])
    lab.session.commit()
    verification = _reviewed(lab)
    _login(client, lab.approver)
    page = client.post(f"/verifications/{verification.id}/approve", data={"password": TEST_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "Đã ký: Người phê duyệt." in page and "Chưa cấp được giấy chứng nhận" in page
    assert "không còn tem kiểm định nào được giao" in page
    lab.refresh()
    assert lab.session.get(Verification, verification.id).state == "approved"
    assert lab.session.scalars(select(Certificate)).all() == []
    assert f"/certificates/issue/{verification.id}" in client.get("/certificates/").get_data(as_text=True)
    stamps.receive_stamps(lab.session, series="GL-26", first_number=1, last_number=5)
    stamps.assign_stamps(lab.session, series="GL-26", first_number=1, last_number=5, technician_id=lab.technician.id)
    lab.session.commit()
    response = client.post(f"/certificates/issue/{verification.id}", follow_redirects=True)
    assert "Đã cấp Giấy chứng nhận kiểm định số KĐ-" in response.get_data(as_text=True)
