"""Step 1 and 2 of the pipeline: read a spec file and validate it into a frozen ``Spec``.

The schema is pydantic (types, formats); ``_semantic_problems`` adds the checks that span
fields (every locale has every text, a consent purpose has its checkbox label...). Every
problem is reported with its dotted path, all at once, as a ``SpecError``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from .authorities import AUTHORITIES
from .errors import Problem, RulesError, SpecError
from .i18n import SUPPORTED_LOCALES, TERRITORY_CODES
from .rules import (
    CHANNELS,
    RuleBook,
    check_purpose,
    cite,
    days,
    requirement,
    shipped,
    variants,
)

Channel = Literal["sms", "email", "phone", "post", "web"]
LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
Requirement = Literal["statutory", "contractual", "pre_contract"]
Audience = Literal["consumers", "businesses"]
OptOutCost = Literal["free", "standard-rate"]
CollectedFrom = Literal["person", "source"]
#: When a retention period starts: a date the person can know, never one that restarts each
#: time we write to them (L-07). ``last_inbound_contact``: their last reply, click or request.
RetentionFrom = Literal[
    "collection", "last_inbound_contact", "end_of_contract", "end_of_year", "last_event"
]
StopScope = Literal["sms", "all"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Safeguard = Literal[
    "adequacy_decision",
    "standard_contractual_clauses",
    "binding_corporate_rules",
    "derogation",
]

_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
_SLUG = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9 .\-]{1,11}")
_NUMERIC_SENDER = re.compile(r"\+?\d{3,15}")


def parse_duration(value: str) -> tuple[int, int, int, int]:
    """Split an ISO 8601 date duration (P3Y, P1Y6M, P30D) into years, months, weeks, days."""
    match = _DURATION.fullmatch(value)
    if not match or not any(match.groups()):
        raise ValueError(f"expected an ISO 8601 duration like P3Y, got {value!r}")
    parts = tuple(int(g) if g else 0 for g in match.groups())
    if not any(parts):
        raise ValueError(f"expected a duration longer than zero, got {value!r}")
    return parts[0], parts[1], parts[2], parts[3]


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "expected an id of lowercase letters, digits and underscores starting with a letter, "
            f"like sms_offers, got {value!r}"
        )
    return value


def _https(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError(f"expected an https:// URL, got {value!r}")
    return value


def _country(value: str) -> str:
    if value not in TERRITORY_CODES:
        raise ValueError(f"expected an ISO 3166-1 alpha-2 country code like FR, got {value!r}")
    return value


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError(
            f"expected an e-mail address like privacy@example.com, got {value!r}"
        ) from None


def _phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            f"expected a phone number in international format like +33 1 23 45 67 89, got {value!r}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _sender(value: str) -> str:
    numeric = _NUMERIC_SENDER.fullmatch(value)
    alpha = _ALPHA_SENDER.fullmatch(value) and any(c.isalpha() for c in value)
    if not (numeric or alpha):
        raise ValueError(
            "expected an alphanumeric sender id (at most 11 letters, digits or spaces, at least "
            f"one letter) or a phone number / short code in digits, got {value!r}"
        )
    return value


def _digits(value: str) -> str:
    if not _NUMERIC_SENDER.fullmatch(value):
        raise ValueError(f"expected a number or short code in digits like 36111, got {value!r}")
    return value


def _opt_out(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return value
    raise ValueError(
        "expected the opt-out instruction as a string like 'STOP au 36111' or a table of one "
        f"string per locale, got {value!r}"
    )


def _preset_id(value: str) -> str:
    if shipped().preset(value) is None:
        known = ", ".join(p.id for p in shipped().presets())
        raise ValueError(f"unknown sending-window preset {value!r} (presets: {known})")
    return value


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


V = TypeVar("V")

Text = Annotated[str, Field(min_length=1)]
Https = Annotated[str, AfterValidator(_https), Field(description="an https:// URL")]
Country = Annotated[
    str, AfterValidator(_country), Field(description="ISO 3166-1 alpha-2 code, e.g. FR")
]
Email = Annotated[str, AfterValidator(_email)]
Phone = Annotated[
    str, AfterValidator(_phone), Field(description="international format, e.g. +33 1 23 45 67 89")
]
PerLocale = Annotated[
    Mapping[str, V],
    AfterValidator(_freeze),
    PlainSerializer(dict),
    Field(description="one entry per locale declared in `locales`"),
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Controller(_Model):
    """The data controller (GDPR Art. 13(1)(a))."""

    name: Text
    legal_form: Text | None = None
    address: Text | None = None
    country: Country
    email: Email
    phone: Phone | None = None
    website: Https | None = None
    registration_id: Text | None = Field(None, description="e.g. RCS / SIREN / HRB number")


class Representative(_Model):
    """The controller's representative in the Union (Art. 27)."""

    name: Text
    address: Text
    email: Email | None = None
    phone: Phone | None = None


