"""Flask-Login glue: the browser's session holds a login token, resolved against ``login_sessions`` each request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin

from lims.db import get_session
from lims.extensions import login_manager

from . import services
from .permissions import permissions_of


@dataclass(frozen=True)
class CurrentUser(UserMixin):
    """What a request knows of its user: a plain snapshot, detached from any database session."""

    id: int
    username: str
    full_name: str
    roles: frozenset[str]
    permissions: frozenset[str]
    token: str

    def get_id(self) -> str:
        # Flask-Login stores this in the signed cookie; it is the login token, not the user id, so that ending
        # the server-side session ends the login everywhere.
        return self.token

    def has_role(self, role: str) -> bool:
        return role in self.roles


def load_user(token: str) -> CurrentUser | None:
    login = services.load_session(get_session(), token)
    if login is None:
        return None
    user = login.user
    roles = frozenset(user.role_codes)
    return CurrentUser(id=user.id, username=user.username, full_name=user.full_name, roles=roles,
                       permissions=permissions_of(set(roles)), token=token)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Vui lòng đăng nhập để tiếp tục.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)

    @app.before_request
    def _bind_actor():
        from flask_login import current_user

        if current_user.is_authenticated:
            session = get_session()
            session.info["actor_id"] = current_user.id
            session.info["actor_name"] = current_user.username

