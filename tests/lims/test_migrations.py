"""The schema is made only by Alembic, and what Alembic makes is exactly what the models say."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from lims import migrate
from lims.db import make_engine
from lims.models import Base, import_all_models


def _diff(engine):
    import_all_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_at_head_match_the_models(app):
    engine = app.extensions["lims.db"].engine
    assert migrate.current(engine) == _head()
    assert _diff(engine) == []


def test_migrations_upgrade_an_empty_sqlite_database_and_downgrade_cleanly(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    migrate.upgrade(engine)
    assert _diff(engine) == []
    assert {"users", "audit_events", "customers", "instruments"} <= set(inspect(engine).get_table_names())
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert _diff(engine) == []
    engine.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()