class Dpo(_Model):
    """The data protection officer's contact (Art. 13(1)(b)); at least one way to reach them."""

    name: Text | None = None
    email: Email | None = None
    address: Text | None = None
    phone: Phone | None = None
    website: Https | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Dpo:
        if not (self.email or self.address or self.phone or self.website):
            raise ValueError(
                "give at least one way to reach the DPO: email, address, phone or website"
            )
        return self


class Authority(_Model):
    """The supervisory authority a person may complain to (Art. 13(2)(d), Art. 77)."""

    name: Text
    address: Text
    website: Https
    country: Country | None = Field(
        None, description="where the authority is (default: the controller's country)"
    )


class Transfer(_Model):
    """A transfer to a third country and its safeguard (Art. 13(1)(f))."""

    country: Country
    safeguard: Safeguard
    copy_url: Https | None = Field(None, description="where a copy of the safeguard is available")


class PurposeText(_Model):
    """What a person reads about one purpose, in one locale."""

    name: Text
    description: Text
    label: Text | None = Field(None, description="checkbox label; required for consent")
    legitimate_interest: Text | None = Field(None, description="required for legitimate_interests")
    data_categories: tuple[Text, ...] = ()
    recipients: tuple[Text, ...] = ()
    retention_note: Text | None = Field(
        None, description="more about retention, e.g. what happens after unsubscribing"
    )
    consequence: Text | None = Field(None, description="what happens if the data is not given")
    automated_logic: Text | None = Field(None, description="required when automated_decision")


class SoftOptIn(_Model):
    """The existing-customer exception to consent (ePrivacy art. 13(2) as each market
    transposed it): the conditions this purpose meets. The market's rule says which it needs."""

    obtained_in_sale: bool = Field(
        False, description="the contact details were obtained from the customer in a sale"
    )
    own_similar_products: bool = Field(
        False, description="the messages offer your own products similar to those sold"
    )
    opt_out_at_collection: bool = Field(
        False, description="a free, simple opt-out was offered when the details were collected"
    )
    opt_out_in_every_message: bool = Field(
        False, description="every message offers a free, simple opt-out"
    )
    within_12_months_of_sale: bool = Field(
        False, description="the first message goes within 12 months of the sale (Ireland)"
    )


class Purpose(_Model):
    """One purpose of processing: one checkbox, one consent, one line of every notice."""

    id: Annotated[str, AfterValidator(_slug)]
    channel: Channel
    legal_basis: LegalBasis
    retention: Annotated[str, AfterValidator(_duration), Field(description="ISO 8601, e.g. P3Y")]
    retention_from: RetentionFrom = Field(
        description="when the retention period starts: collection, last_inbound_contact (the"
        " person's last reply, click or request), end_of_contract, end_of_year, last_event"
    )
    collected_from: tuple[CollectedFrom, ...] = Field(
        ("person",),
        min_length=1,
        description="where this purpose's data comes from: the person (Art. 13, a form or a"
        " call they make) and/or the [source] (Art. 14)",
    )
    direct_marketing: bool = True
    audience: Audience = Field("consumers", description="who is contacted: consumers or businesses")
    soft_opt_in: SoftOptIn | None = Field(
        None, description="existing customers without consent: the conditions met"
    )
    max_age: Annotated[str, AfterValidator(_duration)] | None = Field(
        None, description="a consent older than this no longer allows contact (market default)"
    )
    required: bool = Field(False, description="whether providing the data is required")
    requirement: Requirement | None = Field(
        None, description="when required: statutory, contractual or pre_contract (Art. 13(2)(e))"
    )
    automated_decision: bool = False
    transfers: tuple[Transfer, ...] = ()
    text: PerLocale[PurposeText]


