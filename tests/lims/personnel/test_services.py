"""Personnel services: who may perform or sign on a day, and the rules of the register."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.personnel import services
from lims.personnel.models import Authorisation, Training

D = dt.date
NAWI = "Cân điện tử (cân không tự động)"
PERFORM = "thực hiện kiểm định, hiệu chuẩn"


@pytest.fixture
def an(create_user):
    return create_user("an", full_name="Nguyễn Văn An", roles=("technician",))


@pytest.fixture
def card(an, grant):
    """An's card for scales, valid through 2025 and 2026."""
    return grant(an, valid_from=D(2025, 1, 1), valid_until=D(2026, 12, 31))


def perform(session, user, on, instrument_type="nawi"):
    return services.may_perform(session, user_id=user.id, instrument_type=instrument_type, on=on)


# --- may_perform ----------------------------------------------------------------------------------------------------

def test_may_perform_allows_a_valid_authorisation_and_names_the_card(session, an, card):
    decision = perform(session, an, D(2026, 6, 15))
    assert decision.allowed is True
    assert decision.reason == (f"Nguyễn Văn An được {PERFORM} {NAWI} vào ngày 15/06/2026 theo thẻ kiểm định viên số "
                               "KĐV 0001, có hiệu lực đến hết ngày 31/12/2026.")
    assert (decision.authorisation_id, decision.card_number, decision.valid_until) == (card.id, "KĐV 0001",
                                                                                       D(2026, 12, 31))


def test_may_perform_is_valid_on_both_end_days(session, an, card):
    assert perform(session, an, D(2025, 1, 1)).allowed is True
    assert perform(session, an, D(2026, 12, 31)).allowed is True


def test_may_perform_refuses_the_day_after_valid_until(session, an, card):
    decision = perform(session, an, D(2027, 1, 1))
    assert decision.allowed is False
    assert decision.reason == (f"Nguyễn Văn An không được {PERFORM} {NAWI} vào ngày 01/01/2027: ủy quyền (thẻ kiểm "
                               "định viên số KĐV 0001) đã hết hạn, chỉ có hiệu lực đến hết ngày 31/12/2026.")
    assert decision.card_number == "KĐV 0001"


def test_may_perform_refuses_before_valid_from(session, an, card):
    decision = perform(session, an, D(2024, 12, 31))
    assert decision.allowed is False
    assert decision.reason == (f"Nguyễn Văn An không được {PERFORM} {NAWI} vào ngày 31/12/2024: ủy quyền (thẻ kiểm "
                               "định viên số KĐV 0001) chưa có hiệu lực, bắt đầu từ ngày 01/01/2025.")


def test_may_perform_refuses_from_the_revocation_day_but_not_before(session, an, grant):
    grant(an, valid_from=D(2025, 1, 1), valid_until=D(2026, 12, 31),
          revoked=(D(2026, 3, 10), "Không đạt đánh giá tay nghề."))
    assert perform(session, an, D(2026, 3, 9)).allowed is True
    decision = perform(session, an, D(2026, 3, 10))
    assert decision.allowed is False
    assert decision.reason == (f"Nguyễn Văn An không được {PERFORM} {NAWI} vào ngày 10/03/2026: ủy quyền (thẻ kiểm "
                               "định viên số KĐV 0001) đã bị thu hồi từ ngày 10/03/2026. Lý do: Không đạt đánh giá "
                               "tay nghề.")
    # Still revoked after the original end date: the revocation is what ended it.
    assert "đã bị thu hồi" in perform(session, an, D(2027, 5, 1)).reason


def test_may_perform_refuses_another_instrument_type(session, an, card):
    decision = perform(session, an, D(2026, 6, 15), "taximeter")
    assert decision.allowed is False
    assert decision.reason == (f"Nguyễn Văn An không được {PERFORM} Taximet: chưa có ủy quyền nào cho loại phương "
                               "tiện đo này.")
    assert decision.authorisation_id is None


def test_may_perform_refuses_a_sign_only_authorisation(session, an, grant):
    grant(an, valid_from=D(2025, 1, 1), valid_until=D(2026, 12, 31), card_number="", can_perform=False,
          can_review=True)
    assert perform(session, an, D(2026, 6, 15)).reason == (
        f"Nguyễn Văn An không được {PERFORM} {NAWI}: ủy quyền cho loại phương tiện đo này không gồm việc đó.")


