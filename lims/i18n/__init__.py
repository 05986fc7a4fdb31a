"""Languages: Vietnamese first, English second. The user's choice lives in the session (and their profile)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask, current_app, has_request_context, session
from flask_babel import format_date, get_locale


def select_locale() -> str:
    """The session's language; outside a request (commands, services in tests) the default."""
    chosen = session.get("locale") if has_request_context() else None
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def format_day(value: dt.date | dt.datetime | None) -> str:
    """dd/mm/yyyy in every language (the centre's convention)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_date(value, "dd/MM/yyyy")
    return value.strftime("%d/%m/%Y")


def format_moment(value: dt.datetime | None) -> str:
    """dd/mm/yyyy HH:MM in the centre's time zone."""
    if value is None:
        return ""
    from flask_babel import format_datetime

    return format_datetime(value, "dd/MM/yyyy HH:mm")


def format_number(value: Decimal | str | int | None) -> str:
    """A decimal as typed, with a decimal comma when the locale is Vietnamese and the setting asks for it."""
    if value is None or value == "":
        return ""
    text = str(value)
    if current_app.config.get("DECIMAL_COMMA", True) and str(get_locale()) == "vi":
        text = text.replace(".", ",")
    return text


def init_app(app: Flask) -> None:
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.filters["num"] = format_number

    @app.context_processor
    def languages():
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}

