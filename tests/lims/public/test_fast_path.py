"""The public check is answered before the application's request machinery (lims.public.check.FastCheck); the Flask
route ``public.check`` gives the same answer when the fast path is off, and the fast path's responses carry the
application's security headers."""

import urllib.parse

import pytest

from lims import create_app
from lims.public.check import FastCheck


@pytest.fixture
def certificate(ready_lab):
    return ready_lab.issue(ready_lab.verification())


@pytest.fixture
def slow_client(app_config):
    application = create_app({**app_config, "PUBLIC_CHECK_FAST_PATH": False})
    yield application.test_client()
    application.extensions["lims.db"].dispose()


def _path(certificate) -> str:
    return urllib.parse.urlsplit(certificate.seal_url).path


def test_the_fast_path_is_installed_and_the_flask_route_exists(app):
    assert isinstance(app.wsgi_app, FastCheck)
    assert {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "public.check"} == {"/V/<token>",
                                                                                                   "/v/<token>"}


@pytest.mark.parametrize("suffix, headers", [("", {}), ("?lang=en", {}), ("", {"Accept": "application/json"})])
def test_both_paths_give_the_same_answer(client, slow_client, certificate, suffix, headers):
    for path in (_path(certificate), "/V/" + certificate.seal_token[:-2] + "AA", "/v/not-a-token"):
        fast = client.get(path + suffix, headers=headers)
        slow = slow_client.get(path + suffix, headers=headers)
        assert (fast.status_code, fast.mimetype) == (slow.status_code, slow.mimetype), path
        assert fast.data == slow.data, path


def test_fast_answers_carry_the_security_headers_of_every_response(client, certificate):
    reference = client.get("/login").headers
    fast = client.get(_path(certificate)).headers
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                 "Permissions-Policy", "Cross-Origin-Opener-Policy"):
        assert fast[name] == reference[name], name
    assert fast["Cache-Control"] == "no-store" and fast["Vary"] == "Accept"
    secure = client.get(_path(certificate), base_url="https://lims.test").headers
    assert secure["Strict-Transport-Security"].startswith("max-age=")


def test_head_and_other_methods(client, certificate):
    head = client.head(_path(certificate))
    assert head.status_code == 200 and head.data == b""
    assert client.post(_path(certificate)).status_code == 405  # the application answers what the fast path does not
