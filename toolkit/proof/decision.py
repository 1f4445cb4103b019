"""May this subject be contacted for this purpose, by its channel, now? The one place that
decides, for ``can_send``, ``optin ledger status``, ``optin audit`` and the demo's API.

Every check gives its reason, with a stable ``code`` and English words: the consent record
(grant, withdrawal, opposition), the channel law of the subject's market (consent or opt-out,
the existing-customer exception, calls within a contract), suppression lists and the registries
the law says to screen, the consent's age, contact windows, attempt caps and cool-downs, and
whether the number can receive the channel at all. It fails closed: a check that cannot be made
blocks, and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezones

from .. import rules
from ..spec import Purpose, SendingWindow, Spec
from .records import CONSENT_ACTIONS
from .store import Latest, SuppressionList

# Stable reason codes (tools match on these, never on the words).
CONSENT = "consent"  # the latest record is a grant
NO_CONSENT = "no-consent"  # consent is required and none is recorded
WITHDRAWN = "withdrawn"  # the latest record withdraws consent
OPPOSITION = "opposition"  # the latest record objects (Art. 21)
NO_OBJECTION = "no-objection"  # no consent needed, and nobody objected
SOFT_OPT_IN = "soft-opt-in"  # existing customers, under the exception to consent
CONTRACT = "contract"  # a contact within an ongoing contract, which the law excepts
CONSENT_EXPIRED = "consent-expired"  # the consent is older than the purpose's max_age
SUPPRESSED = "suppressed"  # on a suppression list (a registry's copy, or the controller's)
REGISTRY_MISSING = "registry-missing"  # the law says to screen a registry: no copy imported
REGISTRY_STALE = "registry-stale"  # the registry's copy is too old or expired
OUTSIDE_MARKETS = "outside-markets"  # the number is in a country the spec does not cover
NOT_MOBILE = "not-mobile"  # the number cannot receive the channel (a landline and SMS)
OUTSIDE_HOURS = "outside-hours"  # outside the law's contact window, or the spec's
TOO_MANY_ATTEMPTS = "too-many-attempts"  # the attempt cap of the period is reached
COOLDOWN = "cooldown"  # too soon after the person refused

ALLOWING = (CONSENT, NO_OBJECTION, SOFT_OPT_IN, CONTRACT)
BLOCKING_CODES = (
    NO_CONSENT,
    WITHDRAWN,
    OPPOSITION,
    CONSENT_EXPIRED,
    SUPPRESSED,
    REGISTRY_MISSING,
    REGISTRY_STALE,
    OUTSIDE_MARKETS,
    NOT_MOBILE,
    OUTSIDE_HOURS,
    TOO_MANY_ATTEMPTS,
    COOLDOWN,
)

_METHOD_WORDS = {"sms-reply": "SMS", "web-form": "web form", "email": "e-mail"}
# Numbers that can receive an SMS; a landline, a toll-free or premium number cannot.
_SMS_TYPES: frozenset[int] = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)
_RULE_TYPES: dict[int, str] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
}


class LatestRecord(Protocol):
    """What the decision reads of a record (a ``ConsentEvent`` or a store row)."""

    @property
    def action(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def at(self) -> str: ...


@dataclass(frozen=True)
class Reason:
    """One reason of a decision: a stable ``code`` and what it means in words."""

    code: str
    message: str


@dataclass(frozen=True)
class Decision:
    """May this subject be contacted for this purpose? And every reason why (or why not)."""

    allowed: bool
    reasons: tuple[Reason, ...]
    record: Latest | None = None  # the latest consent record (grant, withdraw, opposition)

    @property
    def reason(self) -> str:
        """Every reason in words, joined."""
        return "; ".join(r.message for r in self.reasons)

    @property
    def codes(self) -> tuple[str, ...]:
        """The reasons' codes."""
        return tuple(r.code for r in self.reasons)

    def as_json(self) -> dict[str, object]:
        """The decision as the API and the CLI print it (stable keys)."""
        return {
            "allowed": self.allowed,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
        }


