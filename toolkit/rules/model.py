"""What a rule pack file says: rules, registries and presets, each with its source and dates.

A pack is data (``toolkit/rules/packs/<market>.toml``); this module only describes and checks
its shape, so that a pack with a rule that lacks a source, a date or a known channel is
refused with the place of the problem, like a spec.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Channel = Literal["sms", "email", "phone", "post"]
Audience = Literal["consumers", "businesses"]
NumberType = Literal["mobile", "fixed_line"]
Requirement = Literal["consent", "opt-out", "member-state"]
Kind = Literal["law", "guidance", "convention"]
Element = Literal["identity", "opt-out", "commercial-nature"]
CostLimit = Literal["free", "transmission"]
Condition = Literal[
    "obtained_in_sale",
    "own_similar_products",
    "opt_out_at_collection",
    "opt_out_in_every_message",
    "within_12_months_of_sale",
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

CHANNELS: tuple[Channel, ...] = ("sms", "email", "phone", "post")
AUDIENCES: tuple[Audience, ...] = ("consumers", "businesses")
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _duration(value: str) -> str:
    match = DURATION.fullmatch(value)
    if not match or not any(match.groups()):
        raise ValueError(f"expected an ISO 8601 duration like P30D or P3Y, got {value!r}")
    return value


def _official_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"expected the official URL of the source, got {value!r}")
    return value


def _rule_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"expected an id of letters, digits, dots and dashes, got {value!r}")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
Url = Annotated[str, AfterValidator(_official_url)]
Id = Annotated[str, AfterValidator(_rule_id)]
Text = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Source(_Model):
    """Where a rule comes from: the instrument and article, and its official text online."""

    citation: Text = Field(description="short citation, e.g. 'CPCE art. L.34-5'")
    url: Url = Field(description="official URL of the text (Légifrance, EUR-Lex, BOE...)")


class Dated(_Model):
    """Something with dates of effect: ``from`` (first day) and ``until`` (last day)."""

    from_: date = Field(alias="from", description="first day of effect")
    until: date | None = Field(None, description="last day of effect (none: still in force)")

    @model_validator(mode="after")
    def _ordered(self) -> Dated:
        if self.until is not None and self.until < self.from_:
            raise ValueError(f"until ({self.until}) is before from ({self.from_})")
        return self

    def in_force(self, day: date) -> bool:
        """Whether this applies on ``day``."""
        return self.from_ <= day and (self.until is None or day <= self.until)


class Window(_Model):
    """When contact is allowed: on these days, in these time ranges (local time)."""

    days: tuple[Weekday, ...] = WEEKDAYS
    hours: tuple[tuple[time, time], ...] = Field(description="[[start, end], ...], local time")
    public_holidays: bool = Field(True, description="false: never on a public holiday")

    @model_validator(mode="after")
    def _ranges(self) -> Window:
        if not self.hours:
            raise ValueError("give at least one time range")
        for start, end in self.hours:
            if end <= start:
                raise ValueError(f"the range {start}-{end} ends before it starts")
        return self

    def allows(self, moment_day: str, moment_time: time, holiday: bool) -> bool:
        """Whether a local moment (weekday, time, holiday or not) falls in the window."""
        if moment_day not in self.days or (holiday and not self.public_holidays):
            return False
        return any(start <= moment_time < end for start, end in self.hours)

    def describe(self) -> str:
        """The window in words, e.g. 'mon-fri 10:00-13:00, 14:00-20:00, no public holidays'."""
        order = [WEEKDAYS.index(d) for d in self.days]
        if len(order) == len(WEEKDAYS):
            days = "every day"
        elif len(order) > 2 and order == list(range(order[0], order[0] + len(order))):
            days = f"{self.days[0]}-{self.days[-1]}"
        else:
            days = ", ".join(self.days)
        hours = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.hours)
        return f"{days} {hours}" + ("" if self.public_holidays else ", no public holidays")


class Attempts(_Model):
    """At most ``count`` contacts (attempts included) in ``period``."""

    count: int = Field(ge=1)
    period: Duration


class Rule(Dated):
    """One rule of one market: to whom and by which channel it applies, what it requires."""

    id: Id
    summary: Text = Field(description="what the rule says, in a sentence")
    kind: Kind = Field("law", description="law, or guidance of an authority, or convention")
    source: Source
    channels: tuple[Channel, ...] = Field(min_length=1)
    audiences: tuple[Audience, ...] = AUDIENCES
    numbers: tuple[NumberType, ...] = Field((), description="phone numbers of these types only")
    requires: Requirement | None = Field(None, description="what a contact needs first")
    soft_opt_in: tuple[Condition, ...] | None = Field(
        None, description="the existing-customer exception to consent, and its conditions"
    )
    except_contract: bool = Field(False, description="a contact within an ongoing contract")
    registries: tuple[Id, ...] = Field((), description="registries to screen before contact")
    message: tuple[Element, ...] = Field((), description="what each message must carry")
    opt_out_cost: CostLimit | None = Field(None, description="the most an opt-out may cost")
    window: Window | None = None
    max_attempts: Attempts | None = None
    cooldown_after_refusal: Duration | None = None
    consent_max_age: Duration | None = None
    proof_retention: Duration | None = None
    collection: tuple[Text, ...] = Field((), description="what to tell the person at collection")
    note: Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.soft_opt_in is not None and self.requires != "consent":
            raise ValueError("soft_opt_in is an exception to consent: requires must be consent")
        return self


class Registry(Dated):
    """A national list of people who object to being contacted (Bloctel, Robinson...)."""

    id: Id
    name: Text
    source: Source
    channels: tuple[Channel, ...] = Field(min_length=1)
    audiences: tuple[Audience, ...] = AUDIENCES
    numbers: tuple[NumberType, ...] = ()
    consent_overrides: bool = Field(
        description="whether the person's consent to this sender lets it contact them anyway"
    )
    contract_overrides: bool = Field(
        False, description="whether a contact within an ongoing contract is allowed anyway"
    )
    refresh: Duration | None = Field(None, description="screen against a copy at most this old")
    note: Text | None = None


class Preset(Dated):
    """A named sending window a spec may choose (an industry convention, never law)."""

    id: Id
    summary: Text
    kind: Kind = "convention"
    source: Source
    channels: tuple[Channel, ...] = Field(min_length=1)
    window: Window
    note: Text | None = None


class Pack(_Model):
    """The rules of one market (ISO 3166-1 code), or of the EU baseline (``EU``)."""

    market: Annotated[str, Field(pattern=r"^(EU|[A-Z]{2})$")]
    name: Text
    extends: Literal["EU"] | None = Field(
        None, description="EU: the baseline applies to channels and audiences this pack omits"
    )
    timezone: Text | None = None
    holidays: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    rules: tuple[Rule, ...] = ()
    registries: tuple[Registry, ...] = ()
    presets: tuple[Preset, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Pack:
        seen: set[str] = set()
        items: list[Rule | Registry | Preset] = [*self.rules, *self.registries, *self.presets]
        for item in items:
            if item.id in seen:
                raise ValueError(f"id {item.id!r} is used twice")
            seen.add(item.id)
        known = {r.id for r in self.registries}
        for rule in self.rules:
            for registry in rule.registries:
                if registry not in known:
                    raise ValueError(f"rule {rule.id} names an unknown registry {registry!r}")
        return self
