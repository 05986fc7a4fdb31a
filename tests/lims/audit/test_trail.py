"""The audit trail: captured on every write, append-only in the database, and hash-chained."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lims.audit import services as audit
from lims.audit.models import AuditEvent
from lims.models import Base, import_all_models
from lims.registry.models import Customer


def _events(session, **filters):
    return session.scalars(select(AuditEvent).filter_by(**filters).order_by(AuditEvent.seq)).all()


def _add_customer(session, name="Chợ Tân Phú", **fields):
    customer = Customer(name=name, name_key=name.lower(), **fields)
    session.add(customer)
    session.flush()
    return customer


def test_every_model_is_audited_or_exempt_with_a_written_reason():
    import_all_models()
    for mapper in Base.registry.mappers:
        policy = audit.audit_policy(mapper.class_)
        assert policy is True or (isinstance(policy, str) and len(policy.split()) >= 4), (
            f"{mapper.class_.__name__}: __audit__ must be True or a sentence saying why it is exempt")


def test_insert_update_delete_are_recorded_with_old_and_new_values_actor_and_reason(session):
    audit.set_actor(session, actor_id=7, actor_name="lan")
    customer = _add_customer(session, district="Tân Phú")
    with audit.reason(session, "khách hàng đổi địa chỉ"):
        customer.district = "Bình Tân"
        session.flush()
    session.delete(customer)
    session.commit()
    events = _events(session, entity_type="customers", entity_id=str(customer.id))
    assert [e.action for e in events] == ["insert", "update", "delete"]
    insert, update, delete = events
    assert insert.changes["name"] == [None, "Chợ Tân Phú"] and insert.reason is None
    assert update.changes == {"district": ["Tân Phú", "Bình Tân"]}
    assert update.reason == "khách hàng đổi địa chỉ"
    assert delete.changes["district"] == ["Bình Tân", None]
    assert {(e.actor_id, e.actor_name) for e in events} == {(7, "lan")}


def test_a_rolled_back_change_leaves_no_event(session):
    before = len(_events(session))
    _add_customer(session)
    session.rollback()
    assert len(_events(session)) == before


def test_the_database_refuses_to_update_or_delete_audit_rows(session):
    _add_customer(session)
    session.commit()
    for statement in ("UPDATE audit_events SET actor_name = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert {e.actor_name for e in _events(session)} == {"test"}


def test_verify_finds_an_intact_chain(session, runner):
    for name in ("A", "B", "C"):
        _add_customer(session, name=name)
    session.commit()
    report = audit.verify_chain(session)
    assert report.ok and report.checked == 3
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Audit trail intact: 3 events verified." in result.output


def _tamper(session, *statements):
    """Bypass the append-only triggers, as an attacker with file or superuser access could."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    for statement in statements:
        session.execute(text(statement))
    session.commit()


@pytest.fixture
def five_events(session):
    for name in "ABCDE":
        _add_customer(session, name=name)
    session.commit()
    return _events(session)


def test_verify_detects_a_changed_row(session, runner, five_events):
    _tamper(session, "UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 3")
    report = audit.verify_chain(session)
    assert report.problems == [(3, "content does not match its hash (changed)")]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "event 3: content does not match its hash (changed)" in result.output


def test_verify_detects_a_removed_row(session, five_events):
    _tamper(session, "DELETE FROM audit_events WHERE seq = 2")
    assert audit.verify_chain(session).problems == [(3, "events 2–2 are missing (removed)")]


def test_verify_detects_removed_rows_at_the_end(session, five_events):
    _tamper(session, "DELETE FROM audit_events WHERE seq >= 4")
    problems = audit.verify_chain(session).problems
    assert len(problems) == 1 and "the chain ends at event 3 but its head says 5" in problems[0][1]


def test_verify_detects_an_inserted_row(session, five_events):
    forged = five_events[1]
    _tamper(session, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3",
            "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103")
    session.execute(text(
        "INSERT INTO audit_events (seq, occurred_at, actor_id, actor_name, action, entity_type, entity_id, changes, "
        "reason, prev_hash, hash) VALUES (3, :at, NULL, 'mallory', 'insert', 'customers', '99', :changes, NULL, "
        ":prev, :hash)"), {"at": forged.occurred_at.replace(tzinfo=None), "changes": "{}",
                           "prev": forged.hash, "hash": "f" * 64})
    session.commit()
    problems = audit.verify_chain(session).problems
    assert (3, "content does not match its hash (changed)") in problems
    assert (4, "does not follow the previous event (inserted or reordered)") in problems


def test_verify_detects_reordered_rows(session, five_events):
    _tamper(session, "UPDATE audit_events SET seq = 100 WHERE seq = 2",
            "UPDATE audit_events SET seq = 2 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = 100")
    problems = audit.verify_chain(session).problems
    assert (2, "does not follow the previous event (inserted or reordered)") in problems
    assert all(seq in (2, 3, 4) for seq, _ in problems)


def test_history_view_shows_who_changed_what(client, auth, session):
    customer = _add_customer(session, name="<script>alert(1)</script>")
    session.commit()
    auth.login("auditor")
    page = client.get(f"/audit/customers/{customer.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert ">insert<" in page


def test_auditor_sees_the_chain_status_and_admin_can_run_the_check(client, auth, session, five_events):
    auth.login("auditor")
    assert "chưa được kiểm tra" in client.get("/audit/").get_data(as_text=True)
    assert client.post("/audit/verify").status_code == 403
    auth.logout()
    auth.login("admin")
    response = client.post("/audit/verify", follow_redirects=True)
    assert "Chuỗi nhật ký nguyên vẹn" in response.get_data(as_text=True)
