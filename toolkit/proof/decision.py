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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezones

from ..errors import ArtefactError
from ..render import every_rendering, render
from ..rules import (
    CHANNELS,
    EU_EEA,
    Requirement,
    Rule,
    RuleBook,
    Window,
    add_duration,
    cite,
    in_window,
    requirement,
)
from ..spec import Purpose, SendingWindow, Spec
from .records import CONSENT_ACTIONS, UNPROVEN_METHODS, iso_utc, number_facts
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
INFORMATION_OVERDUE = "information-overdue"  # source data kept over a month, never contacted
INFORMATION_MISSING = "information-missing"  # the first message did not carry the Art. 14 texts
PENDING_CONFIRMATION = "pending-confirmation"  # a form consent not yet confirmed (double opt-in)
CONFIRMATION_EXPIRED = "confirmation-expired"  # ... and never confirmed in time: ask again

BLOCKING_CODES = frozenset(
    {
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
        INFORMATION_OVERDUE,
        INFORMATION_MISSING,
        PENDING_CONFIRMATION,
        CONFIRMATION_EXPIRED,
    }
)
#: GDPR Art. 14(3)(a): the information on data obtained elsewhere is due within one month.
ART14_DEADLINE = "P1M"

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


class Reason(NamedTuple):  # a tuple, not a dataclass: the audit makes millions
    """One reason of a decision: a stable ``code`` and what it means in words."""

    code: str
    message: str


class Decision(NamedTuple):
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


class Subject(NamedTuple):
    """What the number itself says: its country and its kind (e-mail: nothing)."""

    key: str
    market: str | None = None
    number_type: int | None = None  # a phonenumbers.PhoneNumberType

    @property
    def timezone(self) -> str | None:
        """The number's time zone (looked up only when a contact window needs it)."""
        return _timezone(self.key) if self.key.startswith("+") else None


@lru_cache(maxsize=4096)
def _timezone(key: str) -> str | None:
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(key, None))
    named = [zone for zone in zones if "/" in zone]
    return named[0] if named else None


def subject_of(key: str, facts: tuple[str | None, int] | None = None) -> Subject:
    """The facts of a normalised subject (E.164 number or e-mail address); ``facts`` (region,
    type) when the caller already has them."""
    if not key.startswith("+"):
        return Subject(key)
    region, kind = number_facts(key) if facts is None else facts
    return Subject(key, region, kind)


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


@dataclass(frozen=True)
class _Plan:
    """What the decision needs for one market, kind of number and moment, worked out once:
    the law's requirement and every time limit as a record timestamp to compare with."""

    market: str
    required: Requirement | None
    needs_grant: bool
    without_record: Reason  # the reason when the subject has no record
    expiry: tuple[str, str, str] | None  # (grants before this are too old, max_age, source)
    registries: tuple[tuple[str, str, bool], ...]  # (code, message, lifted by consent)
    windows: tuple[tuple[Rule, Window], ...]
    attempts: tuple[tuple[Rule, int, str, str], ...]  # (rule, count, since, period)
    cooldowns: tuple[tuple[Rule, str, str], ...]  # (rule, refusals after this, period)
    zone: str | None
    holidays: str | None


