"""Personnel pages: forms and their per-field errors, the matrix, the expiring list, reports and exports."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.personnel import services
from lims.personnel.models import Authorisation, Qualification, Training
from lims.dates import centre_today

TODAY = centre_today()
DAY = dt.timedelta(days=1)


@pytest.fixture
def an(create_user):
    return create_user("an", full_name="Nguyễn Văn An", roles=("technician",))


def _cells(body: str, username: str) -> dict[str, tuple[str, str]]:
    """type code -> (css class, state) of one person's row on the matrix page."""
    row = re.search(rf'<tr data-user="{username}">(.*?)</tr>', body, re.S).group(1)
    return {m[1]: (m[0], m[2]) for m in re.findall(
        r'<td class="auth-cell (auth-[a-z-]+)" data-type="(\w+)" data-state="(\w+)">', row)}


def reread(session) -> None:
    """See what the app committed: end the test session's transaction and forget the objects it loaded."""
    session.rollback()
    session.expire_all()


def _csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- matrix and expiring list ---------------------------------------------------------------------------------------

def test_matrix_page_colours_cells_by_validity(client, auth, an, grant):
    grant(an, valid_from=TODAY - 400 * DAY, valid_until=TODAY + 400 * DAY)
    grant(an, instrument_type="weight", valid_from=TODAY - 400 * DAY, valid_until=TODAY + 30 * DAY)
    grant(an, instrument_type="energy_meter", valid_from=TODAY - 400 * DAY, valid_until=TODAY - DAY)
    auth.login("auditor")
    response = client.get("/personnel/matrix")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert _cells(body, "an") == {"nawi": ("auth-valid", "valid"), "weight": ("auth-expiring", "expiring"),
                                  "energy_meter": ("auth-expired", "expired"), "taximeter": ("auth-none", "none")}
    assert 'style=' not in body and "<style" not in body
    assert "personnel.css" in body
    # On a past day the same person was authorised for meters (and the card was about to expire).
    past = client.get(f"/personnel/matrix?on={(TODAY - 90 * DAY).isoformat()}").get_data(as_text=True)
    assert _cells(past, "an")["energy_meter"] == ("auth-valid", "valid")
    past = client.get(f"/personnel/matrix?on={(TODAY - 10 * DAY).isoformat()}").get_data(as_text=True)
    assert _cells(past, "an")["energy_meter"] == ("auth-expiring", "expiring")


def test_matrix_shows_revoked_and_exports(client, auth, an, grant):
    grant(an, valid_from=TODAY - 400 * DAY, valid_until=TODAY + 400 * DAY, revoked=(TODAY - 5 * DAY, "Nghỉ việc"))
    auth.login("quality_manager")
    assert _cells(client.get("/personnel/matrix").get_data(as_text=True), "an")["nawi"] == ("auth-revoked", "revoked")
    rows = _csv(client.get("/personnel/matrix?format=csv"))
    assert rows[0] == ["Họ và tên", "Cân điện tử (cân không tự động)", "Quả cân", "Công tơ điện xoay chiều 1 pha",
                       "Taximet"]
    assert rows[1] == ["Nguyễn Văn An", "Đã thu hồi (KĐ)", "Chưa được ủy quyền", "Chưa được ủy quyền",
                       "Chưa được ủy quyền"]


