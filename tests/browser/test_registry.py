"""The registry as a technician uses it: register an instrument, find it by a search typed without accents, import a
spreadsheet, in a real browser (screenshots in tests/screenshots/registry-*.png)."""

import io

import pytest
from openpyxl import Workbook

from tests.browser_fixtures import login

pytestmark = pytest.mark.browser


def test_register_an_instrument_and_find_it_without_accents(page, live_server, demo_user, screenshot):
    username, password = demo_user("kdv-registry", "technician")
    login(page, live_server, username, password)

    page.goto(f"{live_server}/customers/new")
    page.get_by_label("Tên khách hàng").fill("Hộ kinh doanh Lê Thị Hồng – Chợ Tân Phú")
    page.get_by_label("Mã số thuế").fill("5900181019")
    page.get_by_label("Quận/huyện/thị xã").fill("Tân Phú")
    page.get_by_test_id("customer-form").locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server}/customers/*")

    page.goto(f"{live_server}/instruments/new")
    page.get_by_label("Loại phương tiện đo").select_option("nawi")
    page.get_by_label("Khách hàng (chủ sở hữu)").fill("tan phu")
    page.get_by_test_id("customer-suggestion").first.click()
    page.get_by_label("Hãng sản xuất").fill("CAS")
    page.get_by_label("Kiểu / model").fill("SW-1S")
    page.get_by_label("Số sản xuất (serial)").fill("SW26-00421")
    spec = page.get_by_test_id("spec-nawi")
    spec.locator("[name='spec_nawi-max']").fill("30")
    spec.locator("[name='spec_nawi-e']").fill("0,01")
    spec.locator("[name='spec_nawi-d']").fill("0,01")
    spec.locator("[name='spec_nawi-unit']").select_option("kg")
    spec.locator("[name='spec_nawi-accuracy_class']").select_option("III")
    screenshot(page, "registry-01-register-form")
    page.get_by_test_id("instrument-form").locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server}/instruments/*")
    assert page.get_by_text("SW26-00421").first.is_visible()
    screenshot(page, "registry-02-instrument-detail")

    page.goto(f"{live_server}/instruments?q=le thi hong")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1 and "SW26-00421" in rows.first.inner_text()
    page.goto(f"{live_server}/instruments?q=sw26-004")
    assert "SW26-00421" in page.locator("table tbody").inner_text()
    screenshot(page, "registry-03-search-without-accents")
    assert page.console_errors == []


def test_import_a_small_spreadsheet(page, live_server, demo_user, screenshot, tmp_path):
    username, password = demo_user("kdv-import", "technician")
    login(page, live_server, username, password)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mã số thuế", "Tên khách hàng", "Loại phương tiện đo", "Hãng sản xuất", "Số sản xuất",
                  "Mức cân lớn nhất (Max)", "Giá trị độ chia kiểm (e)", "Giá trị độ chia thực tế (d)", "Đơn vị",
                  "Cấp chính xác"])
    for index in range(1, 6):
        sheet.append(["5900222226", "Chợ Đồng Xuân – Quầy gạo Phùng Văn Đức", "nawi", "Vibra", f"VB-88{index:03d}",
                      "60", "0,02", "0,02", "kg", "III"])
    path = tmp_path / "can-cho-dong-xuan.xlsx"
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())

    page.goto(f"{live_server}/instruments/import")
    page.get_by_label("Tệp CSV hoặc Excel (.xlsx)").set_input_files(str(path))
    page.get_by_test_id("import-form").locator("button[type=submit]").click()
    done = page.get_by_text("Đã nhập xong 5 dòng: thêm 5 phương tiện đo")
    done.wait_for()
    screenshot(page, "registry-04-import-done")
    page.goto(f"{live_server}/instruments?q=dong xuan")
    assert page.locator("table tbody tr").count() == 5
    assert page.console_errors == []
