"""The Flask demo through its test client: every route, every locale, every bad input."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import API, ROOT, audited_list
from flask import Flask
from flask.testing import FlaskClient

import toolkit
from demo import create_app
from toolkit.proof import Ledger
from toolkit.proof.checkpoint import verify_receipt

TOKEN = "admin-secret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "webhook-secret"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'optin.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    yield app
    app.extensions["optin"].ledger.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ledger(app: Flask) -> Ledger:
    return app.extensions["optin"].ledger  # type: ignore[no-any-return]


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields (CSRF token, locale, versions) of the first form on a page."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def sign_up(
    client: FlaskClient, phone: str = "06 12 34 56 78", lang: str = "fr", **extra: str
) -> Any:
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    data = form_fields(page)
    data.update({"phone": phone, "consent_sms_offers": "sms_offers"})
    data.update(extra)
    return client.post(f"/?lang={lang}", data=data, follow_redirects=True)


def confirm_by_sms(client: FlaskClient, number: str = "+33612345678", word: str = "OUI") -> str:
    """The holder of the number answers the confirmation SMS (double opt-in)."""
    return client.post("/sms/inbound", data={"From": number, "Body": word}).get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fr", "en", "de", "es", "it"])
@pytest.mark.parametrize("path", ["/", "/withdraw", "/notice", "/preview"])
def test_pages_in_every_locale(client: FlaskClient, path: str, lang: str) -> None:
    response = client.get(f"{path}?lang={lang}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}" dir="ltr">' in html
    assert all(f'hreflang="{loc}"' in html for loc in ("fr", "en", "de", "es", "it"))
    assert "checked" not in html
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in html  # no inline script anywhere


def test_accept_language_picks_the_locale(client: FlaskClient) -> None:
    html = client.get("/", headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"}).get_data(
        as_text=True
    )
    assert '<html lang="de" dir="ltr">' in html and "Mobilfunknummer" in html


def test_sign_up_records_one_grant_with_the_versions_shown(app: Flask, client: FlaskClient) -> None:
    page = client.get("/?lang=de").get_data(as_text=True)
    shown = form_fields(page)
    response = sign_up(client, lang="de")
    assert response.status_code == 200
    (event,) = list(ledger(app).events())
    assert event.subject == "+33612345678" and event.action == "grant"
    assert event.locale == "de" and event.method == "web-form"
    assert event.versions == {
        "checkbox": shown["optin_version_checkbox"],
        "notice-short": shown["optin_version_notice_short"],
        "notice-full": shown["optin_version_notice_full"],
    }
    html = response.get_data(as_text=True)
    assert event.hash in html
    receipt = client.get(f"/receipt/{event.id}.json")
    assert receipt.status_code == 200
    assert json.loads(receipt.data)["recordHash"] == event.hash
    verify_receipt(json.loads(receipt.data))  # signed: checkable offline, without the ledger
    assert client.get(f"/receipt/{event.id}.pdf").data.startswith(b"%PDF-")
    assert event.hash in client.get(f"/receipt/{event.id}").get_data(as_text=True)
    assert client.get("/receipt/nope.json").status_code == 404


def test_no_box_ticked_stores_nothing(app: Flask, client: FlaskClient) -> None:
    data = form_fields(client.get("/?lang=en").get_data(as_text=True))
    data["phone"] = "+33612345678"
    response = client.post("/?lang=en", data=data)
    assert response.status_code == 200
    assert "You ticked no box" in response.get_data(as_text=True)
    assert ledger(app).count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "12"}, "Ce numéro de téléphone n&#39;est pas valide."),
        ({"consent_spam": "spam"}, "une finalité que nous ne connaissons pas"),
        ({"optin_version_checkbox": "sha256:" + "0" * 64}, "n&#39;est plus à jour"),
        ({"optin_locale": "pt"}, "n&#39;est plus à jour"),
        ({"csrf_token": "forged"}, "n&#39;est plus à jour"),  # French, not Flask-WTF's
    ],
)
def test_bad_sign_ups_are_400_and_store_nothing(
    app: Flask, client: FlaskClient, change: dict[str, str], message: str
) -> None:
    response = sign_up(client, **change)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert ledger(app).count() == 0


def test_oversized_body_is_413(app: Flask, client: FlaskClient) -> None:
    data = form_fields(client.get("/").get_data(as_text=True))
    data["phone"] = "x" * (3 * 1024 * 1024)
    assert client.post("/", data=data).status_code == 413
    assert ledger(app).count() == 0


def test_grant_then_withdraw_then_cannot_send(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    answer = client.get("/api/consent?subject=%2B33612345678&purpose=sms_offers", headers=API).json
    national = client.get("/api/consent?subject=0612345678&purpose=sms_offers", headers=API).json
    assert answer["allowed"] is True and answer["purpose"] == "sms_offers"
    assert answer["codes"] == national["codes"] == ["consent"]
    assert set(answer) == {"subject", "purpose", "allowed", "codes"}  # nothing more (M1, L-09)
    data = form_fields(client.get("/withdraw?lang=fr").get_data(as_text=True))
    data.update({"phone": "06 12 34 56 78", "consent_sms_offers": "sms_offers"})
    response = client.post("/withdraw?lang=fr", data=data)
    assert response.status_code == 303  # Post/Redirect/Get, to the receipts
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "votre consentement est retiré" in done and "/receipt/" in done
    decision = client.get("/api/consent?subject=0612345678&purpose=sms_offers", headers=API).json
    assert decision["allowed"] is False and decision["codes"] == ["withdrawn"]
    assert [e.action for e in ledger(app).events()] == ["grant", "confirm", "withdraw"]
    assert client.get("/api/consent?subject=1&purpose=spam", headers=API).status_code == 400
    assert client.get("/api/consent", headers=API).status_code == 400


def test_stop_then_only_a_new_explicit_grant_allows_again(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    response = client.post("/sms/inbound", data={"From": "+33612345678", "Body": "Arrêt !"})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert "<Message>" in response.get_data(as_text=True)
    assert not client.get("/api/consent?subject=0612345678&purpose=sms_offers", headers=API).json[
        "allowed"
    ]
    sign_up(client)  # the person signs up again, ticking the box: an explicit new grant
    confirm_by_sms(client)
    assert client.get("/api/consent?subject=0612345678&purpose=sms_offers", headers=API).json[
        "allowed"
    ]
    actions = [e.action for e in ledger(app).events()]
    assert actions == ["grant", "confirm", "opposition", "grant", "confirm"]


def test_webhook_help_other_and_bad_number(app: Flask, client: FlaskClient) -> None:
    help_reply = client.post("/sms/inbound?lang=fr", data={"From": "+33612345678", "Body": "AIDE"})
    assert "STOP au 36111" in help_reply.get_data(as_text=True)
    assert "Diagnostics Exemple SAS" in help_reply.get_data(as_text=True)
    other = client.post("/sms/inbound", data={"From": "+33612345678", "Body": "merci"})
    assert other.status_code == 200 and "<Message>" not in other.get_data(as_text=True)
    bad = client.post("/sms/inbound", data={"From": "garbage", "Body": "STOP"})
    assert bad.status_code == 400
    assert ledger(app).count() == 0


def test_webhook_signature_when_configured(app: Flask, client: FlaskClient) -> None:
    app.config["OPTIN_WEBHOOK_SECRET"] = SECRET
    body = "From=%2B33612345678&Body=STOP"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = client.post("/sms/inbound", data=body, headers={**headers, "X-Optin-Signature": "00"})
    assert forged.status_code == 403 and ledger(app).count() == 0
    stamp = str(int(time.time()))  # the generic signature covers a timestamp (replays)
    signed = (stamp + "." + body).encode()
    signature = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    headers.update({"X-Optin-Signature": signature, "X-Optin-Timestamp": stamp})
    good = client.post("/sms/inbound", data=body, headers=headers)
    assert good.status_code == 200 and ledger(app).count() == 1
    stale = str(int(time.time()) - 3600)
    old = hmac.new(SECRET.encode(), (stale + "." + body).encode(), hashlib.sha256).hexdigest()
    headers.update({"X-Optin-Signature": old, "X-Optin-Timestamp": stale})
    assert client.post("/sms/inbound", data=body, headers=headers).status_code == 403


def test_preview_api(client: FlaskClient) -> None:
    token = form_fields(client.get("/preview").get_data(as_text=True)).get("csrf_token") or (
        re.search(
            r'name="csrf-token" content="([^"]+)"', client.get("/preview").get_data(as_text=True)
        ).group(1)
    )  # type: ignore[union-attr]
    response = client.post(
        "/api/sms/preview",
        json={"body": "C’est prêt", "locale": "fr", "first_contact": True},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    data = response.json
    assert data["analysis"]["encoding"] == "UCS-2"
    (plain,) = [s for s in data["suggestions"] if s["kind"] == "transliterate"]
    assert plain["body"] == "C'est pret"
    assert "STOP au 36111" in data["message"]
    assert "".join(data["segments_text"]) == data["message"]
    # the footer's budget: the first-contact footer fills a single SMS on its own
    assert data["footer_budget"] == {"units": len(data["footer"]), "left_in_one_sms": 0}
    assert client.post("/api/sms/preview", json={"body": "x"}).status_code == 400  # no CSRF
    empty = client.post("/api/sms/preview", json={"body": " "}, headers={"X-CSRFToken": token})
    assert empty.status_code == 400 and empty.json["code"] == "empty"


def test_notice_pdf(client: FlaskClient) -> None:
    response = client.get("/notice.pdf?lang=it")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")


def test_admin_needs_the_token(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    for path in ("/admin/", "/admin/export.csv", "/admin/export.jsonl"):
        response = client.get(path)
        assert response.status_code == 401
        assert "+33612345678" not in response.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/admin/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = client.get("/admin/", headers=bearer)
    assert page.status_code == 200 and "+33612345678" in page.get_data(as_text=True)
    assert client.get("/admin", headers=bearer).status_code == 200  # no redirect (newcomer.md)
    assert "1" in page.get_data(as_text=True)
    export = client.get("/admin/export.jsonl", headers=bearer)
    assert json.loads(export.get_data(as_text=True).splitlines()[0])["subject"] == "+33612345678"
    login = form_fields(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/login", data={**login, "token": "nope"}).status_code == 401
    assert client.post("/admin/login", data={**login, "token": TOKEN}).status_code == 200
    assert client.get("/admin/").status_code == 200  # the session now carries the sign-in


def test_signing_out_ends_the_sign_in_for_every_copy_of_the_cookie(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13 item 4: a copied session cookie stops working at logout (the sign-in is kept
    on the server); a refused sign-in is logged; a weak admin token is refused at start."""
    login = form_fields(client.get("/admin/").get_data(as_text=True))
    with caplog.at_level("WARNING"):
        client.post("/admin/login", data={**login, "token": "guess"})
    assert "admin sign-in refused from 127.0.0.1" in caplog.text
    client.post("/admin/login", data={**login, "token": TOKEN})
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/admin/").status_code == 200  # a copy works while the sign-in is open
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": form_fields(page)["csrf_token"]})
    assert client.get("/admin/").status_code == 401
    assert thief.get("/admin/").status_code == 401  # the copy ends with it
    with pytest.raises(ValueError, match="OPTIN_ADMIN_TOKEN: at least 16 characters"):
        create_app({"OPTIN_ADMIN_TOKEN": "short", "TESTING": True})


