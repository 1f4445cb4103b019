"""Capture: what a submitted form or an inbound SMS means for the ledger, framework-neutral.

The rules every front end shares live here, once: which field holds the subject of each
channel (one rule for grants and withdrawals alike), which purposes a form may tick, which
numbers can take an SMS, what evidence is kept, what a STOP covers and how a reply is answered.
Adapters (Flask, Django, FastAPI...) only turn their request into a mapping and an ``Origin``,
and their responses out of what these functions return. No framework import, no globals.

Errors on bad input are ``CaptureError``: they name the field, in the page's language, and
nothing is stored. An outage stays ``LedgerUnavailable``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers

from . import confirm as confirmation
from .carriers import WebhookError
from .errors import LedgerUnavailable, ToolkitError
from .i18n import locale_for_country, negotiate, translations
from .proof import ConsentEvent, Ledger
from .proof.records import normalise_subject, number_facts, read_subject
from .render import ARTEFACTS, notice_context
from .sms import parse_reply, spec_keywords
from .spec import Purpose, Spec

#: The hidden fields a consent form carries the shown versions in (from the artefact registry).
VERSION_FIELDS = {name: a.form_field for name, a in ARTEFACTS.items() if a.form_field}
#: Numbers that can take an SMS (phonenumbers' types): a landline or a premium number cannot.
SMS_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class CaptureError(ToolkitError, ValueError):
    """A submitted form that cannot be recorded: ``field`` is the one to fix (None: the form
    as a whole), ``message`` says why in the page's language."""

    def __init__(self, message: str, field: str | None = None, detail: str = "") -> None:
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message
        self.field = field
        self.detail = detail  # the ledger's own words, for logs (English)


@dataclass(frozen=True)
class Origin:
    """Where a capture came from: the page's address, the visitor's IP address and browser
    (the ledger keeps them minimised: the IP truncated)."""

    url: str = ""
    ip: str | None = None
    user_agent: str = ""

    def evidence(self) -> dict[str, str | None]:
        return {"form_url": self.url, "ip": self.ip, "user_agent": self.user_agent}


@dataclass(frozen=True)
class Fields:
    """The names of the form's contact fields."""

    phone: str = "phone"
    email: str = "email"

    def of(self, purpose: Purpose) -> str:
        """The field that holds a purpose's subject: the address for e-mail, else the number."""
        return self.email if purpose.channel == "email" else self.phone


def form_purposes(spec: Spec) -> list[Purpose]:
    """The purposes a form may tick, and a withdrawal may stop: those resting on consent."""
    return [p for p in spec.purposes if p.legal_basis == "consent"]


def asks_for(spec: Spec, channel: str) -> bool:
    """Whether a sign-up form asks for this channel's contact: only when a consent purpose
    collected from the person uses it (data minimisation, Art. 5(1)(c))."""
    return any(p.channel == channel and "person" in p.collected_from for p in form_purposes(spec))


def choose_locale(spec: Spec, wanted: str | None = None, accept_language: str = "") -> str:
    """The locale of a request: the one asked for (``?lang=``, a form's hidden field) when the
    spec has it, else the browser's preferences (an ``Accept-Language`` header, by weight),
    else the spec's first. Never an error: a page always has a language."""
    if wanted:
        try:
            return negotiate(wanted, spec.locales)
        except ToolkitError:
            pass
    preferences = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            preferences.append((-weight, position, tag.replace("-", "_")))
    for _weight, _position, tag in sorted(preferences):
        try:
            return negotiate(tag, spec.locales)
        except ToolkitError:
            continue
    return spec.locales[0]


def _gettext(locale: str) -> Any:
    """The page's gettext: call it ``_`` where it is used, so that the message is extracted."""
    return translations(locale).gettext


def _refused(locale: str, why: str) -> CaptureError:
    """A whole-form refusal in the page's language (``why`` is one of the messages below)."""
    _ = _gettext(locale)
    messages = {
        "unknown-purpose": _("This form names a purpose we do not know."),
        "out-of-date": _("This form is out of date: please reload the page."),
        "objection": _("Choose how the objection was received and at least one purpose."),
    }
    return CaptureError(messages[why])


