"""Fixtures of the browser tests (a pytest plugin, see tests/conftest.py): the real app served on a loopback port, driven by Playwright in Debian's Chromium.

Screenshots go to tests/screenshots/ (not committed) so that a person can look at what the tests saw.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lims import create_app
from tests.conftest import FAST_HASH

CHROMIUM = os.environ.get("LIMS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("live")
    database = folder / "lims.sqlite3"
    shutil.copyfile(sqlite_template, database)
    os.environ["LIMS_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({
        "TESTING": True, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "browser-test",
        "PASSWORD_HASH_PARAMS": FAST_HASH, "RATELIMIT_ENABLED": False, "PUBLIC_URL": "http://127.0.0.1",
        "SEAL_KEY_FILE": str(folder / "seal_key.pem"),
    })
    yield app
    app.extensions["lims.db"].dispose()


@pytest.fixture(scope="module")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(scope="module")
def demo_user(live_app):
    """Create users in the live app's database: make("technician", "technician") -> (username, password)."""
    from lims.auth import services

    made = {}

    def make(username: str, role: str, password: str = "browser test password"):
        if username not in made:
            with live_app.extensions["lims.db"].transaction() as session:
                services.create_user(session, username=username, full_name=f"Nguyễn Văn {username.title()}",
                                     password=password, roles=[role])
            made[username] = password
        return username, made[username]

    return make


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base_url}/dashboard")
