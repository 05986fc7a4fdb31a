"""The public check's answer, and the lean WSGI path that serves it.

``GET /V/<token>`` is the page anyone reaches by scanning a seal, the one page that must stay fast under load
(issue 5: at least half the throughput of a bare Flask route). The LIMS's request machinery (the login session, the
permission gate, CSRF, the per-request database session, Flask-Babel's per-message catalogue look-up) costs several
times a bare route, so :class:`FastCheck` answers ``GET``/``HEAD`` of ``/V/<token>`` and ``/v/<token>`` before it, and
hands every other request (and this one too, should anything fail) to the Flask application. Both paths produce the
answer with :class:`CheckPage`, so they say the same thing, with the same security headers; the Flask route
(``public.check``) stays for the URL map, for tests, and as the fallback.

What the page does, in order: rate-limit the client (Flask-Limiter's storage and strategy, see
:mod:`lims.public.views`), check the seal's signature over the exact text received before anything else
(:func:`lims.certificates.services.public_check`), then render the live status as HTML, or as JSON for
``Accept: application/json``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from pathlib import Path

import limits
from babel.support import Translations
from jinja2.ext import Extension
from jinja2.lexer import Token
from markupsafe import Markup
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from lims import security
from lims.certificates import services as certificates
from lims.dates import local

log = logging.getLogger(__name__)

TEMPLATE = "public/check.html"
_TOKEN_PATH = re.compile(r"/[Vv]/([^/]+)")
#: The headers every response of the application carries (lims.security._headers), for the fast path.
SECURITY_HEADERS = (
    ("Content-Security-Policy", security.CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
REASONS = {200: "200 OK", 400: "400 BAD REQUEST", 404: "404 NOT FOUND", 429: "429 TOO MANY REQUESTS"}


def _day(value) -> str:
    """dd/mm/yyyy; a moment on the centre's calendar; an ISO date string as stored in summaries."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    elif isinstance(value, dt.datetime):
        value = local(value).date()
    return value.strftime("%d/%m/%Y")


def _gettext(translations: Translations):
    """Jinja's new-style ``_`` over one catalogue: the translation is trusted markup, the values put into it are
    escaped (as the i18n extension's own)."""

    def gettext(string: str, **variables) -> Markup:
        text = Markup(translations.ugettext(string))
        return text % variables if variables else text

    return gettext


class _InlineTranslations(Extension):
    """Translate the page's messages when the template is compiled, one compiled template per language.

    ``_("text")`` becomes the translated string literal (escaped like any text); ``_("text %(x)s", x=…)`` becomes
    ``_format("translated %(x)s", x=…)``. The source keeps its ``_()`` calls, so the catalogues still extract them.
    Rendering then calls no translation function at all: on this page that halves the template's cost."""

    def filter_stream(self, stream):
        translations = self.environment.lims_translations
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if (token.type == "name" and token.value == "_" and index + 2 < len(tokens)
                    and tokens[index + 1].type == "lparen" and tokens[index + 2].type == "string"):
                text = translations.ugettext(tokens[index + 2].value)
                closing = tokens[index + 3] if index + 3 < len(tokens) else None
                if closing is not None and closing.type == "rparen":
                    yield Token(token.lineno, "string", text)
                    index += 4
                    continue
                yield Token(token.lineno, "name", "_format")
                yield tokens[index + 1]
                yield Token(token.lineno, "string", text)
                index += 3
                continue
            yield token
            index += 1


def _format(text: str, **variables) -> Markup:
    """``text % variables`` with the values escaped (the text is the catalogue's, itself escaped)."""
    return Markup.escape(text) % variables


