"""The home page: what needs attention today."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from lims.db import get_session
from lims.security import public, requires

bp = Blueprint("main", __name__)


@bp.route("/")
@public
def root():
    """Send visitors to their dashboard or the login page."""
    return redirect(url_for("main.index" if current_user.is_authenticated else "auth.login"))


@bp.route("/dashboard")
@requires("registry.view")
def index():
    """Show the dashboard."""
    from lims.registry import services as registry

    return render_template("main/index.html", summary=registry.dashboard_summary(get_session()))


@bp.route("/healthz")
@public
def health():
    """Report liveness for a load balancer (no details)."""
    return {"status": "ok"}
