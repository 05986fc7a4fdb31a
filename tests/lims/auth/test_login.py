"""Login, throttling, locking and sessions that end for good."""

import datetime as dt

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.auth import services
from lims.auth.models import LoginSession, LoginThrottle, User
from tests.conftest import TEST_PASSWORD

GENERIC = "Tên đăng nhập hoặc mật khẩu không đúng."


def _login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def test_login_and_logout(client, create_user):
    create_user("lan", roles=("technician",), full_name="Nguyễn Thị Lan")
    response = _login(client, "Lan ", TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Nguyễn Thị Lan" in page
    client.post("/logout")
    assert client.get("/dashboard").status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_answer(client, create_user):
    create_user("lan")
    wrong = _login(client, "lan", "not the password").get_data(as_text=True)
    unknown = _login(client, "nobody", "not the password").get_data(as_text=True)
    assert GENERIC in wrong and GENERIC in unknown
    assert wrong.replace('value="lan"', "") == unknown.replace('value="nobody"', "")


def test_failed_logins_are_recorded_in_the_audit_trail(client, create_user, session):
    create_user("lan")
    _login(client, "lan", "bad password 1")
    _login(client, "ghost", "bad password 2")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
    assert [e.changes["username"] for e in events] == ["lan", "ghost"]
    assert "bad password" not in str([e.changes for e in events])


def test_login_redirects_only_to_local_paths(client, create_user):
    create_user("lan")
    response = client.post("/login?next=//evil.example/x", data={"username": "lan", "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/dashboard"


@pytest.fixture
def policy():
    return services.ThrottlePolicy(free_attempts=3, base_delay_s=2, max_delay_s=300, lock_after=6, lock_minutes=30)


def test_progressive_delay_then_lock_applies_to_existing_and_unknown_users_alike(session, create_user, policy):
    create_user("lan")
    now = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.timezone.utc)
    for name in ("lan", "ghost"):
        t = now
        for attempt in range(1, 7):
            with pytest.raises(services.LoginError) as caught:
                services.authenticate(session, username=name, password="wrong", policy=policy, now=t)
            assert str(caught.value) == GENERIC
            throttle = session.get(LoginThrottle, name)
            assert throttle.failures == attempt
            wait = (throttle.next_attempt_at - t).total_seconds()
            assert wait == {1: 0, 2: 0, 3: 2, 4: 4, 5: 8, 6: 16}[attempt]
            if attempt == 3:
                with pytest.raises(services.LoginError, match="thử lại sau 2 giây"):
                    services.authenticate(session, username=name, password=TEST_PASSWORD, policy=policy,
                                          now=t + dt.timedelta(seconds=0.5))
            t = throttle.next_attempt_at
        # Locked now: even the right password is refused, for both names, with the same message.
        with pytest.raises(services.LoginError, match="tạm khoá") as caught:
            services.authenticate(session, username=name, password=TEST_PASSWORD, policy=policy,
                                  now=t + dt.timedelta(minutes=1))
        assert caught.value.retry_after_s > 0
    user = services.authenticate(session, username="lan", password=TEST_PASSWORD, policy=policy,
                                 now=now + dt.timedelta(hours=2))
    assert user.username == "lan"
    assert session.get(LoginThrottle, "lan") is None


def test_admin_unlocks_a_locked_user(session, create_user, policy):
    create_user("lan")
    now = dt.datetime.now(dt.timezone.utc)
    for _ in range(6):
        with pytest.raises(services.LoginError):
            services.authenticate(session, username="lan", password="wrong", policy=policy, now=now)
        now = session.get(LoginThrottle, "lan").next_attempt_at
    assert services.unlock(session, username="lan") is True
    assert services.authenticate(session, username="lan", password=TEST_PASSWORD, policy=policy).username == "lan"


def test_a_cookie_captured_before_logout_is_refused_after(app, client, create_user):
    create_user("lan")
    _login(client, "lan", TEST_PASSWORD)
    captured = client.get_cookie("lims_session").value
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("lims_session", captured)
    response = thief.get("/dashboard")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_session_cookie_flags(client, create_user):
    create_user("lan")
    response = _login(client, "lan", TEST_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_served_over_https(app_config, tmp_path, monkeypatch):
    from lims import create_app

    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config | {"PUBLIC_URL": "https://lims.example.vn"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["lims.db"].dispose()


def test_deactivating_a_user_ends_their_sessions(app, client, create_user, session, auth):
    create_user("lan")
    other = app.test_client()
    _login(other, "lan", TEST_PASSWORD)
    assert other.get("/dashboard").status_code == 200
    auth.login("admin")
    lan = session.scalar(select(User).where(User.username == "lan"))
    session.rollback()
    response = client.post(f"/users/{lan.id}/edit", data={"full_name": "Lan", "roles": ["technician"]})
    assert response.status_code == 302
    assert other.get("/dashboard").status_code == 302
    session.rollback()
    assert session.scalar(select(LoginSession).where(LoginSession.user_id == lan.id)).ended_at is not None


def test_password_hash_is_argon2id_and_never_in_the_audit_trail(session, create_user):
    user = create_user("lan")
    assert user.password_hash.startswith("$argon2id$")
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "users", AuditEvent.action == "insert"))
    assert event.changes["password_hash"] == [None, "«redacted»"]
    assert "argon2" not in str(event.changes)


def test_change_password_ends_other_sessions_and_checks_the_rules(app, client, create_user):
    create_user("lan")
    _login(client, "lan", TEST_PASSWORD)
    other = app.test_client()
    _login(other, "lan", TEST_PASSWORD)
    short = client.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": "short"})
    assert "ít nhất 10 ký tự" in short.get_data(as_text=True)
    ok = client.post("/account/password", data={"current_password": TEST_PASSWORD,
                                                "new_password": "a much longer secret"})
    assert ok.status_code == 302
    assert other.get("/dashboard").status_code == 302
    assert _login(client, "lan", "a much longer secret").status_code == 302