def ticked(spec: Spec, form: Mapping[str, Any], locale: str) -> list[Purpose]:
    """The consent purposes whose ``consent_<id>`` box is ticked; a box the form never showed
    (a tampered form) is refused."""
    known = {p.id: p for p in form_purposes(spec)}
    chosen = []
    for key in form:
        if key.startswith("consent_"):
            purpose = known.get(key.removeprefix("consent_"))
            if purpose is None:
                raise _refused(locale, "unknown-purpose")
            chosen.append(purpose)
    return chosen


def subject(
    spec: Spec,
    purpose: Purpose,
    form: Mapping[str, Any],
    locale: str,
    *,
    fields: Fields = Fields(),
    region: str | None = None,
) -> str:
    """The normalised subject of a purpose from its field: an address for e-mail, a number
    otherwise, and for SMS a number that can take one. Refused naming the field."""
    _ = _gettext(locale)
    field = fields.of(purpose)
    typed = str(form.get(field) or "").strip()
    email = purpose.channel == "email"
    if not typed:
        message = (
            _("Please enter your e-mail address.")
            if email
            else _("Please enter your mobile phone number.")
        )
        raise CaptureError(message, field)
    invalid = (
        _("This e-mail address is not valid.") if email else _("This phone number is not valid.")
    )
    try:
        key, facts = read_subject(typed, region or spec.controller.country)
    except ToolkitError:
        raise CaptureError(invalid, field) from None
    if email != ("@" in key):  # an address in the phone field, or the other way round
        raise CaptureError(invalid, field)
    if purpose.channel == "sms" and facts is not None and facts[1] not in SMS_TYPES:
        raise CaptureError(_("This number cannot receive SMS: please give a mobile number."), field)
    return key


def _prepare(
    ledger: Ledger,
    form: Mapping[str, Any],
    action: str,
    purposes: Sequence[Purpose],
    origin: Origin,
    locale: str,
    fields: Fields,
    region: str | None,
    versions: Mapping[str, str] | None = None,
) -> list[ConsentEvent]:
    spec = _spec(ledger)
    subjects = {
        p.id: subject(spec, p, form, locale, fields=fields, region=region) for p in purposes
    }
    try:
        return [
            ledger.prepare(
                subjects[p.id],
                p.id,
                action,
                method="web-form",
                versions=versions,
                locale=locale,
                evidence=origin.evidence(),
            )
            for p in purposes
        ]
    except LedgerUnavailable:
        raise
    except ToolkitError as exc:
        raise CaptureError(str(exc)) from None


def _spec(ledger: Ledger) -> Spec:
    if ledger.spec is None:
        raise ToolkitError("capture needs the ledger's spec: Ledger(url, spec=...)")
    return ledger.spec


def _form_locale(spec: Spec, form: Mapping[str, Any], locale: str) -> str:
    """The locale the form was shown in (its hidden field), which must be the spec's."""
    shown = str(form.get("optin_locale") or "")
    if shown not in spec.locales:
        raise _refused(locale, "out-of-date")
    return shown


def grants(
    ledger: Ledger,
    form: Mapping[str, Any],
    origin: Origin,
    locale: str,
    *,
    fields: Fields = Fields(),
    region: str | None = None,
) -> list[ConsentEvent]:
    """One grant per ticked box, with the versions the form carried, prepared and checked
    (``record`` writes them): every box or none. ``locale`` is the page's, for errors."""
    spec = _spec(ledger)
    chosen = ticked(spec, form, locale)
    shown = _form_locale(spec, form, locale)
    versions = {a: str(form.get(field) or "") for a, field in VERSION_FIELDS.items()}
    if not all(versions.values()):
        raise _refused(locale, "out-of-date")
    return _prepare(ledger, form, "grant", chosen, origin, shown, fields, region, versions)


