"""The names of the artefacts and of the collections, without the pipeline that renders them.

Kept apart from render.py (Jinja2) and context.py (Babel, phonenumbers, the rules) so that the
``optin`` command can declare its choices without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """gettext's marker: the message is extracted, and translated where it is shown."""
    return message


@dataclass(frozen=True)
class Artefact:
    """One artefact as everything reads it: render, the CLI, the PDF pack, the ledger's text
    resolver, the consent form's hidden fields and the receipt."""

    template: str  # ``.html``: autoescaped HTML; ``.txt``: text
    title: str  # what a reader calls it (a msgid: translate it where it is shown)
    form_field: str | None = None  # the hidden field a consent form carries its version in


#: The one registry of artefacts.
ARTEFACTS: dict[str, Artefact] = {
    "checkbox": Artefact("checkbox.html", N_("Consent checkboxes"), "optin_version_checkbox"),
    "notice-short": Artefact("notice-short.html", N_("Short notice"), "optin_version_notice_short"),
    "notice-full": Artefact("notice-full.html", N_("Full notice"), "optin_version_notice_full"),
    "sms-footer": Artefact("sms-footer.txt", N_("SMS footer")),
    "call-script": Artefact("call-script.html", N_("Call script")),
    "confirmation-sms": Artefact("confirmation-sms.txt", N_("Confirmation SMS")),
}

#: Where a reader's data came from: the person (a form, Art. 13) or a source (Art. 14).
COLLECTIONS = ("person", "source")