class SourceText(_Model):
    """Where the data came from, in one locale (Art. 14(2)(f))."""

    description: Text
    sms: Text | None = Field(
        None,
        description="the same, addressed to the person, short enough for an SMS or a call"
        " (e.g. 'votre annonce en ligne'); required when an SMS or phone purpose uses the source",
    )


class Source(_Model):
    """The source of data not collected from the person (Art. 14)."""

    publicly_accessible: bool
    provider: Text | None = Field(
        None, description="the company that supplied the data, if any (named in the notices)"
    )
    text: PerLocale[SourceText]


class Confirmation(_Model):
    """Double opt-in: how a consent given on a form is confirmed by the person who holds the
    number or the address (GDPR Art. 7(1); BGH I ZR 164/09). Until then it is pending."""

    sms: Literal["sms-reply", "code", "none"] = Field(
        "sms-reply", description="sms-reply (YES to a confirmation SMS), code (typed on the page)"
    )
    email: Literal["email-link", "code", "none"] = Field(
        "email-link", description="email-link (a link sent by e-mail), code, or none"
    )
    expires: Annotated[str, AfterValidator(_duration)] = Field(
        "P7D", description="an unconfirmed consent lapses after this (ISO 8601)"
    )


class Proof(_Model):
    """The toolkit's own processing: proof of consent (Art. 7(1)) and of objections kept so that
    they are honoured (Art. 21(3)). Disclosed in the full notice; kept as long as set, never
    forever."""

    retention: Annotated[str, AfterValidator(_duration), Field(description="ISO 8601, e.g. P5Y")]
    retention_from: RetentionFrom = "last_event"


class SmsKeywords(_Model):
    """Reply words this spec adds to the shipped lists (toolkit/sms/keywords.toml)."""

    opt_out: tuple[Text, ...] = ()
    opt_in: tuple[Text, ...] = ()
    help: tuple[Text, ...] = ()


class SendingWindow(_Model):
    """When messages may be sent, in the recipient's local time."""

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours: tuple[tuple[time, time], ...] = Field(description="[[start, end], ...], e.g. 08:00")
    public_holidays: bool = Field(True, description="false: never on a public holiday")


class Sms(_Model):
    """SMS settings: who sends, and how to stop."""

    sender: Annotated[str, AfterValidator(_sender)]
    opt_out: Annotated[
        Mapping[str, str] | str | None,
        BeforeValidator(_opt_out),
        Field(description="the opt-out as written in the SMS, e.g. 'STOP au 36111', or per locale"),
    ] = None
    opt_out_keyword: Text = "STOP"
    opt_out_number: Annotated[str, AfterValidator(_digits)] | None = None
    opt_out_cost: OptOutCost | None = Field(
        None,
        description="what the opt-out SMS costs: free (zero-rated) or standard-rate (no premium);"
        " rendered only when set, and only as it is",
    )
    opt_out_country: Country | None = Field(
        None, description="where a short code can be reached (default: the controller's country)"
    )
    opt_out_url: Https | None = Field(None, description="a web page where anyone can opt out")
    stop_scope: StopScope = Field(
        "sms", description="what an SMS opt-out stops: sms (every SMS purpose) or all marketing"
    )
    sending_window: Annotated[str, AfterValidator(_preset_id)] | SendingWindow | None = Field(
        None, description="a preset id (e.g. af2m) or a window; off by default"
    )
    link: Https | None = Field(
        None, description="short link to the full notice; default notice_url"
    )
    link_in_every_message: bool = Field(
        False,
        description="every SMS carries the link too (the law asks identity and opt-out; the"
        " first message always carries the link)",
    )
    max_segments: int = Field(3, ge=1, le=10, description="preview warns above this many segments")
    keywords: SmsKeywords = SmsKeywords()

    @property
    def reply_number(self) -> str | None:
        """Where replies go: the opt-out number, or the sender when it is a number."""
        if self.opt_out_number:
            return self.opt_out_number
        return self.sender if _NUMERIC_SENDER.fullmatch(self.sender) else None


