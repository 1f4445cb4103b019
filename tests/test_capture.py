"""toolkit.capture: the rules of capture, framework-neutral (issue 13 item 1), and the demo
using them: errors beside their field in the page's language, withdrawals by channel (D7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

import toolkit
from demo import create_app
from toolkit import capture
from toolkit.proof import Ledger

DSE = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")
NEWSLETTER = toolkit.load_spec(ROOT / "examples" / "newsletter.toml")
TOKEN = "admin-secret-token"
ORIGIN = capture.Origin("https://diagnostics.example/", "203.0.113.7", "Firefox/140")


def form(spec: toolkit.Spec, locale: str = "fr", **fields: str) -> dict[str, str]:
    """What a form rendered for ``spec`` posts: its versions, its locale, and ``fields``."""
    versions = {
        field: toolkit.render(spec, artefact, locale, collection="person").version
        for artefact, field in capture.VERSION_FIELDS.items()
    }
    return {**versions, "optin_locale": locale, **fields}


def test_a_form_becomes_grants_for_the_subject_of_each_channel(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db", spec=NEWSLETTER) as book:
        posted = form(NEWSLETTER, "de", email=" Anna@Example.org ", consent_newsletter="x")
        prepared = capture.grants(book, posted, ORIGIN, "de")
        assert [(e.subject, e.purpose, e.action) for e in prepared] == [
            ("anna@example.org", "newsletter", "grant")
        ]
        assert prepared[0].evidence == {
            "form_url": "https://diagnostics.example/",
            "ip": "203.0.113.0/24",
            "user_agent": "Firefox/140",
        }
        assert book.count() == 0  # prepared, not written
        capture.record(book, prepared)
        assert book.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "phone", "Veuillez saisir votre numéro de téléphone mobile."),
        ({"phone": "12"}, "phone", "Ce numéro de téléphone n'est pas valide."),
        ({"phone": "anna@example.org"}, "phone", "Ce numéro de téléphone n'est pas valide."),
        (  # a landline cannot take an SMS
            {"phone": "01 23 45 67 89"},
            "phone",
            "Ce numéro ne peut pas recevoir de SMS\u00a0: veuillez indiquer un numéro de mobile.",
        ),
        ({"phone": "06 12 34 56 78", "consent_nope": "x"}, None, "une finalité que nous ne"),
    ],
)
def test_bad_input_names_its_field_in_the_page_language(
    tmp_path: Path, fields: dict[str, str], field: str | None, message: str
) -> None:
    with Ledger(tmp_path / "l.db", spec=DSE) as book:
        with pytest.raises(capture.CaptureError) as refused:
            capture.grants(book, form(DSE, consent_sms_offers="x", **fields), ORIGIN, "fr")
        assert refused.value.field == field and message in refused.value.message
        assert book.count() == 0


def test_an_out_of_date_form_is_refused(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db", spec=DSE) as book:
        stale = form(DSE, phone="0612345678", consent_sms_offers="x")
        del stale["optin_version_checkbox"]
        with pytest.raises(capture.CaptureError, match="n'est plus à jour"):
            capture.grants(book, stale, ORIGIN, "fr")
        with pytest.raises(capture.CaptureError, match="out of date"):
            capture.grants(book, {**stale, "optin_locale": "xx"}, ORIGIN, "en")


def test_a_withdrawal_takes_the_contact_of_each_purposes_channel(tmp_path: Path) -> None:
    """D7: an e-mail consent is withdrawn with the address, an SMS one with the number."""
    spec_data = (ROOT / "examples" / "newsletter.toml").read_text(encoding="utf-8")
    assert 'channel = "email"' in spec_data
    with Ledger(tmp_path / "l.db", spec=NEWSLETTER) as book:
        posted = {"email": "anna@example.org", "consent_newsletter": "x"}
        (event,) = capture.record(book, capture.withdrawals(book, posted, ORIGIN, "de"))
        assert (event.subject, event.action) == ("anna@example.org", "withdraw")
        with pytest.raises(capture.CaptureError) as refused:
            capture.withdrawals(book, {"consent_newsletter": "x"}, ORIGIN, "de")
        assert refused.value.field == "email"
        assert refused.value.message == "Bitte geben Sie Ihre E-Mail-Adresse ein."


def test_inbound_sms_stop_confirm_help(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db", spec=DSE) as book:
        number = "+33612345678"
        capture.record(
            book,
            capture.grants(book, form(DSE, phone=number, consent_sms_offers="x"), ORIGIN, "fr"),
        )
        confirmed = capture.inbound_sms(book, number, "Oui !", "en")
        assert confirmed.kind == "confirm" and confirmed.locale == "fr"  # the number's country
        assert confirmed.reply == "Merci : votre consentement est confirmé."
        assert book.can_send(number, "sms_offers").allowed
        helped = capture.inbound_sms(book, "+4915112345678", "HILFE", "fr")
        assert helped.events == () and helped.locale == "de"
        assert helped.reply is not None and "SMS" in helped.reply
        stopped = capture.inbound_sms(book, number, "STOP", "en")
        assert {e.purpose for e in stopped.events} == set(DSE.sms_stop_purposes())
        assert stopped.reply is not None and "ne recevrez plus" in stopped.reply
        assert not book.can_send(number, "sms_offers").allowed
        other = capture.inbound_sms(book, number, "stop calling me at 6", "fr")
        assert (other.kind, other.events, other.reply) == ("other", (), None)


def demo(tmp_path: Path, spec: Path) -> object:
    app = create_app(
        {
            "OPTIN_SPEC": str(spec),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    return app


def hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def test_the_demo_keeps_what_was_typed_and_says_what_is_wrong_beside_it(tmp_path: Path) -> None:
    """Issue 13's "done when": a French visitor typing a bad number sees a French error beside
    the field, with the number kept."""
    app = demo(tmp_path, ROOT / "examples" / "dse-france.toml")
    client = app.test_client()  # type: ignore[attr-defined]
    data = hidden(client.get("/?lang=fr").get_data(as_text=True))
    data.update({"phone": "01 23 45 67 89", "consent_sms_offers": "sms_offers"})
    answer = client.post("/?lang=fr", data=data)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    error = re.search(r'<p class="field-error" id="phone-error">([^<]+)</p>', page)
    assert error is not None and "ne peut pas recevoir de SMS" in error.group(1)
    assert 'value="01 23 45 67 89" aria-invalid="true" aria-describedby="phone-error"' in page
    assert 'role="alert"' not in page  # said once, beside the field


def test_the_demo_withdraws_an_email_consent_and_shows_its_receipt(tmp_path: Path) -> None:
    """D7: /withdraw lists the e-mail purpose and asks for the address; Post/Redirect/Get."""
    app = demo(tmp_path, ROOT / "examples" / "newsletter.toml")
    client = app.test_client()  # type: ignore[attr-defined]
    page = client.get("/withdraw?lang=de").get_data(as_text=True)
    assert 'name="consent_newsletter"' in page and 'name="email"' in page
    assert 'name="phone"' not in page  # no purpose of this spec is withdrawn by number
    data = {**hidden(page), "email": "anna@example.org", "consent_newsletter": "newsletter"}
    answer = client.post("/withdraw?lang=de", data=data)
    assert answer.status_code == 303
    done = client.get(answer.headers["Location"]).get_data(as_text=True)
    (event_id,) = re.findall(r'data-event="([^"]+)"', done)
    assert f"/receipt/{event_id}" in done
    book = app.extensions["optin"].ledger  # type: ignore[attr-defined]
    assert book.event(event_id).subject == "anna@example.org"
    refused = client.post("/withdraw?lang=de", data={**hidden(page), "consent_newsletter": "x"})
    assert refused.status_code == 400
    assert "Bitte geben Sie Ihre E-Mail-Adresse ein." in refused.get_data(as_text=True)


def test_a_missing_receipt_is_said_in_the_page_language(tmp_path: Path) -> None:
    app = demo(tmp_path, ROOT / "examples" / "dse-france.toml")
    client = app.test_client()  # type: ignore[attr-defined]
    page = client.get("/receipt/nope?lang=de")
    assert page.status_code == 404
    assert "Unter dieser Adresse gibt es keinen Beleg." in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("wanted", "header", "chosen"),
    [
        ("de", "fr", "de"),  # asked for, and the spec has it
        ("pt", "it;q=0.5, es;q=0.9", "es"),  # not the spec's: the browser's, by weight
        (None, "fr-CA,fr;q=0.9,en;q=0.8", "fr"),  # a region falls back to its language
        (None, "pt-BR, *;q=0.1", "fr"),  # nothing the spec has: its first
        (None, "de;q=0, it", "it"),  # q=0 means "not this one"
        (None, "en;q=abc, de", "de"),  # an unreadable weight counts for nothing
        (None, "", "fr"),
    ],
)
def test_the_locale_of_a_request(wanted: str | None, header: str, chosen: str) -> None:
    assert capture.choose_locale(DSE, wanted, header) == chosen
