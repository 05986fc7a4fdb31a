"""Jobs: gapless numbers (also under concurrent writers), receipt rules, items, fees, states."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from lims.jobs import services
from lims.jobs.models import Job
from tests.lims.workflow_fixtures import TODAY, WORK_DAY


def test_next_number_counts_per_series_and_year(session):
    numbers = [services.next_number(session, series="YC", year=2026) for _ in range(3)]
    numbers.append(services.next_number(session, series="YC", year=2027))
    numbers.append(services.next_number(session, series="GCN", year=2026))
    assert numbers == [1, 2, 3, 1, 1]


def test_a_rolled_back_number_is_given_again(app):
    db = app.extensions["lims.db"]
    with db.transaction() as session:
        assert services.next_number(session, series="YC", year=2026) == 1
    session = db.session()
    assert services.next_number(session, series="YC", year=2026) == 2
    session.rollback()
    session.close()
    with db.transaction() as session:
        assert services.next_number(session, series="YC", year=2026) == 2


def test_concurrent_writers_get_consecutive_numbers_without_gaps(app):
    db = app.extensions["lims.db"]
    taken: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(index: int):
        try:
            start.wait()
            for round_ in range(5):
                session = db.session()
                try:
                    number = services.next_number(session, series="YC", year=2026)
                    time.sleep(0.002)  # widen the window between reading and writing the counter
                    if (index + round_) % 4 == 0:
                        session.rollback()  # a failed transaction gives its number back
                        continue
                    session.commit()
                    taken.append(number)
                finally:
                    session.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(taken) == list(range(1, len(taken) + 1))
    assert len(taken) == 30  # 8 × 5, minus the 10 rolled back


def test_concurrent_receipts_number_jobs_consecutively(app, lab):
    db = app.extensions["lims.db"]
    customer_id, scale_id, user_id = lab.customer.id, lab.scale.id, lab.technician.id
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker():
        try:
            start.wait()
            with db.transaction() as session:
                services.receive_job(session, customer_id=customer_id, received_date=dt.date(2026, 3, 2),
                                     received_by_id=user_id,
                                     items=[{"instrument_id": scale_id, "service": "periodic"}])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    lab.session.rollback()
    numbers = sorted(lab.session.scalars(select(Job.number).where(Job.number.like("YC-2026-%"))))
    assert numbers == [f"YC-2026-{n:05d}" for n in range(1, 7)]


def test_receive_job_numbers_by_the_year_of_receipt(lab):
    job = lab.job(received_date=dt.date(2025, 12, 31))
    second = lab.job(received_date=dt.date(2026, 1, 2))
    assert (job.number, second.number) == ("YC-2025-00001", "YC-2026-00001")
    assert (job.state, job.items[0].position, job.items[0].service) == ("received", 1, "periodic")
    assert job.items[0].condition_on_receipt == "Nguyên vẹn, còn tem niêm phong"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"items": []}, "items", "Hãy chọn ít nhất một phương tiện đo được tiếp nhận."),
    ({"location": "on_site"}, "site_address", "Công việc tại hiện trường cần địa chỉ nơi thực hiện."),
    ({"due_date": dt.date(2026, 2, 1)}, "due_date", "Ngày hẹn trả phải từ ngày tiếp nhận trở đi."),
    ({"customer_id": None}, "customer_id", "Hãy chọn khách hàng gửi yêu cầu."),
])
def test_receive_job_refuses_with_the_field_and_reason(lab, changes, field, message):
    args = {"customer_id": lab.customer.id, "received_date": dt.date(2026, 3, 2), "received_by_id": None,
            "items": [{"instrument_id": lab.scale.id, "service": "periodic"}]} | changes
    with pytest.raises(services.JobError) as info:
        services.receive_job(lab.session, **args)
    assert (info.value.field, str(info.value)) == (field, message)


def test_an_item_must_belong_to_the_customer_and_appear_once(lab):
    from lims.registry import services as registry

    other = registry.create_customer(lab.session, name="Công ty TNHH Thương mại Phú Quý", tax_code="5900654321")
    foreign = lab.instrument("OTHER-1", customer=other)
    job = lab.job()
    with pytest.raises(services.JobError, match="không thuộc khách hàng của yêu cầu này"):
        services.add_item(lab.session, job=job, instrument_id=foreign.id, service="periodic")
    with pytest.raises(services.JobError, match="đã có trong yêu cầu này"):
        services.add_item(lab.session, job=job, instrument_id=lab.scale.id, service="periodic")
    with pytest.raises(services.JobError, match="được kiểm định, không hiệu chuẩn"):
        services.add_item(lab.session, job=job, instrument_id=lab.instrument("S-2").id, service="calibration")


def test_register_an_instrument_on_the_spot(lab):
    from lims.registry.services import DuplicateInstrumentError

    job = lab.job()
    item = services.register_and_add_item(lab.session, job=job, service="initial", type_code="nawi",
                                          manufacturer="Vibra", serial="TPS-0099", spec={
                                              "max": "60", "e": "0.02", "d": "0.02", "unit": "kg",
                                              "accuracy_class": "III"}, condition_on_receipt="Mới",
                                          today=TODAY)
    assert (item.position, item.instrument.customer_id, item.instrument.serial) == (2, lab.customer.id, "TPS-0099")
    with pytest.raises(DuplicateInstrumentError):
        services.register_and_add_item(lab.session, job=job, service="initial", type_code="nawi",
                                       manufacturer="CAS", serial="24A112233", spec=lab.scale.spec, today=TODAY)


def test_fees_in_dong(lab):
    job = lab.job()
    services.add_fee(lab.session, job=job, description="Phí kiểm định cân đến 30 kg", quantity=2,
                     unit_price_vnd="150.000")
    services.add_fee(lab.session, job=job, description="Phí đi lại", unit_price_vnd="50000",
                     job_item_id=job.items[0].id)
    assert services.total_vnd(job) == Decimal("350000")
    assert services.format_vnd(services.total_vnd(job)) == "350.000"
    with pytest.raises(services.JobError, match="Đơn giá phải là số đồng"):
        services.add_fee(lab.session, job=job, description="x", unit_price_vnd="12,5k")


def test_states_follow_the_records_and_manual_steps(lab):
    from lims.verifications import services as verifications
    from tests.conftest import TEST_PASSWORD

    verification = lab.sign_ready()
    job = verification.job_item.job
    assert job.state == "in_progress"
    with pytest.raises(services.JobError, match="chưa có biên bản được phê duyệt"):
        services.change_state(lab.session, job=job, state="completed")
    verifications.submit(lab.session, verification=verification, user_id=lab.technician.id, password=TEST_PASSWORD)
    with pytest.raises(services.JobError, match="đã có biên bản được ký"):
        services.change_state(lab.session, job=job, state="cancelled", reason="Khách rút yêu cầu")
    verifications.review(lab.session, verification=verification, reviewer_id=lab.reviewer.id,
                         password=TEST_PASSWORD)
    verifications.approve(lab.session, verification=verification, approver_id=lab.approver.id,
                          password=TEST_PASSWORD)
    assert job.state == "completed"
    with pytest.raises(services.JobError, match="Không chuyển được"):
        services.change_state(lab.session, job=job, state="received")
    services.change_state(lab.session, job=job, state="delivered")
    assert job.state == "delivered"
    assert services.state_counts(lab.session)["delivered"] == 1


def test_cancelling_needs_a_reason(lab):
    job = lab.job()
    with pytest.raises(services.JobError, match="Lý do không được để trống"):
        services.change_state(lab.session, job=job, state="cancelled")
    services.change_state(lab.session, job=job, state="cancelled", reason="Khách hàng rút yêu cầu")
    with pytest.raises(services.JobError, match="không sửa được"):
        services.add_item(lab.session, job=job, instrument_id=lab.instrument("S-3").id, service="periodic")


def test_board_lists_by_due_date_and_matches_number_or_customer(lab):
    first = lab.job()
    second = lab.job()
    second.due_date = TODAY + dt.timedelta(days=1)
    lab.session.commit()
    listed = services.list_jobs(lab.session, services.JobFilter(), today=TODAY)
    assert [j.number for j in listed] == [second.number, first.number]
    assert [j.number for j in services.list_jobs(lab.session, services.JobFilter(q=first.number.lower()),
                                                 today=TODAY)] == [first.number]
    assert len(services.list_jobs(lab.session, services.JobFilter(q="ro cham"), today=TODAY)) == 2
    assert services.list_jobs(lab.session, services.JobFilter(overdue=True), today=TODAY + dt.timedelta(days=3)) \
        == [second]
    progress = services.item_progress(lab.session, first)
    assert [(p.item.instrument.serial, p.state) for p in progress] == [("24A112233", "none")]
    assert WORK_DAY < TODAY
