from flask import Blueprint, render_template

from lims.security import requires

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


@bp.route("/")
@requires("lab.view")
def index():
    """List the register."""
    return render_template("facilities/index.html")