def test_expiring_page_filters_by_days_and_type_and_exports(client, auth, an, create_user, grant):
    binh = create_user("binh", full_name="Trần Thị Bình")
    soon = grant(an, valid_from=TODAY - 400 * DAY, valid_until=TODAY + 20 * DAY,
                 scope='=HYPERLINK("http://x")')
    later = grant(binh, instrument_type="taximeter", card_number="KĐV 0002", valid_from=TODAY - 400 * DAY,
                  valid_until=TODAY + 50 * DAY)
    auth.login("technician")
    body = client.get("/personnel/authorisations/expiring").get_data(as_text=True)
    assert f'data-authorisation="{soon.id}"' in body and f'data-authorisation="{later.id}"' in body
    body = client.get("/personnel/authorisations/expiring?days=30").get_data(as_text=True)
    assert f'data-authorisation="{soon.id}"' in body and f'data-authorisation="{later.id}"' not in body
    body = client.get("/personnel/authorisations/expiring?instrument_type=taximeter").get_data(as_text=True)
    assert f'data-authorisation="{soon.id}"' not in body and f'data-authorisation="{later.id}"' in body

    response = client.get("/personnel/authorisations/expiring?days=60&format=csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="uy-quyen-sap-het-han-60-ngay.csv"'
    rows = _csv(response)
    assert rows[0][:3] == ["Họ và tên", "Loại phương tiện đo", "Phạm vi"] and rows[0][-1] == "Còn lại (ngày)"
    assert [(r[0], r[2], r[6], r[8], r[-1]) for r in rows[1:]] == [
        ("Nguyễn Văn An", "'=HYPERLINK(\"http://x\")", "KĐV 0001", (TODAY + 20 * DAY).strftime("%d/%m/%Y"), "20"),
        ("Trần Thị Bình", "Cân điện tử cấp III", "KĐV 0002",
         (TODAY + 50 * DAY).strftime("%d/%m/%Y"), "50")]

    xlsx = client.get("/personnel/authorisations/expiring?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[1][0] == "Nguyễn Văn An" and values[1][-1] == 20 and values[2][-1] == 50
    assert client.get("/personnel/authorisations/expiring?format=pdf").status_code == 404


def test_authorisation_list_filters_by_state_and_searches_without_accents(client, auth, an, create_user, grant):
    binh = create_user("binh", full_name="Trần Thị Bình")
    valid = grant(an, valid_from=TODAY - 400 * DAY, valid_until=TODAY + 400 * DAY)
    expired = grant(binh, card_number="KĐV 0002", valid_from=TODAY - 400 * DAY, valid_until=TODAY - DAY)
    auth.login("auditor")
    body = client.get("/personnel/authorisations?state=expired").get_data(as_text=True)
    assert f'data-authorisation="{expired.id}"' in body and f'data-authorisation="{valid.id}"' not in body
    body = client.get("/personnel/authorisations?q=nguyen van").get_data(as_text=True)
    assert f'data-authorisation="{valid.id}"' in body and f'data-authorisation="{expired.id}"' not in body
    rows = _csv(client.get("/personnel/authorisations?format=csv"))
    assert [(r[0], r[-1]) for r in rows[1:]] == [("Nguyễn Văn An", "Còn hiệu lực"), ("Trần Thị Bình", "Hết hiệu lực")]


# --- training report ------------------------------------------------------------------------------------------------

def test_training_report_page_and_export(client, auth, session, an, create_user):
    binh = create_user("binh", full_name="Trần Thị Bình")
    year = TODAY.year - 1
    for user, hours in ((an, "24"), (binh, "24")):
        services.add_training(session, user_id=user.id, course="ISO/IEC 17025", provider="BoA",
                              start_date=dt.date(year, 3, 3), end_date=dt.date(year, 3, 5), hours=hours)
    services.add_training(session, user_id=an.id, course="Độ không đảm bảo đo", provider="VMI",
                          start_date=dt.date(year, 9, 8), end_date=dt.date(year, 9, 8), hours="7.5")
    session.commit()
    auth.login("auditor")
    body = client.get(f"/personnel/trainings/report?year={year}").get_data(as_text=True)
    assert 'data-testid="trainees">2<' in body and 'data-testid="attendances">3<' in body
    assert 'data-testid="trainee-hours">55,5<' in body
    # Without a year: the latest year with trainings.
    assert f"Báo cáo đào tạo năm {year}" in client.get("/personnel/trainings/report").get_data(as_text=True)
    rows = _csv(client.get(f"/personnel/trainings/report?year={year}&format=csv"))
    assert rows == [
        ["Khoá đào tạo", "Đơn vị tổ chức", "Từ ngày", "Đến ngày", "Số người", "Số giờ mỗi khoá",
         "Tổng số giờ (người × giờ)"],
        ["ISO/IEC 17025", "BoA", f"03/03/{year}", f"05/03/{year}", "2", "24.0", "48.0"],
        ["Độ không đảm bảo đo", "VMI", f"08/09/{year}", f"08/09/{year}", "1", "7.5", "7.5"],
        ["Tổng cộng", "", "", "", "2", "", "55.5"]]


# --- authorisation forms ----------------------------------------------------------------------------------------------

def _form(**override):
    data = {"instrument_type": "nawi", "scope": "Cân điện tử cấp III đến 150 kg", "can_perform": "y",
            "card_number": "KĐV 0010", "valid_from": (TODAY - 30 * DAY).isoformat(),
            "valid_until": (TODAY + 1000 * DAY).isoformat(), "granted_by_id": "",
            "granted_by_authority": "Tổng cục Tiêu chuẩn Đo lường Chất lượng"}
    return data | override


def test_create_authorisation(client, auth, session, an):
    auth.login("quality_manager")
    assert client.get(f"/personnel/people/{an.id}/authorisations/new").status_code == 200
    response = client.post(f"/personnel/people/{an.id}/authorisations/new", data=_form())
    assert response.status_code == 302 and response.headers["Location"] == f"/personnel/people/{an.id}"
    authorisation = session.scalars(select(Authorisation)).one()
    assert (authorisation.user_id, authorisation.card_number, authorisation.can_perform,
            authorisation.can_review) == (an.id, "KĐV 0010", True, False)
    assert services.may_perform(session, user_id=an.id, instrument_type="nawi", on=TODAY).allowed


@pytest.mark.parametrize(("override", "field", "message"), [
    ({"card_number": ""}, "card_number", "Người thực hiện kiểm định phải có số thẻ kiểm định viên."),
    ({"granted_by_authority": ""}, "granted_by_id", "Hãy chọn người ký ủy quyền hoặc nhập cơ quan cấp thẻ."),
    ({"can_perform": ""}, "can_perform", "Hãy chọn ít nhất một việc được ủy quyền"),
    ({"valid_until": "2000-01-01"}, "valid_until", "Ngày hết hiệu lực phải bằng hoặc sau ngày bắt đầu hiệu lực."),
    ({"valid_from": "31/12/2025"}, "valid_from", "Not a valid date value."),
    ({"instrument_type": "barometer"}, "instrument_type", "Not a valid choice."),
    ({"scope": ""}, "scope", "This field is required."),
])
def test_create_authorisation_shows_per_field_errors(client, auth, session, an, override, field, message):
    auth.login("quality_manager")
    response = client.post(f"/personnel/people/{an.id}/authorisations/new", data=_form(**override))
    assert response.status_code == 200
    errors = re.findall(r'<div class="invalid-feedback d-block" data-field="(\w+)">([^<]*)</div>',
                        response.get_data(as_text=True))
    assert len(errors) == 1 and errors[0][0] == field and errors[0][1].startswith(message)
    assert session.scalars(select(Authorisation)).all() == []


def test_edit_authorisation_in_use_needs_a_reason_that_reaches_the_audit_trail(client, auth, session, an, grant):
    authorisation = grant(an, valid_from=TODAY - 30 * DAY, valid_until=TODAY + 300 * DAY)
    auth.login("quality_manager")
    page = client.get(f"/personnel/authorisations/{authorisation.id}/edit").get_data(as_text=True)
    assert "Bắt buộc: ủy quyền đã có hiệu lực trước hôm nay" in page
    url = f"/personnel/authorisations/{authorisation.id}/edit"
    response = client.post(url, data=_form(card_number="KĐV 0001", scope="Cân điện tử cấp II"))
    assert response.status_code == 200
    assert re.search(r'data-field="reason">Ủy quyền này đã có hiệu lực từ ngày \d\d/\d\d/\d{4} nên có thể đã được '
                     r'dùng: hãy nhập lý do sửa.<', response.get_data(as_text=True))
    response = client.post(url, data=_form(card_number="KĐV 0001", scope="Cân điện tử cấp II",
                                           reason="Ghi sai cấp chính xác"))
    assert response.status_code == 302
    reread(session)
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "authorisations",
                                                     AuditEvent.action == "update")).one()
    assert (event.reason, event.actor_name, event.changes["scope"]) == (
        "Ghi sai cấp chính xác", "quality_manager", ["Cân điện tử cấp III", "Cân điện tử cấp II"])


