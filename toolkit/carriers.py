"""Carrier webhooks: who really sent an inbound SMS, and what it says.

Each carrier signs its webhooks its own way; a ``Verifier`` checks one way and reads the
message out of the request (sender, text, the carrier's message id, its time). A request that
carries no valid signature, or one older than the replay window, is refused (``WebhookError``);
a message id seen before is refused by ``capture.inbound_sms`` against the ledger, which keeps
it with what the message did (durable, and shared by every process).

- Twilio: ``X-Twilio-Signature``, base64 HMAC-SHA1 of the URL and the sorted POST parameters
  with the account's auth token (no timestamp: the message id guards against replays).
- Vonage (SMS API signed webhooks): the ``sig`` parameter over the sorted parameters with the
  signature secret (``md5hash``, or HMAC md5/sha1/sha256/sha512), with a ``timestamp``.
- Telnyx: ``telnyx-signature-ed25519`` over ``"<telnyx-timestamp>|<raw body>"``, checked with
  the account's public key.
- Generic: ``X-Optin-Signature``, hex HMAC-SHA256 of ``"<X-Optin-Timestamp>.<raw body>"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from .errors import ToolkitError

REPLAY_WINDOW = 300  # seconds: a signed request older (or newer) than this is refused


class WebhookError(ToolkitError, ValueError):
    """A webhook that cannot be trusted: unsigned, badly signed, or outside the window."""


@dataclass(frozen=True)
class Inbound:
    """An SMS a person sent, as its carrier reported it."""

    carrier: str
    sender: str
    text: str
    message_id: str = ""


class Form(Protocol):
    """A request's parameters, a value or several per name (Werkzeug's ``MultiDict``...)."""

    def getlist(self, key: str) -> list[str]: ...

    def keys(self) -> Any: ...


class Verifier(Protocol):
    """Checks one carrier's signature and reads its message."""

    @property
    def name(self) -> str:
        """The carrier's name ("twilio"...)."""

    def signed(self, headers: Mapping[str, str], form: Form) -> bool:
        """Whether the request carries this carrier's signature (so this verifier is the
        one to check it)."""

    def verify(
        self, url: str, headers: Mapping[str, str], form: Form, body: bytes, now: float
    ) -> Inbound:
        """The message, once the signature holds; else ``WebhookError``."""


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def _fresh(stamp: str, now: float, what: str) -> None:
    try:
        moment = float(stamp)
    except ValueError:
        raise WebhookError(f"{what}: not a Unix time") from None
    if abs(now - moment) > REPLAY_WINDOW:
        raise WebhookError(f"{what}: outside the {REPLAY_WINDOW} s window (a replay?)")


def _first(form: Form, key: str) -> str:
    values = form.getlist(key)
    return values[0] if values else ""


# --- Twilio -------------------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, form: Form) -> str:
    """Twilio's signature of a request: the URL, then each parameter name and value, sorted by
    name (a repeated name's distinct values sorted too, as Twilio's own libraries do),
    HMAC-SHA1 with the auth token, base64."""
    text = url + "".join(
        name + value
        for name in sorted(set(form.keys()))
        for value in sorted(set(form.getlist(name)))
    )
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, with the default port dropped and added (Twilio signs the URL it
    called, which a proxy in front of the app may have rewritten either way)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    out = [url]
    if default is not None and host:
        bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        ported = urlunsplit(
            (parts.scheme, f"{host}:{parts.port or default}", parts.path, parts.query, "")
        )
        out += [bare, ported]
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class TwilioVerifier:
    auth_token: str
    name: str = "twilio"

    def signed(self, headers: Mapping[str, str], form: Form) -> bool:
        return bool(_header(headers, "X-Twilio-Signature"))

    def verify(
        self, url: str, headers: Mapping[str, str], form: Form, body: bytes, now: float
    ) -> Inbound:
        given = _header(headers, "X-Twilio-Signature")
        if not any(
            hmac.compare_digest(twilio_signature(self.auth_token, variant, form), given)
            for variant in _url_variants(url)
        ):
            raise WebhookError("X-Twilio-Signature does not match the request")
        return Inbound(
            self.name, _first(form, "From"), _first(form, "Body"), _first(form, "MessageSid")
        )


# --- Vonage -------------------------------------------------------------------------------------