def test_may_perform_uses_the_renewal_after_an_expired_card(session, an, grant):
    grant(an, valid_from=D(2020, 1, 1), valid_until=D(2024, 12, 31), card_number="KĐV 0001")
    renewal = grant(an, valid_from=D(2025, 1, 1), valid_until=D(2029, 12, 31), card_number="KĐV 0002")
    decision = perform(session, an, D(2025, 1, 1))
    assert decision.allowed and decision.authorisation_id == renewal.id and decision.card_number == "KĐV 0002"
    assert perform(session, an, D(2024, 12, 31)).card_number == "KĐV 0001"


def test_may_perform_explains_with_the_most_recently_ended_authorisation(session, an, grant):
    grant(an, valid_from=D(2018, 1, 1), valid_until=D(2019, 12, 31), card_number="KĐV 0001")
    grant(an, valid_from=D(2020, 1, 1), valid_until=D(2024, 12, 31), card_number="KĐV 0002")
    grant(an, valid_from=D(2026, 1, 1), valid_until=D(2030, 12, 31), card_number="KĐV 0003")
    decision = perform(session, an, D(2025, 6, 1))
    assert not decision.allowed and decision.card_number == "KĐV 0002" and "31/12/2024" in decision.reason


def test_may_perform_names_an_unknown_user_and_rejects_an_unknown_type(session, an):
    decision = services.may_perform(session, user_id=9999, instrument_type="nawi", on=D(2026, 1, 1))
    assert not decision.allowed and decision.reason == "Không tìm thấy người dùng số 9999."
    with pytest.raises(KeyError):
        services.may_perform(session, user_id=an.id, instrument_type="barometer", on=D(2026, 1, 1))
    with pytest.raises(TypeError):
        services.may_perform(session, user_id=an.id, instrument_type="nawi", on=dt.datetime(2026, 1, 1))


def test_require_perform_raises_with_the_reason_and_returns_the_decision(session, an, card):
    assert services.require_perform(session, user_id=an.id, instrument_type="nawi",
                                     on=D(2026, 1, 1)).card_number == "KĐV 0001"
    with pytest.raises(services.NotAuthorisedError) as caught:
        services.require_perform(session, user_id=an.id, instrument_type="nawi", on=D(2027, 1, 1))
    assert str(caught.value) == perform(session, an, D(2027, 1, 1)).reason
    assert caught.value.decision.allowed is False


# --- may_sign -------------------------------------------------------------------------------------------------------

def test_may_sign_checks_the_meaning(session, an, grant):
    grant(an, valid_from=D(2025, 1, 1), valid_until=D(2026, 12, 31), can_review=True)
    reviewed = services.may_sign(session, user_id=an.id, instrument_type="nawi", meaning="reviewed", on=D(2026, 2, 1))
    assert reviewed.allowed and reviewed.reason.startswith(f"Nguyễn Văn An được soát xét kết quả {NAWI}")
    approved = services.may_sign(session, user_id=an.id, instrument_type="nawi", meaning="approved", on=D(2026, 2, 1))
    assert not approved.allowed
    assert approved.reason == (f"Nguyễn Văn An không được phê duyệt kết quả {NAWI}: ủy quyền cho loại phương tiện "
                               "đo này không gồm việc đó.")
    late = services.may_sign(session, user_id=an.id, instrument_type="nawi", meaning="reviewed", on=D(2027, 1, 1))
    assert not late.allowed and "đã hết hạn, chỉ có hiệu lực đến hết ngày 31/12/2026" in late.reason
    with pytest.raises(ValueError):
        services.may_sign(session, user_id=an.id, instrument_type="nawi", meaning="performed", on=D(2026, 2, 1))


