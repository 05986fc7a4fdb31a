"""Public routes, reachable without logging in (each reviewed, and listed in tests/lims/test_security.py).

The public check (``/V/<token>``, DESIGN.md §6; lims.public.check) is rate-limited per client address
(``LIMS_PUBLIC_CHECK_RATE_LIMIT``, default 120 per minute) with Flask-Limiter's storage and strategy. The counters
live where ``LIMS_RATELIMIT_STORAGE_URI`` says: the default keeps them per worker process (``lims-memory://``,
lims.ratelimit), so with N gunicorn workers a client gets up to N times the limit; point it at a shared store
(``redis://host:6379``, with the ``redis`` package installed) so that all workers, and all app servers, count
together. Behind a reverse proxy, set ``LIMS_PROXY_COUNT`` so that the client's address, not the proxy's, is counted.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from lims.certificates import keys as seal_keys
from lims.certificates.seal import TOKEN_FORMAT
from lims.db import get_session
from lims.security import public

from . import check as check_page

bp = Blueprint("public", __name__)


@bp.route("/.well-known/lims-keys.json")
@public
def keys():
    """Publish every seal key, retired ones included, so that anyone can check a seal offline."""
    rows = seal_keys.list_keys(get_session())
    response = jsonify({
        "issuer": current_app.config.get("CENTRE_NAME", ""),
        "seal_url": f"{current_app.config['PUBLIC_URL']}/V/{{token}}",
        "token_format": TOKEN_FORMAT,
        "keys": [seal_keys.key_summary(row) for row in rows],
    })
    # Public data; caches and other sites' scripts (offline checkers) may fetch it.
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.record_once
def _install_fast_path(state) -> None:
    check_page.install(state.app)


@bp.route("/V/<token>")
@bp.route("/v/<token>")
@public
def check(token: str):
    """Say whether a QR seal is genuine and what the certificate's live status is (HTML, or JSON on request).

    Normally answered by the fast path in front of the application (lims.public.check.FastCheck), with the same
    CheckPage: this route is its fallback, and what tests and the URL map see."""
    page = check_page.CheckPage.of(current_app)
    code, headers, body = page.answer(token, accept=request.headers.get("Accept"), query_lang=request.args.get("lang"),
                                      client=request.remote_addr or "", secure=request.is_secure)
    response = Response(b"" if request.method == "HEAD" else body, status=code)
    for name, value in headers:
        if name != "Content-Length":
            response.headers[name] = value
    return response
