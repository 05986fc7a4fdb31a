from flask import Blueprint, render_template

from lims.security import requires

bp = Blueprint("personnel", __name__, url_prefix="/personnel")


@bp.route("/")
@requires("lab.view")
def index():
    """List the register."""
    return render_template("personnel/index.html")