@dataclass
class Policy:
    """What one purpose must meet, from its spec and the rule packs, with the current copies of
    the suppression lists. Plans (per market, kind of number and moment) are kept, since an
    audit decides millions of rows against one policy at one moment. Without a spec (``spec``
    None), the consent record and the suppression lists alone decide."""

    spec: Spec | None
    purpose: Purpose | None
    book: RuleBook
    lists: Mapping[int, SuppressionList] = field(default_factory=dict)  # current copies, by id
    _plans: dict[tuple[str, str | None, datetime], _Plan] = field(default_factory=dict)

    _first_contact: frozenset[str] | None = None
    _confirm: dict[datetime, tuple[str, str] | None] = field(default_factory=dict)

    def confirmation(self, at: datetime) -> tuple[str, str] | None:
        """How a form consent to this purpose is confirmed, and the time (ISO, UTC) before
        which an unconfirmed one has lapsed at ``at``; None when it needs no confirmation.
        Worked out once per moment: an audit asks it of every row."""
        if at not in self._confirm:
            spec, purpose = self.spec, self.purpose
            how = (
                None if spec is None or purpose is None else spec.confirmation_for(purpose.channel)
            )
            if len(self._confirm) > 256:
                self._confirm.clear()
            self._confirm[at] = (
                None
                if how is None or spec is None
                else (how, iso_utc(add_duration(at, spec.confirmation.expires, -1)))
            )
        return self._confirm[at]

    def first_contact_versions(self) -> frozenset[str]:
        """The versions of every text that carries the first-contact information (the first
        SMS's footer, the call script), in every locale and for every collection."""
        if self._first_contact is None:
            found: set[str] = set()
            spec = self.spec
            if spec is not None:
                for locale in spec.locales:
                    try:
                        regular = render(spec, "sms-footer", locale).version
                    except ArtefactError:  # no [sms], or no SMS purpose
                        regular = None
                    for rendered in every_rendering(spec, locale):
                        first = rendered.artefact == "call-script" or (
                            rendered.artefact == "sms-footer" and rendered.version != regular
                        )
                        if first:
                            found.add(rendered.version)
            self._first_contact = frozenset(found)
        return self._first_contact

    def list_named(self, name: str) -> SuppressionList | None:
        for item in self.lists.values():
            if item.name == name:
                return item
        return None

    def plan(self, market: str, number_type: str | None, at: datetime) -> _Plan:
        key = (market, number_type, at)
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) > 256:
                self._plans.clear()
            found = self._plans[key] = self._make_plan(market, number_type, at)
        return found

    def _make_plan(self, market: str, number_type: str | None, at: datetime) -> _Plan:
        purpose = self.purpose
        assert purpose is not None
        day = at.astimezone(UTC).date()
        required = None
        if purpose.direct_marketing and purpose.channel in CHANNELS:
            required = requirement(
                self.book,
                market,
                purpose.channel,
                purpose.audience,
                day,
                number_type,  # type: ignore[arg-type]
            )
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
        if needs_grant:
            law = required is not None and basis != "consent"
            where = f" ({required.label} requires prior consent)" if law and required else ""
            without = Reason(NO_CONSENT, f"no consent recorded{where}")
        elif soft:
            without = Reason(
                SOFT_OPT_IN, "existing customer, under the exception to consent; no objection"
            )
        elif contract:
            without = Reason(
                CONTRACT, "a contact within an ongoing contract; no objection recorded"
            )
        else:
            without = Reason(NO_OBJECTION, f"no objection recorded (legal basis: {basis})")
        expiry = None
        max_age, source = purpose.max_age, "the purpose's max_age"
        if max_age is None and required is not None and required.consent_max_age is not None:
            rule, max_age = required.consent_max_age
            source = cite(rule)
        if max_age is not None and needs_grant:
            expiry = (iso_utc(add_duration(at, max_age, sign=-1)), max_age, source)
        pack = self.book.pack(market)
        return _Plan(
            market=market,
            required=required,
            needs_grant=needs_grant,
            without_record=without,
            expiry=expiry,
            registries=() if required is None else self._registry_checks(required, at),
            windows=() if required is None else required.windows,
            attempts=()
            if required is None
            else tuple(
                (rule, a.count, iso_utc(add_duration(at, a.period, sign=-1)), a.period)
                for rule, a in required.attempts
            ),
            cooldowns=()
            if required is None
            else tuple(
                (rule, iso_utc(add_duration(at, period, sign=-1)), period)
                for rule, period in required.cooldowns
            ),
            zone=pack.timezone,
            holidays=pack.holidays or (market if market in EU_EEA else None),
        )

    def _registry_checks(
        self, required: Requirement, at: datetime
    ) -> tuple[tuple[str, str, bool], ...]:
        """The registries the law says to screen, and whether a usable copy is here."""
        assert self.purpose is not None
        contract = self.purpose.legal_basis == "contract"
        checks = []
        for registry in required.registries:
            if registry.contract_overrides and contract:
                continue
            copy = self.list_named(registry.id)
            source = f"{registry.source.citation}, {registry.source.url}"
            if copy is None:
                checks.append(
                    (
                        REGISTRY_MISSING,
                        f"{registry.name} must be screened first ({source}) and no copy is "
                        f"imported: optin suppress import FILE --list {registry.id}",
                        registry.consent_overrides,
                    )
                )
                continue
            expired = copy.until is not None and at.date() > date.fromisoformat(copy.until)
            old = registry.refresh is not None and at > add_duration(
                _moment(copy.imported_at), registry.refresh
            )
            if expired or old:
                why = f"valid until {copy.until}" if expired else f"older than {registry.refresh}"
                checks.append(
                    (
                        REGISTRY_STALE,
                        f"the copy of {registry.name} imported on {_day(copy.imported_at)} is "
                        f"{why}: import a fresh one ({source})",
                        registry.consent_overrides,
                    )
                )
        return tuple(checks)


