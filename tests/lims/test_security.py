"""Default deny, security headers, CSRF, and the helpful error pages."""

import pytest

from lims import create_app
from lims.auth.permissions import ALL_PERMISSIONS, PERMISSIONS
from lims.security import endpoint_rule

PUBLIC_ALLOW_LIST = {"static", "bootstrap.static", "main.root", "main.health", "auth.login", "auth.logout",
                     "auth.language",
                     "public.keys", "public.check"}


def test_every_route_requires_a_named_permission_or_is_on_the_public_allow_list(app):
    unmarked, public, unknown = [], set(), []
    for rule in app.url_map.iter_rules():
        marking = endpoint_rule(app, rule.endpoint)
        if marking is None:
            unmarked.append(rule.rule)
        elif marking == "public":
            public.add(rule.endpoint)
        elif marking not in ALL_PERMISSIONS:
            unknown.append((rule.rule, marking))
    assert unmarked == [], f"routes neither public nor protected: {unmarked}"
    assert unknown == [], f"routes requiring a permission no role has: {unknown}"
    assert public <= PUBLIC_ALLOW_LIST, f"routes made public without review: {public - PUBLIC_ALLOW_LIST}"


def test_an_unmarked_route_is_refused(app, client, auth):
    @app.route("/forgotten")
    def forgotten():
        return "secret"

    auth.login("admin")
    assert client.get("/forgotten").status_code == 403


def test_security_headers_on_every_response(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/no-such-page").headers["X-Content-Type-Options"] == "nosniff"


def test_pages_need_login_and_redirect_to_it(client):
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_missing_permission_gives_a_helpful_403_and_is_logged(client, auth, session):
    from sqlalchemy import select

    from lims.audit.models import AuditEvent

    auth.login("auditor")
    response = client.get("/users")
    assert response.status_code == 403
    assert "Bạn không có quyền truy cập trang này" in response.get_data(as_text=True)
    denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [(e.actor_name, e.changes["path"], e.changes["permission"]) for e in denied] == [
        ("auditor", "/users", "users.manage")]


def test_not_found_page_offers_a_way_back(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Không tìm thấy trang" in body and 'href="/login"' in body


def test_json_clients_get_json_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_csrf_is_enforced_on_forms(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config | {"WTF_CSRF_ENABLED": True})
    client = app.test_client()
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    app.extensions["lims.db"].dispose()


def test_production_refuses_to_start_in_debug_mode(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="debug mode is on in production"):
        create_app(app_config | {"ENV_NAME": "production"})


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    from lims import config

    monkeypatch.delenv("LIMS_SECRET_KEY", raising=False)
    first = config.from_environment(tmp_path)["SECRET_KEY"]
    assert len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert config.from_environment(tmp_path)["SECRET_KEY"] == first


def test_auditor_role_changes_nothing():
    writes = ALL_PERMISSIONS - {"registry.view", "lab.view", "audit.view", "jobs.view", "verifications.view",
                                "certificates.view"}
    assert PERMISSIONS["auditor"] & writes == frozenset()
