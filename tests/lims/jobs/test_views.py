"""Jobs through the pages: receive a request, the board with its counts, the detail with each item's record, fees,
the receipt slip (a PDF that pypdf reads, Vietnamese intact)."""

from __future__ import annotations

import io
import re
import unicodedata

import pypdf

from lims.jobs.models import Job
from tests.conftest import TEST_PASSWORD
from tests.lims.workflow_fixtures import TODAY


def _login(client, auth, user):
    auth.created.add(user.username)
    auth.login(username=user.username, password=TEST_PASSWORD)


def test_receive_a_job_through_the_pages(client, auth, lab):
    _login(client, auth, lab.technician)
    page = client.get("/jobs/new?q=ro+cham").get_data(as_text=True)
    assert "Hộ kinh doanh Rơ Châm H&#39;Blơi" in page
    page = client.get(f"/jobs/new?customer_id={lab.customer.id}").get_data(as_text=True)
    assert f'value="{lab.scale.id}"' in page and "24A112233" in page
    response = client.post(f"/jobs/new?customer_id={lab.customer.id}", data={
        "received_date": TODAY.strftime("%d/%m/%Y"), "due_date": "", "location": "lab", "contact_name": "Chị Hạnh",
        "assigned_to_id": str(lab.technician.id), "instrument_ids": [str(lab.scale.id)], "service": "",
        "condition_on_receipt": "Nguyên vẹn", "accessories": "Adapter", "notes": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    lab.refresh()
    job = lab.session.query(Job).one()
    assert response.headers["Location"] == f"/jobs/{job.id}"
    assert job.number == f"YC-{TODAY.year}-00001"
    assert [(i.instrument_id, i.service, i.accessories) for i in job.items] == [(lab.scale.id, "initial", "Adapter")]
    detail = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert job.number in detail and "Chưa có" in detail and "Lập biên bản" in detail
    board = client.get("/jobs/").get_data(as_text=True)
    assert re.search(r'data-testid="count-received">1<', board)
    assert job.number in board


def test_receive_shows_the_reason_on_the_form(client, auth, lab):
    _login(client, auth, lab.technician)
    response = client.post(f"/jobs/new?customer_id={lab.customer.id}", data={
        "received_date": TODAY.strftime("%d/%m/%Y"), "location": "on_site", "site_address": "",
        "instrument_ids": [str(lab.scale.id)]})
    assert response.status_code == 200
    assert "Công việc tại hiện trường cần địa chỉ nơi thực hiện." in response.get_data(as_text=True)


def test_detail_shows_each_items_record_state(client, auth, lab):
    verification = lab.draft()
    _login(client, auth, lab.reviewer)
    page = client.get(f"/jobs/{verification.job_item.job_id}").get_data(as_text=True)
    assert f"/verifications/{verification.id}" in page and "Bản nháp" in page


def test_fees_and_assignment_through_the_pages(client, auth, lab):
    job = lab.job()
    _login(client, auth, lab.technician)
    response = client.post(f"/jobs/{job.id}/fees", data={"description": "Phí kiểm định cân đến 30 kg",
                                                          "quantity": "2", "unit_price_vnd": "150000"})
    assert response.status_code == 302
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert re.search(r'data-testid="fee-total">300\.000<', page)
    response = client.post(f"/jobs/{job.id}/fees", data={"description": "x", "quantity": "1",
                                                          "unit_price_vnd": "abc"})
    assert response.status_code == 400 and "Đơn giá phải là số đồng" in response.get_data(as_text=True)


def test_the_auditor_reads_jobs_but_changes_nothing(client, auth, lab):
    job = lab.job()
    auth.login("auditor")
    assert client.get("/jobs/").status_code == 200
    assert client.get(f"/jobs/{job.id}").status_code == 200
    assert client.get("/jobs/new").status_code == 403
    assert client.post(f"/jobs/{job.id}/fees", data={}).status_code == 403


def test_receipt_slip_pdf_carries_the_number_and_the_customer_in_vietnamese(client, auth, lab):
    from lims.jobs import services

    job = lab.job()
    services.add_fee(lab.session, job=job, description="Phí kiểm định cân đến 30 kg", unit_price_vnd="150000")
    lab.session.commit()
    _login(client, auth, lab.technician)
    response = client.get(f"/jobs/{job.id}/slip.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    text = unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))
    assert job.number in text
    assert "Hộ kinh doanh Rơ Châm H'Blơi" in text
    assert "PHIẾU TIẾP NHẬN PHƯƠNG TIỆN ĐO" in text
    assert "Nguyên vẹn" in text and "150.000" in text
    fonts = {font for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert any("BeVietnamPro" in str(font.get_object()["/BaseFont"]) for font in fonts)


def test_register_an_instrument_on_the_spot_through_the_page(client, auth, lab):
    job = lab.job()
    _login(client, auth, lab.technician)
    page = client.get(f"/jobs/{job.id}/items/register").get_data(as_text=True)
    assert 'name="spec_nawi-max"' in page
    form = {"type_code": "nawi", "manufacturer": "Vibra", "model": "TPS", "serial": "TPS-2231",
            "spec_nawi-max": "60", "spec_nawi-e": "0,02", "spec_nawi-d": "0,02", "spec_nawi-unit": "kg",
            "spec_nawi-accuracy_class": "III", "status": "active", "service": "initial",
            "condition_on_receipt": "Mới, chưa niêm phong"}
    response = client.post(f"/jobs/{job.id}/items/register", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    lab.refresh()
    item = lab.session.get(Job, job.id).items[1]
    assert (item.instrument.serial, item.instrument.customer_id, item.instrument.spec["e"], item.service) == (
        "TPS-2231", lab.customer.id, "0.02", "initial")
    response = client.post(f"/jobs/{job.id}/items/register", data=form)
    assert response.status_code == 200 and "đã có trong sổ" in response.get_data(as_text=True)


def test_edit_a_job_and_mark_it_delivered_only_when_completed(client, auth, lab):
    job = lab.job()
    _login(client, auth, lab.technician)
    response = client.post(f"/jobs/{job.id}/edit", data={"due_date": "", "location": "on_site", "site_address": "",
                                                         "contact_name": "Chị Hạnh", "notes": ""})
    assert "Công việc tại hiện trường cần địa chỉ nơi thực hiện." in response.get_data(as_text=True)
    response = client.post(f"/jobs/{job.id}/edit", data={"due_date": "", "location": "on_site",
                                                         "site_address": "Chợ Hoa Lư, Pleiku",
                                                         "contact_name": "Chị Hạnh", "notes": ""})
    assert response.status_code == 302
    page = client.post(f"/jobs/{job.id}/state", data={"state": "delivered"}).get_data(as_text=True)
    assert "Không chuyển được yêu cầu" in page
    lab.refresh()
    assert (lab.session.get(Job, job.id).site_address, lab.session.get(Job, job.id).state) == (
        "Chợ Hoa Lư, Pleiku", "received")
