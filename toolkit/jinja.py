"""A Jinja2 extension for any Jinja site (static site generators, Sphinx, MkDocs...): the
spec's checkboxes, notices and SMS footer as template functions, in the locale asked.

    env = Environment(extensions=[OptInExtension], autoescape=True)
    env.optin_spec = load_spec("spec.toml")
    env.from_string('{{ consent_checkboxes("fr") }}{{ collection_notice("short", "fr") }}')

Each returns the artefact exactly as ``toolkit.render`` makes it (autoescaped ``Markup``; the
footer as text), so the versions a page carries are the ones the ledger knows.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension
from markupsafe import Markup

from .errors import ToolkitError
from .render import render
from .spec import Spec


class OptInExtension(Extension):
    """Adds ``consent_checkboxes(locale)``, ``collection_notice(layer, locale)`` and
    ``sms_footer(locale, first_contact=False)`` to the environment's globals."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(optin_spec=None)

        def spec() -> Spec:
            found: Any = getattr(environment, "optin_spec", None)
            if not isinstance(found, Spec):
                raise ToolkitError("set environment.optin_spec to a loaded spec first")
            return found

        def consent_checkboxes(locale: str) -> Markup:
            return render(spec(), "checkbox", locale, collection="person").html or Markup()

        def collection_notice(layer: str, locale: str, collection: str | None = None) -> Markup:
            if layer == "short" and collection is None:
                collection = "person"  # beside a form: the data the person gives (Art. 13)
            return render(spec(), f"notice-{layer}", locale, collection=collection).html or Markup()

        def sms_footer(locale: str, first_contact: bool = False) -> str:
            return render(spec(), "sms-footer", locale, first_contact=first_contact).text

        environment.globals.update(
            consent_checkboxes=consent_checkboxes,
            collection_notice=collection_notice,
            sms_footer=sms_footer,
        )
