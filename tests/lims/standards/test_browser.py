"""A standard's traceability diagram and control chart in a real browser, on the demo data (screenshots saved)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser_fixtures import login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(live_app):  # noqa: F811
    from lims.auth import services as auth
    from lims.standards import demo
    from lims.standards.models import Standard

    with live_app.extensions["lims.db"].transaction() as session:
        session.info["actor_name"] = "demo"
        demo.seed(session)
        auth.create_user(session, username="qm", full_name="Phạm Thị Hoa", password="browser test password",
                         roles=["quality_manager"])
    with live_app.extensions["lims.db"].transaction() as session:
        return {s.code: s.id for s in session.scalars(select(Standard))}


def test_traceability_diagram_and_control_chart(page, live_server, seeded, screenshot):  # noqa: F811
    login(page, live_server, "qm", "browser test password")

    page.goto(f"{live_server}/standards/{seeded['QC-M1-01']}")
    links = page.get_by_test_id("chain-link")
    assert [links.nth(i).get_attribute("data-code") for i in range(links.count())] == [
        "QC-E2-01", "CC-SS-01", "QC-F1-01", "QC-M1-01"]
    assert page.get_by_test_id("chain-intact").is_visible()
    assert page.get_by_text("Viện Đo lường Việt Nam (VMI)").first.is_visible()
    screenshot(page, "standards-01-chain-intact")

    page.goto(f"{live_server}/standards/{seeded['QC-M1-20-06']}")
    assert page.get_by_test_id("chain-broken").is_visible()
    assert page.locator('[data-testid=chain-link][data-broken=true]').count() == 1
    screenshot(page, "standards-02-chain-broken-overdue")

    page.goto(f"{live_server}/standards/{seeded['QC-M1-04']}")
    chart = page.locator("img.control-chart").first
    chart.scroll_into_view_if_needed()
    assert page.evaluate("img => img.complete && img.naturalWidth", chart.element_handle()) == 900
    assert page.locator('[data-status="out_of_service"]').first.is_visible()
    screenshot(page, "standards-03-failed-check-chart")

    page.goto(f"{live_server}/standards/adequacy")
    page.get_by_role("button", name="Tìm chuẩn phù hợp").click()
    page.wait_for_selector("[data-testid=adequacy-table]")
    screenshot(page, "standards-04-adequacy")
    assert page.locator('tr[data-code="QC-F2-01"][data-adequate="true"]').is_visible()
    assert page.locator('tr[data-code="QC-M1-01"][data-adequate="false"]').is_visible()
    assert page.locator("fieldset[data-type=weight]").is_hidden()

    page.goto(f"{live_server}/standards/?status=due_soon")
    assert page.get_by_test_id("standards-table").locator("tbody tr").count() == 5
    screenshot(page, "standards-05-list-due-soon")
    page.goto(f"{live_server}/standards/{seeded['QC-E2-01']}/calibrations/new")
    screenshot(page, "standards-06-calibration-form")
    assert page.console_errors == []
