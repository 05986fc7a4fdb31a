"""User administration."""

from sqlalchemy import select

from lims.auth.models import User


def test_admin_creates_a_user_with_roles(client, auth, session):
    auth.login("admin")
    response = client.post("/users/new", data={"username": "Minh", "full_name": "Trần Văn Minh",
                                               "password": "a good long password", "roles": ["reviewer"]})
    assert response.status_code == 302
    user = session.scalar(select(User).where(User.username == "minh"))
    assert user.full_name == "Trần Văn Minh" and user.role_codes == {"reviewer"}


def test_create_user_names_the_bad_field(client, auth):
    auth.login("admin")
    body = client.post("/users/new", data={"username": "admin", "full_name": "X", "password": "a good long password",
                                           "roles": ["reviewer"]}).get_data(as_text=True)
    assert 'data-field="username"' in body and "đã được dùng" in body
    body = client.post("/users/new", data={"username": "x y!", "full_name": "X", "password": "a good long password",
                                           "roles": ["reviewer"]}).get_data(as_text=True)
    assert "chỉ gồm chữ, số" in body


def test_non_admin_cannot_manage_users(client, auth):
    auth.login("technician")
    assert client.get("/users").status_code == 403
    assert client.post("/users/new", data={}).status_code == 403


def test_cli_creates_a_user(runner, session):
    result = runner.invoke(args=["users", "create", "hoa", "--name", "Lê Thị Hoa", "--role", "approver",
                                 "--password", "approver password 1"])
    assert result.exit_code == 0, result.output
    assert "Created user hoa (approver)" in result.output
    assert session.scalar(select(User).where(User.username == "hoa")).role_codes == {"approver"}
    bad = runner.invoke(args=["users", "create", "x", "--name", "X", "--role", "wizard", "--password", "long enough pw"])
    assert bad.exit_code != 0 and "Vai trò không tồn tại: wizard" in bad.output
