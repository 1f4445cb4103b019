"""Words for the ledger's codes, as staff read them (the admin page, the proof pack, the
audit summary): a compliance officer reads "Consent withdrawn", not ``withdraw``.

The receipt speaks to the person instead ("by an SMS you sent"): receipt.METHOD_LABELS.
Each label is a catalog message, translated where it is shown; an unknown code shows as is.
"""

from __future__ import annotations

from collections.abc import Callable

from ..artefacts import N_

ACTION_LABELS = {
    "grant": N_("Consent given"),
    "withdraw": N_("Consent withdrawn"),
    "opposition": N_("Objection"),
    "contact": N_("Contacted"),
    "confirm": N_("Consent confirmed"),
    "notice-shown": N_("Notice shown"),
    "notice-sent": N_("Message sent with the notice"),
    "delivery": N_("Delivery report"),
    "redact": N_("Identifiers erased"),
}

METHOD_LABELS = {
    "web-form": N_("web form"),
    "sms-reply": N_("SMS reply"),
    "api": N_("API"),
    "import": N_("import"),
    "email": N_("e-mail"),
    "phone": N_("phone"),
    "post": N_("post"),
    "code": N_("code sent by SMS"),
    "email-link": N_("link sent by e-mail"),
    "carrier": N_("carrier"),
    "retention": N_("end of the retention period"),
    "request": N_("erasure request"),
}

REASON_LABELS = {
    "consent": N_("consent given"),
    "no-consent": N_("no consent recorded"),
    "withdrawn": N_("consent withdrawn"),
    "opposition": N_("objection recorded"),
    "no-objection": N_("no objection recorded"),
    "soft-opt-in": N_("existing customer (exception to consent)"),
    "contract": N_("within an ongoing contract"),
    "consent-expired": N_("consent too old"),
    "suppressed": N_("on a suppression list"),
    "registry-missing": N_("registry to screen not imported"),
    "registry-stale": N_("registry copy too old"),
    "outside-markets": N_("number outside the spec's countries"),
    "not-mobile": N_("not a mobile number"),
    "outside-hours": N_("outside the permitted hours"),
    "too-many-attempts": N_("too many attempts in the period"),
    "cooldown": N_("too soon after a refusal"),
    "information-overdue": N_("not informed within a month"),
    "information-missing": N_("first message lacked the notice"),
    "pending-confirmation": N_("waiting for confirmation"),
    "confirmation-expired": N_("never confirmed in time"),
}


def labeller(labels: dict[str, str], gettext: Callable[[str], str]) -> Callable[[str], str]:
    """A function that gives a code's label in the catalog's language (the code if unknown)."""
    return lambda code: gettext(labels[code]) if code in labels else code
