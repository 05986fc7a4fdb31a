"""A room's page in a real browser: the charts load under the CSP with the method's limit lines, the check finds
the demo excursion, and a logger file is imported through the form. Screenshots go to
tests/screenshots/facilities-*.png and methods-*.png."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import lims
from lims.facilities import demo as facilities_demo
from lims.methods import demo as methods_demo
from tests.browser_fixtures import login
from lims.dates import centre_today

pytestmark = pytest.mark.browser

EXAMPLE = Path(lims.__file__).parent / "static" / "examples" / "logger-example.csv"


@pytest.fixture(scope="module")
def seeded(live_app):  # noqa: F811
    with live_app.extensions["lims.db"].transaction() as session:
        session.info["actor_name"] = "demo"
        methods_demo.seed(session)
        facilities_demo.seed(session)
    return live_app


def test_room_chart_with_limits_and_check(page, live_server, seeded, demo_user, screenshot):  # noqa: F811
    username, password = demo_user("qm", "quality_manager")
    login(page, live_server, username, password)
    page.goto(f"{live_server}/facilities/")
    assert page.locator('[data-testid="room-row"]').count() == 5
    screenshot(page, "facilities-01-rooms")

    page.get_by_role("link", name="P-KL").click()
    page.wait_for_url("**/facilities/*")
    today = centre_today()
    page.get_by_label("Từ ngày").fill((today - dt.timedelta(days=7)).isoformat())
    page.get_by_label("Đối chiếu giới hạn của phương pháp").select_option(label=_option_label(page, "ĐLVN 286:2015"))
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url("**method_version_id=*")
    check = page.get_by_test_id("conditions-check")
    assert "không đạt giới hạn của ĐLVN 286:2015" in check.inner_text()
    assert "28,1 °C" in check.inner_text()
    for quantity in ("temperature_c", "humidity_pct"):
        chart = page.get_by_test_id(f"chart-{quantity}")
        chart.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
        assert chart.evaluate("img => img.naturalWidth") == 900
    screenshot(page, "facilities-02-room-chart")
    assert page.console_errors == []


def _option_label(page, designation: str) -> str:
    options = page.locator("select[name=method_version_id] option").all_inner_texts()
    return next(text for text in options if text.startswith(designation))


def test_logger_file_imported_through_the_form(page, live_server, seeded, demo_user, screenshot):  # noqa: F811
    username, password = demo_user("tech", "technician")
    login(page, live_server, username, password)
    page.goto(f"{live_server}/facilities/")
    page.get_by_role("link", name="P-CT").click()
    page.get_by_role("link", name="Nhập từ data-logger").click()
    page.get_by_label("Tệp CSV của data-logger").set_input_files(str(EXAMPLE))
    screenshot(page, "facilities-03-import-form")
    page.get_by_role("button", name="Nhập số đo").click()
    page.wait_for_url("**/facilities/*")
    assert page.get_by_text("Đã nhập 25 số đo").is_visible()
    assert page.console_errors == []


def test_methods_list_and_detail(page, live_server, seeded, demo_user, screenshot):  # noqa: F811
    username, password = demo_user("qm", "quality_manager")
    login(page, live_server, username, password)
    page.goto(f"{live_server}/methods/?status=withdrawn")
    assert page.locator('[data-testid="version-row"]').all_inner_texts()[0].startswith("ĐLVN 01:2003")
    page.goto(f"{live_server}/methods/")
    assert page.locator('[data-testid="version-row"]').count() == 9
    screenshot(page, "methods-01-list")
    page.get_by_role("link", name="ĐLVN 01:2019").click()
    page.wait_for_url("**/methods/*")
    assert page.get_by_text("Thay thế ĐLVN 01:2003", exact=True).is_visible()
    screenshot(page, "methods-02-detail")
    page.get_by_role("link", name="Ban hành phiên bản mới").click()
    page.wait_for_url("**/versions/new")
    page.get_by_label("Lý do").wait_for()
    screenshot(page, "methods-03-new-version")
    assert page.console_errors == []