class Spec(_Model):
    """A data controller and its purposes: the single source of every artefact."""

    locales: tuple[str, ...] = Field(description="at least one of fr, en, de, es, it")
    markets: tuple[Country, ...] = Field(
        (), description="where the people contacted are (default: the controller's country)"
    )
    notice_url: Https
    withdraw_url: Https | None = Field(
        None,
        description="a web page where anyone can withdraw consent or object (EDPB 05/2020"
        " para 116: as easily as consent was given)",
    )
    updated: date | None = Field(None, description="date of this version of the notice")
    controller: Controller
    representative: Representative | None = None
    dpo: Dpo | None = None
    authority: Authority | None = Field(None, description="default: from controller.country")
    purposes: tuple[Purpose, ...] = Field(description="at least one purpose")
    source: Source | None = None
    confirmation: Confirmation = Field(
        Confirmation(), description="double opt-in per channel (default: on for sms and email)"
    )
    proof: Proof | None = Field(
        None,
        description="required with a consent or direct-marketing purpose: how long the"
        " proof of choices is kept",
    )
    sms: Sms | None = None

    @property
    def target_markets(self) -> tuple[str, ...]:
        """The markets whose law applies: ``markets``, or the controller's country."""
        return self.markets or (self.controller.country,)

    @property
    def supervisory_authority(self) -> Authority:
        """The named authority, or the default for the controller's country."""
        if self.authority is not None:
            return self.authority
        return Authority(**AUTHORITIES[self.controller.country])

    @property
    def supervisory_authority_country(self) -> str:
        """The authority's country: a reader of another language gets a gloss of its name."""
        return self.supervisory_authority.country or self.controller.country

    def confirmation_for(self, channel: str) -> str | None:
        """How a form consent for this channel is confirmed, or None when it needs none (the
        channel has no confirmation route, or the spec turned it off)."""
        method = {"sms": self.confirmation.sms, "email": self.confirmation.email}.get(channel)
        return None if method in (None, "none") else method

    def sms_unreachable_markets(self) -> tuple[str, ...]:
        """The markets the SMS opt-out number cannot be reached from: a short code or national
        number works only in ``opt_out_country`` (default the controller's); an international
        number (+...) works everywhere."""
        number = None if self.sms is None else self.sms.reply_number
        if self.sms is None or number is None or number.startswith("+"):
            return ()
        home = self.sms.opt_out_country or self.controller.country
        return tuple(market for market in self.target_markets if market != home)

    def sms_stop_purposes(self) -> tuple[str, ...]:
        """What an SMS opt-out (STOP) stops, as ``[sms] stop_scope`` says and the notices say:
        every SMS purpose, or every direct-marketing purpose."""
        scope = "sms" if self.sms is None else self.sms.stop_scope
        return tuple(
            p.id
            for p in self.purposes
            if p.channel == "sms" or (scope == "all" and p.direct_marketing)
        )

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose with this id (KeyError when the spec has none)."""
        for purpose in self.purposes:
            if purpose.id == purpose_id:
                return purpose
        raise KeyError(purpose_id)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or "-" in part:  # pydantic's names of union members
            continue
        else:
            out += f".{part}" if out else part
    return out


_REPLACED = {
    "opt_out_free": 'replaced by opt_out_cost = "free" (replying costs nothing) or '
    '"standard-rate" (a normal, non-premium SMS)',
}


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        field = str(error["loc"][-1]) if error["loc"] else ""
        return _REPLACED.get(field, "unknown field (check its spelling)")
    if kind == "value_error":
        return str(error["ctx"]["error"])
    msg = str(error["msg"])
    if msg.startswith("Input should be"):
        msg = "expected" + msg[len("Input should be") :]
    return f"{msg}, got {error['input']!r}"


def _need_locales(
    path: str, given: Mapping[str, Any], locales: tuple[str, ...]
) -> Iterator[Problem]:
    for loc in locales:
        if loc not in given:
            yield Problem(path, f"missing the text for locale {loc!r} (declared in locales)")
    for loc in given:
        if loc not in locales:
            yield Problem(f"{path}.{loc}", f"locale {loc!r} is not declared in locales")


def _semantic_problems(spec: Spec) -> Iterator[Problem]:
    locales = spec.locales
    if not locales:
        yield Problem("locales", 'expected at least one locale, like ["fr", "en"]')
    if not spec.purposes:
        yield Problem("purposes", "expected at least one purpose")
    for i, loc in enumerate(locales):
        if loc not in SUPPORTED_LOCALES:
            yield Problem(
                f"locales[{i}]",
                f"expected one of {', '.join(SUPPORTED_LOCALES)}, got {loc!r}",
            )
        if loc in locales[:i]:
            yield Problem(f"locales[{i}]", f"locale {loc!r} is listed twice")
    if spec.authority is None and spec.controller.country not in AUTHORITIES:
        yield Problem(
            "authority",
            f"required: no default supervisory authority for country {spec.controller.country!r}"
            f" (known: {', '.join(sorted(AUTHORITIES))})",
        )
    seen: set[str] = set()
    for i, purpose in enumerate(spec.purposes):
        at = f"purposes[{i}]"
        if purpose.id in seen:
            yield Problem(f"{at}.id", f"duplicate purpose id {purpose.id!r}")
        seen.add(purpose.id)
        if purpose.legal_basis == "consent" and purpose.required:
            yield Problem(
                f"{at}.required",
                "a consent purpose cannot be required: consent must be freely given (Art. 7(4))",
            )
        if purpose.required and purpose.requirement is None:
            yield Problem(
                f"{at}.requirement",
                "required when the data is required: statutory, contractual or pre_contract "
                "(Art. 13(2)(e))",
            )
        if purpose.requirement is not None and not purpose.required:
            yield Problem(f"{at}.requirement", "only for a purpose with required = true")
        yield from _need_locales(f"{at}.text", purpose.text, locales)
        if len(set(purpose.collected_from)) != len(purpose.collected_from):
            yield Problem(f"{at}.collected_from", "list each place once")
        if "source" in purpose.collected_from and spec.source is None:
            yield Problem(
                f"{at}.collected_from",
                "the data comes from a source, so the spec needs a [source] table saying which"
                " (Art. 14(2)(f))",
            )
        counts: dict[str, set[int]] = {"data_categories": set(), "recipients": set()}
        for loc, text in purpose.text.items():
            tat = f"{at}.text.{loc}"
            if purpose.legal_basis == "consent" and not text.label:
                yield Problem(
                    f"{tat}.label", "required: a consent purpose needs its checkbox label"
                )
            if purpose.legal_basis == "legitimate_interests" and not text.legitimate_interest:
                yield Problem(
                    f"{tat}.legitimate_interest",
                    "required: name the legitimate interest the processing pursues (Art. 13(1)(d))",
                )
            if purpose.automated_decision and not text.automated_logic:
                yield Problem(
                    f"{tat}.automated_logic",
                    "required: explain the logic and consequences of the automated decision "
                    "(Art. 13(2)(f))",
                )
            if "source" in purpose.collected_from and not text.data_categories:
                yield Problem(
                    f"{tat}.data_categories",
                    "required: data not collected from the person needs its categories "
                    "(Art. 14(1)(d))",
                )
            if purpose.required and not text.consequence:
                yield Problem(
                    f"{tat}.consequence",
                    "required: say what happens if the person does not provide the data "
                    "(Art. 13(2)(e))",
                )
            counts["data_categories"].add(len(text.data_categories))
            counts["recipients"].add(len(text.recipients))
        for field, sizes in counts.items():
            if len(sizes) > 1:
                yield Problem(
                    f"{at}.text",
                    f"{field} has a different number of entries per locale; every locale must "
                    "list the same items",
                )
    if spec.source is not None:
        yield from _need_locales("source.text", spec.source.text, locales)
        users = [p for p in spec.purposes if "source" in p.collected_from]
        if not users:
            yield Problem(
                "source",
                "no purpose says its data comes from this source: add collected_from = "
                '["source"] (or ["person", "source"]) to the purposes that use it, or remove'
                " [source] (the notices say it only of those purposes, GDPR Art. 13 and 14)",
            )
        if any(p.channel in ("sms", "phone") for p in users):
            for loc, told in spec.source.text.items():
                if told.sms is None:
                    yield Problem(
                        f"source.text.{loc}.sms",
                        "required: an SMS or a call tells the person where their number comes"
                        " from, in the second person and briefly (e.g. 'your ad on example.fr')",
                    )
    if spec.proof is None and any(
        p.legal_basis == "consent" or p.direct_marketing for p in spec.purposes
    ):
        yield Problem(
            "proof",
            "required: say how long the proof of consents and objections is kept, e.g."
            ' [proof] retention = "P5Y" (from the last recorded choice); it is processing too,'
            " disclosed in the full notice (GDPR Art. 5(1)(e), 7(1), 13(2)(a))",
        )
    sms_purposes = [i for i, p in enumerate(spec.purposes) if p.channel == "sms"]
    if sms_purposes and spec.sms is None:
        yield Problem("sms", f"required: purposes[{sms_purposes[0]}] uses the sms channel")
    if spec.sms is not None:
        yield from _sms_problems(spec.sms, locales)


def _sms_problems(sms: Sms, locales: tuple[str, ...]) -> Iterator[Problem]:
    opt_out = sms.opt_out
    if isinstance(opt_out, Mapping):
        yield from _need_locales("sms.opt_out", opt_out, locales)
        written = dict(opt_out)
    elif isinstance(opt_out, str):
        written = {"": opt_out}
    else:
        written = {}
        if sms.reply_number is None:
            yield Problem(
                "sms.opt_out_number",
                "required: an alphanumeric sender cannot receive replies, so the opt-out must "
                "name a number (or write the whole instruction in sms.opt_out)",
            )
    for loc, text in written.items():
        at = f"sms.opt_out.{loc}" if loc else "sms.opt_out"
        if sms.opt_out_keyword.casefold() not in text.casefold():
            yield Problem(at, f"must contain the opt-out keyword {sms.opt_out_keyword!r}")
        if sms.opt_out_number and sms.opt_out_number not in text.replace(" ", ""):
            yield Problem(at, f"must contain the opt-out number {sms.opt_out_number!r}")


def _today() -> date:
    return datetime.now(UTC).date()


def _rule_findings(spec: Spec, day: date, book: RuleBook) -> Iterator[tuple[str, Problem]]:
    """What the channel law of each market says of each purpose on ``day``: ("error" or
    "warning", problem). Every message names the market, the rule and its source."""
    markets = spec.target_markets
    unknown = False
    for i, market in enumerate(spec.markets):
        if not book.known(market):
            unknown = True
            yield (
                "error",
                Problem(
                    f"markets[{i}]",
                    f"unknown market {market!r}: no rule pack (packs: {', '.join(book.markets())};"
                    " other EU and EEA countries follow the EU baseline)",
                ),
            )
        if market in spec.markets[:i]:
            yield "error", Problem(f"markets[{i}]", f"market {market!r} is listed twice")
    if not spec.markets and not book.known(spec.controller.country):
        yield (
            "error",
            Problem(
                "markets",
                f"required: no rule pack for the controller's country {spec.controller.country!r};"
                ' say where the people contacted are, e.g. markets = ["FR"]',
            ),
        )
        return
    if unknown:
        return
    for i, purpose in enumerate(spec.purposes):
        at = f"purposes[{i}]"
        if purpose.soft_opt_in is not None and purpose.legal_basis == "consent":
            yield (
                "error",
                Problem(
                    f"{at}.soft_opt_in",
                    "a consent purpose needs no existing-customer exception: remove soft_opt_in or "
                    "rest the purpose on legitimate interests",
                ),
            )
        if not purpose.direct_marketing or purpose.channel not in CHANNELS:
            continue
        declared = None if purpose.soft_opt_in is None else purpose.soft_opt_in.model_dump()
        for market in markets:
            found = [
                (required, check_purpose(required, purpose.legal_basis, declared))
                for required in variants(book, market, purpose.channel, purpose.audience, day)
            ]
            failing = [(r, f) for r, f in found if f]
            if failing and len(failing) == len(found):
                for _required, findings in failing[:1]:
                    for finding in findings:
                        yield "error", Problem(f"{at}.{finding.field}", finding.message)
            else:
                for _required, findings in failing:
                    for finding in findings:
                        yield (
                            "warning",
                            Problem(
                                f"{at}.{finding.field}",
                                f"{finding.message}: such contacts are blocked when you send",
                            ),
                        )
    yield from _opt_out_findings(spec, day, book)
    yield from _proof_findings(spec, day, book)


def _proof_findings(spec: Spec, day: date, book: RuleBook) -> Iterator[tuple[str, Problem]]:
    """The proof of consent is kept at least as long as a market's law asks (UWG § 7a)."""
    if spec.proof is None:
        return
    for market in spec.target_markets:
        for purpose in spec.purposes:
            if not purpose.direct_marketing or purpose.channel not in CHANNELS:
                continue
            needed = requirement(book, market, purpose.channel, purpose.audience, day)
            if needed.proof_retention is None:
                continue
            rule, period = needed.proof_retention
            if days(spec.proof.retention) < days(period):
                yield (
                    "error",
                    Problem(
                        "proof.retention",
                        f"{needed.label}: the proof of consent must be kept at least {period}"
                        f" ({cite(rule)})",
                    ),
                )
                return