def audit_upload(client: FlaskClient, contacts: bytes) -> Any:
    """Post a contact file to the admin audit, signed in with the token."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    csrf = form_fields(client.get("/admin/", headers=bearer).get_data(as_text=True))["csrf_token"]
    return client.post(
        "/admin/audit",
        headers=bearer,
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf,
            "purpose": "sms_offers",
            "contacts": (io.BytesIO(contacts), "contacts.csv"),
        },
    )


def test_admin_audit_upload(client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    response = audit_upload(client, b"name,phone\nA,+33612345678\nB,+33612345679\nC,nonsense\n")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert (
        "3 contacts pour sms_offers\u00a0: 1 peuvent être contactés, 2 ne le peuvent pas." in page
    )
    rows = audited_list(client, response, BEARER).splitlines()
    assert rows[0] == "name,phone,sendable,reason"
    assert rows[1].startswith("A,+33612345678,yes,consent given on")
    assert rows[2] == "B,+33612345679,no,no consent recorded"
    assert rows[3] == "C,nonsense,no,invalid number"
    assert audit_upload(client, b"name,email\nA,a@b.c\n").status_code == 400


def test_errors_show_no_trace(app: Flask, client: FlaskClient) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/nowhere").status_code == 404


def test_admin_audit_refuses_a_file_that_is_not_utf8(client: FlaskClient) -> None:
    response = audit_upload(client, "phone\n+33612345678\n+3361234567\xe9\n".encode("latin-1"))
    assert response.status_code == 400
    assert "not UTF-8" in response.get_data(as_text=True)


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_d9_a_ledger_outage_is_a_503_in_the_page_language(ledger_url: str) -> None:
    """D9: a database outage was answered 400 with the driver's message; it is a 503 with
    Retry-After, in the page's language, with nothing stored and no internals shown."""
    import psycopg

    app = create_app(
        {"OPTIN_DATABASE_URL": ledger_url, "OPTIN_ADMIN_TOKEN": TOKEN, "TESTING": True}
    )
    client = app.test_client()
    assert sign_up(client, lang="de").status_code == 200
    server, name = ledger_url.replace("+psycopg", "").rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")  # type: ignore[arg-type]
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            response = sign_up(client, phone="06 12 34 56 79", lang="de")
            assert response.status_code == 503 and response.headers["Retry-After"] == "30"
            page = response.get_data(as_text=True)
            assert "Einwilligungsregister ist gerade nicht erreichbar" in page
            assert "127.0.0.1" not in page and "psycopg" not in page.lower()
            inbound = client.post("/sms/inbound", data={"From": "+33612345678", "Body": "STOP"})
            assert inbound.status_code == 503  # the carrier retries later
        finally:
            admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")  # type: ignore[arg-type]
    assert ledger(app).count() == 1  # nothing was stored during the outage
    ledger(app).close()


