"""Login, logout, language, and user administration."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from lims.db import get_session
from lims.extensions import limiter
from lims.security import public, requires

from . import services
from .forms import LoginForm, PasswordForm, UserEditForm, UserForm
from .models import LoginThrottle, User
from .session import load_user

bp = Blueprint("auth", __name__)


def _policy() -> services.ThrottlePolicy:
    c = current_app.config
    return services.ThrottlePolicy(free_attempts=c["LOGIN_FREE_ATTEMPTS"], base_delay_s=c["LOGIN_BASE_DELAY_S"],
                                   max_delay_s=c["LOGIN_MAX_DELAY_S"], lock_after=c["LOGIN_LOCK_AFTER"],
                                   lock_minutes=c["LOGIN_LOCK_MINUTES"])


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@public
def login():
    """Sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = services.authenticate(db, username=form.username.data, password=form.password.data,
                                         policy=_policy())
        except services.LoginError as exc:
            db.commit()  # the failure is counted and logged
            form.password.errors.append(str(exc))
        else:
            db.info.update(actor_id=user.id, actor_name=user.username)
            token = services.start_session(db, user=user,
                                           lifetime=dt.timedelta(seconds=current_app.config[
                                               "PERMANENT_SESSION_LIFETIME"]),
                                           remote_addr=request.remote_addr or "",
                                           user_agent=request.user_agent.string or "")
            db.commit()
            session.clear()
            session["locale"] = user.locale
            login_user(load_user(token))
            flash(_("Xin chào, %(name)s.", name=user.full_name), "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Sign out and end the server-side session."""
    if current_user.is_authenticated:
        db = get_session()
        services.end_session(db, token=current_user.token)
        db.commit()
        logout_user()
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language/<code>", methods=["POST"])
@public
def language(code: str):
    """Switch the interface language."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = code
    if current_user.is_authenticated:
        db = get_session()
        user = db.get(User, current_user.id)
        user.locale = code
        db.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("registry.view")
def password():
    """Change my password."""
    form = PasswordForm()
    if form.validate_on_submit():
        db = get_session()
        user = db.get(User, current_user.id)
        try:
            services.change_password(db, user=user, current_password=form.current_password.data,
                                     new_password=form.new_password.data)
        except services.UserError as exc:
            getattr(form, exc.field, form.new_password).errors.append(str(exc))
        else:
            db.commit()
            logout_user()
            session.clear()
            flash(_("Đã đổi mật khẩu. Hãy đăng nhập lại."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", form=form)


@bp.route("/users")
@requires("users.manage")
def index():
    """List users."""
    db = get_session()
    users = db.scalars(select(User).order_by(User.username)).all()
    locked = {t.username: t for t in db.scalars(select(LoginThrottle))}
    return render_template("auth/index.html", users=users, locked=locked, now=services.utcnow())


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.manage")
def create():
    """Create a user."""
    form = UserForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = services.create_user(db, username=form.username.data, full_name=form.full_name.data,
                                        password=form.password.data, roles=form.roles.data,
                                        email=form.email.data or "")
        except services.UserError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            db.commit()
            flash(_("Đã tạo người dùng %(name)s.", name=user.username), "success")
            return redirect(url_for(".index"))
    return render_template("auth/create.html", form=form)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@requires("users.manage")
def edit(user_id: int):
    """Edit a user's name, roles and status."""
    db = get_session()
    user = db.get(User, user_id) or abort(404)
    form = UserEditForm(obj=user)
    if request.method == "GET":
        form.roles.data = sorted(user.role_codes)
    if form.validate_on_submit():
        if user.id == current_user.id and ("admin" not in form.roles.data or not form.is_active.data):
            form.roles.errors.append(_("Bạn không thể tự bỏ quyền quản trị hoặc tự khoá tài khoản của mình."))
        else:
            try:
                services.update_user(db, user=user, full_name=form.full_name.data, email=form.email.data or "",
                                     is_active=form.is_active.data, roles=form.roles.data)
            except services.UserError as exc:
                getattr(form, exc.field).errors.append(str(exc))
            else:
                db.commit()
                flash(_("Đã lưu người dùng %(name)s.", name=user.username), "success")
                return redirect(url_for(".index"))
    return render_template("auth/edit.html", form=form, user=user)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@requires("users.manage")
def unlock(user_id: int):
    """Clear a user's failed-login lock."""
    db = get_session()
    user = db.get(User, user_id) or abort(404)
    services.unlock(db, username=user.username)
    db.commit()
    flash(_("Đã mở khoá đăng nhập cho %(name)s.", name=user.username), "success")
    return redirect(url_for(".index"))