def test_require_sign_refuses_an_approver_without_a_card_by_its_number(session, create_user, grant):
    head = create_user("head", full_name="Lê Văn Bình", roles=("approver",))
    authorisation = grant(head, instrument_type="taximeter", valid_from=D(2025, 1, 1), valid_until=D(2025, 12, 31),
                          card_number="", can_perform=False, can_approve=True)
    ok = services.require_sign(session, user_id=head.id, instrument_type="taximeter", meaning="approved",
                               on=D(2025, 12, 31))
    assert ok.reason.endswith(f"theo ủy quyền số {authorisation.id}, có hiệu lực đến hết ngày 31/12/2025.")
    with pytest.raises(services.NotAuthorisedError, match="Lê Văn Bình không được phê duyệt kết quả Taximet vào "
                                                          "ngày 01/01/2026"):
        services.require_sign(session, user_id=head.id, instrument_type="taximeter", meaning="approved",
                              on=D(2026, 1, 1))


# --- granting, editing, revoking ------------------------------------------------------------------------------------

def _args(**override):
    args = {"instrument_type": "nawi", "scope": "Cân điện tử cấp III đến 150 kg", "card_number": "kđv  0010",
            "valid_from": D(2026, 1, 1), "valid_until": D(2030, 12, 31), "can_perform": True,
            "granted_by_authority": "Tổng cục Tiêu chuẩn Đo lường Chất lượng"}
    return args | override


@pytest.mark.parametrize(("override", "field", "message"), [
    ({"instrument_type": "barometer"}, "instrument_type", "Loại phương tiện đo không hợp lệ: barometer."),
    ({"scope": "  "}, "scope", "Phạm vi không được để trống."),
    ({"can_perform": False}, "can_perform", "Hãy chọn ít nhất một việc được ủy quyền"),
    ({"card_number": ""}, "card_number", "Người thực hiện kiểm định phải có số thẻ kiểm định viên."),
    ({"valid_until": D(2025, 12, 31)}, "valid_until", "Ngày hết hiệu lực phải bằng hoặc sau ngày bắt đầu hiệu lực."),
    ({"valid_from": "01/01/2026"}, "valid_from", "Hiệu lực từ ngày phải là một ngày (dd/mm/yyyy)."),
    ({"granted_by_authority": ""}, "granted_by_id", "Hãy chọn người ký ủy quyền hoặc nhập cơ quan cấp thẻ."),
])
def test_grant_authorisation_names_the_bad_field(session, an, override, field, message):
    with pytest.raises(services.PersonnelError) as caught:
        services.grant_authorisation(session, user_id=an.id, **_args(**override))
    assert caught.value.field == field and str(caught.value).startswith(message)


def test_grant_authorisation_normalises_the_card_and_refuses_it_for_another_person(session, an, create_user):
    first = services.grant_authorisation(session, user_id=an.id, **_args())
    assert first.card_number == "KĐV 0010"
    # The same person may hold the same card for another type.
    services.grant_authorisation(session, user_id=an.id, **_args(instrument_type="weight"))
    session.commit()
    other = create_user("binh", full_name="Trần Thị Bình")
    with pytest.raises(services.PersonnelError, match="Thẻ kiểm định viên số KĐV 0010 đã được cấp cho Nguyễn Văn "
                                                      "An.") as caught:
        services.grant_authorisation(session, user_id=other.id, **_args(card_number="KĐV 0010"))
    assert caught.value.field == "card_number"


def test_grant_authorisation_grantor_rules(session, an, create_user):
    head = create_user("head", full_name="Lê Văn Bình", roles=("approver",))
    with pytest.raises(services.PersonnelError, match="Chỉ chọn một") as caught:
        services.grant_authorisation(session, user_id=an.id, **_args(granted_by_id=head.id))
    assert caught.value.field == "granted_by_authority"
    with pytest.raises(services.PersonnelError, match="Không ai được tự ủy quyền cho chính mình."):
        services.grant_authorisation(session, user_id=head.id, **_args(granted_by_id=head.id, granted_by_authority=""))
    with pytest.raises(services.PersonnelError, match="Không tìm thấy người dùng số 777."):
        services.grant_authorisation(session, user_id=an.id, **_args(granted_by_id=777, granted_by_authority=""))
    granted = services.grant_authorisation(session, user_id=an.id, **_args(granted_by_id=head.id,
                                                                           granted_by_authority=""))
    assert granted.granted_by.full_name == "Lê Văn Bình"


