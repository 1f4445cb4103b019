"""toolkit.fastapi (issue 13 item 2): the sign-up, withdrawal and STOP journeys in a FastAPI
app built as the README shows, tested with FastAPI's own client; the API documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from werkzeug.datastructures import MultiDict

import toolkit
from toolkit import capture
from toolkit.carriers import TwilioVerifier, twilio_signature
from toolkit.confirm import OutboxSender
from toolkit.fastapi import consent_router, form_of, origin
from toolkit.proof import Ledger

SPEC = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")
TOKEN = "fastapi-api-token"


@pytest.fixture
def built(tmp_path: Path) -> tuple[TestClient, Ledger]:
    ledger = Ledger(tmp_path / "f.db", spec=SPEC)
    app = FastAPI()
    app.include_router(
        consent_router(
            ledger,
            api_token=TOKEN,
            verifiers=[TwilioVerifier("twilio-token")],
            sender=OutboxSender(),
        )
    )

    @app.post("/signup")
    async def signup(request: Request) -> dict[str, int]:
        form = await form_of(request)
        try:
            events = capture.record(ledger, capture.grants(ledger, form, origin(request), "fr"))
        except capture.CaptureError as exc:
            return {"error_field": 1 if exc.field else 0, "recorded": 0}
        return {"recorded": len(events)}

    @app.post("/withdraw")
    async def withdraw(request: Request) -> dict[str, int]:
        form = await form_of(request)
        prepared = capture.withdrawals(ledger, form, origin(request), "fr")
        return {"recorded": len(capture.record(ledger, prepared))}

    return TestClient(app), ledger


def shown() -> dict[str, str]:
    return {
        field: toolkit.render(SPEC, artefact, "fr", collection="person").version
        for artefact, field in capture.VERSION_FIELDS.items()
    }


def test_sign_up_stop_and_withdraw_journeys(built: tuple[TestClient, Ledger]) -> None:
    client, ledger = built
    api = {"Authorization": f"Bearer {TOKEN}"}
    form = {**shown(), "optin_locale": "fr", "phone": "06 12 34 56 78", "consent_sms_offers": "x"}
    assert client.post("/signup", data=form).json() == {"recorded": 1}
    assert client.post("/signup", data={**form, "phone": "01 23 45 67 89"}).json() == {
        "error_field": 1,
        "recorded": 0,
    }
    query = "/api/consent?subject=0612345678&purpose=sms_offers"
    assert client.get(query).status_code == 401
    assert client.get(query, headers=api).json()["codes"][-1] == "pending-confirmation"
    params = {"From": "+33612345678", "Body": "OUI", "MessageSid": "SM1"}
    url = "http://testserver/sms/inbound"
    signature = twilio_signature("twilio-token", url, MultiDict(params))
    confirmed = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert confirmed.status_code == 200 and "<Message>" in confirmed.text
    assert client.get(query, headers=api).json() == {
        "purpose": "sms_offers",
        "subject": "0612345678",
        "allowed": True,
        "codes": ["consent"],
    }
    replay = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert replay.status_code == 403
    assert client.post("/sms/inbound", data={**params, "MessageSid": "SM2"}).status_code == 403
    stop = {"From": "+33612345678", "Body": "STOP", "MessageSid": "SM3"}
    signature = twilio_signature("twilio-token", url, MultiDict(stop))
    stopped = client.post("/sms/inbound", data=stop, headers={"X-Twilio-Signature": signature})
    assert stopped.status_code == 200
    batch = client.post(
        "/api/consent/batch",
        json={"purpose": "sms_offers", "subjects": ["0612345678", "12"]},
        headers=api,
    ).json()
    assert [(r["allowed"], r["codes"]) for r in batch["results"]] == [
        (False, ["opposition"]),
        (False, ["invalid"]),
    ]
    assert client.post("/withdraw", data={"phone": "0612345678", "consent_sms_offers": "x"}).json()
    assert [e.action for e in ledger.history("+33612345678")] == [
        "grant", "confirm", "opposition", "withdraw"
    ]  # fmt: skip
    ledger.close()


def test_openapi_documents_the_consent_api(built: tuple[TestClient, Ledger]) -> None:
    client, ledger = built
    schema = client.get("/openapi.json").json()
    paths = {"/api/consent", "/api/consent/batch", "/api/consent/record", "/sms/inbound"}
    assert paths <= set(schema["paths"])
    form = {**shown(), "optin_locale": "fr", "phone": "06 12 34 56 78", "consent_sms_offers": "x"}
    relayed = {"form": form, "origin": {"url": "https://s.example/"}, "locale": "fr"}
    api = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/consent/record", json=relayed).status_code == 401
    answer = client.post("/api/consent/record", json=relayed, headers=api)
    assert answer.status_code == 201 and len(answer.json()["recorded"]) == 1
    bad = {**relayed, "form": {**form, "phone": ""}}
    refused = client.post("/api/consent/record", json=bad, headers=api)
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "phone"
    verdict = schema["components"]["schemas"]["Verdict"]["properties"]
    assert set(verdict) == {"subject", "allowed", "codes"}
    ledger.close()


def test_the_readme_fastapi_example_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's snippet, run as it is (the spec's path made absolute): a form posted to it
    is recorded, and its router answers with the token it was given."""
    from test_readme import python_block

    code = python_block("from toolkit.fastapi import").replace('"examples/', f'"{ROOT}/examples/')
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    client = TestClient(namespace["app"])  # type: ignore[arg-type]
    form = {**shown(), "optin_locale": "fr", "phone": "06 12 34 56 78", "consent_sms_offers": "x"}
    assert client.post("/signup", data=form).json() == {"recorded": 1}
    query = "/api/consent?subject=0612345678&purpose=sms_offers"
    answer = client.get(query, headers={"Authorization": "Bearer a-long-random-api-token"})
    assert answer.json()["codes"][-1] == "pending-confirmation"  # until the holder confirms
    namespace["ledger"].close()  # type: ignore[attr-defined]
