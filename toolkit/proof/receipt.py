"""Consent receipts: what the person agreed to, provable later (Kantara Consent Receipt v1.1).

The JSON follows the Kantara fields and adds the notice versions and the record hash, so the
receipt points at the exact words in the ledger. The HTML page and the PDF come from the same
data through the toolkit's templates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from ..errors import LedgerError
from ..i18n import translations
from ..render import ENVIRONMENT, notice_context
from ..spec import Spec
from .records import ConsentEvent

KANTARA_VERSION = "KI-CR-v1.1.0"


def build_receipt(item: ConsentEvent, spec: Spec) -> dict[str, Any]:
    """The Kantara v1.1 receipt of one ledger event, extended with versions and hash."""
    context = notice_context(spec, item.locale)
    purpose = next((p for p in context.purposes if p.id == item.purpose), None)
    if purpose is None:
        raise LedgerError(f"record {item.id}: purpose {item.purpose!r} is not in the spec")
    ctl = spec.controller
    moment = datetime.fromisoformat(item.at.replace("Z", "+00:00"))
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
                "address": ctl.address or "",
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
                        "purposeCategory": [purpose.channel],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(purpose.data_categories),
                        "primaryPurpose": True,
                        "termination": purpose.retention,
                        "thirdPartyDisclosure": bool(purpose.recipients),
                        "thirdPartyName": ", ".join(purpose.recipients),
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


def receipt_html(data: dict[str, Any]) -> Markup:
    """The receipt as a small HTML page, in the receipt's language."""
    trans = translations(data["language"])
    html = ENVIRONMENT.get_template("receipt.html").render(
        receipt=data, gettext=trans.gettext, ngettext=trans.ngettext
    )
    return Markup(html)  # noqa: S704 - autoescaped template


def receipt_pdf(data: dict[str, Any]) -> bytes:
    """The receipt as a PDF (same stylesheet and fonts as the notice packs)."""
    from ..pdf import html_to_pdf

    return html_to_pdf(str(receipt_html(data)), title=f"Consent receipt {data['consentReceiptID']}")