def test_update_authorisation_needs_a_reason_once_it_could_have_been_relied_on(session, an, card):
    with pytest.raises(services.ReasonRequiredError, match="đã có hiệu lực từ ngày 01/01/2025") as caught:
        services.update_authorisation(session, authorisation=card, today=D(2025, 1, 2),
                                      **_args(scope="Cân điện tử cấp III đến 300 kg"))
    assert caught.value.field == "reason"
    session.rollback()
    services.update_authorisation(session, authorisation=card, today=D(2025, 1, 2), reason="Sai phạm vi trên thẻ",
                                  **_args(scope="Cân điện tử cấp III đến 300 kg"))
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "authorisations",
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Sai phạm vi trên thẻ"
    assert event.changes["scope"] == ["Cân điện tử cấp III", "Cân điện tử cấp III đến 300 kg"]


def test_update_authorisation_on_its_first_day_needs_no_reason(session, an, card):
    services.update_authorisation(session, authorisation=card, today=D(2025, 1, 1), **_args(card_number="KĐV 0001"))
    session.commit()
    assert session.get(Authorisation, card.id).valid_from == D(2026, 1, 1)


def test_revoke_authorisation_rules(session, an, card):
    with pytest.raises(services.PersonnelError, match="Lý do thu hồi không được để trống.") as caught:
        services.revoke_authorisation(session, authorisation=card, revoked_date=D(2026, 1, 1), revocation_reason=" ")
    assert caught.value.field == "revocation_reason"
    with pytest.raises(services.PersonnelError, match="chỉ có hiệu lực đến hết ngày 31/12/2026; không cần thu hồi"):
        services.revoke_authorisation(session, authorisation=card, revoked_date=D(2027, 1, 1), revocation_reason="x")
    services.revoke_authorisation(session, authorisation=card, revoked_date=D(2026, 1, 1),
                                  revocation_reason="Nghỉ việc")
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "authorisations",
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Nghỉ việc" and event.changes["revoked_date"] == [None, "2026-01-01"]
    with pytest.raises(services.PersonnelError, match="đã bị thu hồi ngày 01/01/2026"):
        services.revoke_authorisation(session, authorisation=card, revoked_date=D(2026, 2, 1), revocation_reason="x")
    with pytest.raises(services.PersonnelError, match="nên không sửa được"):
        services.update_authorisation(session, authorisation=card, reason="x", **_args())


# --- trainings and qualifications -----------------------------------------------------------------------------------

def _training(**override):
    args = {"course": "Kiểm định cân theo ĐLVN 14", "provider": "Viện Đo lường Việt Nam",
            "start_date": D(2025, 3, 3), "end_date": D(2025, 3, 7), "hours": "40", "certificate_number": "12/CC",
            "today": D(2025, 6, 1)}
    return args | override


@pytest.mark.parametrize(("override", "field", "message"), [
    ({"end_date": D(2025, 3, 2)}, "end_date", "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu."),
    ({"end_date": D(2025, 6, 2)}, "end_date", "Chỉ ghi nhận khoá đào tạo đã kết thúc"),
    ({"hours": "bốn"}, "hours", "Số giờ phải là một số, ví dụ 24 hoặc 7,5."),
    ({"hours": "0"}, "hours", "Số giờ phải lớn hơn 0."),
    ({"hours": "7.25"}, "hours", "Số giờ chỉ lấy một chữ số thập phân."),
    ({"hours": "121"}, "hours", "121 giờ không thể diễn ra trong 5 ngày."),
    ({"course": ""}, "course", "Tên khoá đào tạo không được để trống."),
    ({"provider": "x" * 201}, "provider", "Đơn vị tổ chức dài quá 200 ký tự."),
])
def test_add_training_names_the_bad_field(session, an, override, field, message):
    with pytest.raises(services.PersonnelError) as caught:
        services.add_training(session, user_id=an.id, **_training(**override))
    assert caught.value.field == field and str(caught.value).startswith(message)


def test_add_training_accepts_a_decimal_comma(session, an):
    training = services.add_training(session, user_id=an.id, **_training(hours="7,5"))
    assert training.hours == Decimal("7.5")


PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def test_certificate_is_stored_by_its_sha256_and_checked_when_read(session, an, tmp_path):
    upload = services.UploadedFile("C:\\scans\\chứng chỉ An.pdf", PDF)
    training = services.add_training(session, user_id=an.id, files_dir=tmp_path, certificate_file=upload,
                                     **_training())
    digest = hashlib.sha256(PDF).hexdigest()
    assert (training.certificate_filename, training.certificate_sha256) == ("chứng chỉ An.pdf", digest)
    assert training.certificate_path == f"personnel/certificates/{digest}.pdf"
    assert (tmp_path / training.certificate_path).read_bytes() == PDF
    assert services.read_certificate(tmp_path, training) == (PDF, "application/pdf")
    (tmp_path / training.certificate_path).write_bytes(PDF + b"changed")
    with pytest.raises(services.CertificateFileError, match="SHA-256 không khớp"):
        services.read_certificate(tmp_path, training)
    (tmp_path / training.certificate_path).unlink()
    with pytest.raises(services.CertificateFileError, match="Không tìm thấy tệp chứng chỉ"):
        services.read_certificate(tmp_path, training)


@pytest.mark.parametrize(("upload", "message"), [
    (services.UploadedFile("cert.docx", b"PK\x03\x04"), "Tệp chứng chỉ phải là PDF, PNG hoặc JPG."),
    (services.UploadedFile("cert.pdf", b""), "Tệp chứng chỉ trống."),
    (services.UploadedFile("cert.pdf", b"<html>not a pdf</html>"),
     "Nội dung tệp không phải là PDF như đuôi tên tệp cho biết."),
    (services.UploadedFile("cert.png", b"x" * (10 * 1024 * 1024 + 1)), "Tệp chứng chỉ lớn quá 10 MB."),
])
def test_certificate_file_rules(session, an, tmp_path, upload, message):
    with pytest.raises(services.PersonnelError, match=message) as caught:
        services.add_training(session, user_id=an.id, files_dir=tmp_path, certificate_file=upload, **_training())
    assert caught.value.field == "certificate_file"
    assert not (tmp_path / "personnel").exists()


def test_update_training_needs_a_reason_from_the_day_after_it_was_recorded(session, an):
    training = services.add_training(session, user_id=an.id, **_training())
    session.commit()
    recorded = training.created_at.astimezone(services.CENTRE_TZ).date()
    services.update_training(session, training=training, **_training(hours="32", today=recorded))
    session.commit()
    with pytest.raises(services.ReasonRequiredError, match="đã được lưu từ trước hôm nay"):
        services.update_training(session, training=training,
                                 **_training(hours="24", today=recorded + dt.timedelta(days=1)))
    session.rollback()
    services.update_training(session, training=training, reason="Giấy chứng nhận ghi 24 giờ",
                             **_training(hours="24", today=recorded + dt.timedelta(days=1)))
    session.commit()
    reasons = session.scalars(select(AuditEvent.reason).where(AuditEvent.entity_type == "trainings")
                              .order_by(AuditEvent.seq)).all()
    assert reasons == [None, None, "Giấy chứng nhận ghi 24 giờ"]


def test_delete_training_requires_a_reason(session, an):
    training = services.add_training(session, user_id=an.id, **_training())
    with pytest.raises(services.ReasonRequiredError, match="Hãy nhập lý do xoá."):
        services.delete_training(session, training=training, reason="")
    services.delete_training(session, training=training, reason="Nhập trùng")
    session.commit()
    assert session.scalars(select(Training)).all() == []
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).one()
    assert (event.entity_type, event.reason) == ("trainings", "Nhập trùng")


