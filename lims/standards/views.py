from flask import Blueprint, render_template

from lims.security import requires

bp = Blueprint("standards", __name__, url_prefix="/standards")


@bp.route("/")
@requires("lab.view")
def index():
    """List the register."""
    return render_template("standards/index.html")
