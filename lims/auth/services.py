"""Users, passwords, login throttling and login sessions. Services flush; callers commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lims.audit import services as audit
from lims.exceptions import FieldError
from lims.models import utcnow

from .models import LoginSession, LoginThrottle, User, UserRole
from .permissions import ROLES

MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
_dummy_hash: str | None = None


def configure_hasher(**params) -> None:
    """Replace the hasher's parameters (tests use cheap ones; production keeps the defaults)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(**params)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s (an electronic signature re-enters it, 21 CFR 11.200); an inactive user
    never matches."""
    return bool(user.is_active) and _verify(user.password_hash, password or "")


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


class UserError(FieldError):
    """A user could not be created or changed; the message names the field."""


def check_password_rules(password: str, *, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError("password", _("Mật khẩu phải có ít nhất %(n)d ký tự.", n=MIN_PASSWORD_LENGTH))
    if username and normalise_username(username) in password.lower():
        raise UserError("password", _("Mật khẩu không được chứa tên đăng nhập."))


def set_roles(session: Session, user: User, roles: list[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise UserError("roles", _("Vai trò không tồn tại: %(roles)s", roles=", ".join(unknown)))
    wanted = set(roles)
    for link in list(user.roles):
        if link.role not in wanted:
            user.roles.remove(link)
    for role in sorted(wanted - user.role_codes):
        user.roles.append(UserRole(role=role))


def create_user(session: Session, *, username: str, full_name: str, password: str, roles: list[str],
                email: str = "", locale: str = "vi") -> User:
    """Create a user with a hashed password. Callers commit."""
    name = normalise_username(username)
    if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise UserError("username", _("Tên đăng nhập chỉ gồm chữ, số, dấu chấm, gạch dưới hoặc gạch ngang."))
    if session.scalar(select(User.id).where(User.username == name)):
        raise UserError("username", _("Tên đăng nhập %(name)s đã được dùng.", name=name))
    if not (full_name or "").strip():
        raise UserError("full_name", _("Cần nhập họ tên."))
    check_password_rules(password, username=name)
    user = User(username=name, full_name=full_name.strip(), email=(email or "").strip(), locale=locale,
                password_hash=hash_password(password), password_changed_at=utcnow())
    session.add(user)
    set_roles(session, user, roles)
    session.flush()
    return user


def change_password(session: Session, *, user: User, current_password: str, new_password: str) -> None:
    """Change a user's own password and end their other sessions. Callers commit."""
    if not _verify(user.password_hash, current_password):
        raise UserError("current_password", _("Mật khẩu hiện tại không đúng."))
    check_password_rules(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
                    .values(ended_at=utcnow()))
    session.flush()


# --- login ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int = 3
    base_delay_s: int = 2
    max_delay_s: int = 300
    lock_after: int = 10
    lock_minutes: int = 30

    def delay_after(self, failures: int) -> dt.timedelta:
        """Wait imposed after ``failures`` consecutive failures: none for the first few, then doubling."""
        if failures < self.free_attempts:
            return dt.timedelta(0)
        return dt.timedelta(seconds=min(self.base_delay_s * 2 ** (failures - self.free_attempts), self.max_delay_s))


