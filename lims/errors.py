"""Error pages that help: what happened, and where to go next."""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from lims.db import get_db


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _record_denial() -> None:
    """Access denied to a logged-in user: an event assessors look for. Written in its own short transaction."""
    if not getattr(current_user, "is_authenticated", False):
        return
    from lims.audit import services as audit
    from lims.db import get_session

    get_session().rollback()  # end the request's own transaction (nothing of it is kept on a 403) before writing
    try:
        with get_db().transaction() as session:
            audit.set_actor(session, actor_id=current_user.id, actor_name=current_user.username)
            audit.record(session, action="access_denied", entity_type="routes", entity_id=request.endpoint or "",
                         changes={"path": request.path[:200], "method": request.method,
                                  "permission": g.get("denied_permission")})
    except Exception:  # the refusal itself must still be answered
        current_app.logger.exception("could not record an access denial")


def handle_http(error: HTTPException):
    if error.code == 403:
        _record_denial()
    messages = {
        400: _("Yêu cầu không hợp lệ. Có thể biểu mẫu đã hết hạn; hãy tải lại trang và thử lại."),
        403: _("Bạn không có quyền truy cập trang này. Nếu cần, hãy liên hệ quản trị hệ thống."),
        404: _("Không tìm thấy trang hoặc bản ghi này. Có thể đường dẫn đã sai hoặc bản ghi đã bị xoá."),
        405: _("Thao tác này không được hỗ trợ tại địa chỉ này."),
        413: _("Tệp gửi lên quá lớn."),
        429: _("Quá nhiều yêu cầu. Vui lòng đợi một lát rồi thử lại."),
    }
    message = messages.get(error.code, error.description)
    if _wants_json():
        return {"error": error.name, "message": str(message)}, error.code
    return render_template("errors/error.html", code=error.code, title=error.name, message=message), error.code


def handle_unexpected(error: Exception):
    current_app.logger.exception("unhandled error on %s", request.path)
    message = _("Đã xảy ra lỗi không mong muốn. Dữ liệu của bạn chưa bị thay đổi; hãy thử lại hoặc báo quản trị.")
    if _wants_json():
        return {"error": "Internal Server Error", "message": str(message)}, 500
    return render_template("errors/error.html", code=500, title="Internal Server Error", message=message), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    if not app.debug and not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
