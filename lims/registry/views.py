"""Customers and instruments."""

from flask import Blueprint, render_template

from lims.security import requires

bp = Blueprint("registry", __name__)


@bp.route("/instruments")
@requires("registry.view")
def instruments():
    """List instruments."""
    return render_template("registry/instruments.html")


@bp.route("/customers")
@requires("registry.view")
def customers():
    """List customers."""
    return render_template("registry/customers.html")


@bp.route("/instruments/import", methods=["GET", "POST"])
@requires("registry.import")
def import_instruments():
    """Import instruments from a spreadsheet."""
    return render_template("registry/import_instruments.html")
