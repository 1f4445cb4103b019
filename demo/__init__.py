"""The optin-toolkit demo: the whole lawful journey in a browser.

``create_app(config=None)`` builds it: sign-up with the spec's checkboxes and proof, receipts,
withdrawal, the STOP webhook, the marketers' SMS preview, the legal PDF and an admin page.
Serve it with ``make demo`` (gunicorn on http://127.0.0.1:5000, see ``demo/gunicorn.conf.py``).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from toolkit.confirm import OutboxSender
from toolkit.errors import LedgerUnavailable
from toolkit.flask import OptIn, request_locale
from toolkit.i18n import babel_locale, translations

from .admin_sessions import AdminSessions

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


MIN_TOKEN = 16  # characters of an admin token


def _rate_limits(app: Flask) -> None:
    """Sign-up, withdrawal, code, login and the API are limited per client address (429 with
    Retry-After): nobody signs up a list of numbers, or guesses a token, at machine speed."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["OPTIN_RATE_STORAGE"],
        headers_enabled=False,  # Retry-After is set on the 429 only (a 503 keeps its own)
    )
    config = app.config
    for endpoint, rate, methods in (
        ("public.sign_up", config["OPTIN_FORM_RATE"], ["POST"]),
        ("public.withdraw", config["OPTIN_FORM_RATE"], ["POST"]),
        ("public.confirm_code", config["OPTIN_FORM_RATE"], ["POST"]),
        ("admin.login", config["OPTIN_LOGIN_RATE"], ["POST"]),
        ("public.api_consent", config["OPTIN_API_RATE"], None),
        ("public.api_consent_batch", config["OPTIN_API_RATE"], None),
        ("public.api_consent_record", config["OPTIN_API_RATE"], None),
    ):
        app.view_functions[endpoint] = limiter.limit(rate, methods=methods)(
            app.view_functions[endpoint]
        )
    app.extensions["optin_limiter"] = limiter


#: The OPTIN_* settings and their defaults; the environment overrides them, then the config
#: given to create_app.
SETTINGS: dict[str, str] = {
    "OPTIN_ADMIN_TOKEN": "",  # unset: a random one, printed at start
    # Inbound SMS webhooks: whichever carrier is configured (toolkit/carriers.py).
    "OPTIN_WEBHOOK_SECRET": "",
    "OPTIN_TWILIO_AUTH_TOKEN": "",
    "OPTIN_VONAGE_SIGNATURE_SECRET": "",
    "OPTIN_VONAGE_SIGNATURE_METHOD": "md5hash",
    "OPTIN_TELNYX_PUBLIC_KEY": "",
    "OPTIN_OUTBOX": "",
    "OPTIN_SIGNING_KEY": "",
    # The consent API's own token (never the admin's): it answers allowed/blocked and codes.
    "OPTIN_API_TOKEN": "",
    # Rate limits per client address (Flask-Limiter); memory:// counts per process: give
    # several workers a shared store (redis://...) for the limits to hold across them.
    "OPTIN_FORM_RATE": "20 per minute",
    "OPTIN_LOGIN_RATE": "5 per minute",
    "OPTIN_API_RATE": "600 per minute",
    "OPTIN_RATE_STORAGE": "memory://",
    "OPTIN_ADMIN_SESSIONS": "",
}
#: On when set to "1": unsigned webhooks (local development only: `make demo` sets it), and
#: cookies marked Secure (behind HTTPS).
FLAGS = ("OPTIN_WEBHOOK_UNSIGNED", "OPTIN_HTTPS")