@dataclass(frozen=True)
class Subject:
    """What the number itself says: its country, its kind, its time zone (e-mail: nothing)."""

    key: str
    market: str | None = None
    number_type: int | None = None  # a phonenumbers.PhoneNumberType
    timezone: str | None = None


@cache
def _number(key: str) -> Subject:
    if not key.startswith("+"):
        return Subject(key)
    number = phonenumbers.parse(key, None)
    zones = [z for z in phone_timezones.time_zones_for_number(number) if "/" in z]
    return Subject(
        key,
        phonenumbers.region_code_for_number(number),
        phonenumbers.number_type(number),
        zones[0] if zones else None,
    )


def subject_of(key: str) -> Subject:
    """The facts of a normalised subject (E.164 number or e-mail address)."""
    return _number(key) if key.startswith("+") else Subject(key)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _day(text: str) -> str:
    return text[:10]  # records carry UTC ISO 8601 times: the date is the first ten characters


def consent_state(latest: LatestRecord | None, basis: str | None) -> tuple[bool, Reason]:
    """The rule of the consent record alone: the latest record decides; with none, only a
    purpose that does not rest on consent may go ahead (``basis`` None: consent is assumed)."""
    if latest is None:
        if basis is not None and basis != "consent":
            return True, Reason(NO_OBJECTION, f"no objection recorded (legal basis: {basis})")
        return False, Reason(NO_CONSENT, "no consent recorded")
    if latest.action == "grant":
        return True, Reason(CONSENT, f"consent given on {_day(latest.at)} by {latest.method}")
    how = _METHOD_WORDS.get(str(latest.method), str(latest.method))
    if latest.action == "withdraw":
        return False, Reason(WITHDRAWN, f"withdrawn by {how} on {_day(latest.at)}")
    return False, Reason(OPPOSITION, f"opposition by {how} on {_day(latest.at)}")


@dataclass
class Policy:
    """What one purpose must meet, from its spec and the rule packs; builds each market's
    requirement once per day (an audit decides millions of rows against one policy). Without
    a spec (``spec`` None), the consent record and the suppression lists alone decide."""

    spec: Spec | None
    purpose: Purpose | None
    book: rules.RuleBook
    lists: Mapping[int, SuppressionList] = field(default_factory=dict)  # current copies, by id
    _cache: dict[tuple[str, str | None, date], rules.Requirement] = field(default_factory=dict)

    def requirement(self, market: str, number_type: str | None, day: date) -> rules.Requirement:
        key = (market, number_type, day)
        assert self.purpose is not None
        if key not in self._cache:
            self._cache[key] = rules.requirement(
                self.book,
                market,
                self.purpose.channel,
                self.purpose.audience,
                day,
                number_type,  # type: ignore[arg-type]
            )
        return self._cache[key]

    def list_named(self, name: str) -> SuppressionList | None:
        for item in self.lists.values():
            if item.name == name:
                return item
        return None