@pytest.mark.parametrize(("override", "field", "message"), [
    ({"degree": "phd"}, "degree", "Hãy chọn trình độ, văn bằng trong danh sách."),
    ({"year": 1949}, "year", "Năm tốt nghiệp phải từ 1950 đến 2026."),
    ({"year": 2027}, "year", "Năm tốt nghiệp phải từ 1950 đến 2026."),
    ({"year": "năm"}, "year", "Năm tốt nghiệp phải là một số, ví dụ 2012."),
    ({"field": ""}, "field", "Chuyên ngành không được để trống."),
    ({"institution": "a\x00b"}, "institution", "Cơ sở đào tạo chứa ký tự điều khiển không hợp lệ."),
])
def test_add_qualification_names_the_bad_field(session, an, override, field, message):
    args = {"degree": "engineer", "field": "Kỹ thuật điện", "institution": "Đại học Bách khoa Hà Nội", "year": 2010,
            "today": D(2026, 11, 22)} | override
    with pytest.raises(services.PersonnelError) as caught:
        services.add_qualification(session, user_id=an.id, **args)
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_update_qualification_needs_a_reason_once_in_use(session, an):
    qualification = services.add_qualification(session, user_id=an.id, degree="engineer", field="Kỹ thuật điện",
                                               institution="Đại học Bách khoa Hà Nội", year=2010)
    session.commit()
    tomorrow = qualification.created_at.astimezone(services.CENTRE_TZ).date() + dt.timedelta(days=1)
    args = {"degree": "master", "field": "Kỹ thuật điện", "institution": "Đại học Bách khoa Hà Nội", "year": 2012}
    with pytest.raises(services.ReasonRequiredError):
        services.update_qualification(session, qualification=qualification, today=tomorrow, **args)
    services.update_qualification(session, qualification=qualification, today=tomorrow, reason="Bằng thạc sĩ",
                                  **args)
    assert qualification.degree == "master"


def test_degree_labels_match_the_check_constraint():
    from lims.personnel.models import DEGREE_CODES

    assert tuple(services.DEGREES) == DEGREE_CODES


# --- lists and reports ----------------------------------------------------------------------------------------------

def test_expiring_list_keeps_valid_unrenewed_authorisations_ending_within_the_window(session, an, create_user,
                                                                                    grant):
    today = D(2026, 11, 22)
    binh = create_user("binh", full_name="Trần Thị Bình")
    cuong = create_user("cuong", full_name="Phạm Văn Cường")
    at_edge = grant(an, valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=60))
    grant(an, instrument_type="weight", valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=61))
    soon = grant(binh, instrument_type="taximeter", card_number="KĐV 0002", valid_from=D(2022, 1, 1),
                 valid_until=today + dt.timedelta(days=5))
    # Renewed from the next day: not a concern.
    grant(binh, valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=10), card_number="KĐV 0002")
    grant(binh, valid_from=today + dt.timedelta(days=11), valid_until=D(2031, 1, 1), card_number="KĐV 0002")
    # Revoked, expired, or ending today's day after: left out / in.
    grant(cuong, valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=30), card_number="KĐV 0003",
          revoked=(today + dt.timedelta(days=3), "Nghỉ hưu"))
    grant(cuong, instrument_type="weight", valid_from=D(2022, 1, 1), valid_until=today - dt.timedelta(days=1),
          card_number="KĐV 0003")
    last_day = grant(cuong, instrument_type="taximeter", valid_from=D(2022, 1, 1), valid_until=today,
                     card_number="KĐV 0003")
    rows = services.list_expiring_authorisations(session, within_days=60, on=today)
    assert [(r.authorisation.id, r.days_left) for r in rows] == [(last_day.id, 0), (soon.id, 5), (at_edge.id, 60)]
    only_taximeters = services.list_expiring_authorisations(session, within_days=60, on=today,
                                                            instrument_type="taximeter")
    assert [r.authorisation.id for r in only_taximeters] == [last_day.id, soon.id]
    assert [r.authorisation.id for r in services.list_expiring_authorisations(session, within_days=4, on=today)] == [
        last_day.id]


def test_matrix_cell_states(session, an, grant):
    today = D(2026, 11, 22)
    grant(an, valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=400))
    grant(an, instrument_type="weight", valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=59))
    grant(an, instrument_type="energy_meter", valid_from=D(2022, 1, 1), valid_until=today - dt.timedelta(days=1))
    grant(an, instrument_type="taximeter", valid_from=D(2022, 1, 1), valid_until=D(2030, 1, 1),
          revoked=(today, "Vi phạm quy trình"))
    row = services.authorisation_matrix(session, on=today).rows[0]
    assert row.user.id == an.id
    assert [(c.state, c.css_class) for c in row.cells] == [
        ("valid", "auth-valid"), ("expiring", "auth-expiring"), ("expired", "auth-expired"),
        ("revoked", "auth-revoked")]
    assert row.cells[0].activities == ("perform",) and row.cells[1].cover_until == today + dt.timedelta(days=59)