def withdrawals(
    ledger: Ledger,
    form: Mapping[str, Any],
    origin: Origin,
    locale: str,
    *,
    fields: Fields = Fields(),
    region: str | None = None,
) -> list[ConsentEvent]:
    """One withdrawal per ticked box, each for the subject of its purpose's channel (D7: an
    e-mail consent is withdrawn with the address, not the number)."""
    chosen = ticked(_spec(ledger), form, locale)
    return _prepare(ledger, form, "withdraw", chosen, origin, locale, fields, region)


def objections(
    ledger: Ledger,
    typed: str,
    purposes: Sequence[str],
    *,
    method: str,
    locale: str,
    note: str = "",
    region: str | None = None,
) -> list[ConsentEvent]:
    """An objection received by e-mail, on the phone or by post (GDPR Art. 21(3)): one per
    direct-marketing purpose chosen, prepared and checked."""
    spec = _spec(ledger)
    known = {p.id for p in spec.purposes if p.direct_marketing}
    if method not in ("email", "phone", "post") or not purposes or not set(purposes) <= known:
        raise _refused(locale, "objection")
    try:
        return [
            ledger.prepare(
                typed,
                purpose,
                "opposition",
                method=method,
                locale=locale,
                region=region or spec.controller.country,
                evidence={"message": note} if note else None,
            )
            for purpose in purposes
        ]
    except LedgerUnavailable:
        raise
    except ToolkitError as exc:
        raise CaptureError(str(exc), "subject") from None


def record(
    ledger: Ledger, prepared: Sequence[ConsentEvent], locale: str = "en"
) -> list[ConsentEvent]:
    """Write prepared events in one transaction; a record the ledger refuses (a version the
    form carried that is not a text of its slot: a stale or tampered form) is a
    ``CaptureError`` in the page's ``locale`` (nothing stored); an outage stays
    ``LedgerUnavailable``."""
    try:
        return ledger.append(prepared)
    except LedgerUnavailable:
        raise
    except ToolkitError as exc:
        refused = _refused(locale, "out-of-date")
        raise CaptureError(refused.message, detail=str(exc)) from None


# --- "may I send?" for an API --------------------------------------------------------------------

#: Subjects one batch request may ask about.
BATCH_LIMIT = 1000


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>`` (compared in constant time;
    an empty token matches nothing), for the adapters' API and admin gates."""
    given = authorization.removeprefix("Bearer ")
    return bool(
        token
        and authorization.startswith("Bearer ")
        and hmac.compare_digest(given.encode(), token.encode())
    )


def verdicts(ledger: Ledger, purpose: str, subjects: Sequence[str]) -> list[dict[str, Any]]:
    """For an API: each subject allowed or not, and the reason codes, nothing more (whether
    and when a person consented or objected is personal data: L-09, M1). An unreadable
    subject gets ``["invalid"]``; an unknown purpose is a ``CaptureError``."""
    spec = _spec(ledger)
    if purpose not in {p.id for p in spec.purposes}:
        raise CaptureError(f"unknown purpose {purpose!r}", "purpose")
    if len(subjects) > BATCH_LIMIT:
        raise CaptureError(f"at most {BATCH_LIMIT} subjects per request", "subjects")
    out: list[dict[str, Any]] = []
    for subject in subjects:
        try:
            decision = ledger.can_send(subject, purpose, spec.controller.country)
        except LedgerUnavailable:
            raise
        except ToolkitError:
            out.append({"subject": subject, "allowed": False, "codes": ["invalid"]})
            continue
        out.append({"subject": subject, "allowed": decision.allowed, "codes": list(decision.codes)})
    return out


