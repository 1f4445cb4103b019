"""Applying the rules to plain facts: a channel, an audience, a market, a day.

``requirement`` says what contacting someone needs there and then, with every rule that
applies; ``check_purpose`` compares it with what a purpose declares (its legal basis, its
existing-customer exception). Both take facts, never a spec, so that ``spec.py`` can ask them
without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from .load import RuleBook
from .model import (
    DURATION,
    WEEKDAYS,
    Attempts,
    Condition,
    CostLimit,
    Element,
    NumberType,
    Registry,
    Rule,
    Window,
)

if TYPE_CHECKING:
    from holidays import HolidayBase

NUMBER_TYPES: tuple[NumberType, ...] = ("mobile", "fixed_line")

CHANNEL_WORDS = {"sms": "SMS", "email": "E-mail", "phone": "Phone", "post": "Postal"}
CONDITION_WORDS: dict[str, str] = {
    "obtained_in_sale": "the contact details were obtained from the customer in a sale",
    "own_similar_products": "the messages offer the sender's own similar products or services",
    "opt_out_at_collection": "a free, simple opt-out was offered when the details were collected",
    "opt_out_in_every_message": "every message offers a free, simple opt-out",
    "within_12_months_of_sale": "the first message is sent within 12 months of the sale",
}
_COST = {"free": 0, "transmission": 1}


@dataclass(frozen=True)
class Requirement:
    """What contacting someone by one channel in one market on one day needs, and why."""

    market: str
    channel: str
    audience: str
    day: date
    number_type: NumberType | None
    requires: Literal["consent", "opt-out"] | None  # None: no channel rule applies
    member_state: bool  # consent asked because the law is left to a state with no pack
    deciding: tuple[Rule, ...]  # the rules that set `requires`
    rules: tuple[Rule, ...]  # every rule that applies
    soft_opt_in: tuple[Condition, ...] | None  # the existing-customer exception, if any
    except_contract: bool  # a contact within an ongoing contract is allowed
    registries: tuple[Registry, ...]
    message: tuple[Element, ...]
    opt_out_cost: CostLimit | None
    windows: tuple[tuple[Rule, Window], ...] = ()
    attempts: tuple[tuple[Rule, Attempts], ...] = ()
    cooldowns: tuple[tuple[Rule, str], ...] = ()
    consent_max_age: tuple[Rule, str] | None = None
    proof_retention: tuple[Rule, str] | None = None
    collection: tuple[tuple[Rule, str], ...] = field(default=())

    @property
    def label(self) -> str:
        """E.g. 'SMS prospecting of consumers in FR'."""
        split = self.number_type is not None and any(r.numbers for r in self.rules)
        kind = f" ({str(self.number_type).replace('_', ' ')})" if split else ""
        return (
            f"{CHANNEL_WORDS[self.channel]} prospecting of {self.audience}{kind} in {self.market}"
        )


def _applies(
    rule: Rule | Registry, channel: str, audience: str, day: date, number: str | None
) -> bool:
    return (
        channel in rule.channels
        and audience in rule.audiences
        and rule.in_force(day)
        and (not rule.numbers or number is None or number in rule.numbers)
    )


def requirement(
    book: RuleBook,
    market: str,
    channel: str,
    audience: str,
    day: date,
    number_type: NumberType | None = None,
) -> Requirement:
    """What contacting someone needs. ``number_type`` None (not known) takes every rule for
    any kind of number, so the strictest applies."""
    pack = book.pack(market)
    rules = [r for r in pack.rules if _applies(r, channel, audience, day, number_type)]
    deciding = [r for r in rules if r.requires]
    baseline = book.packs["EU"]
    if not deciding and pack.extends == "EU" and pack is not baseline:
        # the market's pack is silent on this channel and audience: the EU baseline decides
        inherited = [r for r in baseline.rules if _applies(r, channel, audience, day, number_type)]
        deciding = [r for r in inherited if r.requires]
        rules += inherited
    consent = [r for r in deciding if r.requires in ("consent", "member-state")]
    requires: Literal["consent", "opt-out"] | None
    if consent:
        requires = "consent"
    elif deciding:
        requires = "opt-out"
    else:
        requires = None
    soft: tuple[Condition, ...] | None = None
    if consent and all(r.soft_opt_in is not None for r in consent):
        conditions: list[Condition] = []
        for rule in consent:
            conditions += [c for c in rule.soft_opt_in or () if c not in conditions]
        soft = tuple(conditions)
    registry_ids = {rid for r in rules for rid in r.registries}
    registries = tuple(
        registry
        for rid in sorted(registry_ids)
        if (registry := _registry(book, pack.market, rid)) is not None
        and _applies(registry, channel, audience, day, number_type)
    )
    cost: CostLimit | None = None  # the strictest limit: free before transmission
    for rule in rules:
        if rule.opt_out_cost and (cost is None or _COST[rule.opt_out_cost] < _COST[cost]):
            cost = rule.opt_out_cost
    ages = [(r, r.consent_max_age) for r in rules if r.consent_max_age]
    proofs = [(r, r.proof_retention) for r in rules if r.proof_retention]
    return Requirement(
        market=market,
        channel=channel,
        audience=audience,
        day=day,
        number_type=number_type,
        requires=requires,
        member_state=any(r.requires == "member-state" for r in consent),
        deciding=tuple(deciding),
        rules=tuple(rules),
        soft_opt_in=soft,
        except_contract=bool(deciding) and all(r.except_contract for r in deciding),
        registries=registries,
        message=tuple(dict.fromkeys(e for r in rules for e in r.message)),
        opt_out_cost=cost,
        windows=tuple((r, r.window) for r in rules if r.window),
        attempts=tuple((r, r.max_attempts) for r in rules if r.max_attempts),
        cooldowns=tuple((r, r.cooldown_after_refusal) for r in rules if r.cooldown_after_refusal),
        consent_max_age=min(ages, key=lambda item: days(item[1])) if ages else None,
        proof_retention=max(proofs, key=lambda item: days(item[1])) if proofs else None,
        collection=tuple((r, text) for r in rules for text in r.collection),
    )


def _registry(book: RuleBook, market: str, registry_id: str) -> Registry | None:
    pack = book.pack(market)
    for registry in pack.registries:
        if registry.id == registry_id:
            return registry
    return book.registry(registry_id)


def variants(
    book: RuleBook, market: str, channel: str, audience: str, day: date
) -> list[Requirement]:
    """One requirement per kind of phone number where the rules tell them apart (Ireland:
    mobiles need consent, fixed lines are screened), else one for any number."""
    pack = book.pack(market)
    split = any(r.numbers for r in (*pack.rules, *book.packs["EU"].rules) if channel in r.channels)
    if not split:
        return [requirement(book, market, channel, audience, day)]
    return [requirement(book, market, channel, audience, day, kind) for kind in NUMBER_TYPES]


@dataclass(frozen=True)
class Finding:
    """What the rules say of one purpose in one market: an error, or a warning."""

    field: str  # relative to the purpose: "legal_basis", "soft_opt_in.own_similar_products"
    message: str
    severity: Literal["error", "warning"] = "error"


def cite(rule: Rule | Registry) -> str:
    """'FR-CPCE-L34-5: CPCE art. L.34-5, https://...'."""
    return f"{rule.id}: {rule.source.citation}, {rule.source.url}"


def check_purpose(
    required: Requirement, basis: str, soft_opt_in: Mapping[str, bool] | None
) -> list[Finding]:
    """Whether a purpose's legal basis (and its existing-customer exception) meets the rules."""
    if required.requires != "consent" or basis == "consent":
        return []
    if basis == "contract" and required.except_contract:
        return []
    sources = "; ".join(cite(r) for r in required.deciding)
    if soft_opt_in is not None:
        if required.soft_opt_in is None:
            return [
                Finding(
                    "soft_opt_in",
                    f"{required.label}: the existing-customer exception does not apply: "
                    f"prior consent is required ({sources})",
                )
            ]
        return [
            Finding(
                f"soft_opt_in.{condition}",
                f"{required.label}: the existing-customer exception requires that "
                f"{CONDITION_WORDS[condition]} ({sources})",
            )
            for condition in required.soft_opt_in
            if not soft_opt_in.get(condition, False)
        ]
    if required.member_state:
        why = (
            f"{required.label}: the EU leaves this to each member state and the rules for "
            f"{required.market} do not settle it, so the toolkit requires prior consent "
            f"({sources})"
        )
    else:
        why = f"{required.label} requires prior consent ({sources})"
    hints = []
    if required.soft_opt_in is not None:
        hints.append("existing customers only under the exception: declare [purposes.soft_opt_in]")
    if required.except_contract:
        hints.append('calls within an ongoing contract: legal_basis = "contract"')
    return [Finding("legal_basis", why + (f"; {'; '.join(hints)}" if hints else ""))]


