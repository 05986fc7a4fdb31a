"""Public routes, reachable without logging in (each reviewed, and listed in tests/lims/test_security.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from lims.certificates import keys as seal_keys
from lims.certificates.seal import TOKEN_FORMAT
from lims.db import get_session
from lims.security import public

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