def relayed(ledger: Ledger, payload: Any) -> list[ConsentEvent]:
    """A form another stack received, relayed by its server to the consent API: ``{"form":
    {field: value}, "origin": {"url", "ip", "user_agent"}, "locale": "fr"}``. Recorded as
    ``grants`` would from the form itself (every box or none; errors name the form's field).
    Only a caller holding the API token may relay: it vouches for the origin it reports."""
    locale = str(payload.get("locale") or "") if isinstance(payload, Mapping) else ""
    spec = _spec(ledger)
    locale = choose_locale(spec, locale)
    if not isinstance(payload, Mapping) or not isinstance(payload.get("form"), Mapping):
        raise CaptureError("expected JSON {form: {...}, origin: {url, ip, user_agent}, locale}")
    form = {str(k): str(v) for k, v in payload["form"].items()}
    given = payload.get("origin")
    where: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    origin = Origin(
        str(where.get("url") or ""), where.get("ip") or None, str(where.get("user_agent") or "")
    )
    return record(ledger, grants(ledger, form, origin, locale), locale)


# --- inbound SMS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsAnswer:
    """What an inbound SMS did: its kind, the events recorded, and the reply to send (None:
    no reply), in ``locale``."""

    kind: str
    events: tuple[ConsentEvent, ...]
    reply: str | None
    locale: str


def sender_locale(spec: Spec, sender: str) -> str | None:
    """The language of the sender's number's country, if the spec has it (L-06: a German SIM
    is answered in German, whatever the carrier's request says)."""
    try:
        country = number_facts(normalise_subject(sender, spec.controller.country))[0]
    except (ToolkitError, ValueError):
        return None
    return locale_for_country(country, spec.locales)


def inbound_sms(
    ledger: Ledger, sender: str, body: str, locale: str, *, message_id: str = ""
) -> SmsAnswer:
    """An SMS a person sent us: STOP records an opposition for every purpose the notices say
    STOP stops; YES confirms what waits for it from that number; HELP answers who we are and
    how to stop. Answered in the language of the sender's country, else ``locale``. The
    carrier's ``message_id`` is kept with what the message did, and a message id already in
    the sender's records is refused (``WebhookError``: a replayed webhook)."""
    spec = _spec(ledger)
    if message_id:
        try:
            seen = any(
                e.evidence.get("message_id") == message_id
                for e in ledger.history(sender, spec.controller.country)
            )
        except LedgerUnavailable:
            raise
        except ToolkitError as exc:
            raise CaptureError(str(exc), "From") from None
        if seen:
            raise WebhookError(f"message {message_id} was handled already (a replay?)")
    reply = parse_reply(body, spec_keywords(spec))
    locale = sender_locale(spec, sender) or locale
    _ = _gettext(locale)
    name, region = spec.controller.name, spec.controller.country
    if reply.kind == "opt-out":
        try:
            events = ledger.append(
                [
                    ledger.prepare(
                        sender,
                        purpose,
                        "opposition",
                        method="sms-reply",
                        locale=locale,
                        region=region,
                        evidence={"message": body[:160], "message_id": message_id or None},
                    )
                    for purpose in spec.sms_stop_purposes()
                ]
            )
        except LedgerUnavailable:
            raise
        except ToolkitError as exc:
            raise CaptureError(str(exc), "From") from None
        stopped = _("You will no longer receive SMS from %(name)s.") % {"name": name}
        return SmsAnswer(reply.kind, tuple(events), stopped, locale)
    if reply.kind == "confirm":
        waiting = confirmation.awaiting(ledger, sender, region)
        if not waiting:
            return SmsAnswer("other", (), None, locale)  # nothing to confirm: a YES like any
        events = confirmation.confirm(
            ledger,
            sender,
            waiting,
            "sms-reply",
            locale,
            region=region,
            evidence={"message_id": message_id} if message_id else None,
        )
        return SmsAnswer(
            reply.kind, tuple(events), _("Thank you: your consent is confirmed."), locale
        )
    if reply.kind == "help":
        sms = notice_context(spec, locale).sms
        text = _("%(name)s (contact: %(email)s). To stop our SMS: %(opt_out)s") % {
            "name": name,
            "email": spec.controller.email,
            "opt_out": sms.opt_out if sms else "STOP",
        }
        return SmsAnswer(reply.kind, (), text, locale)
    return SmsAnswer(reply.kind, (), None, locale)