def decide(
    policy: Policy,
    subject: Subject,
    history: Sequence[Latest],
    on_lists: Sequence[int],
    at: datetime,
    obtained: datetime | None = None,
) -> Decision:
    """The decision for one subject: ``history`` is its records for the purpose, oldest first,
    up to ``at``; ``on_lists`` the ids of the list copies its key is on; ``obtained`` when its
    data was obtained from the spec's source, if known (the Art. 14(3)(a) month runs from it)."""
    decisive = [r for r in history if r.action in CONSENT_ACTIONS]
    latest = latest_by_time(decisive)
    allowing: list[Reason] = []
    blocking: list[Reason] = []
    spec, purpose = policy.spec, policy.purpose
    if spec is None or purpose is None:  # no spec: the consent record and the lists decide
        allowed, reason = consent_state(latest, None)
        (allowing if allowed else blocking).append(reason)
        _suppression(policy, latest, on_lists, blocking)
        return _decision(allowing, blocking, latest)
    if subject.market is not None and subject.market not in spec.target_markets:
        blocking.append(
            Reason(
                OUTSIDE_MARKETS,
                f"a number of {subject.market}, which is not among the spec's markets "
                f"({', '.join(spec.target_markets)})",
            )
        )
        allowed, reason = consent_state(latest, purpose.legal_basis)
        (allowing if allowed else blocking).append(reason)
        markets: tuple[str, ...] = ()
    else:
        markets = (subject.market,) if subject.market else spec.target_markets
    number_type = _RULE_TYPES.get(subject.number_type) if subject.number_type is not None else None
    for market in markets:
        plan = policy.plan(market, number_type, at)
        _consent(plan, latest, allowing, blocking)
        granted = latest is not None and latest.action == "grant"
        for code, message, lifted in plan.registries:
            if not (lifted and granted):
                blocking.append(Reason(code, message))
        if plan.windows or plan.attempts or plan.cooldowns:
            _timing(plan, subject, history, decisive, at, blocking)
    if purpose.channel == "sms" and subject.number_type is not None:
        if subject.number_type not in _SMS_TYPES:
            blocking.append(
                Reason(NOT_MOBILE, "this number cannot receive SMS (not a mobile number)")
            )
    _suppression(policy, latest, on_lists, blocking)
    _confirmation(policy, latest, history, at, blocking)
    if obtained is not None and "source" in purpose.collected_from:
        _information_due(obtained, history, at, blocking)
    if "source" in purpose.collected_from:
        _first_information(policy, history, blocking)
    if purpose.channel == "sms" and spec.sms is not None and spec.sms.sending_window is not None:
        _spec_window(policy, spec.sms.sending_window, subject, markets, at, blocking)
    if len(markets) > 1:  # the same reason from several markets is said once
        allowing, blocking = list(dict.fromkeys(allowing)), list(dict.fromkeys(blocking))
    return _decision(allowing, blocking, latest)


_CONFIRM_HOW = {
    "sms-reply": "the person replies to the confirmation SMS",
    "code": "the person types the code sent to them",
    "email-link": "the person follows the link sent by e-mail",
}


def _confirmation(
    policy: Policy,
    latest: Latest | None,
    history: Sequence[Latest],
    at: datetime,
    blocking: list[Reason],
) -> None:
    """Double opt-in: a grant typed on a form decides only once the holder of the number or
    address confirmed it (a ``confirm`` record after it); unconfirmed, it lapses."""
    if latest is None or latest.action != "grant" or latest.method not in UNPROVEN_METHODS:
        return  # nothing granted, or given by SMS from the number itself, on the phone...
    rule = policy.confirmation(at)
    if rule is None:
        return
    if any(r.action == "confirm" and r.at >= latest.at for r in history):
        return
    how, cutoff = rule
    if latest.at < cutoff:
        expires = policy.spec.confirmation.expires if policy.spec is not None else ""
        blocking.append(
            Reason(
                CONFIRMATION_EXPIRED,
                f"the consent of {_day(latest.at)} was never confirmed within {expires}: ask again",
            )
        )
    else:
        blocking.append(
            Reason(
                PENDING_CONFIRMATION,
                f"the consent of {_day(latest.at)} awaits confirmation ({_CONFIRM_HOW[how]})",
            )
        )


def _first_information(policy: Policy, history: Sequence[Latest], blocking: list[Reason]) -> None:
    """The first message to a person whose data came from a source must carry the Art. 14
    information (GDPR Art. 14(3)(b); the D.S.E case): if the first one sent did not, say so.
    A message its carrier reports as failed does not count: the next one must inform."""
    failed = {
        report.get("delivers")
        for report in (json.loads(r.versions) for r in history if r.action == "delivery")
        if report.get("status") == "failed"
    }
    # a message the carrier reports as never delivered informed nobody: the next one counts
    sent = [r for r in history if r.action == "notice-sent" and r.id not in failed]
    if not sent:
        return
    first = min(sent, key=lambda r: r.at)
    if any(version in first.versions for version in policy.first_contact_versions()):
        return
    blocking.append(
        Reason(
            INFORMATION_MISSING,
            f"the first message, on {_day(first.at)}, did not carry the first-contact"
            " information (GDPR Art. 14(3)(b)): the person must be informed before anything else",
        )
    )