class LoginError(Exception):
    """Login refused; the message is safe to show (it never says whether the user exists)."""

    def __init__(self, message: str, *, retry_after_s: int = 0):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def authenticate(session: Session, *, username: str, password: str, policy: ThrottlePolicy,
                 now: dt.datetime | None = None) -> User:
    """Check a username and password, applying the throttle. Records login_failed events. Callers commit (also
    after a LoginError, so that the failure is counted)."""
    now = now or utcnow()
    name = normalise_username(username)[:60]
    throttle = session.get(LoginThrottle, name) if name else None
    if throttle is not None:
        if throttle.locked_until and now < throttle.locked_until:
            minutes = max(1, math.ceil((throttle.locked_until - now).total_seconds() / 60))
            raise LoginError(_("Đăng nhập bị tạm khoá do nhập sai nhiều lần. Thử lại sau %(minutes)d phút.",
                               minutes=minutes), retry_after_s=minutes * 60)
        if throttle.next_attempt_at and now < throttle.next_attempt_at:
            seconds = max(1, math.ceil((throttle.next_attempt_at - now).total_seconds()))
            raise LoginError(_("Nhập sai nhiều lần. Vui lòng thử lại sau %(seconds)d giây.", seconds=seconds),
                             retry_after_s=seconds)
    user = session.scalar(select(User).where(User.username == name)) if name else None
    global _dummy_hash
    if user is None:
        # Spend the same time as a real check so that timing does not tell which users exist.
        _dummy_hash = _dummy_hash or hash_password(secrets.token_hex(16))
        _verify(_dummy_hash, password)
    if user is None or not user.is_active or not _verify(user.password_hash, password):
        _count_failure(session, name, policy, now)
        audit.record(session, action="login_failed", entity_type="users", entity_id=user.id if user else "",
                     changes={"username": name})
        raise LoginError(_("Tên đăng nhập hoặc mật khẩu không đúng."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if throttle is not None:
        session.delete(throttle)
    session.flush()
    return user


def _count_failure(session: Session, name: str, policy: ThrottlePolicy, now: dt.datetime) -> None:
    if not name:
        return
    throttle = session.get(LoginThrottle, name)
    if throttle is None:
        throttle = LoginThrottle(username=name, failures=0)
        session.add(throttle)
    throttle.failures += 1
    throttle.last_failed_at = now
    throttle.next_attempt_at = now + policy.delay_after(throttle.failures)
    if throttle.failures >= policy.lock_after:
        throttle.locked_until = now + dt.timedelta(minutes=policy.lock_minutes)
    session.flush()


def unlock(session: Session, *, username: str) -> bool:
    """Clear a username's failed-login counter (an admin's action). Callers commit."""
    throttle = session.get(LoginThrottle, normalise_username(username))
    if throttle is None:
        return False
    session.delete(throttle)
    audit.record(session, action="unlock", entity_type="users", entity_id="", changes={"username": username})
    session.flush()
    return True


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, *, user: User, lifetime: dt.timedelta, remote_addr: str = "",
                  user_agent: str = "") -> str:
    """Open a login session; returns the random token for the browser (only its hash is stored). Callers commit."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(LoginSession(token_sha256=_token_sha256(token), user_id=user.id, created_at=now,
                             expires_at=now + lifetime, remote_addr=remote_addr[:64], user_agent=user_agent[:255]))
    audit.record(session, action="login", entity_type="users", entity_id=user.id,
                 changes={"remote_addr": remote_addr[:64]})
    session.flush()
    return token


def load_session(session: Session, token: str) -> LoginSession | None:
    """The live session for ``token``: not ended, not expired, its user active."""
    if not token:
        return None
    login = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == _token_sha256(token)))
    if login is None or login.ended_at is not None or login.expires_at <= utcnow() or not login.user.is_active:
        return None
    return login


def end_session(session: Session, *, token: str) -> None:
    """End a login session for good. Callers commit."""
    login = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == _token_sha256(token)))
    if login is not None and login.ended_at is None:
        login.ended_at = utcnow()
        audit.record(session, action="logout", entity_type="users", entity_id=login.user_id)
        session.flush()


def update_user(session: Session, *, user: User, full_name: str, email: str, is_active: bool,
                roles: list[str]) -> User:
    """Change a user's details; deactivating ends their sessions. Callers commit."""
    if not (full_name or "").strip():
        raise UserError("full_name", _("Cần nhập họ tên."))
    user.full_name = full_name.strip()
    user.email = (email or "").strip()
    set_roles(session, user, roles)
    if user.is_active and not is_active:
        session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
                        .values(ended_at=utcnow()))
    user.is_active = is_active
    session.flush()
    return user
