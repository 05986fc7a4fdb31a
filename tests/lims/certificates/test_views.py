"""The certificate and stamp pages: list and filters, detail, PDF, QR, revoke, amend, issue; stamps; permissions."""

import hashlib

import pytest
from sqlalchemy import select

from lims.certificates.models import Certificate, Stamp


@pytest.fixture
def issued(ready_lab):
    """Two certificates and a notice, issued."""
    lab = ready_lab
    first = lab.issue(lab.verification())
    second = lab.issue(lab.verification(type_code="taximeter"))
    notice = lab.issue(lab.verification(failing=True))
    return lab, first, second, notice


def test_the_list_shows_and_filters_certificates(client, auth, issued):
    _lab, first, second, notice = issued
    auth.login("auditor")
    page = client.get("/certificates/").get_data(as_text=True)
    assert first.number in page and second.number in page and notice.number in page
    by_kind = client.get("/certificates/?kind=failure_notice").get_data(as_text=True)
    assert notice.number in by_kind and first.number not in by_kind
    by_serial = client.get(f"/certificates/?q={second.serial.lower()}").get_data(as_text=True)
    assert second.number in by_serial and first.number not in by_serial
    by_customer = client.get("/certificates/?q=taxi+pho+nui").get_data(as_text=True)
    assert first.number in by_customer
    by_number = client.get(f"/certificates/?q={first.number}").get_data(as_text=True)
    assert first.number in by_number and second.number not in by_number
    expired = client.get("/certificates/?status=expired&date_from=2026-01-01").get_data(as_text=True)
    assert "Không có giấy chứng nhận nào phù hợp" in expired