VONAGE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def vonage_signature(secret: str, form: Form, method: str = "md5hash") -> str:
    """Vonage's signature of a request's parameters: ``&name=value`` for each but ``sig``,
    sorted by name (``&`` and ``=`` in a value read as ``_``), then MD5 with the secret appended
    (``md5hash``) or an HMAC keyed with it."""
    text = "".join(
        f"&{name}={_first(form, name).replace('&', '_').replace('=', '_')}"
        for name in sorted(set(form.keys()))
        if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((text + secret).encode(), usedforsecurity=False).hexdigest()
    if method not in VONAGE_METHODS:
        raise WebhookError(f"unknown Vonage signature method {method!r}")
    return hmac.new(secret.encode(), text.encode(), method).hexdigest()


@dataclass(frozen=True)
class VonageVerifier:
    secret: str
    method: str = "md5hash"
    name: str = "vonage"

    def signed(self, headers: Mapping[str, str], form: Form) -> bool:
        return bool(_first(form, "sig"))

    def verify(
        self, url: str, headers: Mapping[str, str], form: Form, body: bytes, now: float
    ) -> Inbound:
        expected = vonage_signature(self.secret, form, self.method)
        if not hmac.compare_digest(expected.lower(), _first(form, "sig").lower()):
            raise WebhookError("sig does not match the request's parameters")
        _fresh(_first(form, "timestamp"), now, "timestamp")
        return Inbound(
            self.name, _first(form, "msisdn"), _first(form, "text"), _first(form, "messageId")
        )


# --- Telnyx -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelnyxVerifier:
    public_key: str  # base64 of the raw 32-byte Ed25519 key, as Telnyx's portal shows it
    name: str = "telnyx"

    def signed(self, headers: Mapping[str, str], form: Form) -> bool:
        return bool(_header(headers, "telnyx-signature-ed25519"))

    def verify(
        self, url: str, headers: Mapping[str, str], form: Form, body: bytes, now: float
    ) -> Inbound:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        stamp = _header(headers, "telnyx-timestamp")
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))
            signature = base64.b64decode(_header(headers, "telnyx-signature-ed25519"))
            key.verify(signature, stamp.encode() + b"|" + body)
        except (InvalidSignature, ValueError, binascii.Error):
            raise WebhookError("telnyx-signature-ed25519 does not match the request") from None
        _fresh(stamp, now, "telnyx-timestamp")
        try:
            data = json.loads(body)["data"]
            payload = data["payload"]
            sender = str(payload["from"]["phone_number"])
            return Inbound(self.name, sender, str(payload.get("text") or ""), str(payload["id"]))
        except (ValueError, KeyError, TypeError):
            raise WebhookError("not a Telnyx message event (data.payload.from...)") from None


# --- generic ------------------------------------------------------------------------------------


def generic_signature(secret: str, stamp: str, body: bytes) -> str:
    """The generic signature: hex HMAC-SHA256 of ``"<timestamp>.<raw body>"``."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class GenericVerifier:
    secret: str
    name: str = "generic"

    def signed(self, headers: Mapping[str, str], form: Form) -> bool:
        return bool(_header(headers, "X-Optin-Signature"))

    def verify(
        self, url: str, headers: Mapping[str, str], form: Form, body: bytes, now: float
    ) -> Inbound:
        stamp = _header(headers, "X-Optin-Timestamp")
        expected = generic_signature(self.secret, stamp, body)
        if not hmac.compare_digest(expected, _header(headers, "X-Optin-Signature")):
            raise WebhookError("X-Optin-Signature does not match the request")
        _fresh(stamp, now, "X-Optin-Timestamp")
        return Inbound(
            self.name, _first(form, "From"), _first(form, "Body"), _first(form, "MessageId")
        )


def configured(settings: Mapping[str, Any]) -> list[Verifier]:
    """The verifiers of the carriers whose keys a configuration holds: ``OPTIN_TWILIO_AUTH_TOKEN``,
    ``OPTIN_VONAGE_SIGNATURE_SECRET`` (with ``OPTIN_VONAGE_SIGNATURE_METHOD``),
    ``OPTIN_TELNYX_PUBLIC_KEY``, ``OPTIN_WEBHOOK_SECRET`` (generic)."""
    found: list[Verifier] = []
    if settings.get("OPTIN_TWILIO_AUTH_TOKEN"):
        found.append(TwilioVerifier(str(settings["OPTIN_TWILIO_AUTH_TOKEN"])))
    if settings.get("OPTIN_VONAGE_SIGNATURE_SECRET"):
        method = str(settings.get("OPTIN_VONAGE_SIGNATURE_METHOD") or "md5hash")
        found.append(VonageVerifier(str(settings["OPTIN_VONAGE_SIGNATURE_SECRET"]), method))
    if settings.get("OPTIN_TELNYX_PUBLIC_KEY"):
        found.append(TelnyxVerifier(str(settings["OPTIN_TELNYX_PUBLIC_KEY"])))
    if settings.get("OPTIN_WEBHOOK_SECRET"):
        found.append(GenericVerifier(str(settings["OPTIN_WEBHOOK_SECRET"])))
    return found


def read_inbound(
    verifiers: Sequence[Verifier],
    url: str,
    headers: Mapping[str, str],
    form: Form,
    body: bytes,
    *,
    allow_unsigned: bool = False,
    now: float | None = None,
) -> Inbound:
    """The message of a webhook, checked by the verifier whose signature it carries. A
    request signed by a carrier nobody configured, or not signed at all, is refused, unless
    ``allow_unsigned`` (local development: a plain ``From``/``Body`` form)."""
    moment = time.time() if now is None else now
    for verifier in verifiers:
        if verifier.signed(headers, form):
            return verifier.verify(url, headers, form, body, moment)
    if allow_unsigned:
        return Inbound(
            "unsigned", _first(form, "From"), _first(form, "Body"), _first(form, "MessageSid")
        )
    raise WebhookError("unsigned webhook refused: configure the carrier's key or secret")


def twiml(message: str | None) -> str:
    """The reply to an SMS as Twilio's TwiML (an empty ``<Response/>``: no reply)."""
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


class Params(Mapping[str, str]):
    """URL-encoded parameters (a query string and a form body together), read once: what
    ``read_inbound`` and ``toolkit.capture`` need of a request whose framework gives no
    ``MultiDict``. As a mapping, a name gives its first value."""

    def __init__(self, *encoded: str) -> None:
        self._pairs = [pair for text in encoded for pair in parse_qsl(text, keep_blank_values=True)]
        self._first: dict[str, str] = {}
        for name, value in self._pairs:
            self._first.setdefault(name, value)

    def getlist(self, key: str) -> list[str]:
        return [value for name, value in self._pairs if name == key]

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)