def test_edit_authorisation_not_yet_valid_needs_no_reason(client, auth, session, an, grant):
    authorisation = grant(an, valid_from=TODAY, valid_until=TODAY + 300 * DAY)
    auth.login("quality_manager")
    response = client.post(f"/personnel/authorisations/{authorisation.id}/edit",
                           data=_form(card_number="KĐV 0001", valid_from=TODAY.isoformat()))
    assert response.status_code == 302
    reread(session)
    assert session.get(Authorisation, authorisation.id).valid_until == TODAY + 1000 * DAY


def test_revoke_authorisation_page(client, auth, session, an, grant):
    authorisation = grant(an, valid_from=TODAY - 30 * DAY, valid_until=TODAY + 300 * DAY)
    auth.login("quality_manager")
    url = f"/personnel/authorisations/{authorisation.id}/revoke"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"revoked_date": TODAY.isoformat(), "revocation_reason": ""})
    assert 'data-field="revocation_reason">This field is required.<' in response.get_data(as_text=True)
    response = client.post(url, data={"revoked_date": (TODAY + 301 * DAY).isoformat(), "revocation_reason": "x"})
    assert 'data-field="revoked_date">Ủy quyền chỉ có hiệu lực đến hết ngày' in response.get_data(as_text=True)
    response = client.post(url, data={"revoked_date": TODAY.isoformat(), "revocation_reason": "Nghỉ việc"})
    assert response.status_code == 302
    reread(session)
    assert not services.may_perform(session, user_id=an.id, instrument_type="nawi", on=TODAY).allowed
    body = client.get(f"/personnel/people/{an.id}").get_data(as_text=True)
    assert "auth-row-revoked" in body and "Nghỉ việc" in body
    assert f"/personnel/authorisations/{authorisation.id}/edit" not in body  # a revoked one is final


