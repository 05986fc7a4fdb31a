"""Configuration from ``LIMS_*`` environment variables (DESIGN.md §6)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """The secret key: ``LIMS_SECRET_KEY``, else one generated once into the instance folder (mode 0600)."""
    if key := os.environ.get("LIMS_SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def from_environment(instance_path: Path) -> dict:
    """Settings read from the environment, with the defaults of a one-machine install."""
    env = os.environ
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "DATABASE_URL": env.get("LIMS_DATABASE_URL") or f"sqlite:///{instance_path / 'lims.sqlite3'}",
        "PUBLIC_URL": env.get("LIMS_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SEAL_KEY_FILE": env.get("LIMS_SEAL_KEY_FILE") or str(instance_path / "seal_key.pem"),
        # lims-memory:// counts per process like limits' memory://, without its expiry thread (lims.ratelimit).
        "RATELIMIT_STORAGE_URI": env.get("LIMS_RATELIMIT_STORAGE_URI", "lims-memory://"),
        "ENV_NAME": env.get("LIMS_ENV", "production"),
        "CENTRE_NAME": env.get("LIMS_CENTRE_NAME", "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng"),
        # Printed on certificates (lims.certificates.services.IssueSettings): the centre's address, designation and
        # accreditation, the authority above it, contacts, and the place named before the date of issue.
        "CENTRE_ADDRESS": env.get("LIMS_CENTRE_ADDRESS", ""),
        "CENTRE_DESIGNATION": env.get("LIMS_CENTRE_DESIGNATION", ""),
        "CENTRE_ACCREDITATION": env.get("LIMS_CENTRE_ACCREDITATION", ""),
        "CENTRE_PARENT": env.get("LIMS_CENTRE_PARENT", ""),
        "CENTRE_PHONE": env.get("LIMS_CENTRE_PHONE", ""),
        "CENTRE_EMAIL": env.get("LIMS_CENTRE_EMAIL", ""),
        "CENTRE_PLACE": env.get("LIMS_CENTRE_PLACE", ""),
        # The public check's limit per client address (Flask-Limiter notation); shared by all workers when
        # LIMS_RATELIMIT_STORAGE_URI names a shared store (redis://…, with the redis package installed).
        "PUBLIC_CHECK_RATE_LIMIT": env.get("LIMS_PUBLIC_CHECK_RATE_LIMIT", "120 per minute"),
    }


class Defaults:
    """Settings that do not come from the environment."""

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "lims_session"
    # Secure cookies unless explicitly served over plain HTTP on loopback (``make run``); see create_app.
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024  # the import form's limit is lower; this stops anything absurd
    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")
    BOOTSTRAP_SERVE_LOCAL = True
    IMPORT_MAX_BYTES = 50 * 1024 * 1024
    PAGE_SIZE = 50
    # Login throttling: after LOGIN_FREE_ATTEMPTS failures each further attempt waits twice as long as the one before
    # (LOGIN_BASE_DELAY_S, capped); after LOGIN_LOCK_AFTER failures the account is locked for LOGIN_LOCK_MINUTES.
    LOGIN_FREE_ATTEMPTS = 3
    LOGIN_BASE_DELAY_S = 2
    LOGIN_MAX_DELAY_S = 300
    LOGIN_LOCK_AFTER = 10
    LOGIN_LOCK_MINUTES = 30
