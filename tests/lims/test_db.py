"""The embedded database's settings and its behaviour under concurrent writers."""

import threading

import pytest
from sqlalchemy import func, select, text

from lims.audit import services as audit
from lims.registry.models import Customer


@pytest.fixture
def database(app):
    return app.extensions["lims.db"]


def test_sqlite_pragmas(database):
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_concurrent_writers_all_succeed_and_the_chain_stays_linear(database):
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def writer(index: int) -> None:
        try:
            start.wait()
            for round_ in range(5):
                with database.transaction() as session:
                    session.add(Customer(name=f"Hộ kinh doanh {index}-{round_}", name_key=f"ho {index}-{round_}"))
                    # Read-then-write inside one transaction: the pattern that fails with "database is locked"
                    # when transactions begin deferred.
                    session.scalar(select(func.count()).select_from(Customer))
                    session.flush()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 40
        report = audit.verify_chain(session)
        assert report.ok and report.checked == 40


def test_timestamps_come_back_as_aware_utc(database):
    with database.transaction() as session:
        customer = Customer(name="Chợ Đông Hà", name_key="cho dong ha")
        session.add(customer)
        session.flush()
        customer_id = customer.id
    with database.transaction() as session:
        created = session.get(Customer, customer_id).created_at
        assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
        raw = session.execute(text("SELECT created_at FROM customers")).scalar()
        assert raw is not None
