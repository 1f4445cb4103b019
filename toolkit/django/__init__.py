"""Django integration: ``INSTALLED_APPS += ["toolkit.django"]``, settings ``OPTIN_SPEC`` (a
spec file) and ``OPTIN_DATABASE_URL`` (the ledger: a path, sqlite:/// or postgresql://).

Templates: ``{% load optin %}{% consent_checkboxes %}{% collection_notice "short" %}
{% sms_footer %}`` in the request's language (Django's ``LANGUAGE_CODE``, negotiated against the
spec's locales). Forms: ``ConsentFormMixin`` records one grant per ticked box when the form is
valid, and puts a refusal on the field it concerns. The rules live in ``toolkit.capture``.
"""

from __future__ import annotations

from functools import cache

from ..capture import choose_locale
from ..proof import Ledger
from ..spec import Spec, load_spec


@cache
def spec() -> Spec:
    """The spec of ``settings.OPTIN_SPEC``, loaded once."""
    from django.conf import settings

    return load_spec(settings.OPTIN_SPEC)


@cache
def ledger() -> Ledger:
    """The ledger of ``settings.OPTIN_DATABASE_URL``, opened once per process."""
    from django.conf import settings

    return Ledger(settings.OPTIN_DATABASE_URL, spec=spec())


def locale_of(language: str | None) -> str:
    """A Django language code (``fr``, ``de-at``) as one of the spec's locales."""
    return choose_locale(spec(), (language or "").replace("-", "_"))
