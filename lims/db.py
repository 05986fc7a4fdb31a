"""The database: engine, per-request session, SQLite tuning.

SQLite (the embedded default) runs in WAL mode with foreign keys on, ``synchronous=FULL`` and a busy timeout; a
session that may write opens its transaction with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout
instead of failing later with "database is locked" when one upgrades its read lock. Read-only sessions (GET requests)
begin deferred and never block writers in WAL mode.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for ``url`` with this project's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy (below) emit BEGIN itself instead of pysqlite's implicit, deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        mode = "DEFERRED" if connection.get_execution_options().get("lims_readonly") else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._writer = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._reader = sessionmaker(bind=self.engine.execution_options(lims_readonly=True), expire_on_commit=False)

    def session(self, *, readonly: bool = False) -> Session:
        """A new session; the caller closes it."""
        return (self._reader if readonly else self._writer)()

    @contextmanager
    def transaction(self, *, actor_id: int | None = None) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (for commands and scripts)."""
        session = self.session()
        if actor_id is not None:
            session.info["actor_id"] = actor_id
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask) -> Database:
    database = Database(app.config["DATABASE_URL"])
    app.extensions["lims.db"] = database
    # Per request (an app context may outlive requests, e.g. in tests and commands), and per app context.
    app.teardown_request(_close_session)
    app.teardown_appcontext(_close_session)
    return database


def get_db() -> Database:
    return current_app.extensions["lims.db"]


def get_session() -> Session:
    """The session of the current request: read-only for safe methods, writing (BEGIN IMMEDIATE) otherwise."""
    if "db_session" not in g:
        readonly = has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
        session = get_db().session(readonly=readonly)
        g.db_session = session
    return g.db_session


def _close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
