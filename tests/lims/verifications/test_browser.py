"""The core workflow in a real browser: receive a job, open the record of a scale, type readings and watch the
errors, MPE and verdicts update without a reload, save, sign and submit. Screenshots go to
tests/screenshots/workflow-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser_fixtures import login
from tests.conftest import TEST_PASSWORD
from tests.lims.workflow_fixtures import WORK_DAY, build_lab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(live_app):
    session = live_app.extensions["lims.db"].session()
    try:
        lab = build_lab(session)
        ids = {"scale": lab.scale.id, "weights": lab.weights.id, "technician": lab.technician.username}
    finally:
        session.close()
    return ids


def _cell(page, row: str, key: str):
    return page.locator(f'[data-cell="{row}:{key}"]')


def test_receive_record_type_live_save_and_submit(page, live_server, seeded, screenshot):
    login(page, live_server, seeded["technician"], TEST_PASSWORD)

    # Receive the request.
    page.goto(f"{live_server}/jobs/")
    page.get_by_test_id("receive-job").click()
    page.locator("input[name=q]").fill("ro cham")
    page.get_by_role("button", name="Tìm").click()
    page.get_by_test_id("customer-row").get_by_role("link", name="Chọn").click()
    page.get_by_test_id("instrument-pick").get_by_role("checkbox").first.check()
    page.get_by_label("Ngày tiếp nhận").fill((WORK_DAY - dt.timedelta(days=1)).strftime("%d/%m/%Y"))
    page.get_by_label("Tình trạng khi nhận").fill("Nguyên vẹn, còn tem niêm phong")
    screenshot(page, "workflow-01-receive")
    page.get_by_role("button", name="Tiếp nhận", exact=True).click()
    page.wait_for_url("**/jobs/*")
    number = page.get_by_test_id("job-number").inner_text()
    assert number.startswith("YC-")
    assert page.get_by_test_id("job-state").inner_text() == "Đã tiếp nhận"
    screenshot(page, "workflow-02-job")

    # Open the record: work done two days ago, 09:00–10:00, in the logged room, with the F2 weights.
    page.get_by_test_id("start-verification").click()
    page.wait_for_url("**/verifications/new*")
    page.get_by_label("Ngày thực hiện").fill(WORK_DAY.strftime("%d/%m/%Y"))
    page.get_by_label("Giờ bắt đầu").fill("09:00")
    page.get_by_label("Giờ kết thúc").fill("10:00")
    page.get_by_label("Phòng / địa điểm (nhật ký điều kiện môi trường)").select_option(
        label="P-CAN — Phòng kiểm định cân")
    page.get_by_test_id("standard-pick").get_by_role("checkbox").first.check()
    screenshot(page, "workflow-03-record")
    page.get_by_role("button", name="Lập biên bản và nhập số đo").click()
    page.wait_for_url("**/entry")

    # Type readings: the figures come back from the server while the page stays put.
    page.evaluate("window.__samePage = true")
    form = page.get_by_test_id("entry-form")
    status = page.get_by_test_id("eval-status")
    form.locator('[name="zero.indication"]').fill("0")
    form.locator('[name="weighing[4].indication"]').fill("30,02")
    page.wait_for_function("() => document.querySelector('[data-cell=\"weighing-4:mpe\"]').textContent === '0,015'")
    assert _cell(page, "weighing-4", "error").inner_text() == "0,02"
    assert _cell(page, "weighing-4", "passed").inner_text() == "Không đạt"
    assert "table-danger" in page.locator('tr[data-row="weighing-4"]').get_attribute("class")
    assert _cell(page, "zero-0", "passed").inner_text() == "Đạt"
    form.locator('[name="weighing[2].indication"]').fill("15,0l")
    error = page.locator('[data-error-for="weighing[2].indication"]')
    error.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('[data-error-for=\"weighing[2].indication\"]').textContent !== ''")
    assert error.inner_text() == "Không phải là số ('15,0l')."
    screenshot(page, "workflow-04-live-errors")

    values = {}
    for row, load in enumerate(["0.2", "5", "15", "20", "30", "20", "15", "5", "0.2"]):
        values[f"weighing[{row}].indication"] = load.replace(".", ",")
    values["weighing[2].indication"] = "15,01"
    for row in range(5):
        values[f"eccentricity.positions[{row}].indication"] = "10"
    for series, load in enumerate(form.locator('input[name$="].load"][name^="repeatability"]').evaluate_all(
            "inputs => inputs.map(i => i.value)")):
        for j in range(3):
            values[f"repeatability[{series}].readings[{j}].indication"] = load
    for name, value in values.items():
        form.locator(f'[name="{name}"]').fill(value)
    page.wait_for_function("() => document.querySelector('[data-testid=verdict]').textContent === 'Đạt'")
    assert _cell(page, "weighing-2", "mpe").inner_text() == "0,010"
    assert _cell(page, "weighing-2", "passed").inner_text() == "Đạt"  # an error equal to the MPE passes
    assert page.get_by_test_id("test-verdict-repeatability").inner_text() == "Đạt"
    assert error.inner_text() == ""
    assert page.evaluate("window.__samePage") is True  # no reload happened
    assert status.inner_text() == "Đã tính"
    screenshot(page, "workflow-05-live-passed")

    # Save, then sign and submit from the record page.
    page.get_by_test_id("save-readings").click()
    page.wait_for_load_state()
    assert "Đã lưu số đo và kết quả tính: Đạt." in page.content()
    page.goto(page.url.removesuffix("/entry"))
    assert "Đủ điều kiện gửi" in page.get_by_test_id("precheck").inner_text()
    submit = page.get_by_test_id("submit-form")
    submit.locator("input[name=password]").fill("mật khẩu sai")
    submit.get_by_role("button", name="Ký và gửi soát xét").click()
    page.wait_for_load_state()
    assert "Mật khẩu không đúng" in page.content()
    submit = page.get_by_test_id("submit-form")
    submit.locator("input[name=password]").fill(TEST_PASSWORD)
    submit.get_by_role("button", name="Ký và gửi soát xét").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("verification-state").first.inner_text() == "Chờ soát xét"
    assert page.get_by_test_id("signature-row").count() == 1
    assert "Khớp" in page.get_by_test_id("signature-match").inner_text()
    screenshot(page, "workflow-06-submitted")
    screenshot(page, "workflow-07-submitted-top", full_page=False)

    page.goto(f"{live_server}/jobs/")
    assert page.get_by_test_id("count-in_progress").inner_text() == "1"
    screenshot(page, "workflow-08-board")
    page.goto(f"{live_server}/verifications/?queue=mine")
    assert page.get_by_test_id("verification-row").count() == 1
    screenshot(page, "workflow-09-my-work")
    assert page.console_errors == []
