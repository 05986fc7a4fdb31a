"""The authorisation matrix and a person's page in a real browser: colours applied under the CSP, no console errors,
and a new authorisation entered through the form. Screenshots go to tests/screenshots/personnel-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from lims.personnel import demo
from tests.browser_fixtures import login
from lims.dates import centre_today

pytestmark = pytest.mark.browser

COLOURS = {"valid": "rgb(209, 231, 221)", "expiring": "rgb(255, 243, 205)", "expired": "rgb(248, 215, 218)",
           "revoked": "rgb(248, 215, 218)", "none": "rgb(241, 243, 245)"}


@pytest.fixture(scope="module")
def seeded(live_app):  # noqa: F811
    with live_app.extensions["lims.db"].transaction() as session:
        session.info["actor_name"] = "demo"
        demo.seed(session)
    return live_app


def test_matrix_and_person_page(page, live_server, seeded, demo_user, screenshot):  # noqa: F811
    username, password = demo_user("qm", "quality_manager")
    login(page, live_server, username, password)
    page.goto(f"{live_server}/personnel/matrix")
    for state, colour in COLOURS.items():
        cell = page.locator(f'td.auth-cell[data-state="{state}"]').first
        assert cell.evaluate("cell => getComputedStyle(cell).backgroundColor") == colour, state
    screenshot(page, "personnel-01-matrix")

    page.get_by_role("link", name="Bùi Thị Mai").click()
    page.wait_for_url("**/personnel/people/*")
    assert page.locator("tr.auth-row-revoked").count() == 1
    assert page.get_by_text("Không đạt đánh giá tay nghề định kỳ").is_visible()
    screenshot(page, "personnel-02-person")

    page.goto(f"{live_server}/personnel/")
    page.get_by_role("link", name="Phan Văn Nam").click()
    page.get_by_role("link", name="Thêm ủy quyền").click()
    page.wait_for_url("**/authorisations/new")
    page.get_by_label("Loại phương tiện đo").select_option("weight")
    page.get_by_label("Phạm vi").fill("Quả cân cấp chính xác M1 đến 20 kg")
    page.get_by_label("Số thẻ kiểm định viên").fill("KĐV 0702")
    today = centre_today()
    page.get_by_label("Hiệu lực từ ngày").fill(today.isoformat())
    page.get_by_label("Hiệu lực đến ngày").fill((today + dt.timedelta(days=1800)).isoformat())
    page.get_by_label("hoặc cơ quan cấp").fill("Ủy ban Tiêu chuẩn Đo lường Chất lượng Quốc gia")
    screenshot(page, "personnel-03-authorisation-form")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url("**/personnel/people/*")
    assert page.get_by_text("Đã ghi nhận ủy quyền Quả cân cho Phan Văn Nam.").is_visible()
    assert page.locator("tr.auth-row-valid").count() == 1

    page.goto(f"{live_server}/personnel/authorisations/expiring?days=30")
    assert page.locator("tr[data-authorisation]").count() == 1
    screenshot(page, "personnel-04-expiring")
    page.goto(f"{live_server}/personnel/trainings/report")
    screenshot(page, "personnel-05-training-report")
    assert page.console_errors == []