def error_message(code: int) -> str:
    """What an error page says when the view gave no reason of its own, in the page's
    language: what happened and what to do, never Werkzeug's English."""
    gettext = translations(request_locale()).gettext
    messages = {
        400: gettext("The request could not be read. Please go back and try again."),
        404: gettext("There is nothing at this address. Check it, or start again from the menu."),
        405: gettext("This address does not accept this kind of request. Please use the menu."),
        413: gettext("What you sent is too large (2 MiB at most)."),
    }
    return messages.get(
        code, gettext("Something went wrong on our side. Please try again in a minute.")
    )


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The demo app. ``config`` overrides the defaults and the OPTIN_* environment."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.update(
        SECRET_KEY=os.environ.get("OPTIN_SECRET_KEY") or secrets.token_hex(32),
        OPTIN_SPEC=os.environ.get("OPTIN_SPEC") or str(ROOT / "examples" / "dse-france.toml"),
        OPTIN_DATABASE_URL=os.environ.get("OPTIN_DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'optin.db'}",
        **{name: os.environ.get(name) or default for name, default in SETTINGS.items()},
        **{name: os.environ.get(name) == "1" for name in FLAGS},
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(config or {})
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config["OPTIN_HTTPS"])
    if not app.config["OPTIN_ADMIN_TOKEN"]:
        app.config["OPTIN_ADMIN_TOKEN"] = secrets.token_urlsafe(24)
        print(
            f"optin demo: admin token for this run: {app.config['OPTIN_ADMIN_TOKEN']}", flush=True
        )
    if len(app.config["OPTIN_ADMIN_TOKEN"]) < MIN_TOKEN:
        raise ValueError(
            f"OPTIN_ADMIN_TOKEN: at least {MIN_TOKEN} characters (a guessable token opens"
            " everyone's records); leave it unset for a random one"
        )
    app.extensions["optin_admin_sessions"] = AdminSessions(
        app.config["OPTIN_ADMIN_SESSIONS"] or Path(app.instance_path) / "admin-sessions.db"
    )
    csrf.init_app(app)
    OptIn(app)
    # Messages (confirmation SMS, codes, e-mail links) go through a Sender: the outbox here,
    # visible on the admin page and in instance/outbox.jsonl; a carrier's in production.
    app.extensions["optin_sender"] = app.config.get("OPTIN_SENDER") or OutboxSender(
        app.config.get("OPTIN_OUTBOX") or Path(app.instance_path) / "outbox.jsonl"
    )
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: translations(request_locale()).gettext(s),
        lambda s, p, n: translations(request_locale()).ngettext(s, p, n),
        newstyle=True,
    )
    app.extensions["optin"].ledger.head()  # create the database now, not on the first visitor

    @app.template_global()
    def switch_language(locale: str) -> str:
        """This page's address in another language (other query parameters kept)."""
        args = {**request.args.to_dict(), "lang": locale}
        return "?" + urlencode(args)

    @app.template_global()
    def language_name(locale: str) -> str:
        """A language by its own name ("Deutsch", "Français"): a person looks for the one
        they read, not for a code."""
        name = babel_locale(locale).get_display_name(locale) or locale
        return name[:1].upper() + name[1:]

    @app.template_global()
    def demo_controller() -> str:
        """Whose site this is, the second half of every page title."""
        return str(app.extensions["optin"].spec.controller.name)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """Browsers and tools that ask for /favicon.ico get the page's icon, not a 404."""
        return redirect(url_for("static", filename="favicon.svg"), 301)

    from .views import admin, public

    app.register_blueprint(public)
    app.register_blueprint(admin)
    csrf.exempt("demo.views.sms_inbound")
    csrf.exempt("demo.views.api_consent_batch")  # a Bearer token, not a browser session
    csrf.exempt("demo.views.api_consent_record")
    _rate_limits(app)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.vary.add("Accept-Language")  # the page's language follows it (caches must too)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        """An expired or missing form token: said in the page's language, with what to do
        (Flask-WTF's own reason is English and technical)."""
        gettext = translations(request_locale()).gettext
        if _for_machines():  # a script reads it (the SMS preview): JSON
            message = gettext("Your session has expired. Reload the page to continue.")
            return jsonify({"error": message, "code": "session-expired"}), 400
        message = gettext("This form is out of date: please reload the page.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        headers = {}
        if code == 429:  # too many requests: say when to come back, in the page's language
            limit = app.extensions["optin_limiter"].current_limit
            wait = max(1, int(limit.reset_at - time.time())) if limit is not None else 60
            headers["Retry-After"] = str(wait)
            message = translations(request_locale()).gettext(
                "Too many attempts from your connection. Please try again in a minute."
            )
        elif error.description and error.description != type(error).description:
            message = error.description  # the view's own words, already in the page's language
        else:  # Werkzeug's default text is English: ours, in the page's language
            message = error_message(code)
        if _for_machines():
            return jsonify({"error": message}), code, headers
        return render_template("error.html", code=code, message=message), code, headers

    @app.errorhandler(LedgerUnavailable)
    def ledger_unavailable(error: LedgerUnavailable) -> Any:
        """An outage is a 503 (carriers and browsers retry), never a 400 blaming the visitor
        (D9); the reason goes to the log, not to the client."""
        app.logger.error("ledger unavailable: %s", error)
        message = translations(request_locale()).gettext(
            "The consent register cannot be reached right now, so nothing was recorded. "
            "Please try again in a minute."
        )
        headers = {"Retry-After": "30"}
        if _for_machines():
            return jsonify({"error": message}), 503, headers
        return render_template("error.html", code=503, message=message), 503, headers

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Any:
        app.logger.exception("unexpected error")  # the trace goes to the log, never the client
        if _for_machines():
            return jsonify({"error": error_message(500)}), 500
        return render_template("error.html", code=500, message=error_message(500)), 500

    return app


def _for_machines() -> bool:
    """Whether a program reads this answer (the APIs, a carrier's webhook, a .json receipt):
    errors are then JSON, never an HTML page."""
    return request.path.startswith(("/api/", "/sms/")) or request.path.endswith(".json")