class CheckPage:
    """Everything the page needs, prepared once per application: template, catalogues, static links, the limit."""

    def __init__(self, app):
        from flask import url_for

        from lims.extensions import bootstrap

        self.app = app
        self.config = app.config
        self.database = app.extensions["lims.db"]
        folder = Path(app.root_path) / "i18n"
        self.languages = tuple(app.config["LANGUAGES"])
        self.default_language = app.config["BABEL_DEFAULT_LOCALE"]
        self.templates, self.gettext = {}, {}
        for lang in self.languages:
            translations = Translations.load(str(folder), [lang], domain="messages")
            environment = app.jinja_env.overlay(extensions=[_InlineTranslations], cache_size=4)
            environment.lims_translations = translations
            self.templates[lang] = environment.get_template(TEMPLATE)
            self.gettext[lang] = _gettext(translations)
        with app.test_request_context("/"):
            self.head_links = Markup("\n  ".join([
                str(bootstrap.load_css()),
                f'<link rel="stylesheet" href="{url_for("static", filename="public.css")}">',
                f'<link rel="icon" href="{url_for("static", filename="favicon.svg")}" type="image/svg+xml">']))
            self.keys_url = url_for("public.keys")
        self.limit = limits.parse(app.config.get("PUBLIC_CHECK_RATE_LIMIT", "120 per minute"))
        self.key_ring = certificates.KeyRing(lambda: self.database.session(readonly=True))
        self.lookup = certificates.PublicLookup(self.database.engine)

    @classmethod
    def of(cls, app) -> CheckPage:
        page = app.extensions.get("lims.public_check")
        if page is None:
            page = app.extensions["lims.public_check"] = cls(app)
        return page

    # --- the answer ---------------------------------------------------------------------------------------------

    def answer(self, token: str, *, accept: str | None, query_lang: str | None, client: str,
               secure: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        """``(status code, headers, body)`` for a token, as HTML or JSON."""
        wants_json = _wants_json(accept)
        language = query_lang if query_lang in self.languages else self.default_language
        retry_after = self.over_limit(client)
        if retry_after is not None:
            return self._rate_limited(wants_json, language, retry_after, secure)
        result = certificates.public_check(self.lookup, token=token, key_ring=self.key_ring)
        code = 200 if result.genuine else (400 if result.reason == "format" else 404)
        if wants_json:
            body = json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
            headers = [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")]
        else:
            body = self.render(language, result=result).encode()
            headers = [("Content-Type", "text/html; charset=utf-8")]
        return code, self._headers(headers, body, secure), body

    def render(self, language: str, *, result=None, rate_limited: bool = False) -> str:
        return self.templates[language].render(_format=_format, lang=language, day=_day,
                                               centre=self.config.get("CENTRE_NAME", ""), head_links=self.head_links,
                                               keys_url=self.keys_url, result=result, rate_limited=rate_limited)

    def over_limit(self, client: str) -> int | None:
        """Count a hit of ``client``; the seconds to wait when over the limit, else ``None``. A failing shared store
        lets the request through (logged): the public check must not go down with the rate limiter's store."""
        if not self.config.get("RATELIMIT_ENABLED", True):
            return None
        from lims.extensions import limiter

        try:
            strategy = limiter.limiter
            if strategy.hit(self.limit, "public.check", client):
                return None
            reset, _remaining = strategy.get_window_stats(self.limit, "public.check", client)
        except Exception:
            log.exception("rate-limit store unavailable; public check served without limit")
            return None
        return max(1, int(reset - time.time()) + 1)

    def _rate_limited(self, wants_json: bool, language: str, retry_after: int,
                      secure: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        gettext = self.gettext[language]
        message = str(gettext("Quá nhiều lượt kiểm tra từ địa chỉ của bạn. Vui lòng đợi một phút rồi quét lại mã."))
        if wants_json:
            body = json.dumps({"status": "rate_limited", "message": message, "certificate": None},
                              ensure_ascii=False).encode()
            headers = [("Content-Type", "application/json")]
        else:
            body = self.render(language, rate_limited=True).encode()
            headers = [("Content-Type", "text/html; charset=utf-8")]
        headers.append(("Retry-After", str(retry_after)))
        return 429, self._headers(headers, body, secure), body

    @staticmethod
    def _headers(headers: list[tuple[str, str]], body: bytes, secure: bool) -> list[tuple[str, str]]:
        headers += [("Content-Length", str(len(body))), ("Cache-Control", "no-store"), ("Vary", "Accept"),
                    *SECURITY_HEADERS]
        if secure:
            headers.append(HSTS)
        return headers


def _wants_json(accept: str | None) -> bool:
    if not accept or "json" not in accept:
        return False
    parsed = parse_accept_header(accept, MIMEAccept)
    best = parsed.best_match(["text/html", "application/json"])
    return best == "application/json" and parsed["application/json"] > parsed["text/html"]


class FastCheck:
    """WSGI middleware: answers ``GET``/``HEAD /V/<token>`` (any letter case of the ``V``) with :class:`CheckPage`,
    and passes everything else to ``wrapped`` (the Flask application, inside any ProxyFix so that the client's
    address is the one counted)."""

    def __init__(self, wrapped, app):
        self.wrapped = wrapped
        self.app = app
        self._page: CheckPage | None = None

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        match = _TOKEN_PATH.fullmatch(environ.get("PATH_INFO", "")) if method in ("GET", "HEAD") else None
        if match is None:
            return self.wrapped(environ, start_response)
        try:
            page = self._page or self._load()
            token = match.group(1).encode("latin-1").decode("utf-8", "replace")  # PEP 3333: bytes as latin-1
            code, headers, body = page.answer(
                token, accept=environ.get("HTTP_ACCEPT"), query_lang=_query_lang(environ.get("QUERY_STRING", "")),
                client=environ.get("REMOTE_ADDR") or "", secure=environ.get("wsgi.url_scheme") == "https")
        except Exception:  # the Flask route gives the same answer, or the application's error page
            log.exception("public check fast path failed; answered by the application")
            return self.wrapped(environ, start_response)
        start_response(REASONS.get(code, f"{code} "), headers)
        return [] if method == "HEAD" else [body]

    def _load(self) -> CheckPage:
        self._page = CheckPage.of(self.app)
        return self._page


def _query_lang(query: str) -> str | None:
    if "lang=" not in query:
        return None
    for part in query.split("&"):
        key, _sep, value = part.partition("=")
        if key == "lang":
            return value
    return None


def install(app) -> None:
    """Put :class:`FastCheck` in front of the application (inside ProxyFix when there is one)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    if not app.config.get("PUBLIC_CHECK_FAST_PATH", True):
        return
    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = FastCheck(app.wsgi_app.app, app)
    else:
        app.wsgi_app = FastCheck(app.wsgi_app, app)
