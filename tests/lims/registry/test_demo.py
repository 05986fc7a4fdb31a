"""The demo centre: realistic, deterministic, idempotent."""

from __future__ import annotations

import datetime as dt

from flask_babel import force_locale
from sqlalchemy import func, select

from lims import demo
from lims.audit import services as audit
from lims.auth.models import User
from lims.registry.models import Customer, Instrument

TODAY = dt.date(2026, 11, 22)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_seed_is_idempotent_and_covers_every_type(session):
    first = demo.seed(session, instrument_count=400, today=TODAY)
    session.commit()
    assert (first.users, first.customers, first.instruments) == (7, demo.CUSTOMER_COUNT, 400)
    assert "Created 7 users" in first.lines()[1]
    again = demo.seed(session, instrument_count=400, today=TODAY + dt.timedelta(days=3))
    session.commit()
    assert (again.users, again.customers, again.instruments, again.skipped_instruments) == (0, 0, 0, 400)
    assert (_count(session, User), _count(session, Customer), _count(session, Instrument)) == (
        7, demo.CUSTOMER_COUNT, 400)
    types = dict(session.execute(select(Instrument.type_code, func.count()).group_by(Instrument.type_code)).all())
    assert set(types) == {"nawi", "weight", "energy_meter", "taximeter"}
    overdue = session.scalar(select(func.count()).select_from(Instrument).where(Instrument.next_due_date < TODAY))
    assert 0 < overdue < 400
    assert audit.verify_chain(session).ok


def test_seed_grows_with_a_larger_count_and_keeps_the_first_instruments(session):
    demo.seed(session, instrument_count=50, today=TODAY)
    session.commit()
    serials = set(session.scalars(select(Instrument.serial)))
    summary = demo.seed(session, instrument_count=80, today=TODAY)
    session.commit()
    assert (summary.instruments, summary.skipped_instruments) == (30, 50)
    assert serials <= set(session.scalars(select(Instrument.serial)))


def test_demo_data_looks_like_a_provincial_centre(session):
    with force_locale("vi"):
        demo.seed(session, instrument_count=300, today=TODAY)
    names = set(session.scalars(select(Customer.name)))
    assert any(name.startswith("Điện lực") for name in names)
    assert any("Taxi" in name for name in names)
    assert any(name.startswith("Hộ kinh doanh") for name in names)
    plates = [s["vehicle_plate"] for s in session.scalars(select(Instrument.spec).where(
        Instrument.type_code == "taximeter"))]
    assert plates and all(plate.startswith("81A-") for plate in plates)


def test_demo_command_prints_logins_and_if_empty_skips(runner, session):
    result = runner.invoke(args=["demo", "--instruments", "60"])
    assert result.exit_code == 0, result.output
    for username, password, _role in demo.LOGINS:
        assert username in result.output and password in result.output
    again = runner.invoke(args=["demo", "--if-empty", "--instruments", "60"])
    assert again.exit_code == 0 and "nothing seeded" in again.output
    assert _count(session, Instrument) == 60


def test_demo_logins_work(client, session):
    demo.seed(session, instrument_count=10, today=TODAY)
    session.commit()
    username, password, _role = demo.LOGINS[2]
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302
    assert client.get("/instruments").status_code == 200