def decide(
    policy: Policy,
    subject: Subject,
    history: Sequence[Latest],
    on_lists: Sequence[int],
    at: datetime,
) -> Decision:
    """The decision for one subject: ``history`` is its records for the purpose, oldest first,
    up to ``at``; ``on_lists`` the ids of the list copies its key is on."""
    decisive = [r for r in history if r.action in CONSENT_ACTIONS]
    latest = decisive[-1] if decisive else None
    found: dict[tuple[str, str], bool] = {}  # (code, message) -> blocking

    def add(code: str, message: str) -> None:
        found.setdefault((code, message), code in BLOCKING_CODES)

    spec, purpose = policy.spec, policy.purpose
    if spec is None or purpose is None:  # no spec: the consent record and the lists decide
        _allowed, reason = consent_state(latest, None)
        add(reason.code, reason.message)
        _suppression(policy, latest, on_lists, add)
        return _decision(found, latest)

    day = at.astimezone(UTC).date()
    if subject.market is not None and subject.market not in spec.target_markets:
        add(
            OUTSIDE_MARKETS,
            f"{subject.key} is a number of {subject.market}, a market the spec does not cover "
            f"(markets: {', '.join(spec.target_markets)})",
        )
        markets: tuple[str, ...] = ()
    else:
        markets = (subject.market,) if subject.market else spec.target_markets
    number_type = _RULE_TYPES.get(subject.number_type) if subject.number_type is not None else None
    if not markets:  # outside the markets: the consent record is still worth saying
        _allowed, reason = consent_state(latest, purpose.legal_basis)
        add(reason.code, reason.message)
    for market in markets:
        required = (
            policy.requirement(market, number_type, day)
            if purpose.direct_marketing and purpose.channel in rules.CHANNELS
            else None
        )
        _consent(policy, required, latest, at, add)
        if required is not None:
            _registries(policy, required, latest, at, add)
            _timing(policy, required, market, subject, history, decisive, at, add)
    if purpose.channel == "sms" and subject.number_type is not None:
        if subject.number_type not in _SMS_TYPES:
            add(NOT_MOBILE, f"{subject.key} cannot receive SMS (not a mobile number)")
    _suppression(policy, latest, on_lists, add)
    if purpose.channel == "sms" and spec.sms is not None and spec.sms.sending_window is not None:
        _spec_window(policy, spec.sms.sending_window, subject, markets, at, add)
    return _decision(found, latest)


def _decision(found: Mapping[tuple[str, str], bool], latest: Latest | None) -> Decision:
    blocking = [Reason(code, text) for (code, text), block in found.items() if block]
    allowing = [Reason(code, text) for (code, text), block in found.items() if not block]
    return Decision(not blocking, tuple(allowing + blocking), latest)


def _consent(
    policy: Policy,
    required: rules.Requirement | None,
    latest: LatestRecord | None,
    at: datetime,
    add: _Add,
) -> None:
    purpose = policy.purpose
    assert purpose is not None
    basis = purpose.legal_basis
    soft = (
        required is not None
        and required.requires == "consent"
        and purpose.soft_opt_in is not None
        and required.soft_opt_in is not None
        and all(getattr(purpose.soft_opt_in, c) for c in required.soft_opt_in)
    )
    contract = required is not None and basis == "contract" and required.except_contract
    needs_grant = basis == "consent" or (
        required is not None and required.requires == "consent" and not soft and not contract
    )
    if latest is None:
        if needs_grant:
            law = required is not None and basis != "consent"
            where = f" ({required.label} requires prior consent)" if law and required else ""
            add(NO_CONSENT, f"no consent recorded{where}")
        elif soft:
            add(SOFT_OPT_IN, "existing customer, under the exception to consent; no objection")
        elif contract:
            add(CONTRACT, "a contact within an ongoing contract; no objection recorded")
        else:
            add(NO_OBJECTION, f"no objection recorded (legal basis: {basis})")
        return
    allowed, reason = consent_state(latest, basis)
    add(reason.code, reason.message)
    if not allowed or latest.action != "grant" or not needs_grant:
        return
    max_age = purpose.max_age
    source = "the purpose's max_age"
    if max_age is None and required is not None and required.consent_max_age is not None:
        rule, max_age = required.consent_max_age
        source = rules.cite(rule)
    if max_age is not None:
        given = _moment(latest.at)
        if at > rules.add_duration(given, max_age):
            add(
                CONSENT_EXPIRED,
                f"the consent of {_day(latest.at)} is older than {max_age} ({source}): ask again",
            )


class _Add(Protocol):
    def __call__(self, code: str, message: str) -> None: ...


