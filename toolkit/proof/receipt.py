"""Consent receipts: what the person agreed to, provable later (Kantara Consent Receipt v1.1).

The JSON validates against the Kantara v1.1 schema and adds the notice versions and the record
hash, so the receipt points at the exact words in the ledger. The HTML page and the PDF come
from the same data through the toolkit's templates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from ..context import PurposeView
from ..errors import LedgerError
from ..i18n import translations
from ..render import ARTEFACTS, ENVIRONMENT, N_, notice_context
from ..spec import Controller, Spec
from .records import ConsentEvent

KANTARA_VERSION = "KI-CR-v1.1.0"

# The Kantara code lists, written "number - short code" as the specification's own v1.1 example
# writes them (KantaraInitiative/consent-receipt-v-next, CR_v1_1/kantara-consent-receipt-v1_1-
# example.json: "2 - Contracted Service", "6 - Marketing", "2 - Contact"...). Names and numbers
# from the specification's appendices "Purpose Categories" and "Categories of Personal Data"
# (KantaraInitiative/CISWG, MVCR-Spec/MVCR-v0.8/MVCR v0.7.8.md, Appendices B and C); entry 11
# of the purpose list is left unfinished ("...") in the specification itself.
PURPOSE_CATEGORIES: tuple[str, ...] = (
    "1 - Core Function",
    "2 - Contracted Service",
    "3 - Delivery",
    "4 - Contact Requested",
    "5 - Personalized Experience",
    "6 - Marketing",
    "7 - Marketing Third Parties",
    "8 - Sharing for Delivery",
    "9 - Sharing for Marketing",
    "10 - 3rd Party Sharing for Core Function",
    "11 - 3rd Party Sharing for ...",
    "12 - Legally Required Data Retention",
    "13 - Required by Law Enforcement or Government",
    "14 - Protecting Your Health",
    "15 - Protecting Our Interests",
    "16 - Improve Performance",
)
PII_CATEGORIES: tuple[str, ...] = (
    "1 - Biographical",
    "2 - Contact",
    "3 - Biometric",
    "4 - Communications/Social",
    "5 - Network/Service",
    "6 - Health",
    "7 - Financial",
    "8 - Official/Government Identifiers",
    "9 - Social Services/Welfare",
    "10 - Judicial",
    "11 - Property/Asset",
    "12 - Human Resources",
    "13 - Psychological/Attitudinal",
    "14 - Membership",
    "15 - Behavioural",
    "16 - Profile",
)


def _by_name(codes: tuple[str, ...]) -> dict[str, str]:
    """Codes by short name, so a misspelt name below fails at import, not in a receipt."""
    return {code.split(" - ", 1)[1]: code for code in codes}


_PURPOSE = _by_name(PURPOSE_CATEGORIES)
_PII = _by_name(PII_CATEGORIES)
_PURPOSE_BY_BASIS: dict[str, str] = {
    "consent": _PURPOSE["Contact Requested"],
    "contract": _PURPOSE["Contracted Service"],
    "legal_obligation": _PURPOSE["Legally Required Data Retention"],
    "vital_interests": _PURPOSE["Protecting Your Health"],
    "public_task": _PURPOSE["Core Function"],
    "legitimate_interests": _PURPOSE["Protecting Our Interests"],
}


def purpose_categories(purpose: PurposeView) -> list[str]:
    """The Kantara purpose category of a spec purpose, from its legal basis (GDPR Art. 6(1)).

    - direct marketing on consent or legitimate interests -> 6 Marketing ("communicating with
      you about our other services"); direct marketing rests on no other basis (recital 47,
      Art. 21(2)), so elsewhere the spec's default ``direct_marketing = true`` is not read;
    - consent -> 4 Contact Requested (contact the person asked for); on the web, where nobody
      is contacted, 1 Core Function, the list's default purpose;
    - contract -> 2 Contracted Service ("providing contracted or requested services to you");
    - legal_obligation -> 12 Legally Required Data Retention (13 is disclosure to authorities,
      which the spec does not say);
    - vital_interests -> 14 Protecting Your Health ("your vital and health interests");
    - public_task -> 1 Core Function (a public body's task is its core function);
    - legitimate_interests -> 15 Protecting Our Interests ("our legitimate interests...").
    """
    basis = purpose.legal_basis
    if purpose.direct_marketing and basis in ("consent", "legitimate_interests"):
        return [_PURPOSE["Marketing"]]
    if basis == "consent" and purpose.channel == "web":
        return [_PURPOSE["Core Function"]]
    return [_PURPOSE_BY_BASIS[basis]]


def pii_categories(purpose: PurposeView) -> list[str]:
    """The Kantara PII categories a purpose certainly uses. Always Contact: the ledger knows
    the person by a phone number or an e-mail address, and every channel but the web reaches
    them at a contact detail; the web adds Network/Service (online identifiers). The spec's
    data categories are free text no code can be read from: they go to ``piiCategoryText``."""
    codes = [_PII["Contact"]]
    if purpose.channel == "web":
        codes.append(_PII["Network/Service"])
    return codes


def _address(ctl: Controller) -> dict[str, str]:
    """The controller's address as the object the schema requires, in the members of the
    Kantara v1.1 example (schema.org PostalAddress): the spec keeps the street address as one
    line, so it stays one line; without one, the country alone."""
    address = {"addressCountry": ctl.country}
    return {"streetAddress": ctl.address, **address} if ctl.address else address


def build_receipt(item: ConsentEvent, spec: Spec) -> dict[str, Any]:
    """The Kantara v1.1 receipt of one ledger event, extended with versions and hash."""
    context = notice_context(spec, item.locale)
    purpose = next((p for p in context.purposes if p.id == item.purpose), None)
    if purpose is None:
        raise LedgerError(f"record {item.id}: purpose {item.purpose!r} is not in the spec")
    ctl = spec.controller
    moment = datetime.fromisoformat(item.at.replace("Z", "+00:00"))
    # The schema's oneOf: a third-party name exactly when there is a disclosure.
    disclosure: dict[str, Any] = {"thirdPartyDisclosure": bool(purpose.recipients)}
    if purpose.recipients:
        disclosure["thirdPartyName"] = ", ".join(purpose.recipients)
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": ctl.country,
        "consentTimestamp": int(moment.timestamp()),
        "collectionMethod": item.method,
        "consentReceiptID": item.id,
        "language": item.locale,
        "piiPrincipalId": item.subject,
        "piiControllers": [
            {
                "piiController": ctl.name,
                "onBehalf": False,
                "contact": ctl.email,
                "address": _address(ctl),
                "email": ctl.email,
                "phone": ctl.phone or "",
                "piiControllerUrl": ctl.website or spec.notice_url,
            }
        ],
        "policyUrl": spec.notice_url,
        "services": [
            {
                "service": purpose.name,
                "purposes": [
                    {
                        "purpose": purpose.description,
                        "purposeCategory": purpose_categories(purpose),
                        # As the Kantara example does for a purpose that needs no consent.
                        "consentType": "EXPLICIT" if purpose.legal_basis == "consent" else "N/A",
                        "piiCategory": pii_categories(purpose),
                        "piiCategoryText": list(purpose.data_categories),  # extension
                        "primaryPurpose": True,
                        "termination": purpose.retention,
                        **disclosure,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        # Extensions: the exact texts shown and the place of this record in the chain.
        "action": item.action,
        "consentTimestampISO": item.at,
        "noticeVersions": item.versions,
        "recordHash": item.hash,
        "previousRecordHash": item.prev_hash,
    }


#: How a choice reached us, as the person reads it on their receipt (the JSON keeps the code).
METHOD_LABELS = {
    "web-form": N_("on our website's form"),
    "sms-reply": N_("by an SMS you sent"),
    "api": N_("through our systems (API)"),
    "import": N_("imported from our earlier records"),
    "email": N_("by e-mail"),
    "phone": N_("on the phone"),
    "post": N_("by post"),
    "code": N_("with the code we sent you"),
    "email-link": N_("with the link we e-mailed you"),
}


def receipt_html(data: dict[str, Any]) -> Markup:
    """The receipt as a small HTML page, in the receipt's language."""
    trans = translations(data["language"])
    titles = {name: trans.gettext(a.title) for name, a in ARTEFACTS.items()}
    method = data.get("collectionMethod", "")
    how = trans.gettext(METHOD_LABELS[method]) if method in METHOD_LABELS else method
    html = ENVIRONMENT.get_template("receipt.html").render(
        receipt=data, titles=titles, how=how, gettext=trans.gettext, ngettext=trans.ngettext
    )
    return Markup(html)  # noqa: S704 - autoescaped template


def receipt_pdf(data: dict[str, Any]) -> bytes:
    """The receipt as a PDF (same stylesheet and fonts as the notice packs)."""
    from ..pdf import html_to_pdf

    return html_to_pdf(str(receipt_html(data)), title=f"Consent receipt {data['consentReceiptID']}")
