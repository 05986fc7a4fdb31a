"""The stamp inventory: batches received in ranges, ranges assigned, stamps used and spoiled — each logged."""

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.certificates import stamps
from lims.certificates.models import Stamp


def _states(session) -> dict:
    return stamps.state_counts(session)


def test_receiving_a_batch_puts_every_stamp_of_the_range_in_stock(lab):
    batch = stamps.receive_stamps(lab.session, series="gl-26", first_number=41, last_number=140,
                                  received_by_id=lab.technician.id)
    lab.session.commit()
    assert (batch.series, batch.count) == ("GL-26", 100)
    assert _states(lab.session) == {"available": 100, "assigned": 0, "used": 0, "spoiled": 0}
    numbers = list(lab.session.scalars(select(Stamp.number).order_by(Stamp.serial_no).limit(2)))
    assert numbers == ["GL-26 0000041", "GL-26 0000042"]
    event = lab.session.scalars(select(AuditEvent).where(AuditEvent.action == "receive_stamps")).one()
    assert event.changes == {"series": "GL-26", "first": "GL-26 0000041", "last": "GL-26 0000140", "count": 100}


@pytest.mark.parametrize("first, last, message", [
    (10, 5, "Số tem cuối nhỏ hơn số tem đầu"),
    (0, 5, "số nguyên dương"),
    ("abc", 5, "số nguyên dương"),
    (1, 10_000_000, "tối đa 7 chữ số"),
    (1, 200_000, "tối đa 100.000 tem"),
])
def test_receiving_refuses_a_bad_range(lab, first, last, message):
    with pytest.raises(stamps.StampError, match=message):
        stamps.receive_stamps(lab.session, series="GL", first_number=first, last_number=last)


def test_receiving_refuses_a_range_overlapping_stamps_already_received(lab):
    stamps.receive_stamps(lab.session, series="GL", first_number=1, last_number=50)
    lab.session.commit()
    with pytest.raises(stamps.StampError, match="GL 0000050 đã được nhận"):
        stamps.receive_stamps(lab.session, series="GL", first_number=50, last_number=60)
    lab.session.rollback()
    stamps.receive_stamps(lab.session, series="KT", first_number=50, last_number=60)  # another series: fine


def test_assigning_a_range_skips_used_and_spoiled_stamps(ready_lab):
    lab = ready_lab  # stamps 1 … 20 assigned to the technician
    lab.issue(lab.verification())  # uses stamp 1
    stamp = lab.session.scalars(select(Stamp).where(Stamp.serial_no == 2)).one()
    stamps.spoil_stamp(lab.session, stamp=stamp, reason="Rách khi bóc", spoiled_by_id=lab.approver.id)
    lab.session.commit()
    result = stamps.assign_stamps(lab.session, series="GL-26", first_number=1, last_number=10,
                                  technician_id=lab.reviewer.id)
    lab.session.commit()
    assert (result.assigned, result.skipped) == (8, 2)
    assert stamps.holdings(lab.session) == [(lab.technician.id, "Trần Đức Thịnh", 10),
                                            (lab.reviewer.id, "Nguyễn Thị Thu Hà", 8)]
    event = lab.session.scalars(select(AuditEvent).where(AuditEvent.action == "assign_stamps")
                                .order_by(AuditEvent.seq.desc())).first()
    assert event.changes["assigned_to_id"] == lab.reviewer.id and event.changes["skipped"] == 2


def test_assigning_refuses_an_empty_range_and_an_unknown_person(lab):
    lab.stamps(1, 3)
    with pytest.raises(stamps.StampError, match="Không có tem nào"):
        stamps.assign_stamps(lab.session, series="GL-26", first_number=500, last_number=600,
                             technician_id=lab.technician.id)
    with pytest.raises(stamps.StampError, match="kiểm định viên"):
        stamps.assign_stamps(lab.session, series="GL-26", first_number=1, last_number=3, technician_id=99999)


def test_spoiling_a_stamp_records_why_and_who_and_it_is_never_used(ready_lab):
    lab = ready_lab
    first = lab.session.scalars(select(Stamp).where(Stamp.serial_no == 1)).one()
    stamps.spoil_stamp(lab.session, stamp=first, reason="Mất khi vận chuyển", spoiled_by_id=lab.approver.id)
    lab.session.commit()
    assert first.state == "spoiled" and first.spoiled_reason == "Mất khi vận chuyển"
    assert first.spoiled_by_id == lab.approver.id and first.spoiled_at is not None
    event = lab.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "stamps",
                                                         AuditEvent.action == "update")).one()
    assert event.reason == "Mất khi vận chuyển" and event.changes["state"] == ["assigned", "spoiled"]
    certificate = lab.issue(lab.verification())
    assert certificate.stamp.number == "GL-26 0000002"
    with pytest.raises(stamps.StampError, match="đã bị hủy"):
        stamps.spoil_stamp(lab.session, stamp=first, reason="lần nữa", spoiled_by_id=None)
    with pytest.raises(stamps.StampError, match="đã dùng"):
        stamps.spoil_stamp(lab.session, stamp=certificate.stamp, reason="x", spoiled_by_id=None)
    with pytest.raises(stamps.StampError, match="Ghi lý do"):
        stamps.spoil_stamp(lab.session, stamp=lab.session.scalars(select(Stamp).where(Stamp.serial_no == 3)).one(),
                           reason=" ", spoiled_by_id=None)


def test_list_stamps_filters_and_names_the_certificate_that_used_each(ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    used, _more = stamps.list_stamps(lab.session, stamps.StampFilter(state="used"))
    assert [(stamp.number, number) for stamp, number in used] == [("GL-26 0000001", certificate.number)]
    page, more = stamps.list_stamps(lab.session, stamps.StampFilter(technician_id=lab.technician.id), page_size=5)
    assert len(page) == 5 and more
    found, _ = stamps.list_stamps(lab.session, stamps.StampFilter(q="0000017"))
    assert [stamp.serial_no for stamp, _n in found] == [17]
    assert stamps.find_stamp(lab.session, "gl-26  0000017").serial_no == 17
    assert lab.session.scalar(select(func.count()).select_from(Stamp)) == 20
