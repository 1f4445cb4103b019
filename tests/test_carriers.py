"""Carrier webhooks (issue 13 item 3, security review M2): each carrier's signature checked
against its published examples, a replay window, and the demo's webhook accepting whichever
carrier is configured and refusing the unsigned and the replayed."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import ROOT
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.datastructures import MultiDict

from demo import create_app
from toolkit import carriers

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_published_examples() -> None:
    """The examples of Twilio's request-validation documentation and of its libraries' tests
    (auth token 12345), including a name given several values."""
    assert carriers.twilio_signature("12345", URL, MultiDict(TWILIO_PARAMS)) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    repeated = MultiDict(
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"),
         ("Digits", "1234")]
    )  # fmt: skip
    assert carriers.twilio_signature("12345", URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    verifier = carriers.TwilioVerifier("12345")
    headers = {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}
    inbound = verifier.verify(URL, headers, MultiDict(TWILIO_PARAMS), b"", time.time())
    assert inbound.sender == "+14158675309"
    ported = "https://mycompany.com:443/myapp.php?foo=1&bar=2"  # a proxy added the port
    assert verifier.verify(ported, headers, MultiDict(TWILIO_PARAMS), b"", time.time())
    with pytest.raises(carriers.WebhookError):
        verifier.verify(URL + "&x=1", headers, MultiDict(TWILIO_PARAMS), b"", time.time())
    with pytest.raises(carriers.WebhookError):
        tampered = MultiDict({**TWILIO_PARAMS, "Digits": "9999"})
        verifier.verify(URL, headers, tampered, b"", time.time())


def test_vonage_published_example_and_window() -> None:
    """Vonage's SDK test example (secret "secret", md5hash), and its timestamp's window."""
    params = {"a": "1", "b": "2", "timestamp": "1461605396"}
    assert carriers.vonage_signature("secret", MultiDict(params)) == (
        "6af838ef94998832dbfc29020b564830"
    )
    signed = MultiDict({**params, "sig": "6af838ef94998832dbfc29020b564830"})
    verifier = carriers.VonageVerifier("secret")
    assert verifier.verify("", {}, signed, b"", 1461605396 + 10)
    with pytest.raises(carriers.WebhookError, match="window"):
        verifier.verify("", {}, signed, b"", 1461605396 + 3600)  # replayed an hour later
    with pytest.raises(carriers.WebhookError, match="sig does not match"):
        verifier.verify("", {}, MultiDict({**signed, "b": "3"}), b"", 1461605396)
    sha = carriers.VonageVerifier("secret", "sha256")
    hmac_sig = carriers.vonage_signature("secret", MultiDict(params), "sha256")
    assert sha.verify("", {}, MultiDict({**params, "sig": hmac_sig.upper()}), b"", 1461605396)


def telnyx_request(key: Ed25519PrivateKey, stamp: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {"data": {"event_type": "message.received", "id": "e1", "payload": {
            "id": "msg-1", "from": {"phone_number": "+33612345678"}, "text": "STOP"}}}
    ).encode()  # fmt: skip
    signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body)).decode()
    return {"telnyx-signature-ed25519": signature, "telnyx-timestamp": stamp}, body


def public(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def test_telnyx_ed25519() -> None:
    """Telnyx publishes the scheme (Ed25519 over "<timestamp>|<raw body>", base64 headers) but
    no fixed example: a key made here signs as Telnyx documents it."""
    key = Ed25519PrivateKey.generate()
    now = time.time()
    headers, body = telnyx_request(key, str(int(now)))
    verifier = carriers.TelnyxVerifier(public(key))
    inbound = verifier.verify("", headers, MultiDict(), body, now)
    assert (inbound.sender, inbound.text, inbound.message_id) == ("+33612345678", "STOP", "msg-1")
    with pytest.raises(carriers.WebhookError, match="does not match"):
        verifier.verify("", headers, MultiDict(), body.replace(b"STOP", b"OUI "), now)
    other = carriers.TelnyxVerifier(public(Ed25519PrivateKey.generate()))
    with pytest.raises(carriers.WebhookError, match="does not match"):
        other.verify("", headers, MultiDict(), body, now)
    with pytest.raises(carriers.WebhookError, match="window"):
        verifier.verify("", headers, MultiDict(), body, now + 3600)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPTIN_WEBHOOK_UNSIGNED")  # as in production: unsigned is refused
    app = create_app(
        {
            "OPTIN_SPEC": str(ROOT / "examples" / "dse-france.toml"),
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
            "OPTIN_ADMIN_TOKEN": "admin-secret-token",
            "OPTIN_TWILIO_AUTH_TOKEN": "twilio-token",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["optin"].ledger.close()


def test_the_demo_takes_a_twilio_stop_once_and_refuses_unsigned(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    book = app.extensions["optin"].ledger
    params = {"From": "+33612345678", "Body": "STOP", "MessageSid": "SM123"}
    url = "http://localhost/sms/inbound"
    signature = carriers.twilio_signature("twilio-token", url, MultiDict(params))
    headers = {"X-Twilio-Signature": signature}
    first = client.post("/sms/inbound", data=params, headers=headers)
    assert first.status_code == 200 and "<Message>" in first.get_data(as_text=True)
    stopped = book.count()  # an opposition per purpose STOP stops, each with the message id
    assert stopped >= 1 and all(e.evidence["message_id"] == "SM123" for e in book.events())
    replay = client.post("/sms/inbound", data=params, headers=headers)
    assert replay.status_code == 403 and "already" in replay.get_data(as_text=True)
    assert book.count() == stopped
    unsigned = client.post("/sms/inbound", data={**params, "MessageSid": "SM124"})
    assert unsigned.status_code == 403 and book.count() == stopped
    forged = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403


def test_the_demo_takes_vonage_and_telnyx_when_configured(app) -> None:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    app.config.update(
        {"OPTIN_VONAGE_SIGNATURE_SECRET": "vonage-secret", "OPTIN_TELNYX_PUBLIC_KEY": public(key)}
    )
    client = app.test_client()
    book = app.extensions["optin"].ledger
    params = {
        "msisdn": "33612345678",  # Vonage sends numbers without the +
        "text": "STOP",
        "messageId": "0A0000001",
        "timestamp": str(int(time.time())),
        "nonce": "n1",
    }
    params["sig"] = carriers.vonage_signature("vonage-secret", MultiDict(params))
    vonage = client.post("/sms/inbound?" + urlencode(params))
    assert vonage.status_code == 200 and vonage.json == {}
    assert {e.subject for e in book.events()} == {"+33612345678"}
    sent = app.extensions["optin_sender"].messages()  # the reply goes through the Sender
    assert sent and sent[-1][1].to in ("33612345678", "+33612345678")
    headers, body = telnyx_request(key, str(int(time.time())))
    telnyx = client.post(
        "/sms/inbound", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert telnyx.status_code == 200
    assert any(e.evidence.get("message_id") == "msg-1" for e in book.events())
