"""toolkit.django (issue 13 item 2): the template tags and the form mixin in a Django app, with
Django's own test client: a sign-up recorded with the versions shown, a refused number beside
its field in the request's language, and a withdrawal through the same capture rules."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ROOT

DSE = ROOT / "examples" / "dse-france.toml"


def _setup(db: Path) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY=secrets.token_hex(32),
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "toolkit.django"],
            MIDDLEWARE=["django.middleware.locale.LocaleMiddleware"],
            LANGUAGES=[("fr", "French"), ("de", "German")],
            LANGUAGE_CODE="fr",
            USE_I18N=True,
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {
                        "context_processors": ["django.template.context_processors.request"]
                    },
                }
            ],
            DATABASES={},
            OPTIN_SPEC=str(DSE),
            OPTIN_DATABASE_URL=f"sqlite:///{db}",
            OPTIN_TWILIO_AUTH_TOKEN="django-twilio-token",  # noqa: S106 - a test's key
        )
        django.setup()


def signup(request: Any) -> Any:
    from django import forms
    from django.http import HttpResponse
    from django.template import Context, Template

    from toolkit.django.forms import ConsentFormMixin

    class SignUp(ConsentFormMixin, forms.Form):
        phone = forms.CharField(required=False)

    page = Template(
        "{% load optin %}<form method=post>{% consent_checkboxes %}{{ form.phone }}"
        "{{ form.phone.errors }}{{ form.non_field_errors }}</form>"
        '<aside>{% collection_notice "short" %}</aside><p>{% sms_footer %}</p>'
    )
    form = SignUp(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        return HttpResponse(f"recorded {len(form.consents)}")
    return HttpResponse(page.render(Context({"form": form, "request": request})))


def withdraw(request: Any) -> Any:
    from django.http import HttpResponse

    from toolkit import capture
    from toolkit.django import ledger, locale_of
    from toolkit.django.forms import origin

    book, locale = ledger(), locale_of(request.LANGUAGE_CODE)
    prepared = capture.withdrawals(book, request.POST, origin(request), locale)
    return HttpResponse(f"withdrawn {len(capture.record(book, prepared, locale))}")


def _urls() -> list[Any]:
    from django.urls import path

    from toolkit.django.views import sms_inbound

    return [path("signup", signup), path("withdraw", withdraw), path("sms/inbound", sms_inbound)]


def __getattr__(name: str) -> Any:  # ROOT_URLCONF reads urlpatterns once Django is set up
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    _setup(tmp_path_factory.mktemp("django") / "d.db")
    from django.test import Client

    return Client()


def hidden(page: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def test_sign_up_and_withdraw_in_django(client: Any) -> None:
    import toolkit
    from toolkit.django import ledger

    spec = toolkit.load_spec(DSE)
    page = client.get("/signup", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    checkbox = toolkit.render(spec, "checkbox", "de", collection="person")
    assert str(checkbox.html) in page  # the tag renders the artefact as render does
    assert toolkit.render(spec, "sms-footer", "de").text in page
    form = {**hidden(page), "phone": "01 23 45 67 89", "consent_sms_offers": "sms_offers"}
    refused = client.post("/signup", form, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Diese Nummer kann keine SMS empfangen" in refused  # beside the field, in German
    assert 'value="01 23 45 67 89"' in refused  # what was typed is kept
    form["phone"] = "06 12 34 56 78"
    assert client.post("/signup", form, HTTP_ACCEPT_LANGUAGE="de").content == b"recorded 1"
    (grant,) = ledger().history("+33612345678")
    assert grant.versions["checkbox"] == checkbox.version and grant.locale == "de"
    answer = client.post("/withdraw", {"phone": "0612345678", "consent_sms_offers": "x"})
    assert answer.content == b"withdrawn 1"
    assert [e.action for e in ledger().history("+33612345678")] == ["grant", "withdraw"]


def test_a_signed_stop_and_its_replay_in_django(client: Any) -> None:
    from werkzeug.datastructures import MultiDict

    from toolkit.carriers import twilio_signature
    from toolkit.django import ledger

    stop = {"From": "+33612345670", "Body": "STOP", "MessageSid": "SMdj1"}
    url = "http://testserver/sms/inbound"
    signature = twilio_signature("django-twilio-token", url, MultiDict(stop))
    form = "application/x-www-form-urlencoded"  # as carriers post

    def post(data: dict[str, str], **headers: str) -> Any:
        return client.post("/sms/inbound", urlencode(data), content_type=form, **headers)

    answer = post(stop, HTTP_X_TWILIO_SIGNATURE=signature)
    assert answer.status_code == 200 and b"<Message>" in answer.content
    assert [e.action for e in ledger().history("+33612345670")] == ["opposition"]
    replay = post(stop, HTTP_X_TWILIO_SIGNATURE=signature)
    assert replay.status_code == 403
    unsigned = post({**stop, "MessageSid": "SMdj2"})
    assert unsigned.status_code == 403
    assert [e.action for e in ledger().history("+33612345670")] == ["opposition"]
