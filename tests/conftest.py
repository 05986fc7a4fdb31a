"""Fixtures shared by the whole suite.

Every test that touches the database gets a fresh one, migrated by Alembic (never ``create_all``): a SQLite file
copied from a template migrated once per run, and — when ``LIMS_TEST_DATABASE_URL`` names a PostgreSQL server — also a
PostgreSQL database cloned from a template database of this run (``CREATE DATABASE … TEMPLATE``). Database names carry
a random run id, so that concurrent runs cannot collide; all of them are dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lims import create_app, migrate
from lims.db import make_engine

# The browser fixtures (live_server, page, screenshot, …) for every test module that drives Chromium.
pytest_plugins = ("tests.browser_fixtures",)

RUN_ID = uuid.uuid4().hex[:10]
PG_URL = os.environ.get("LIMS_TEST_DATABASE_URL", "")
ENGINES = ["sqlite"] + (["postgresql"] if PG_URL else [])

TEST_PASSWORD = "correct horse battery staple"
# Cheap argon2id parameters for speed; production keeps the library's defaults.
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


class _Postgres:
    def __init__(self, url: str):
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.template = f"lims_t_{RUN_ID}_tmpl"
        self.counter = 0
        self.created: list[str] = []

    def create_template(self) -> None:
        self._execute(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        engine = make_engine(self.url.set(database=self.template).render_as_string(hide_password=False))
        migrate.upgrade(engine)
        engine.dispose()

    def clone(self) -> str:
        self.counter += 1
        name = f"lims_t_{RUN_ID}_{self.counter}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def close(self) -> None:
        for name in reversed(list(self.created)):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(sql))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file we copy
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres():
    if not PG_URL:
        yield None
        return
    server = _Postgres(PG_URL)
    server.create_template()
    yield server
    server.close()


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path, sqlite_template, postgres):
    """A fresh, migrated database of each engine under test."""
    if request.param == "sqlite":
        path = tmp_path / "lims.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        url = postgres.clone()
        yield url
        postgres.drop(url)


@pytest.fixture
def app_config(database_url, tmp_path):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_PARAMS": FAST_HASH,
        "RATELIMIT_ENABLED": False,
        "SEAL_KEY_FILE": str(tmp_path / "seal_key.pem"),
        "PUBLIC_URL": "http://lims.test",
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path / "instance"))
    # No app context is held open during the test: each request must get its own, as in production (Flask would
    # otherwise reuse the test's context, and with it ``g`` and the logged-in user, across requests).
    application = create_app(app_config)
    yield application
    application.extensions["lims.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A session on the test database. It begins deferred (like a reader) so that it never holds SQLite's write lock
    while the app under test writes; tests commit what the app should see, and roll back to see what the app wrote."""
    db_session = app.extensions["lims.db"].session(readonly=True)
    db_session.info.update(actor_name="test")
    yield db_session
    db_session.rollback()
    db_session.close()


@pytest.fixture
def create_user(session):
    from lims.auth import services

    def make(username: str = "tech", *, roles=("technician",), full_name: str | None = None,
             password: str = TEST_PASSWORD):
        user = services.create_user(session, username=username, full_name=full_name or username.title(),
                                    password=password, roles=list(roles))
        session.commit()
        return user

    return make


class AuthActions:
    """Log the test client in as a user of a given role (created on first use)."""

    def __init__(self, client, create_user):
        self.client = client
        self.create_user = create_user
        self.created: set[str] = set()

    def login(self, role: str = "technician", *, username: str | None = None, password: str = TEST_PASSWORD):
        username = username or role
        if username not in self.created:
            self.create_user(username, roles=(role,), password=password)
            self.created.add(username)
        response = self.client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client, create_user):
    return AuthActions(client, create_user)


def pytest_collection_modifyitems(config, items):
    # Browser tests need Debian's chromium; CI (LIMS_REQUIRE_BROWSER=1) must run them, elsewhere they skip cleanly.
    if Path("/usr/bin/chromium").exists() or os.environ.get("LIMS_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(reason="Debian's chromium is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