def test_only_personnel_managers_change_the_register(client, auth, an, grant):
    authorisation = grant(an, valid_from=TODAY - 30 * DAY, valid_until=TODAY + 300 * DAY)
    auth.login("technician", username="tech2")
    assert client.get(f"/personnel/people/{an.id}").status_code == 200
    for url in (f"/personnel/people/{an.id}/authorisations/new", f"/personnel/authorisations/{authorisation.id}/edit",
                f"/personnel/authorisations/{authorisation.id}/revoke", f"/personnel/people/{an.id}/trainings/new",
                f"/personnel/people/{an.id}/qualifications/new"):
        assert client.post(url, data={}).status_code == 403, url
    body = client.get(f"/personnel/people/{an.id}").get_data(as_text=True)
    assert "Thêm ủy quyền" not in body
    assert client.get("/personnel/people/9999").status_code == 404


# --- people, trainings and qualifications -----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n%%EOF\n"


def test_create_training_with_a_certificate_and_download_it(client, auth, session, app, an):
    auth.login("quality_manager")
    data = {"course": "Kiểm định cân", "provider": "Viện Đo lường Việt Nam",
            "start_date": (TODAY - 10 * DAY).isoformat(), "end_date": (TODAY - 8 * DAY).isoformat(),
            "hours": "7,5", "certificate_number": "15/2026/CC",
            "certificate_file": (io.BytesIO(PDF), "chứng chỉ.pdf")}
    response = client.post(f"/personnel/people/{an.id}/trainings/new", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 302
    training = session.scalars(select(Training)).one()
    digest = hashlib.sha256(PDF).hexdigest()
    assert (training.hours, training.certificate_sha256) == (Decimal("7.5"), digest)
    stored = Path(app.instance_path) / training.certificate_path
    assert stored.read_bytes() == PDF
    download = client.get(f"/personnel/trainings/{training.id}/certificate")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    stored.write_bytes(b"%PDF-forged")
    tampered = client.get(f"/personnel/trainings/{training.id}/certificate")
    assert tampered.status_code == 409 and "SHA-256 không khớp" in tampered.get_data(as_text=True)


def test_create_training_shows_per_field_errors(client, auth, session, an):
    auth.login("quality_manager")
    data = {"course": "Kiểm định cân", "provider": "VMI", "start_date": (TODAY - 10 * DAY).isoformat(),
            "end_date": (TODAY - 8 * DAY).isoformat(), "hours": "0",
            "certificate_file": (io.BytesIO(b"not a pdf"), "a.pdf")}
    body = client.post(f"/personnel/people/{an.id}/trainings/new", data=data,
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-field="hours">Số giờ phải lớn hơn 0.<' in body
    data["hours"] = "8"
    data["certificate_file"] = (io.BytesIO(b"not a pdf"), "a.pdf")
    body = client.post(f"/personnel/people/{an.id}/trainings/new", data=data,
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-field="certificate_file">Nội dung tệp không phải là PDF' in body
    assert session.scalars(select(Training)).all() == []


def test_edit_and_delete_a_training(client, auth, session, an):
    training = services.add_training(session, user_id=an.id, course="Kiểm định cân", provider="VMI",
                                     start_date=TODAY - 10 * DAY, end_date=TODAY - 9 * DAY, hours="16")
    session.commit()
    auth.login("quality_manager")
    url = f"/personnel/trainings/{training.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="16.0"' in page and "Không bắt buộc khi sửa trong ngày nhập." in page
    response = client.post(url, data={"course": "Kiểm định cân điện tử", "provider": "VMI",
                                      "start_date": (TODAY - 10 * DAY).isoformat(),
                                      "end_date": (TODAY - 9 * DAY).isoformat(), "hours": "16"},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    response = client.post(f"/personnel/trainings/{training.id}/delete", data={"reason": ""})
    assert response.status_code == 302 and response.headers["Location"] == url
    reread(session)
    assert session.get(Training, training.id).course == "Kiểm định cân điện tử"
    response = client.post(f"/personnel/trainings/{training.id}/delete", data={"reason": "Nhập trùng"})
    assert response.status_code == 302
    reread(session)
    assert session.scalars(select(Training.id)).all() == []


def test_create_and_edit_a_qualification(client, auth, session, an):
    auth.login("quality_manager")
    data = {"degree": "engineer", "field": "Kỹ thuật điện", "institution": "Đại học Bách khoa Hà Nội", "year": "2010"}
    assert client.post(f"/personnel/people/{an.id}/qualifications/new", data=data).status_code == 302
    body = client.post(f"/personnel/people/{an.id}/qualifications/new",
                       data=data | {"year": "1900"}).get_data(as_text=True)
    assert f'data-field="year">Năm tốt nghiệp phải từ 1950 đến {TODAY.year}.<' in body
    qualification = session.scalars(select(Qualification)).one()
    response = client.post(f"/personnel/qualifications/{qualification.id}/edit", data=data | {"degree": "master"})
    assert response.status_code == 302
    reread(session)
    assert session.get(Qualification, qualification.id).degree == "master"
    assert "Kỹ sư" not in client.get(f"/personnel/people/{an.id}").get_data(as_text=True)


def test_person_page_and_index_escape_what_people_typed(client, auth, session, create_user, grant):
    person = create_user("x", full_name="<script>alert(1)</script>", roles=("technician",))
    grant(person, valid_from=TODAY - DAY, valid_until=TODAY + DAY, scope="<b>cân</b>")
    auth.login("auditor")
    for url in (f"/personnel/people/{person.id}", "/personnel/", "/personnel/matrix", "/personnel/authorisations"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "<b>cân</b>" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url


def test_index_searches_people_without_accents(client, auth, an, create_user):
    create_user("binh", full_name="Trần Thị Bình", roles=("reviewer",))
    auth.login("auditor")
    body = client.get("/personnel/?q=binh").get_data(as_text=True)
    assert 'data-user="binh"' in body and 'data-user="an"' not in body
    body = client.get("/personnel/?role=technician").get_data(as_text=True)
    assert 'data-user="an"' in body and 'data-user="binh"' not in body