def test_matrix_counts_a_renewal_as_continuous_cover_and_shows_people_without_authorisations(session, an,
                                                                                            create_user, grant):
    today = D(2026, 11, 22)
    create_user("dung", full_name="Lê Thị Dung", roles=("reviewer",))
    create_user("reception", full_name="Quầy Tiếp Nhận", roles=("reception",))
    grant(an, valid_from=D(2022, 1, 1), valid_until=today + dt.timedelta(days=10))
    grant(an, valid_from=today + dt.timedelta(days=11), valid_until=D(2031, 1, 1), card_number="KĐV 0001")
    grant(an, instrument_type="weight", valid_from=today + dt.timedelta(days=1), valid_until=D(2031, 1, 1))
    matrix = services.authorisation_matrix(session, on=today)
    assert [r.user.full_name for r in matrix.rows] == ["Nguyễn Văn An", "Lê Thị Dung"]  # sorted by given name
    an_row, dung_row = matrix.rows
    assert an_row.cells[0].state == "valid" and an_row.cells[0].cover_until == D(2031, 1, 1)
    assert an_row.cells[1].state == "not_yet_valid" and an_row.cells[1].css_class == "auth-not-yet-valid"
    assert [c.state for c in dung_row.cells] == ["none"] * 4


def test_matrix_on_a_past_day_lists_a_person_who_left(session, an, grant):
    grant(an, valid_from=D(2020, 1, 1), valid_until=D(2024, 12, 31))
    an.is_active = False
    session.commit()
    assert services.authorisation_matrix(session, on=D(2026, 1, 1)).rows == []
    assert [r.cells[0].state for r in services.authorisation_matrix(session, on=D(2023, 1, 1)).rows] == ["valid"]


def test_training_report_counts_trainees_attendances_and_hours_by_the_year_courses_ended(session, an, create_user):
    binh = create_user("binh", full_name="Trần Thị Bình")
    today = D(2026, 11, 22)

    def add(user, course, start, end, hours):
        services.add_training(session, user_id=user.id, course=course, provider="Viện Đo lường Việt Nam",
                              start_date=start, end_date=end, hours=hours, today=today)

    add(an, "ISO/IEC 17025", D(2025, 3, 3), D(2025, 3, 5), "24")
    add(binh, "ISO/IEC 17025", D(2025, 3, 3), D(2025, 3, 5), "24")
    add(an, "Độ không đảm bảo đo", D(2025, 9, 8), D(2025, 9, 9), "16")
    add(binh, "Độ không đảm bảo đo", D(2025, 9, 8), D(2025, 9, 8), "7.5")
    add(an, "Kiểm định taximet", D(2025, 12, 29), D(2026, 1, 2), "24")   # ends in 2026
    session.commit()
    report = services.training_report(session, year=2025)
    assert (report.trainees, report.attendances, report.trainee_hours) == (2, 4, Decimal("71.5"))
    assert [(c.course, c.trainees, c.course_hours, c.trainee_hours, c.start_date, c.end_date)
            for c in report.courses] == [
        ("ISO/IEC 17025", 2, Decimal("24.0"), Decimal("48.0"), D(2025, 3, 3), D(2025, 3, 5)),
        ("Độ không đảm bảo đo", 2, Decimal("16.0"), Decimal("23.5"), D(2025, 9, 8), D(2025, 9, 9))]
    assert (services.training_report(session, year=2026).trainees, services.training_years(session)) == (1,
                                                                                                      [2026, 2025])


def test_list_people_searches_without_accents_and_counts_records(session, an, create_user, grant):
    create_user("binh", full_name="Trần Thị Bình", roles=("technician",))
    create_user("auditor", full_name="Đánh Giá Viên", roles=("auditor",))
    grant(an, valid_from=D(2022, 1, 1), valid_until=D(2030, 1, 1))
    people = services.list_people(session, on=D(2026, 1, 1))
    assert [p.user.username for p in people] == ["an", "binh"]
    assert (people[0].valid_authorisations, people[0].expiring_authorisations) == (1, 0)
    assert [p.user.username for p in services.list_people(session, q="tran thi binh")] == ["binh"]
    assert [p.user.username for p in services.list_people(session, role="reviewer")] == []
