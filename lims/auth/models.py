"""Users, their roles, and their login sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.models import Base, TimestampMixin


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __audit__ = True
    __audit_redact__ = ("password_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored folded to lower case (the login form folds too): must match services.normalise_username.
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    password_changed_at: Mapped[dt.datetime | None]

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                 lazy="selectin")

    @property
    def role_codes(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_roles"
    __audit__ = True
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # One of lims.auth.permissions.ROLES (checked by services.set_roles).
    role: Mapped[str] = mapped_column(String(30))

    user: Mapped[User] = relationship(back_populates="roles")


class LoginSession(Base):
    """A server-side login session. The browser holds only a random token whose SHA-256 is stored here, so a
    session ends for good on logout (a cookie captured before is refused after) and an admin can end it."""

    __tablename__ = "login_sessions"
    __audit__ = "logins and logouts are recorded as explicit login/logout events; the rows are ephemeral"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed-login counter per (folded) username, whether or not such a user exists, so that an unknown name and a
    wrong password get the same answers and the same delays."""

    __tablename__ = "login_throttles"
    __audit__ = "counters only; every failed login is recorded as a login_failed event"

    username: Mapped[str] = mapped_column(String(60), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
