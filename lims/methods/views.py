from flask import Blueprint, render_template

from lims.security import requires

bp = Blueprint("methods", __name__, url_prefix="/methods")


@bp.route("/")
@requires("lab.view")
def index():
    """List the register."""
    return render_template("methods/index.html")
