"""The personnel demo: a realistic staff, and the demo logins authorised for every type today."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import instruments
from sqlalchemy import func, select

from lims.auth.models import User
from lims.personnel import demo, services
from lims.personnel.models import Authorisation, Qualification, Training
from lims.dates import centre_today


def _counts(session):
    return [session.scalar(select(func.count()).select_from(model))
            for model in (User, Qualification, Training, Authorisation)]


def test_seed_creates_staff_with_every_kind_of_authorisation_state_and_is_idempotent(session, create_user):
    for role in ("technician", "reviewer", "approver"):
        create_user(role, roles=(role,))
    today = centre_today()
    lines = demo.seed(session)
    session.commit()
    assert lines[0] == "Personnel: 12 staff with 32 training records and 27 authorisations"
    assert len(lines) == 4 and lines[1].startswith("Personnel: technician (technician) authorised for nawi, weight, "
                                                   "energy_meter, taximeter until ")

    for kind in instruments.all_types():
        for username, check in (("technician", "perform"), ("reviewer", "reviewed"), ("approver", "approved")):
            user_id = session.scalar(select(User.id).where(User.username == username))
            if check == "perform":
                decision = services.may_perform(session, user_id=user_id, instrument_type=kind.code, on=today)
            else:
                decision = services.may_sign(session, user_id=user_id, instrument_type=kind.code, meaning=check,
                                             on=today)
            assert decision.allowed, decision.reason

    matrix = services.authorisation_matrix(session, on=today)
    states = Counter(cell.state for row in matrix.rows for cell in row.cells
                     if row.user.username not in demo.DEMO_LOGINS)
    assert (states["expiring"], states["expired"], states["revoked"], states["not_yet_valid"]) == (1, 1, 1, 1)
    assert states["valid"] > 20
    expiring = services.list_expiring_authorisations(session, within_days=30, on=today)
    assert [(row.authorisation.user.full_name, row.authorisation.instrument_type) for row in expiring] == [
        ("Lê Thị Ngọc Ánh", "nawi")]
    first_training = session.scalar(select(func.min(Training.end_date)))
    assert today - dt.timedelta(days=3 * 365) <= first_training
    assert {len(services.training_report(session, year=y).records) for y in services.training_years(session)} != {0}

    before = _counts(session)
    assert demo.seed(session) == []
    session.commit()
    assert _counts(session) == before


def test_seed_without_the_demo_logins_says_so(session):
    lines = demo.seed(session, today=dt.date(2026, 11, 22))
    assert lines[-1] == ("Personnel: no demo login (technician, reviewer, approver) exists yet, so none was "
                         "authorised; run lims.demo first")
    session.commit()
    head = session.scalar(select(User).where(User.username == "hung.nv"))
    assert head.role_codes == {"approver"}
    internal = session.scalars(select(Authorisation).where(Authorisation.granted_by_id == head.id)).all()
    assert {a.user.username for a in internal} == {"hue.ttk"}


def test_seed_authorises_the_centre_demo_logins_by_role(session, create_user):
    from lims.demo import LOGINS

    wanted = {username: role for username, _password, role in LOGINS if role in demo.DEMO_LOGINS}
    assert sorted(wanted.values()) == ["approver", "reviewer", "technician"]
    for username, role in wanted.items():
        create_user(username, roles=(role,))
    demo.seed(session)
    session.commit()
    today = centre_today()
    cards = set()
    for username, role in wanted.items():
        user_id = session.scalar(select(User.id).where(User.username == username))
        for kind in instruments.all_types():
            if role == "technician":
                decision = services.may_perform(session, user_id=user_id, instrument_type=kind.code, on=today)
            else:
                decision = services.may_sign(session, user_id=user_id, instrument_type=kind.code,
                                             meaning="reviewed" if role == "reviewer" else "approved", on=today)
            assert decision.allowed, decision.reason
            cards.add((username, decision.card_number))
    assert len({card for _user, card in cards if card}) == 2  # technician's and reviewer's own cards