def test_the_consent_api_gives_every_reason_with_its_code(client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    data = client.get("/api/consent?subject=0612345678&purpose=sms_offers", headers=API).json
    assert data["allowed"] is True
    assert data["codes"][0] == "consent" and "reason" not in data
    landline = client.get("/api/consent?subject=0412345678&purpose=sms_offers", headers=API).json
    assert landline["codes"] == ["no-consent", "not-mobile"]
    assert client.get("/api/consent?subject=12&purpose=sms_offers", headers=API).status_code == 400


def test_admin_records_an_objection_received_by_post(app: Flask, client: FlaskClient) -> None:
    sign_up(client)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    page = client.get("/admin/?lang=fr", headers=bearer).get_data(as_text=True)
    assert "Enregistrer une opposition reçue par courriel, par téléphone ou par courrier" in page
    fields = form_fields(page)
    response = client.post(
        "/admin/objection?lang=fr",
        headers=bearer,
        data={
            "csrf_token": fields["csrf_token"],
            "subject": "06 12 34 56 78",
            "method": "post",
            "purpose": ["sms_offers", "ad_call"],
            "note": "lettre du 30 novembre",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Opposition enregistrée pour 2 finalités." in response.get_data(as_text=True)
    opposed = [e for e in ledger(app).events() if e.action == "opposition"]
    assert {(e.purpose, e.method) for e in opposed} == {("sms_offers", "post"), ("ad_call", "post")}
    assert opposed[0].evidence == {"message": "lettre du 30 novembre"}
    bad = client.post(
        "/admin/objection",
        headers=bearer,
        data={"csrf_token": fields["csrf_token"], "subject": "x", "method": "fax"},
    )
    assert bad.status_code == 400 and ledger(app).count() == 3


def test_stop_stops_what_the_spec_says(tmp_path: Path) -> None:
    """stop_scope = "all": an SMS STOP records an opposition for every marketing purpose."""
    import tomllib

    data = tomllib.loads(
        (Path(__file__).parent.parent / "examples" / "dse-france.toml").read_text()
    )
    data["sms"]["stop_scope"] = "all"
    spec_file = tmp_path / "all.json"
    spec_file.write_text(json.dumps(data, default=str))
    app = create_app(
        {
            "OPTIN_SPEC": str(spec_file),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    client = app.test_client()
    client.post("/sms/inbound", data={"From": "+33612345678", "Body": "STOP"})
    assert {e.purpose for e in ledger(app).events()} == {"sms_offers", "ad_call", "agency_email"}
    notice = client.get("/notice?lang=fr").get_data(as_text=True)
    assert "Pour ce faire\u00a0: STOP au 36111" in notice and "nos SMS" not in notice
    ledger(app).close()


def test_L09_the_consent_api_needs_its_own_token(client: FlaskClient) -> None:
    """Whether a number is in the files and when its owner consented or objected is personal
    data: never to an anonymous caller (L-09), and the API's token is not the admin's (M1)."""
    query = "/api/consent?subject=0612345678&purpose=sms_offers"
    anonymous = client.get(query)
    assert anonymous.status_code == 401 and "allowed" not in anonymous.json
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get(query, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert client.get(query, headers=BEARER).status_code == 401  # the admin token is not it
    assert client.get(query, headers=API).status_code == 200


def test_the_batch_api_answers_many_subjects_at_once(client: FlaskClient) -> None:
    sign_up(client)
    confirm_by_sms(client)
    batch = {"purpose": "sms_offers", "subjects": ["0612345678", "0412345678", "12"]}
    assert client.post("/api/consent/batch", json=batch).status_code == 401
    answer = client.post("/api/consent/batch", json=batch, headers=API)
    assert answer.status_code == 200
    assert [(r["subject"], r["allowed"], r["codes"]) for r in answer.json["results"]] == [
        ("0612345678", True, ["consent"]),
        ("0412345678", False, ["no-consent", "not-mobile"]),
        ("12", False, ["invalid"]),
    ]
    too_many = {"purpose": "sms_offers", "subjects": ["0612345678"] * 1001}
    assert client.post("/api/consent/batch", json=too_many, headers=API).status_code == 400
    unknown = {"purpose": "spam", "subjects": []}
    assert client.post("/api/consent/batch", json=unknown, headers=API).status_code == 400


def test_rapid_sign_ups_from_one_address_get_429(app: Flask, client: FlaskClient) -> None:
    """Issue 13's "done when": 100 rapid sign-ups from one address get 429s, with Retry-After;
    the ledger holds only those let through."""
    statuses = []
    for i in range(100):
        data = form_fields(client.get("/?lang=fr").get_data(as_text=True))
        data.update({"phone": f"06123456{i:02d}", "consent_sms_offers": "sms_offers"})
        response = client.post("/?lang=fr", data=data)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0
    assert statuses.count(303) == 20 and statuses.count(429) == 80
    assert ledger(app).count() == 20
    login = form_fields(client.get("/admin/").get_data(as_text=True))  # its CSRF token
    tries = [client.post("/admin/login", data={**login, "token": "wrong"}) for _ in range(6)]
    assert [t.status_code for t in tries] == [401] * 5 + [429]  # guessing the token is slow


def test_L06_stop_is_confirmed_in_the_language_of_the_senders_number(client: FlaskClient) -> None:
    """A German SIM is answered in German, a French one in French, whatever the carrier's
    request says; a country the spec has no language for gets the request's language."""
    german = client.post(
        "/sms/inbound?lang=fr", data={"From": "+4915112345678", "Body": "STOP"}
    ).get_data(as_text=True)
    assert "Sie erhalten keine SMS mehr" in german
    french = client.post(
        "/sms/inbound?lang=de", data={"From": "+33612345678", "Body": "STOP"}
    ).get_data(as_text=True)
    assert "Vous ne recevrez plus" in french
    japan = client.post(
        "/sms/inbound?lang=it", data={"From": "+819012345678", "Body": "STOP"}
    ).get_data(as_text=True)
    assert "Non riceverà più" in japan


def test_the_sign_up_asks_for_an_email_only_when_a_purpose_uses_it(
    client: FlaskClient, tmp_path: Path
) -> None:
    """Data minimisation (Art. 5(1)(c)): the demo spec has no e-mail consent from the person,
    so its form asks for no e-mail address; a spec with only a newsletter asks for an address
    (required) and no phone number, which a browser would otherwise demand first."""
    page = client.get("/?lang=fr").get_data(as_text=True)
    assert 'name="email"' not in page
    assert '<input id="phone" name="phone" type="tel" autocomplete="tel" required value="">' in page
    app = create_app(
        {
            "OPTIN_SPEC": str(ROOT / "examples" / "newsletter.toml"),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    page = app.test_client().get("/?lang=de").get_data(as_text=True)
    assert 'name="phone"' not in page
    assert '<label for="email">E-Mail-Adresse</label>' in page
    assert (
        '<input id="email" name="email" type="email" autocomplete="email" required value="">'
        in page
    )


def consent_api(client: FlaskClient, subject: str, purpose: str = "sms_offers") -> Any:
    return client.get(f"/api/consent?subject={subject}&purpose={purpose}", headers=API).json


def test_double_opt_in_by_sms_reply(app: Flask, client: FlaskClient) -> None:
    """H1, L-11: a number typed on the form is not sendable until its holder answers the
    confirmation SMS; the confirmation is its own record, linked to the grant and to the
    versioned message it answers, with its own receipt."""
    page = sign_up(client).get_data(as_text=True)
    assert "Plus qu'une étape" in page or "SMS" in page
    (message_id, sms), *_rest = app.extensions["optin_sender"].messages()
    spec = app.extensions["optin"].spec
    expected = toolkit.render(spec, "confirmation-sms", "fr")
    assert (sms.channel, sms.to, sms.text, sms.version) == (
        "sms", "+33612345678", expected.text, expected.version
    )  # fmt: skip
    assert consent_api(client, "0612345678")["codes"][-1] == "pending-confirmation"
    assert confirm_by_sms(client, "+33699999999").endswith("<Response></Response>")
    assert not consent_api(client, "0612345678")["allowed"]  # someone else's YES changes nothing
    answer = confirm_by_sms(client)
    assert "<Message>" in answer and consent_api(client, "0612345678")["allowed"]
    grant_event, confirmation = ledger(app).events()
    assert confirmation.action == "confirm" and confirmation.method == "sms-reply"
    assert confirmation.evidence["confirms"] == grant_event.id
    assert confirmation.versions == {"confirmation-sms": expected.version}
    receipt = client.get(f"/receipt/{confirmation.id}").get_data(as_text=True)
    assert "Vous avez confirmé votre consentement." in receipt
    assert message_id in client.get("/admin/", headers=BEARER).get_data(as_text=True)


def test_double_opt_in_by_code(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        (ROOT / "examples" / "dse-france.toml").read_text(encoding="utf-8")
        + '\n[confirmation]\nsms = "code"\n',
        encoding="utf-8",
    )
    app = create_app(
        {
            "OPTIN_SPEC": str(spec_file),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    client = app.test_client()
    page = sign_up(client).get_data(as_text=True)
    assert 'name="code"' in page
    (_id, sms), *_rest = app.extensions["optin_sender"].messages()
    code = re.search(r"\b(\d{6})\b", sms.text).group(1)  # type: ignore[union-attr]
    token = form_fields(page)["csrf_token"]
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/confirm?lang=fr", data={"code": wrong, "csrf_token": token})
    assert refused.status_code == 400
    assert not consent_api(client, "0612345678")["allowed"]
    done = client.post("/confirm?lang=fr", data={"code": code, "csrf_token": token})
    assert done.status_code == 200 and consent_api(client, "0612345678")["allowed"]
    assert [e.method for e in ledger(app).events()] == ["web-form", "code"]
    again = client.post("/confirm?lang=fr", data={"code": code, "csrf_token": token})
    assert again.status_code == 400  # a code confirms once
    app.extensions["optin"].ledger.close()


def test_double_opt_in_by_email_link(tmp_path: Path) -> None:
    app = create_app(
        {
            "OPTIN_SPEC": str(ROOT / "examples" / "newsletter.toml"),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "TESTING": True,
        }
    )
    client = app.test_client()
    data = form_fields(client.get("/?lang=de").get_data(as_text=True))
    data.update({"email": "Anna@Example.org", "consent_newsletter": "newsletter"})
    assert client.post("/?lang=de", data=data).status_code == 303
    (_id, mail), *_rest = app.extensions["optin_sender"].messages()
    assert mail.channel == "email" and mail.to == "anna@example.org"
    link = re.search(r"https?://\S+/confirm/\S+?(?=\.? )", mail.text).group(0)  # type: ignore[union-attr]
    path = link.split("://", 1)[1].split("/", 1)[1]
    api = "anna%40example.org"
    assert not consent_api(client, api, "newsletter")["allowed"]
    assert client.get("/" + path.replace("/confirm/", "confirm/", 1)).status_code == 200
    assert consent_api(client, api, "newsletter")["allowed"]
    assert client.get("/confirm/forged-token").status_code == 400
    app.extensions["optin"].ledger.close()


# --- one language from start to finish (issue 14 items 4 and 5) --------------------------------


def test_each_page_has_its_own_title_and_the_chrome_of_its_language(client: FlaskClient) -> None:
    """Unique translated titles; a skip link first; the menu says where the person is; the
    languages by their own names, each marked with its language."""
    titles = {}
    for path in ("/", "/withdraw", "/notice", "/preview", "/admin", "/no-such-page"):
        html = client.get(f"{path}?lang=fr").get_data(as_text=True)
        titles[path] = re.search(r"<title>(.*?)</title>", html).group(1)  # type: ignore[union-attr]
        assert titles[path].endswith(" · Diagnostics Exemple SAS")
        body = html.split("<body>", 1)[1]
        assert body.lstrip().startswith('<a class="skip-link" href="#content">Aller au contenu</a>')
        assert '<main id="content" tabindex="-1">' in body
        assert '<nav aria-label="Menu principal">' in body
        assert '<a href="?lang=de" hreflang="de" lang="de">Deutsch</a>' in body
        assert 'lang="fr" aria-current="true">Français</a>' in body
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert len(set(titles.values())) == len(titles), titles
    assert titles["/"] == "Inscription · Diagnostics Exemple SAS"
    assert titles["/no-such-page"].startswith("Page introuvable (404)")
    page = client.get("/withdraw?lang=fr").get_data(as_text=True)
    assert '<a href="/withdraw?lang=fr" aria-current="page">Retirer</a>' in page
    assert page.count('aria-current="page"') == 1
    assert client.get("/favicon.ico").headers["Location"].endswith("/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_the_short_notice_comes_before_the_button(client: FlaskClient) -> None:
    """On a phone the page is read in its order: the person meets who gets their number and
    why before the button that sends it (the wide layout only places it beside the form)."""
    html = client.get("/?lang=fr").get_data(as_text=True)
    assert html.index('consent_sms_offers"') < html.index('id="optin-notice-short"')
    assert html.index('id="optin-notice-short"') < html.index('<button type="submit">')
    assert html.index('id="optin-notice-short"') < html.index("</form>")
    notice = client.get("/notice?lang=fr").get_data(as_text=True)
    assert "<h1>Informations complètes sur l'utilisation de vos données</h1>" in notice


@pytest.mark.parametrize(
    ("request_", "code", "french", "english"),
    [
        (("get", "/no-such-page?lang=fr"), 404, "Page introuvable", "was not found"),
        (("post", "/notice?lang=fr"), 405, "Cette page ne s", "not allowed"),
        (("post", "/?lang=fr"), 400, "n&#39;est plus à jour", "CSRF"),
        (("get", "/thanks?ids=bad&lang=fr"), 404, "pas de reçu à cette adresse", "There is no"),
        (("get", "/receipt/bad?lang=fr"), 404, "pas de reçu à cette adresse", "There is no"),
        (("get", "/confirm/forged?lang=fr"), 400, "pas valide", "not valid"),
    ],
)
def test_error_pages_speak_the_language_of_the_page(
    client: FlaskClient,
    request_: tuple[str, str],
    code: int,
    french: str,
    english: str,
) -> None:
    """Werkzeug's and Flask-WTF's English never reaches a French page: the heading, the
    message and the title are French, and the page leads back to the sign-up."""
    method, path = request_
    response = getattr(client, method)(path)
    html = response.get_data(as_text=True)
    assert response.status_code == code
    assert '<html lang="fr" dir="ltr">' in html
    assert french in html, html
    assert english not in html
    assert f"Code d'erreur\u00a0: {code}" in html
    assert '<a href="/?lang=fr">Retour à la page d\'inscription</a>' in html


def test_too_large_and_crash_pages_are_translated(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    client = app.test_client()
    big = client.post("/withdraw?lang=de", data={"phone": "x" * (3 * 1024 * 1024)})
    assert big.status_code == 413 and "zu groß" in big.get_data(as_text=True)
    page = client.get("/boom?lang=it")
    html = page.get_data(as_text=True)
    assert page.status_code == 500 and "secret detail" not in html
    assert "Si è verificato un errore" in html and "Internal error" not in html


def test_a_refused_field_keeps_what_was_typed_in_the_page_language(client: FlaskClient) -> None:
    """The error sits under its field, is tied to it (aria-describedby), is in the page's
    language, and nothing must be typed again (WCAG 3.3.1, 3.3.7)."""
    response = sign_up(client, phone="06 12", lang="fr")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="field-error" id="phone-error">' in html
    assert 'value="06 12" aria-invalid="true" aria-describedby="phone-error" autofocus>' in html
    assert "invalid phone number" not in html
    assert html.index("<h1>") < html.index("phone-error")
    page = client.get("/withdraw?lang=fr").get_data(as_text=True)
    data = {**form_fields(page), "phone": "06 12", "consent_sms_offers": "sms_offers"}
    refused = client.post("/withdraw?lang=fr", data=data).get_data(as_text=True)
    assert 'value="sms_offers" checked>' in refused  # the box ticked stays ticked
    assert 'value="ad_call">' in refused  # and only that one
    assert 'aria-describedby="phone-error" autofocus>' in refused
    nothing = client.post("/withdraw?lang=fr", data={**form_fields(page), "phone": "0612345678"})
    html = nothing.get_data(as_text=True)
    assert html.index("<h1>") < html.index('<p class="info" role="status">')  # under its heading


def test_a_refused_admin_token_is_said_under_its_field_in_the_page_language(
    client: FlaskClient,
) -> None:
    page = client.get("/admin?lang=de").get_data(as_text=True)
    assert 'action="/admin/login?lang=de"' in page  # the sign-in keeps the language
    login = {**form_fields(page), "token": "wrong-token-typed"}
    html = client.post("/admin/login?lang=de", data=login).get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in html
    assert 'aria-invalid="true" aria-describedby="token-error" autofocus>' in html
    assert '<p class="field-error" id="token-error">' in html
    assert "wrong-token-typed" not in html  # a secret is never typed back


# French typography in every catalog entry: a no-break space (U+00A0) or a narrow one (U+202F)
# before : ; ? ! and inside « ». SMS texts are the exception: GSM-7 has no no-break space, so
# one would send every such SMS as UCS-2 (70 characters a segment instead of 160).
SMS_SOURCES = ("templates/sms-footer.txt", "templates/confirmation-sms.txt", "toolkit/confirm.py")
SMS_REPLIES = {  # the answers to an SMS (capture.inbound_sms), sent by SMS
    "You will no longer receive SMS from %(name)s.",
    "Thank you: your consent is confirmed.",
    "%(name)s (contact: %(email)s). To stop our SMS: %(opt_out)s",
}
NO_BREAK = "\u00a0\u202f"


def french_entries() -> Iterator[tuple[str, str, bool]]:
    """(msgid, msgstr, sent by SMS) for every entry of the French catalog."""
    from babel.messages.pofile import read_po

    with (ROOT / "toolkit/locales/fr/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        sms = msgid in SMS_REPLIES or all(
            path.startswith(SMS_SOURCES) for path, _line in message.locations
        )
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            yield msgid, text, sms


def typography_slips(text: str) -> list[str]:
    """Where a French text lacks the no-break space before : ; ? ! or inside « »; URLs,
    placeholders, markup, times, the HTTP header name and a mark named as a symbol ("les
    cases marquées ! sont...": spaces around it, a lower-case word after) are not prose."""
    prose = re.sub(r"(https?|mailto):\S+|Authorization: Bearer|<[^>]+>", "", text)
    prose = re.sub(r"(?<= )[!?](?= [a-zà-ÿ])", "", prose)
    prose = re.sub(r"%\(\w+\)[sd]|\{\w+\}", "X", prose)
    prose = re.sub(r"\b\d{1,2}:\d{2}\b", "", prose)
    slips = [
        prose[max(0, m.start() - 12) : m.end()]
        for m in re.finditer(r"[:;?!]", prose)
        if m.start() == 0 or prose[m.start() - 1] not in NO_BREAK or prose[m.start() - 2] == " "
    ]
    slips += [prose[m.start() : m.start() + 12] for m in re.finditer("«(?![\u00a0\u202f])", prose)]
    slips += [
        prose[max(0, m.start() - 12) : m.end()] for m in re.finditer("(?<![\u00a0\u202f])»", prose)
    ]
    return slips


def test_typography_check_tells_right_from_wrong() -> None:
    slips = typography_slips("Merci : c'est fait ; prêt ? Oui !")
    assert [slip[-3:] for slip in slips] == ["i :", "t ;", "t ?", "i !"]
    assert [slip[-3:] for slip in typography_slips("Merci: « non »")] == ["ci:", "n »", "n »"]
    good = "Merci\u00a0: c'est fait\u202f; prêt\u202f? « oui » à 10:30, https://a.b/c?d=1"
    assert typography_slips(good.replace("« oui »", "«\u00a0oui\u00a0»")) == []
    assert typography_slips("%(name)s\u00a0: Authorization: Bearer <a href='x:y'>z</a>") == []
    assert typography_slips("les cases marquées ! sont hors GSM-7") == []


def test_french_catalog_puts_a_no_break_space_before_double_punctuation() -> None:
    slips = [
        f"{msgid!r}: {slip!r}"
        for msgid, text, sms in french_entries()
        if not sms
        for slip in typography_slips(text)
    ]
    assert slips == [], "\n".join(slips)


def test_french_sms_texts_stay_in_gsm_7() -> None:
    """The exception above is real: every SMS text of the catalog is plain GSM-7 spacing."""
    sms = [(msgid, text) for msgid, text, is_sms in french_entries() if is_sms]
    assert len(sms) >= 10
    assert [msgid for msgid, text in sms if any(c in NO_BREAK for c in text)] == []


def test_the_receipt_page_is_part_of_the_site(app: Flask, client: FlaskClient) -> None:
    """A person's receipt has the site's menu, stylesheet, viewport and a way to withdraw,
    and keeps the language it was given in inside a page of another language."""
    sign_up(client, lang="fr")
    (event,) = list(ledger(app).events())
    html = client.get(f"/receipt/{event.id}?lang=de").get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in html and '<div class="receipt" lang="fr">' in html
    assert '<meta name="viewport"' in html and "/static/style.css" in html
    assert '<nav aria-label="Hauptmenü">' in html
    assert html.count("<main") == 1 and html.count("<h1>") == 1
    assert "<h1>Reçu de consentement</h1>" in html and event.hash in html
    assert '<a href="/withdraw?lang=de">Meine Einwilligung widerrufen</a>' in html
    assert "<title>Einwilligungsbeleg · Diagnostics Exemple SAS</title>" in html


def test_programs_get_json_errors_and_caches_see_the_language(client: FlaskClient) -> None:
    """newcomer.md: a missing .json receipt and a bad webhook were HTML pages; the language
    follows Accept-Language, so responses say so in Vary."""
    missing = client.get("/receipt/nope.json")
    assert missing.status_code == 404 and missing.is_json and missing.json["error"]
    bad = client.post("/sms/inbound", data={"From": "garbage", "Body": "STOP"})
    assert bad.status_code == 400 and bad.is_json
    assert "Accept-Language" in client.get("/").headers["Vary"]


def test_an_arabic_page_of_the_demo_reads_right_to_left(tmp_path: Path) -> None:
    """Issue 15 item 2: with a spec in Arabic, the demo's pages are dir="rtl" and the
    consent boxes they embed say their own direction."""
    app = create_app(
        {
            "TESTING": True,
            "OPTIN_SPEC": str(ROOT / "examples" / "newsletter.toml"),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'ar.db'}",
        }
    )
    html = app.test_client().get("/?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert 'lang="ar" dir="rtl"' in html.split("<main", 1)[1]