# --- time: durations, local time, windows ---------------------------------------------------


def _parts(duration: str) -> tuple[int, int, int, int]:
    match = DURATION.fullmatch(duration)
    if match is None or not any(match.groups()):
        raise ValueError(f"expected an ISO 8601 duration like P3Y, got {duration!r}")
    years, months, weeks, day_count = (int(g) if g else 0 for g in match.groups())
    return years, months, weeks, day_count


def days(duration: str) -> int:
    """An ISO 8601 duration in days, months and years counted as 30 and 365 (for ordering)."""
    years, months, weeks, day_count = _parts(duration)
    return years * 365 + months * 30 + weeks * 7 + day_count


def add_duration(moment: datetime, duration: str, sign: int = 1) -> datetime:
    """``moment`` + an ISO 8601 duration (``sign=-1``: minus), calendar-aware for years and
    months (31 January + P1M is 28 or 29 February)."""
    years, months, weeks, day_count = (sign * part for part in _parts(duration))
    month = moment.month - 1 + months + 12 * years
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, _month_length(year, month))
    return moment.replace(year=year, month=month, day=day) + timedelta(weeks=weeks, days=day_count)


def _month_length(year: int, month: int) -> int:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


@cache
def _calendar(country: str) -> HolidayBase:
    # imported here: only a sending window on a day that may be a holiday needs the
    # calendars, and importing them (40 ms) would slow every import of the rules
    import holidays

    return holidays.country_holidays(country)


def in_window(window: Window, moment: datetime, zone: str, country: str | None) -> bool:
    """Whether an aware ``moment`` falls in ``window`` in the time zone ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    holiday = country is not None and local.date() in _calendar(country)
    return window.allows(WEEKDAYS[local.weekday()], local.time(), holiday)