def _opt_out_findings(spec: Spec, day: date, book: RuleBook) -> Iterator[tuple[str, Problem]]:
    """An SMS opt-out must reach every market, at no more than its law allows."""
    sms = spec.sms
    sms_purposes = [p for p in spec.purposes if p.channel == "sms"]
    if sms is None or not sms_purposes:
        return
    if sms.opt_out_url is None:
        home = sms.opt_out_country or spec.controller.country
        for market in spec.sms_unreachable_markets():
            yield (
                "error",
                Problem(
                    "sms.opt_out_number",
                    f"{sms.reply_number} can be reached only from {home}: people in {market} "
                    "could not opt out; give an international number (+...) or sms.opt_out_url",
                ),
            )
    for market in spec.target_markets:
        for purpose in sms_purposes:
            required = requirement(book, market, "sms", purpose.audience, day)
            if (
                required.opt_out_cost == "free"
                and sms.opt_out_cost != "free"
                and sms.opt_out_url is None
            ):
                strict = [r for r in required.rules if r.opt_out_cost == "free"]
                yield (
                    "error",
                    Problem(
                        "sms.opt_out_cost",
                        f"{required.label}: opting out must be free ("
                        + "; ".join(cite(r) for r in strict)
                        + '): set opt_out_cost = "free" if replying costs nothing, or give '
                        "sms.opt_out_url",
                    ),
                )
                break