def _registries(
    policy: Policy,
    required: rules.Requirement,
    latest: LatestRecord | None,
    at: datetime,
    add: _Add,
) -> None:
    granted = latest is not None and latest.action == "grant"
    contract = policy.purpose is not None and policy.purpose.legal_basis == "contract"
    for registry in required.registries:
        if (registry.consent_overrides and granted) or (registry.contract_overrides and contract):
            continue
        copy = policy.list_named(registry.id)
        source = f"{registry.source.citation}, {registry.source.url}"
        if copy is None:
            add(
                REGISTRY_MISSING,
                f"{registry.name} must be screened first ({source}) and no copy is imported: "
                f"optin suppress import FILE --list {registry.id}",
            )
            continue
        expired = copy.until is not None and at.date() > date.fromisoformat(copy.until)
        old = registry.refresh is not None and at > rules.add_duration(
            _moment(copy.imported_at), registry.refresh
        )
        if expired or old:
            why = f"valid until {copy.until}" if expired else f"older than {registry.refresh}"
            add(
                REGISTRY_STALE,
                f"the copy of {registry.name} imported on {_day(copy.imported_at)} is {why}: "
                f"import a fresh one ({source})",
            )


def _suppression(
    policy: Policy, latest: LatestRecord | None, on_lists: Sequence[int], add: _Add
) -> None:
    granted = latest is not None and latest.action == "grant"
    purpose = policy.purpose
    contract = purpose is not None and purpose.legal_basis == "contract"
    for list_id in on_lists:
        copy = policy.lists.get(list_id)
        if copy is None:  # an older copy of a list: replaced, no longer in force
            continue
        if copy.channel is not None and purpose is not None and copy.channel != purpose.channel:
            continue
        registry = policy.book.registry(copy.name)
        if registry is not None and (
            (registry.consent_overrides and granted) or (registry.contract_overrides and contract)
        ):
            continue
        add(SUPPRESSED, f"on the suppression list {copy.name} (imported {_day(copy.imported_at)})")


def _timing(
    policy: Policy,
    required: rules.Requirement,
    market: str,
    subject: Subject,
    history: Sequence[LatestRecord],
    decisive: Sequence[LatestRecord],
    at: datetime,
    add: _Add,
) -> None:
    pack = policy.book.pack(market)
    zone = subject.timezone or pack.timezone or "UTC"
    holidays = pack.holidays or (market if market in rules.EU_EEA else None)
    for rule, window in required.windows:
        if not rules.in_window(window, at, zone, holidays):
            local = at.astimezone(_zone(zone))
            add(
                OUTSIDE_HOURS,
                f"contact only {window.describe()} ({rules.cite(rule)}); it is "
                f"{local:%a %H:%M} in {zone}",
            )
    for rule, attempts in required.attempts:
        since = rules.add_duration(at, attempts.period, sign=-1)
        done = [r for r in history if r.action == "contact" and _moment(r.at) > since]
        if len(done) >= attempts.count:
            add(
                TOO_MANY_ATTEMPTS,
                f"{len(done)} contact attempts in the last {attempts.period}, the most "
                f"allowed is {attempts.count} ({rules.cite(rule)})",
            )
    refusals = [r for r in decisive if r.action in ("withdraw", "opposition")]
    for rule, period in required.cooldowns:
        if refusals and at < rules.add_duration(_moment(refusals[-1].at), period):
            add(
                COOLDOWN,
                f"refused on {_day(refusals[-1].at)}: no contact for {period} after a refusal "
                f"({rules.cite(rule)})",
            )


def _spec_window(
    policy: Policy,
    chosen: str | SendingWindow,
    subject: Subject,
    markets: Sequence[str],
    at: datetime,
    add: _Add,
) -> None:
    if isinstance(chosen, str):
        preset = policy.book.preset(chosen)
        if preset is None:
            return
        window, source = preset.window, f"preset {preset.id}: {preset.source.citation}"
    else:
        window = rules.Window(
            days=chosen.days, hours=chosen.hours, public_holidays=chosen.public_holidays
        )
        source = "the spec's sending_window"
    assert policy.spec is not None
    for market in markets or policy.spec.target_markets:
        pack = policy.book.pack(market)
        zone = subject.timezone or pack.timezone or "UTC"
        if not rules.in_window(window, at, zone, pack.holidays):
            local = at.astimezone(_zone(zone))
            add(
                OUTSIDE_HOURS,
                f"send only {window.describe()} ({source}); it is {local:%a %H:%M} in {zone}",
            )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
