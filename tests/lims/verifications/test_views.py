"""Verification records through the pages: creation from a job item, the live evaluate endpoint (figures for a
scale, the bad field named), saving the sheet, signing with the password, the record page, the queues."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.verifications.models import Verification
from tests.conftest import TEST_PASSWORD
from tests.lims.workflow_fixtures import WORK_DAY


def _login(auth, user):
    auth.created.add(user.username)
    auth.logout()
    auth.login(username=user.username, password=TEST_PASSWORD)


def test_open_a_record_from_a_job_item(client, auth, lab):
    job = lab.job()
    _login(auth, lab.technician)
    page = client.get(f"/verifications/new?job_item_id={job.items[0].id}").get_data(as_text=True)
    assert "ĐLVN 15:2009 — Cân đĩa – Quy trình kiểm định" in page
    assert "QC-F2-T — Bộ quả cân F2 QC-F2-T (GCN KL QC-F2-T/2026, hiệu lực đến" in page
    response = client.post(f"/verifications/new?job_item_id={job.items[0].id}", data={
        "kind": "periodic", "method_version_id": str(lab.method.id), "technician_id": str(lab.technician.id),
        "performed_date": WORK_DAY.strftime("%d/%m/%Y"), "start_time": "09:00", "end_time": "10:00",
        "place": "Phòng kiểm định cân", "room_id": str(lab.room.id), "standard_ids": [str(lab.weights.id)],
        "conditions_source": "log"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    lab.refresh()
    verification = lab.session.scalars(select(Verification)).one()
    assert response.headers["Location"] == f"/verifications/{verification.id}/entry"
    assert (verification.kind, verification.method_version_id, verification.conditions["temperature_c"]) == (
        "periodic", lab.method.id, "23")
    assert [link.standard_id for link in verification.standards] == [lab.weights.id]
    assert verification.job_item.job.state == "in_progress"


def test_live_evaluate_returns_errors_mpe_and_verdict_for_a_scale(client, auth, lab):
    verification = lab.draft()
    _login(auth, lab.technician)
    values = lab.good_values(verification, **{"weighing[2].indication": "15,01", "weighing[4].indication": "30.02"})
    response = client.post(f"/verifications/{verification.id}/evaluate", json={"values": values})
    assert response.status_code == 200
    data = response.get_json()
    assert data["errors"] == {}
    # 15 kg = 1 500 e: MPE 1 e = 0.010 kg, an error equal to it passes; 30 kg = 3 000 e: MPE 1.5 e, 0.02 fails.
    assert data["cells"]["weighing-2"] == {"error": "0,01", "corrected_error": "0,01", "mpe": "0,010",
                                           "passed": "Đạt"}
    assert data["cells"]["weighing-4"] == {"error": "0,02", "corrected_error": "0,02", "mpe": "0,015",
                                           "passed": "Không đạt"}
    assert data["failed"]["weighing-4"] is True
    assert data["tests"]["weighing"] == "Không đạt" and data["tests"]["zero"] == "Đạt"
    assert (data["passed"], data["verdict"]) == (False, "Không đạt")
    lab.refresh()
    assert lab.session.get(Verification, verification.id).readings == {}  # nothing stored


def test_live_evaluate_names_the_bad_field(client, auth, lab):
    verification = lab.draft()
    _login(auth, lab.technician)
    values = lab.good_values(verification, **{"weighing[2].indication": "mười lăm",
                                              "eccentricity.positions[1].indication": "-"})
    data = client.post(f"/verifications/{verification.id}/evaluate", json={"values": values}).get_json()
    assert data["errors"] == {"weighing[2].indication": "Không phải là số ('mười lăm').",
                              "eccentricity.positions[1].indication": "Không phải là số ('-')."}
    assert data["passed"] is None and data["verdict"] == ""
    assert data["cells"]["weighing-3"]["passed"] == "Đạt"  # the other rows are still computed
    assert "weighing-2" not in data["cells"]
    assert client.post(f"/verifications/{verification.id}/evaluate", json=[1]).status_code == 400


def test_save_the_sheet_then_submit_review_and_approve_through_the_pages(client, auth, lab):
    verification = lab.draft()
    _login(auth, lab.technician)
    page = client.get(f"/verifications/{verification.id}/entry").get_data(as_text=True)
    assert 'name="weighing[4].indication"' in page and 'data-cell="weighing-4:mpe"' in page
    response = client.post(f"/verifications/{verification.id}/entry", data=lab.good_values(verification))
    assert response.status_code == 302
    page = client.get(f"/verifications/{verification.id}").get_data(as_text=True)
    assert "Đủ điều kiện gửi" in page
    response = client.post(f"/verifications/{verification.id}/submit", data={"password": "sai mật khẩu"},
                           follow_redirects=True)
    assert "Mật khẩu không đúng" in response.get_data(as_text=True)
    lab.refresh()
    assert lab.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "sign_failed")).all() == [
        "sign_failed"]
    response = client.post(f"/verifications/{verification.id}/submit", data={"password": TEST_PASSWORD},
                           follow_redirects=True)
    assert "Đã ký: Người thực hiện." in response.get_data(as_text=True)
    _login(auth, lab.reviewer)
    listed = client.get("/verifications/?queue=review").get_data(as_text=True)
    assert f"/verifications/{verification.id}" in listed
    page = client.get(f"/verifications/{verification.id}").get_data(as_text=True)
    assert 'data-testid="review-form"' in page and 'data-testid="approve-form"' not in page
    client.post(f"/verifications/{verification.id}/review", data={"password": TEST_PASSWORD})
    _login(auth, lab.approver)
    response = client.post(f"/verifications/{verification.id}/approve", data={"password": TEST_PASSWORD},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Đã ký: Người phê duyệt." in page
    assert len(re.findall(r"✓ Khớp", page)) == 3
    lab.refresh()
    assert lab.session.get(Verification, verification.id).state == "approved"


def test_submission_refusal_lists_every_reason_on_the_page(client, auth, lab):
    verification = lab.draft()
    _login(auth, lab.technician)
    page = client.post(f"/verifications/{verification.id}/submit", data={"password": TEST_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "Chưa gửi được biên bản:" in page
    assert "Số đo chưa tính được kết quả: weighing: Chưa nhập." in page
    assert "Thiếu phép thử mà ĐLVN 15:2009 yêu cầu: Độ chính xác điểm không, Sai số khi tăng và giảm tải, " \
           "Độ lệch tâm, Độ lặp lại." in page


def test_reviewer_cannot_sign_their_own_work_through_the_page(client, auth, lab):
    verification = lab.sign_ready(technician=lab.reviewer)
    from lims.verifications import services

    services.submit(lab.session, verification=verification, user_id=lab.reviewer.id, password=TEST_PASSWORD)
    lab.session.commit()
    _login(auth, lab.reviewer)
    page = client.get(f"/verifications/{verification.id}").get_data(as_text=True)
    assert 'data-testid="review-form"' not in page
    page = client.post(f"/verifications/{verification.id}/review", data={"password": TEST_PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "là người thực hiện biên bản này nên không được ký người soát xét" in page


def test_amend_through_the_page_lists_the_revisions(client, auth, lab):
    from lims.verifications import services

    verification = lab.sign_ready()
    services.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    lab.session.commit()
    _login(auth, lab.technician)
    response = client.post(f"/verifications/{verification.id}/amend", data={"reason": "Ghi nhầm giờ bắt đầu"})
    assert response.status_code == 302
    lab.refresh()
    revision = lab.session.scalars(select(Verification).where(Verification.revision == 2)).one()
    page = client.get(f"/verifications/{revision.id}").get_data(as_text=True)
    assert "Lý do: Ghi nhầm giờ bắt đầu" in page
    assert len(re.findall(r'data-testid="revision-row"', page)) == 2
    old = client.get(f"/verifications/{verification.id}").get_data(as_text=True)
    assert 'data-testid="newer-revision"' in old


def test_the_auditor_reads_records_but_cannot_enter_or_sign(client, auth, lab):
    verification = lab.draft()
    auth.login("auditor")
    assert client.get("/verifications/").status_code == 200
    assert client.get(f"/verifications/{verification.id}").status_code == 200
    assert client.get(f"/verifications/{verification.id}/entry").status_code == 200
    assert client.post(f"/verifications/{verification.id}/evaluate", json={"values": {}}).status_code == 403
    assert client.post(f"/verifications/{verification.id}/entry", data={}).status_code == 403
    assert client.post(f"/verifications/{verification.id}/submit", data={"password": "x"}).status_code == 403


def test_edit_a_drafts_details_with_conditions_typed_by_hand(client, auth, lab):
    verification = lab.draft()
    _login(auth, lab.technician)
    page = client.get(f"/verifications/{verification.id}/edit").get_data(as_text=True)
    assert 'value="09:00"' in page and 'value="10:00"' in page
    data = {"method_version_id": str(lab.method.id), "technician_id": str(lab.technician.id),
            "performed_date": WORK_DAY.strftime("%d/%m/%Y"), "start_time": "09:00", "end_time": "",
            "place": "Chợ Trung tâm Pleiku", "room_id": "", "standard_ids": [str(lab.weights.id)],
            "conditions_source": "entered", "temperature_c": "29,5", "humidity_pct": "70"}
    response = client.post(f"/verifications/{verification.id}/edit", data=data)
    assert response.status_code == 200 and "Hãy ghi cả giờ bắt đầu và giờ kết thúc." in response.get_data(as_text=True)
    response = client.post(f"/verifications/{verification.id}/edit", data=data | {"end_time": "10:15"})
    assert response.status_code == 302
    lab.refresh()
    stored = lab.session.get(Verification, verification.id)
    assert stored.conditions == {"source": "entered", "temperature_c": "29.5", "humidity_pct": "70"}
    assert (stored.room_id, stored.place) == (None, "Chợ Trung tâm Pleiku")
    page = client.get(f"/verifications/{verification.id}").get_data(as_text=True)
    assert "Nhiệt độ 29,5 °C ngoài giới hạn 18–28 °C của ĐLVN 15:2009." in page