def _information_due(
    obtained: datetime, history: Sequence[Latest], at: datetime, blocking: list[Reason]
) -> None:
    """Data from a source whose person was never contacted (the first contact carries the
    Art. 14 information) more than a month after it was obtained: its use starts late."""
    if any(r.action == "contact" for r in history) or at <= add_duration(obtained, ART14_DEADLINE):
        return
    blocking.append(
        Reason(
            INFORMATION_OVERDUE,
            f"obtained on {obtained.date().isoformat()} and never contacted since: the person had"
            " to be informed within one month (GDPR Art. 14(3)(a)); inform them by other means"
            " first, or delete the data",
        )
    )


def latest_by_time(records: Sequence[Latest]) -> Latest | None:
    """The record that decides: the latest by event time, the later stored one on a tie. An
    imported record older than one already stored is history, never the last word (M4)."""
    latest: Latest | None = None
    for record in records:  # stored order: a tie goes to the later one
        if latest is None or record.at >= latest.at:
            latest = record
    return latest


def _decision(allowing: list[Reason], blocking: list[Reason], latest: Latest | None) -> Decision:
    return Decision(not blocking, (*allowing, *blocking), latest)


def _consent(
    plan: _Plan, latest: LatestRecord | None, allowing: list[Reason], blocking: list[Reason]
) -> None:
    if latest is None:
        (blocking if plan.needs_grant else allowing).append(plan.without_record)
        return
    allowed, reason = consent_state(latest, None)  # a record: the basis does not matter
    (allowing if allowed else blocking).append(reason)
    if allowed and plan.expiry is not None and latest.at < plan.expiry[0]:
        _cutoff, max_age, source = plan.expiry
        blocking.append(
            Reason(
                CONSENT_EXPIRED,
                f"the consent of {_day(latest.at)} is older than {max_age} ({source}): ask again",
            )
        )


def _suppression(
    policy: Policy, latest: LatestRecord | None, on_lists: Sequence[int], blocking: list[Reason]
) -> None:
    if not on_lists:
        return
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
        blocking.append(
            Reason(
                SUPPRESSED,
                f"on the suppression list {copy.name} (imported {_day(copy.imported_at)})",
            )
        )


def _timing(
    plan: _Plan,
    subject: Subject,
    history: Sequence[LatestRecord],
    decisive: Sequence[LatestRecord],
    at: datetime,
    blocking: list[Reason],
) -> None:
    for rule, window in plan.windows:
        zone = subject.timezone or plan.zone or "UTC"  # looked up only when a window applies
        if not in_window(window, at, zone, plan.holidays):
            local = at.astimezone(_zone(zone))
            blocking.append(
                Reason(
                    OUTSIDE_HOURS,
                    f"contact only {window.describe()} ({cite(rule)}); it is "
                    f"{local:%a %H:%M} in {zone}",
                )
            )
    for rule, count, since, period in plan.attempts:
        done = sum(1 for r in history if r.action == "contact" and r.at > since)
        if done >= count:
            blocking.append(
                Reason(
                    TOO_MANY_ATTEMPTS,
                    f"{done} contact attempts in the last {period}, the most allowed is {count} "
                    f"({cite(rule)})",
                )
            )
    refusals = [r.at for r in decisive if r.action in ("withdraw", "opposition")]
    refused = max(refusals) if refusals else None
    for rule, since, period in plan.cooldowns:
        if refused is not None and refused > since:
            blocking.append(
                Reason(
                    COOLDOWN,
                    f"refused on {_day(refused)}: no contact for {period} after a "
                    f"refusal ({cite(rule)})",
                )
            )


def _spec_window(
    policy: Policy,
    chosen: str | SendingWindow,
    subject: Subject,
    markets: Sequence[str],
    at: datetime,
    blocking: list[Reason],
) -> None:
    if isinstance(chosen, str):
        preset = policy.book.preset(chosen)
        if preset is None:
            return
        window, source = preset.window, f"preset {preset.id}: {preset.source.citation}"
    else:
        window = Window(
            days=chosen.days, hours=chosen.hours, public_holidays=chosen.public_holidays
        )
        source = "the spec's sending_window"
    assert policy.spec is not None
    for market in markets or policy.spec.target_markets:
        pack = policy.book.pack(market)
        zone = subject.timezone or pack.timezone or "UTC"
        if not in_window(window, at, zone, pack.holidays):
            local = at.astimezone(_zone(zone))
            blocking.append(
                Reason(
                    OUTSIDE_HOURS,
                    f"send only {window.describe()} ({source}); it is {local:%a %H:%M} in {zone}",
                )
            )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