def test_the_list_exports_csv(client, auth, issued):
    _lab, first, *_ = issued
    auth.login("auditor")
    response = client.get("/certificates/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert first.number in response.get_data(as_text=True)


def test_the_detail_page_shows_status_seal_and_revisions(client, auth, issued):
    _lab, first, *_ = issued
    auth.login("auditor")
    page = client.get(f"/certificates/{first.id}").get_data(as_text=True)
    assert first.number in page and first.seal_url in page and 'data-status="valid"' in page
    assert f"/certificates/{first.id}/qr.svg" in page
    assert "Thu hồi" not in page  # the auditor only reads
    svg = client.get(f"/certificates/{first.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.get_data(as_text=True).startswith("<svg")


def test_the_pdf_download_is_the_stored_file(client, auth, issued):
    _lab, first, *_ = issued
    auth.login("technician")
    response = client.get(f"/certificates/{first.id}/pdf?download=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == first.pdf_sha256
    assert 'attachment; filename="KD-2026-000001.pdf"' == response.headers["Content-Disposition"]


def test_the_integrity_check_reports_a_whole_certificate(client, auth, issued):
    _lab, first, *_ = issued
    auth.login("auditor")
    page = client.get(f"/certificates/{first.id}/integrity", follow_redirects=True).get_data(as_text=True)
    assert "toàn vẹn" in page and "KHÔNG toàn vẹn" not in page


def test_revoking_needs_the_permission_and_a_reason(client, auth, issued, session):
    _lab, first, *_ = issued
    auth.login("auditor")
    assert client.get(f"/certificates/{first.id}/revoke").status_code == 403
    auth.logout()
    auth.login("quality_manager")
    response = client.post(f"/certificates/{first.id}/revoke", data={"reason": ""})
    assert response.status_code == 200 and "Ghi lý do thu hồi" in response.get_data(as_text=True)
    response = client.post(f"/certificates/{first.id}/revoke", data={"reason": "Cấp nhầm phương tiện đo"})
    assert response.status_code == 302
    session.rollback()
    row = session.get(Certificate, first.id)
    session.refresh(row)
    assert row.status == "revoked" and row.revocation_reason == "Cấp nhầm phương tiện đo"
    page = client.get(f"/certificates/{first.id}").get_data(as_text=True)
    assert 'data-status="revoked"' in page and "Cấp nhầm phương tiện đo" in page


def test_amending_from_the_form_issues_one_replacement(client, auth, issued, session):
    _lab, first, *_ = issued
    auth.login("approver")
    form = client.get(f"/certificates/{first.id}/amend").get_data(as_text=True)
    key = form.split('name="request_key" type="hidden" value="')[1].split('"')[0]
    data = {"request_key": key, "reason": "Sửa địa chỉ khách hàng"}
    response = client.post(f"/certificates/{first.id}/amend", data=data)
    assert response.status_code == 302
    again = client.post(f"/certificates/{first.id}/amend", data=data)  # the double-click
    assert again.headers["Location"] == response.headers["Location"]
    session.rollback()
    rows = list(session.scalars(select(Certificate).where(Certificate.replaces_id == first.id)))
    assert len(rows) == 1 and rows[0].amendment_reason == "Sửa địa chỉ khách hàng"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert first.number in page and "Sửa địa chỉ khách hàng" in page


def test_an_approved_record_without_certificate_is_offered_and_issued_once(client, auth, ready_lab, session):
    lab = ready_lab
    verification = lab.verification()
    auth.login("approver")
    page = client.get("/certificates/").get_data(as_text=True)
    assert 'data-testid="awaiting"' in page and f"/certificates/issue/{verification.id}" in page
    data = {"request_key": f"verification:{verification.id}"}
    first = client.post(f"/certificates/issue/{verification.id}", data=data)
    second = client.post(f"/certificates/issue/{verification.id}", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    session.rollback()
    assert len(list(session.scalars(select(Certificate)))) == 1
    session.rollback()  # end the read before the app writes (a stale SQLite snapshot cannot become a writer)
    auth.logout()
    auth.login("technician")
    assert client.post(f"/certificates/issue/{verification.id}", data=data).status_code == 403


def test_issuing_without_a_stamp_says_why(client, auth, lab):
    lab.create_key()
    verification = lab.verification()
    auth.login("approver")
    page = client.post(f"/certificates/issue/{verification.id}", follow_redirects=True).get_data(as_text=True)
    assert "không còn tem kiểm định nào được giao" in page


def test_stamp_pages_receive_assign_and_spoil(client, auth, lab, session):
    auth.login("reception")
    response = client.post("/stamps/receive", data={"series": "GL-26", "first_number": "1", "last_number": "30",
                                                    "received_date": "2026-03-01", "notes": ""})
    assert response.status_code == 302
    response = client.post("/stamps/assign", data={"series": "GL-26", "first_number": "1", "last_number": "10",
                                                   "technician_id": str(lab.technician.id)})
    assert response.status_code == 302
    page = client.get("/stamps/").get_data(as_text=True)
    assert "Trần Đức Thịnh: <strong>10</strong>" in page
    assert "Trong kho: <strong>20</strong>" in page
    session.rollback()
    stamp = session.scalars(select(Stamp).where(Stamp.serial_no == 25)).one()
    response = client.post(f"/stamps/{stamp.id}/spoil", data={"reason": ""})
    assert "Ghi lý do hủy tem" in response.get_data(as_text=True)
    assert client.post(f"/stamps/{stamp.id}/spoil", data={"reason": "Rách"}).status_code == 302
    session.rollback()
    assert session.get(Stamp, stamp.id).state == "spoiled"
    overlap = client.post("/stamps/receive", data={"series": "GL-26", "first_number": "30", "last_number": "40",
                                                   "received_date": "2026-03-01"})
    assert "đã được nhận trước đây" in overlap.get_data(as_text=True)


def test_technicians_see_stamps_but_do_not_manage_them(client, auth, lab):
    auth.login("technician")
    assert client.get("/stamps/").status_code == 200
    assert client.get("/stamps/receive").status_code == 403
    assert client.post("/stamps/assign", data={}).status_code == 403
