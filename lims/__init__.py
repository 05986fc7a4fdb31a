"""The LIMS web application."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

#: Feature packages with a ``views.bp`` blueprint named after the package (DESIGN.md §2).
FEATURES = ("auth", "audit", "registry", "standards", "personnel", "facilities", "methods", "jobs", "verifications",
            "certificates", "public")
#: Feature packages with a ``models`` module (imported so that ``Base.metadata`` is complete).
MODEL_PACKAGES = ("audit", "auth", "registry", "standards", "personnel", "facilities", "methods", "jobs",
                  "verifications", "certificates")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application from ``LIMS_*`` environment variables (DESIGN.md §6), or ``test_config``."""
    from . import config, db, errors, i18n, security
    from .audit import services as audit_services
    from .auth import services as auth_services
    from .auth.session import init_login
    from .extensions import babel, bootstrap, csrf, limiter

    root = Path(__file__).resolve().parent.parent
    instance_path = Path(os.environ.get("LIMS_INSTANCE_PATH") or root / "instance").resolve()
    app = Flask(__name__, instance_path=str(instance_path), template_folder=str(root / "templates"))
    app.config.from_object(config.Defaults)
    if test_config is None:
        app.config.update(config.from_environment(instance_path))
    else:
        app.config.update(config.from_environment(instance_path) | test_config)

    if app.config["ENV_NAME"] == "production" and app.debug:
        raise RuntimeError("refusing to start: debug mode is on in production (unset FLASK_DEBUG or set LIMS_ENV)")
    # Cookies are Secure whenever the public address is HTTPS; `make run` on http://127.0.0.1 needs them plain.
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_URL"].startswith("https://")
    if proxies := int(os.environ.get("LIMS_PROXY_COUNT", "0") or 0):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    if "PASSWORD_HASH_PARAMS" in app.config:
        auth_services.configure_hasher(**app.config["PASSWORD_HASH_PARAMS"])

    app.config.setdefault("RATELIMIT_STORAGE_URI", "lims-memory://")
    db.init_app(app)
    audit_services.install()
    babel.init_app(app, locale_selector=i18n.select_locale, default_translation_directories=str(root / "lims" /
                                                                                                    "i18n"))
    bootstrap.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_login(app)
    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)

    import importlib

    from .views import bp as main_bp

    app.register_blueprint(main_bp)
    for feature in FEATURES:
        app.register_blueprint(importlib.import_module(f"lims.{feature}.views").bp)

    from . import cli

    cli.register(app)
    return app
