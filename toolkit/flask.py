"""Flask integration: compliant checkboxes, notices and proof of consent in a few lines.

    app = Flask(__name__)
    OptIn(app, load_spec("spec.toml"))          # or optin = OptIn(); optin.init_app(app, spec)

Templates then call ``consent_checkboxes()``, ``collection_notice("short")`` and
``sms_footer()`` in the request's locale (``?lang=``, then ``Accept-Language``), and a view calls
``record_consent(request.form)`` to write one ledger event per ticked box with
the versions that were rendered. Config keys: ``OPTIN_SPEC`` (path, when no spec is given),
``OPTIN_DATABASE_URL`` (default ``sqlite:///<instance>/optin.db``), ``OPTIN_SIGNING_KEY`` (the
Ed25519 key that signs receipts; default ``<instance>/optin-signing.key``, created if missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from . import capture
from .i18n import text_direction
from .proof import ConsentEvent, Ledger
from .proof.checkpoint import load_key
from .render import render
from .spec import Spec, load_spec

#: A submitted consent form that cannot be recorded (the demo answers 400).
ConsentFormError = capture.CaptureError


@dataclass
class OptInState:
    """What the extension keeps per app, in ``app.extensions["optin"]``."""

    spec: Spec
    ledger: Ledger
    consent_purposes: frozenset[str]  # the purposes a form may tick (consent ones)


class OptIn:
    """The Flask extension: ``OptIn(app, spec)`` or ``OptIn()`` then ``init_app(app, spec)``."""

    def __init__(
        self, app: Flask | None = None, spec: Spec | None = None, ledger: Ledger | None = None
    ) -> None:
        if app is not None:
            self.init_app(app, spec, ledger)

    def init_app(self, app: Flask, spec: Spec | None = None, ledger: Ledger | None = None) -> None:
        """Attach the spec and the ledger to ``app`` and install the template helpers."""
        if spec is None:
            spec = load_spec(app.config["OPTIN_SPEC"])
        if ledger is None:
            url = app.config.get("OPTIN_DATABASE_URL") or (
                f"sqlite:///{Path(app.instance_path) / 'optin.db'}"
            )
            key = (
                app.config.get("OPTIN_SIGNING_KEY") or Path(app.instance_path) / "optin-signing.key"
            )
            ledger = Ledger(url, spec=spec, signing_key=load_key(key))
        consent = frozenset(p.id for p in spec.purposes if p.legal_basis == "consent")
        app.extensions["optin"] = OptInState(spec, ledger, consent)
        app.jinja_env.globals.update(
            consent_checkboxes=consent_checkboxes,
            collection_notice=collection_notice,
            sms_footer=sms_footer,
            optin_locale=request_locale,
            optin_direction=lambda: text_direction(request_locale()),
            optin_locales=lambda: state().spec.locales,
            optin_asks_for=asks_for,
        )


def state() -> OptInState:
    """The extension's state for the current app."""
    return current_app.extensions["optin"]  # type: ignore[no-any-return]


def request_locale() -> str:
    """The locale of this request: ``?lang=`` if the spec has it, else Accept-Language
    (worked out once per request)."""
    cached = g.get("optin_locale")
    if cached is None:
        cached = g.optin_locale = _negotiate_request_locale()
    return str(cached)


def _negotiate_request_locale() -> str:
    wanted = request.args.get("lang")
    if not wanted and request.method == "POST":
        try:
            wanted = request.form.get("optin_locale")
        except HTTPException:  # an unreadable body (too large...): fall back to the headers
            wanted = None
    header = request.headers.get("Accept-Language", "")
    return capture.choose_locale(state().spec, wanted, header)


def asks_for(channel: str) -> bool:
    """Whether a form should ask for this channel's contact (``capture.asks_for``)."""
    return capture.asks_for(state().spec, channel)


def consent_checkboxes() -> Markup:
    """The spec's consent checkboxes (unticked) in the request's locale. A form collects from
    the person, so the short notice version they carry is the form's (Art. 13) one."""
    html = render(state().spec, "checkbox", request_locale(), collection="person").html
    assert html is not None
    return html


def collection_notice(layer: str = "short", collection: str | None = None) -> Markup:
    """The short (first layer) or full notice in the request's locale. The short one sits
    beside a form, so it speaks of data the person gives (``collection="person"``) unless told
    otherwise; the full one is the page everyone reads (both kinds of data)."""
    if layer == "short" and collection is None:
        collection = "person"
    html = render(state().spec, f"notice-{layer}", request_locale(), collection=collection).html
    assert html is not None
    return html


def sms_footer(first_contact: bool = False) -> str:
    """The SMS footer text in the request's locale."""
    return render(state().spec, "sms-footer", request_locale(), first_contact=first_contact).text


def ticked_purposes(form: Mapping[str, Any]) -> list[str]:
    """The consent purposes whose ``consent_<purpose>`` box was ticked (unknown ones refused)."""
    return [p.id for p in capture.ticked(state().spec, form, request_locale())]


def origin() -> capture.Origin:
    """This request as the evidence of a capture: its address, IP address and browser."""
    return capture.Origin(request.url, request.remote_addr, request.headers.get("User-Agent", ""))


def record_consent(
    form: Mapping[str, Any],
    *,
    phone_field: str = "phone",
    email_field: str = "email",
    region: str | None = None,
) -> list[ConsentEvent]:
    """Record one grant per ticked ``consent_<purpose>`` box, with the versions the form
    carried: the e-mail address for e-mail purposes, the phone number for the others.
    Everything is validated first and written in one transaction: nothing is stored on
    bad input (``ConsentFormError``, naming the field, in the page's language) or when the
    ledger is down (``LedgerUnavailable``). Returns the events written: none when no box
    was ticked."""
    ledger = state().ledger
    fields = capture.Fields(phone_field, email_field)
    locale = request_locale()
    prepared = capture.grants(ledger, form, origin(), locale, fields=fields, region=region)
    return capture.record(ledger, prepared, locale)


def record_withdrawal(
    form: Mapping[str, Any],
    *,
    phone_field: str = "phone",
    email_field: str = "email",
    region: str | None = None,
) -> list[ConsentEvent]:
    """Record one withdrawal per ticked ``consent_<purpose>`` box, each with the contact of
    its purpose's channel; all or nothing, as ``record_consent``."""
    ledger = state().ledger
    fields = capture.Fields(phone_field, email_field)
    locale = request_locale()
    prepared = capture.withdrawals(ledger, form, origin(), locale, fields=fields, region=region)
    return capture.record(ledger, prepared, locale)
