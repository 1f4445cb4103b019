"""One person's proof pack: what a compliance officer hands over when a person, a court or an
authority asks "what did you record about this number, and can you prove it?".

Every record of the person with its place in the chain, the exact words of every text they
were shown (from the stored versions), their receipts, what the toolkit decides for each
purpose today, and where the chain stood when the pack was made, with a signed checkpoint of
that head when the ledger has a signing key. Read-only: making a pack writes nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..artefacts import ARTEFACTS
from ..errors import LedgerError
from ..i18n import translations
from ..render import ENVIRONMENT
from .labels import ACTION_LABELS, METHOD_LABELS, REASON_LABELS, labeller
from .records import normalise_subject, utc_now

if TYPE_CHECKING:
    from .ledger import Ledger


def pack_data(ledger: Ledger, subject: str, region: str | None = None) -> dict[str, Any]:
    """Everything the pack shows, as plain data (the page and the PDF read the same)."""
    if ledger.spec is None:
        raise LedgerError("a proof pack needs the ledger's spec: Ledger(url, spec=...)")
    person = normalise_subject(subject, region)
    records = ledger.numbered_history(person, region)
    if not records:
        raise LedgerError(f"no record of {subject!r} in the ledger")
    versions: dict[str, None] = {}
    for _seq, item in records:
        versions.update(dict.fromkeys(item.versions.values()))
    texts = []
    for version in versions:
        stored = ledger.stored_text(version)
        if stored is not None:
            texts.append(stored)
    receipts = [
        ledger.receipt(item.id)
        for _seq, item in records
        if item.action in ("grant", "confirm", "withdraw", "opposition")
    ]
    head = ledger.head()
    checkpoint = ledger.checkpoint(ledger.signing_key) if ledger.signing_key else None
    return {
        "subject": person,
        "made_at": utc_now(),
        "controller": ledger.spec.controller.name,
        "records": records,
        "texts": texts,
        "receipts": receipts,
        "decisions": {p.id: ledger.can_send(person, p.id, region) for p in ledger.spec.purposes},
        "head": head,
        "last_check": ledger.last_check(),
        "checkpoint": checkpoint,
    }


def pack_html(data: dict[str, Any], locale: str) -> str:
    """The pack as an HTML page in ``locale`` (autoescaped; stored HTML texts shown as text)."""
    trans = translations(locale)
    return ENVIRONMENT.get_template("proof-pack.html").render(
        pack=data,
        locale=locale,
        titles={name: trans.gettext(a.title) for name, a in ARTEFACTS.items()},
        action=labeller(ACTION_LABELS, trans.gettext),
        method=labeller(METHOD_LABELS, trans.gettext),
        reason=labeller(REASON_LABELS, trans.gettext),
        words=lambda text: Markup(text).striptags() if "<" in text else text,  # noqa: S704
        as_json=lambda value: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True),
        gettext=trans.gettext,
        ngettext=trans.ngettext,
    )


def pack_pdf(data: dict[str, Any], locale: str) -> bytes:
    """The pack as a PDF, with the notice packs' fonts and stylesheet."""
    from ..pdf import html_to_pdf

    return html_to_pdf(pack_html(data, locale), title=f"Proof pack {data['subject']}")
