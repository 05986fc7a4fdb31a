"""Logging in, the navigation by role, the language switch, and logging out, in a real browser."""

import pytest

from tests.browser_fixtures import login

pytestmark = pytest.mark.browser


def test_login_navigation_and_logout(page, live_server, demo_user, screenshot):
    page.goto(f"{live_server}/dashboard")
    assert page.url.startswith(f"{live_server}/login")
    screenshot(page, "shell-01-login")
    page.get_by_label("Tên đăng nhập").fill("nobody")
    page.get_by_label("Mật khẩu").fill("wrong password")
    page.get_by_role("button", name="Đăng nhập").click()
    assert page.get_by_text("Tên đăng nhập hoặc mật khẩu không đúng.").is_visible()

    username, password = demo_user("admin", "admin")
    login(page, live_server, username, password)
    assert page.get_by_test_id("whoami").inner_text() == "Nguyễn Văn Admin"
    page.get_by_role("button", name="Quản trị").or_(page.get_by_role("link", name="Quản trị")).click()
    assert page.get_by_role("link", name="Người dùng").is_visible()
    screenshot(page, "shell-02-dashboard-admin")

    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.get_by_text("Bạn đã đăng xuất.").is_visible()
    assert page.console_errors == []


def test_auditor_sees_no_admin_links(page, live_server, demo_user):
    username, password = demo_user("auditor", "auditor")
    login(page, live_server, username, password)
    page.get_by_role("button", name="Chất lượng").click()
    assert page.get_by_role("link", name="Nhật ký kiểm toán").is_visible()
    assert page.get_by_role("button", name="Quản trị").count() == 0
    assert page.get_by_role("link", name="Người dùng").count() == 0
    page.goto(f"{live_server}/users")
    assert page.get_by_test_id("error-message").inner_text().startswith("Bạn không có quyền")


def test_phone_sized_viewport_collapses_the_menu(browser, live_server, demo_user, screenshot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    username, password = demo_user("technician", "technician")
    login(page, live_server, username, password)
    menu = page.get_by_role("button", name="Đăng ký")
    assert not menu.is_visible()
    page.get_by_label("Mở menu").click()
    page.wait_for_selector("#mainnav.collapse.show")  # the opening transition has finished
    menu.click()
    page.get_by_role("link", name="Phương tiện đo").wait_for(state="visible")
    screenshot(page, "shell-03-phone-menu")
    context.close()
