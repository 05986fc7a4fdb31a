"""Access control and response hardening.

Default deny: every endpoint must be marked, either ``@requires("perm")`` or ``@public``; a ``before_request`` hook
refuses anything unmarked (and a test walks ``app.url_map`` so that it never ships). Static files are on the public
allow-list below.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask, abort, current_app, g, request
from flask_login import current_user

#: Endpoints that need no login, besides views marked ``@public``.
PUBLIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def requires(permission: str) -> Callable:
    """Mark a view as needing ``permission`` (checked by the gate before the view runs)."""

    def mark(view: Callable) -> Callable:
        view.required_permission = permission
        return view

    return mark


def public(view: Callable) -> Callable:
    """Mark a view as reachable without logging in."""
    view.is_public = True
    return view


def endpoint_rule(app: Flask, endpoint: str) -> str | None:
    """``"public"``, the permission an endpoint requires, or ``None`` when it is not marked."""
    if endpoint in PUBLIC_ENDPOINTS:
        return "public"
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    if getattr(view, "is_public", False):
        return "public"
    return getattr(view, "required_permission", None)


def has_permission(permission: str) -> bool:
    return current_user.is_authenticated and permission in current_user.permissions


def _gate():
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404/405 are answered by the router
    rule = endpoint_rule(current_app, endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s is neither public nor protected: refused", endpoint)
        abort(403)
    if rule == "public":
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if rule not in current_user.permissions:
        g.denied_permission = rule
        abort(403)
    return None


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if current_user and getattr(current_user, "is_authenticated", False):
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_gate)
    app.after_request(_headers)


def require(permission: str) -> None:
    """Check a permission inside a view (for actions finer than the route)."""
    if not has_permission(permission):
        abort(403)
