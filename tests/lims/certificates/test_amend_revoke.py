"""Amendment (17025 7.8.8: a new uniquely numbered certificate that references the one it replaces, and why) and
revocation (reason and date). Neither deletes anything."""

import datetime as dt
import io

import pypdf
import pytest
from sqlalchemy import func, select

from lims.certificates import keys, seal, services
from lims.certificates.models import Certificate, CertificateRecord
from lims.registry.models import Customer

from .factories import TODAY


def _text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages).split())


def _amend(lab, certificate, reason="Sai tên khách hàng", key="amend-1", **kwargs):
    new = services.amend_certificate(lab.session, certificate=certificate, reason=reason, issued_by_id=lab.approver.id,
                                     request_key=key, today=kwargs.pop("today", TODAY + dt.timedelta(days=2)),
                                     settings=lab.settings, **kwargs)
    lab.session.commit()
    return new


def test_amendment_is_a_new_certificate_that_replaces_the_old_one(ready_lab):
    lab = ready_lab
    old = lab.issue(lab.verification())
    customer = lab.session.get(Customer, lab.customer.id)
    customer.name = "Công ty Cổ phần Taxi Phố Núi"  # the correction that motivates the amendment
    lab.session.commit()

    new = _amend(lab, old)
    lab.session.refresh(old)
    assert old.status == "superseded" and old.superseded_at is not None
    assert new.status == "issued" and new.replaces_id == old.id and new.revision == 1
    assert new.number == "KĐ-2026-000002" and new.number != old.number
    assert new.amendment_reason == "Sai tên khách hàng"
    assert new.stamp_id == old.stamp_id  # the stamp on the instrument stays
    assert new.valid_until == old.valid_until
    assert new.record["document"]["amendment"] == {"replaces_number": old.number, "reason": "Sai tên khách hàng"}
    assert new.customer_name == "Công ty Cổ phần Taxi Phố Núi"
    text = _text(lab.session.get(CertificateRecord, new.id).pdf)
    assert f"Lần ban hành 1: thay thế giấy chứng nhận số {old.number} vì Sai tên khách hàng" in text
    assert "Công ty Cổ phần Taxi Phố Núi" in text
    payload = seal.verify(new.seal_token, keys.public_keys(lab.session))
    assert (payload.number, payload.revision) == (new.number, 1)
    # Nothing was deleted; the old certificate still prints as it was issued.
    assert lab.session.scalar(select(func.count()).select_from(Certificate)) == 2
    assert services.render_pdf(old) == lab.session.get(CertificateRecord, old.id).pdf
    assert "Công ty TNHH Taxi Phố Núi" in _text(services.render_pdf(old))
    assert [c.number for c in services.revision_chain(lab.session, old)] == [old.number, new.number]
    assert services.superseded_by(lab.session, old).id == new.id


def test_an_amendment_needs_a_reason_and_a_certificate_in_force(ready_lab):
    lab = ready_lab
    old = lab.issue(lab.verification())
    with pytest.raises(services.ReasonRequiredError, match="Ghi lý do"):
        _amend(lab, old, reason="   ")
    lab.session.rollback()
    _amend(lab, old)
    with pytest.raises(services.NotInForceError, match="đã được thay thế"):
        _amend(lab, old, key="amend-2")
    lab.session.rollback()


def test_a_replayed_amendment_issues_one(ready_lab):
    lab = ready_lab
    old = lab.issue(lab.verification())
    first = _amend(lab, old, key="form-abc")
    assert _amend(lab, old, key="form-abc").id == first.id
    assert lab.session.scalar(select(func.count()).select_from(Certificate)) == 2


def test_an_amended_record_issues_an_amendment_of_its_certificate(ready_lab):
    """The workflow's amendment of an approved record (revision 2) gives a certificate replacing revision 1's."""
    lab = ready_lab
    first = lab.verification()
    old = lab.issue(first)
    second = lab.verification(instrument=first.instrument, supersedes=first,
                              amendment_reason="Nhập sai số chỉ ở tải 20 kg")
    new = lab.issue(second, key="approve-revision-2")
    lab.session.refresh(old)
    assert new.replaces_id == old.id and new.revision == 1 and old.status == "superseded"
    assert new.amendment_reason == "Nhập sai số chỉ ở tải 20 kg"
    assert new.verification_id == second.id and new.stamp_id == old.stamp_id


def test_a_failed_amended_record_replaces_the_certificate_with_a_notice(ready_lab):
    lab = ready_lab
    first = lab.verification()
    old = lab.issue(first)
    second = lab.verification(instrument=first.instrument, supersedes=first, failing=True,
                              amendment_reason="Kiểm tra lại độ lệch tâm")
    notice = lab.issue(second)
    assert notice.kind == "failure_notice" and notice.number == "TB-2026-000001"
    assert notice.replaces_id == old.id and notice.stamp_id is None and notice.valid_until is None


def test_revocation_records_the_reason_and_date_and_keeps_the_certificate(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    moment = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.timezone.utc)
    services.revoke_certificate(lab.session, certificate=certificate, reason="Phương tiện đo bị niêm phong sai",
                                revoked_by_id=lab.approver.id, now=moment)
    lab.session.commit()
    lab.session.expire_all()
    certificate = lab.session.get(Certificate, certificate.id)
    assert certificate.status == "revoked" and certificate.revoked_at == moment
    assert certificate.revocation_reason == "Phương tiện đo bị niêm phong sai"
    assert certificate.revoked_by_id == lab.approver.id
    assert services.check_integrity(lab.session, certificate).ok  # what it said is untouched
    with pytest.raises(services.NotInForceError, match="bị thu hồi"):
        services.revoke_certificate(lab.session, certificate=certificate, reason="lần nữa", revoked_by_id=None)
    lab.session.rollback()
    with pytest.raises(services.NotInForceError):
        _amend(lab, lab.session.get(Certificate, certificate.id))


def test_revocation_needs_a_reason(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    with pytest.raises(services.ReasonRequiredError, match="Ghi lý do thu hồi"):
        services.revoke_certificate(lab.session, certificate=certificate, reason="", revoked_by_id=None)


def test_live_status_derives_expiry_from_valid_until(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    assert services.status_on(certificate, certificate.valid_until) == "valid"
    assert services.status_on(certificate, certificate.valid_until + dt.timedelta(days=1)) == "expired"
    flt = services.CertificateFilter(status="expired")
    assert services.list_certificates(lab.session, flt, today=dt.date(2028, 1, 1))[0] == [certificate]
    assert services.list_certificates(lab.session, flt, today=TODAY)[0] == []