def _confirmation_warnings(spec: Spec) -> Iterator[Problem]:
    """Consent captured on a form without double opt-in proves nothing about who holds the
    number or the address: allowed, but said."""
    for channel in ("sms", "email"):
        if getattr(spec.confirmation, channel) != "none":
            continue
        if any(p.channel == channel and p.legal_basis == "consent" for p in spec.purposes):
            yield Problem(
                f"confirmation.{channel}",
                "none: a consent typed on a form is sendable at once, though anyone can type"
                " anyone's number or address; you may be unable to prove it (GDPR Art. 7(1))",
            )


def check_spec(
    spec: Spec, *, at: date | None = None, book: RuleBook | None = None
) -> list[Problem]:
    """The warnings about a valid spec: contacts the rules will block, consent unconfirmed."""
    chosen = shipped() if book is None else book
    day = _today() if at is None else at
    rules = [p for level, p in _rule_findings(spec, day, chosen) if level == "warning"]
    return [*rules, *_confirmation_warnings(spec)]


def validate_spec(
    data: Any,
    source: str | None = None,
    *,
    at: date | None = None,
    book: RuleBook | None = None,
    law: bool = True,
) -> Spec:
    """Validate a decoded spec (a dict) into a frozen ``Spec``, or raise ``SpecError``.

    The channel law is applied as of ``at`` (default: today, UTC) with the shipped rule
    packs, or ``book`` (shipped packs joined with a user's). ``law=False`` checks the markets
    exist but not what their law says of the purposes (``optin rules explain`` reports that)."""
    if not isinstance(data, dict):
        raise SpecError([Problem("", "expected a table of settings at the top level")], source)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(
            [Problem(_path(e["loc"]), _message(e)) for e in exc.errors()], source
        ) from None
    problems = list(_semantic_problems(spec))
    if not problems:
        try:
            chosen = shipped() if book is None else book
        except RulesError as exc:
            raise SpecError([Problem("", str(exc))], source) from None
        day = _today() if at is None else at
        problems = [
            p
            for level, p in _rule_findings(spec, day, chosen)
            if level == "error" and (law or p.path.startswith("markets"))
        ]
    if problems:
        raise SpecError(problems, source)
    return spec


def load_spec(
    path: str | Path,
    *,
    at: date | None = None,
    book: RuleBook | None = None,
    law: bool = True,
) -> Spec:
    """Read a TOML (or .json) spec file and return the validated, frozen ``Spec``."""
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem("", "file not found")], name) from None
    except OSError as exc:
        raise SpecError([Problem("", f"cannot read the file: {exc.strerror}")], name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem("", f"not UTF-8 text (byte {exc.start})")], name) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise SpecError([Problem("", msg)], name) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([Problem("", f"invalid TOML: {exc}")], name) from None
    return validate_spec(data, name, at=at, book=book, law=law)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editors and other tools."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "optin-toolkit notice spec"
    return schema
