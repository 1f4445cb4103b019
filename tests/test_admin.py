"""The admin page as a compliance officer uses it: the chain's state without a full verify on
each view, counts per purpose, a person's history and texts, their proof pack, pages of
records, the audit's summary; in the page's language."""

from __future__ import annotations

import io
import re
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from pypdf import PdfReader
from test_demo import TOKEN, app, client, confirm_by_sms, form_fields, ledger, sign_up
from test_proof import raw

from toolkit.proof import Ledger

__all__ = ["app", "client"]  # fixtures
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def admin(client: FlaskClient, path: str = "/admin/?lang=fr", **kwargs: Any) -> Any:
    return client.get(path, headers=BEARER, **kwargs)


def test_the_page_checks_only_new_records_and_counts_them(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client)
    confirm_by_sms(client)

    def full_verify(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a page view must not verify the whole chain")

    monkeypatch.setattr(Ledger, "verify", full_verify)
    page = admin(client).get_data(as_text=True)
    assert "intacte jusqu’à l’enregistrement n° 2" in page
    assert re.search(r"<td>sms_offers</td><td>Consentement donné</td><td>1</td>", page)
    assert re.search(r"<td>sms_offers</td><td>Consentement confirmé</td><td>1</td>", page)
    sign_up(client, "06 12 34 56 79")
    page = admin(client).get_data(as_text=True)
    assert "intacte jusqu’à l’enregistrement n° 3" in page
    assert ledger(app).last_check().start == 2  # type: ignore[union-attr]


def test_verify_the_whole_chain_on_demand_names_a_broken_record(
    app: Flask, client: FlaskClient, tmp_path: Any
) -> None:
    sign_up(client)
    sign_up(client, "06 12 34 56 79")
    csrf = form_fields(admin(client).get_data(as_text=True))["csrf_token"]
    done = client.post(
        "/admin/verify?lang=fr", headers=BEARER, data={"csrf_token": csrf}, follow_redirects=True
    )
    said = done.get_data(as_text=True)
    assert "Chaîne entière vérifiée\u00a0: intacte jusqu’à l’enregistrement n° 2." in said
    url = str(ledger(app)._store.engine.url)
    raw(url, "UPDATE optin_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1")
    assert "intact" in admin(client).get_data(as_text=True)  # the quick check cannot see it
    done = client.post(
        "/admin/verify?lang=fr", headers=BEARER, data={"csrf_token": csrf}, follow_redirects=True
    )
    first = next(ledger(app).events()).id
    text = done.get_data(as_text=True)
    assert f"ROMPUE à l’enregistrement {first}" in text
    assert "ROMPUE" in admin(client).get_data(as_text=True)  # and it stays so


def test_records_come_fifty_to_a_page(app: Flask, client: FlaskClient) -> None:
    book = ledger(app)
    for i in range(55):
        book.record(f"+336123450{i:02d}", "sms_offers", "opposition", method="phone", locale="fr")
    first = admin(client).get_data(as_text=True)
    rows = r"<tr><td>\d+</td><td>[^<]*</td><td><a [^>]*>\+336\d+</a></td>"
    assert len(re.findall(rows, first)) == 50
    assert "+33612345054" in first and "+33612345004" not in first
    older = re.search(r'href="(/admin/\?before=\d+)" rel="next"', first)
    assert older is not None
    second = admin(client, older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(re.findall(rows, second)) == 5 and "+33612345000" in second
    assert 'rel="next"' not in second


def test_a_person_found_by_number_shows_history_texts_and_decisions(
    app: Flask, client: FlaskClient
) -> None:
    sign_up(client)
    confirm_by_sms(client)
    page = admin(client, "/admin/person?lang=fr&q=06+12+34+56+78").get_data(as_text=True)
    assert "Historique de +33612345678" in page
    assert "Consentement donné" in page and "formulaire web" in page
    assert "Consentement confirmé" in page and "réponse par SMS" in page
    grant = next(e for e in ledger(app).events() if e.action == "grant")
    link = f"/admin/text/{grant.versions['checkbox']}"
    assert link in page
    shown = admin(client, link + "?lang=fr").get_data(as_text=True)
    words = ledger(app).text(grant.versions["checkbox"])
    assert str(escape(words)) in shown and grant.versions["checkbox"] in shown
    assert "Diagnostics Exemple SAS" in words
    nobody = admin(client, "/admin/person?lang=fr&q=0699999999").get_data(as_text=True)
    assert "Aucun enregistrement de +33699999999" in nobody
    bad = admin(client, "/admin/person?lang=fr&q=hello")
    assert bad.status_code == 400
    assert "ni un numéro de téléphone ni une adresse" in bad.get_data(as_text=True)


def test_the_proof_pack_holds_records_texts_receipts_and_a_checkpoint(
    app: Flask, client: FlaskClient
) -> None:
    sign_up(client)
    confirm_by_sms(client)
    response = admin(client, "/admin/person.pdf?lang=fr&q=%2B33612345678")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages
    ).replace("\n", " ")
    events = list(ledger(app).events())
    for event in events:
        assert event.hash[:30] in text.replace(" ", "")
    assert "Dossier de preuve" in text and "+33612345678" in text
    assert "Point de contrôle signé" in text
    checkbox = ledger(app).text(events[0].versions["checkbox"])
    assert "Diagnostics Exemple SAS" in checkbox and "Diagnostics Exemple SAS" in text
    assert '"consentReceiptID"' in text.replace(" ", "") or "consentReceiptID" in text
    assert admin(client, "/admin/person.pdf?q=%2B33699999999").status_code == 404


def test_the_audit_shows_its_summary_and_offers_the_list(client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    csrf = form_fields(admin(client).get_data(as_text=True))["csrf_token"]
    response = client.post(
        "/admin/audit?lang=fr",
        headers=BEARER,
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf,
            "purpose": "sms_offers",
            "contacts": (io.BytesIO(b"name,phone\nA,+33612345678\nB,+33612345679\n"), "c.csv"),
        },
    )
    page = response.get_data(as_text=True)
    summary = "2 contacts pour sms_offers\u00a0: 1 peuvent être contactés, 1 ne le peuvent pas."
    assert summary in page
    assert "<td>aucun consentement enregistré</td><td>1</td>" in page
    link = re.search(r'href="(/admin/audit/[A-Za-z0-9_-]{22}\.csv)"', page)
    assert link is not None
    rows = admin(client, link.group(1)).get_data(as_text=True).splitlines()
    assert rows[0] == "name,phone,sendable,reason" and rows[2].startswith("B,+33612345679,no")
    assert admin(client, "/admin/audit/../../optin.csv").status_code == 404


def test_a_long_whole_chain_verification_runs_past_the_request(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a million records it takes a minute: the POST answers at once, the page says it
    is running, and shows when it last ended."""
    import demo.views

    sign_up(client)
    release = threading.Event()
    check = Ledger.check

    def slow(self: Ledger, *, full: bool = False) -> Any:
        if full:
            release.wait(10)
        return check(self, full=full)

    monkeypatch.setattr(Ledger, "check", slow)
    monkeypatch.setattr(demo.views, "FULL_VERIFY_WAIT", 0.0)
    page = admin(client).get_data(as_text=True)
    assert "La chaîne entière n’a pas encore été vérifiée." in page
    csrf = form_fields(page)["csrf_token"]
    done = client.post(
        "/admin/verify?lang=fr", headers=BEARER, data={"csrf_token": csrf}, follow_redirects=True
    )
    assert done.get_data(as_text=True).count("en cours de vérification") == 2  # notice, status
    release.set()
    app.extensions["optin_full_verify"]["thread"].join(10)
    page = admin(client).get_data(as_text=True)
    assert "Dernière vérification de la chaîne entière le" in page
    assert "en cours de vérification" not in page


def test_the_legal_review_pack_is_offered_to_the_admin_only(client: FlaskClient) -> None:
    page = admin(client).get_data(as_text=True)
    assert 'href="/admin/review-pack.pdf"' in page
    pack = admin(client, "/admin/review-pack.pdf")
    assert pack.status_code == 200 and pack.mimetype == "application/pdf"
    first = PdfReader(io.BytesIO(pack.data)).pages[0].extract_text()
    assert "Diagnostics Exemple SAS" in first
    assert client.get("/admin/review-pack.pdf").status_code == 401
