"""Step 4 of the pipeline: turn a validated spec and a locale into a template context.

The context holds data only (the spec's texts for the locale, formatted with Babel, and the
facts that decide which legal statements apply); the legal words live in the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import phonenumbers
from babel.languages import get_official_languages
from markupsafe import Markup, escape

from .artefacts import COLLECTIONS as COLLECTIONS  # where a reader's data came from
from .errors import ArtefactError
from .i18n import (
    babel_locale,
    country_name,
    format_day,
    format_duration,
    isolate,
    join,
    punctuation,
    text_direction,
    translations,
)
from .rules import CHANNELS, RuleBook, requirement, shipped
from .spec import Authority, Purpose, Spec, parse_duration

#: Legal bases under which Art. 20 portability applies.
PORTABLE_BASES = frozenset({"consent", "contract"})
#: Legal bases open to an Art. 21(1) objection on grounds of one's particular situation.
OBJECTABLE_BASES = frozenset({"legitimate_interests", "public_task"})


@dataclass(frozen=True)
class PurposeView:
    """One purpose as a template sees it, in one locale."""

    id: str
    channel: str
    legal_basis: str
    name: str
    description: str
    label: str | None
    legitimate_interest: str | None
    data_categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention: str
    retention_from: str  # when the period starts (spec.RetentionFrom)
    retention_note: str | None
    transfers: tuple[dict[str, str | None], ...]
    automated_decision: bool
    automated_logic: str | None
    required: bool
    requirement: str | None
    consequence: str | None
    direct_marketing: bool
    soft_opt_in: bool  # existing customers, without consent (the exception to it)
    from_person: bool  # collected from the person: Art. 13 (the 13(2)(e) question applies)
    from_source: bool  # obtained from the [source]: Art. 14
    registries: tuple[str, ...]  # opposition lists screened before contact (their operators
    # receive the numbers to check)


@dataclass(frozen=True)
class Rights:
    """Which rights apply to the spec's purposes (every notice names exactly these)."""

    portability: bool
    objection: bool
    objection_legitimate_interests: bool  # Art. 21(1), each ground only where a purpose uses it
    objection_public_task: bool
    marketing_objection: bool
    withdrawal: bool
    post_mortem: bool  # art. 85 loi 78-17: for people living in France (a target market)
    post_mortem_only_france: bool  # every target market is France: no "if you live in France"


@dataclass(frozen=True)
class SourceView:
    """Where Art. 14 data came from, and which of the shown purposes use it."""

    description: str
    sms: str | None  # the same, addressed to the person (SMS, call)
    provider: str | None
    publicly_accessible: bool
    purposes: tuple[str, ...]  # names of the shown purposes whose data may come from it
    also_from_person: bool  # some of those purposes also collect from the person
    only: bool  # no shown purpose's data came from the person: say plainly "not from you"


@dataclass(frozen=True)
class ProofView:
    """The toolkit's own processing: the record of consents and objections (Art. 7(1), 21(3))."""

    consent: bool  # proves consents (a consent purpose exists)
    objection: bool  # keeps objections so they are honoured (a direct-marketing purpose)
    retention: str
    retention_from: str
    evidence_form: bool  # web forms: shortened IP address and browser
    channels: tuple[str, ...]  # the channels of the shown purposes: which contact is the subject


@dataclass(frozen=True)
class SmsView:
    """SMS settings in one locale: the sender and the opt-out as it is written."""

    sender: str
    opt_out: str  # the SMS instruction, with its cost only when the spec states it
    link: str
    purposes: str
    scope: str  # what an SMS opt-out stops: "sms" (every SMS purpose) or "all" marketing
    web: str | None  # a web page where anyone can opt out
    web_in_sms: bool  # the SMS shows the web page too: the number cannot reach every market
    reply: str  # the opt-out as an SMS from the reply number says it ("Reply STOP", T-01)
    link_in_every_message: bool
    source_purposes: bool  # an SMS purpose's data may come from the [source]
    person_purposes: bool  # an SMS purpose's data may come from the person


@dataclass(frozen=True)
class NoticeContext:
    """Everything a template may use, for one spec in one locale."""

    locale: str
    lang: str
    dir: str  # "ltr" or "rtl": set on each artefact's root element
    controller: dict[str, str | None]
    representative: dict[str, str | None] | None
    dpo: dict[str, str | None] | None
    authority: Authority
    authority_gloss: str | None  # what a foreign authority is, in the reader's language
    collection: str | None  # "person" (a form), "source" (first contact), None (both)
    purposes: tuple[PurposeView, ...]
    consent_purposes: tuple[PurposeView, ...]
    source: SourceView | None
    proof: ProofView | None
    sms: SmsView | None
    notice_url: str
    withdraw_url: str | None
    updated: str | None
    rights: Rights

    def as_dict(self) -> dict[str, Any]:
        """The context as template variables, plus the locale's gettext and list joiner."""
        trans = translations(self.locale)
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "gettext": trans.gettext,
            "ngettext": trans.ngettext,
            "join": lambda items: _join_markup(list(items), self.locale, "standard"),
            "join_or": lambda items: _join_markup(list(items), self.locale, "or"),
            "punct": punctuation(self.locale),
        }


def _join_markup(items: list[Any], locale: str, style: Literal["standard", "or"]) -> Any:
    """Join for templates: items that are markup (a value in <bdi>, a translated phrase with
    an escaped URL) stay markup, so the joined list is escaped exactly once."""
    if not any(isinstance(item, Markup) for item in items):
        return join(items, locale, style=style)
    return Markup(join([str(escape(item)) for item in items], locale, style=style))  # noqa: S704


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    number = phonenumbers.parse(value, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _registries(spec: Spec, purpose: Purpose, day: date, book: RuleBook) -> tuple[str, ...]:
    """The opposition lists the law says to screen before this purpose's contacts (their
    operators receive the numbers to check): disclosed as recipients (L-08)."""
    if not purpose.direct_marketing or purpose.channel not in CHANNELS:
        return ()
    names: list[str] = []
    for market in spec.target_markets:
        needed = requirement(book, market, purpose.channel, purpose.audience, day)
        for registry in needed.registries:
            lifted = purpose.legal_basis == "consent" and registry.consent_overrides
            if not lifted and registry.name not in names:
                names.append(registry.name)
    return tuple(names)


def _purpose_view(
    spec: Spec, purpose: Purpose, locale: str, day: date, book: RuleBook
) -> PurposeView:
    text = purpose.text[locale]
    return PurposeView(
        id=purpose.id,
        channel=purpose.channel,
        legal_basis=purpose.legal_basis,
        name=text.name,
        description=text.description,
        label=text.label,
        legitimate_interest=text.legitimate_interest,
        data_categories=text.data_categories,
        recipients=text.recipients,
        retention=format_duration(parse_duration(purpose.retention), locale),
        retention_from=purpose.retention_from,
        retention_note=text.retention_note,
        transfers=tuple(
            {
                "country": country_name(t.country, locale),
                "safeguard": t.safeguard,
                "copy_url": t.copy_url,
            }
            for t in purpose.transfers
        ),
        automated_decision=purpose.automated_decision,
        automated_logic=text.automated_logic,
        required=purpose.required,
        requirement=purpose.requirement,
        consequence=text.consequence,
        direct_marketing=purpose.direct_marketing,
        soft_opt_in=purpose.soft_opt_in is not None,
        from_person="person" in purpose.collected_from,
        from_source="source" in purpose.collected_from,
        registries=_registries(spec, purpose, day, book),
    )


def _sms_view(spec: Spec, locale: str, purposes: tuple[PurposeView, ...]) -> SmsView | None:
    sms = spec.sms
    if sms is None:
        return None
    _ = translations(locale).gettext
    number = sms.reply_number
    if isinstance(sms.opt_out, str):
        opt_out = reply = sms.opt_out
    elif sms.opt_out is not None:
        opt_out = reply = sms.opt_out[locale]
    else:
        # Translators: the opt-out instruction of an SMS sent to another number than the
        # sender's (FR « STOP au 36111 »): never "Reply", the sender may not take replies.
        opt_out = _("Text %(keyword)s to %(number)s") % {
            "keyword": isolate(sms.opt_out_keyword, locale),
            "number": isolate(str(number), locale),
        }
        # Translators: the opt-out instruction in an SMS whose sender is the reply number.
        reply = (
            _("Reply %(keyword)s") % {"keyword": isolate(sms.opt_out_keyword, locale)}
            if number == sms.sender
            else opt_out
        )
    cost = None
    if sms.opt_out_cost == "free":
        # Translators: appended to the SMS opt-out instruction when replying costs nothing.
        cost = _("(free)")
    elif sms.opt_out_cost == "standard-rate":
        # Translators: appended to the SMS opt-out instruction when replying costs a normal,
        # non-premium SMS (FR « (SMS non surtaxé) »): never say "free" for this.
        cost = _("(standard rate)")
    if cost is not None:
        space = punctuation(locale).space
        opt_out, reply = f"{opt_out}{space}{cost}", f"{reply}{space}{cost}"
    texting = [p for p in purposes if p.channel == "sms"]
    return SmsView(
        sender=sms.sender,
        opt_out=opt_out,
        link=sms.link or spec.notice_url,
        purposes=join([p.name for p in texting], locale),
        scope=sms.stop_scope,
        web=sms.opt_out_url,
        web_in_sms=bool(spec.sms_unreachable_markets()) and sms.opt_out_url is not None,
        reply=reply,
        link_in_every_message=sms.link_in_every_message,
        source_purposes=any(p.from_source for p in texting),
        person_purposes=any(p.from_person for p in texting),
    )


def _source_view(
    spec: Spec, locale: str, purposes: tuple[PurposeView, ...], collection: str | None
) -> SourceView | None:
    using = [p for p in purposes if p.from_source]
    if spec.source is None or not using or collection == "person":
        return None
    text = spec.source.text[locale]
    return SourceView(
        description=text.description,
        sms=text.sms,
        provider=spec.source.provider,
        publicly_accessible=spec.source.publicly_accessible,
        purposes=tuple(p.name for p in using),
        also_from_person=any(p.from_person for p in using),
        only=collection == "source" or not any(p.from_person for p in purposes),
    )


def _authority_gloss(spec: Spec, locale: str) -> str | None:
    """ "Data protection authority in Germany" for a reader whose language is not one of the
    authority's country (S-14): a foreign name alone says nothing."""
    country = spec.supervisory_authority_country
    if babel_locale(locale).language in get_official_languages(country, de_facto=True):
        return None
    # Translators: after a supervisory authority's name in another language, after a comma;
    # the country in parentheses, so that no preposition or article depends on it.
    return translations(locale).gettext("a data protection authority (%(country)s)") % {
        "country": country_name(country, locale)
    }


def build_context(
    spec: Spec,
    locale: str,
    collection: str | None = None,
    *,
    at: date | None = None,
    book: RuleBook | None = None,
) -> NoticeContext:
    """The context of every artefact of ``spec`` in ``locale`` (a locale the spec declares).

    ``collection`` is where the reader's data came from: ``"person"`` (a form they fill in:
    Art. 13 only, the purposes collected from them), ``"source"`` (the first contact with data
    obtained elsewhere: Art. 14, the purposes using the source), or None (a page everyone
    reads, such as the full notice: both, each said of the purposes it concerns).
    """
    if collection is not None and collection not in COLLECTIONS:
        raise ArtefactError(
            f"unknown collection {collection!r}; expected one of {', '.join(COLLECTIONS)}"
        )
    day = datetime.now(UTC).date() if at is None else at
    rules = shipped() if book is None else book
    every = tuple(_purpose_view(spec, p, locale, day, rules) for p in spec.purposes)
    if collection == "person":
        purposes = tuple(p for p in every if p.from_person)
    elif collection == "source":
        purposes = tuple(p for p in every if p.from_source)
    else:
        purposes = every
    bases = {p.legal_basis for p in purposes}
    ctl = spec.controller
    markets = spec.target_markets
    return NoticeContext(
        locale=locale,
        lang=locale.replace("_", "-"),
        dir=text_direction(locale),
        controller={
            "name": ctl.name,
            "legal_form": ctl.legal_form,
            "address": ctl.address,
            "country": country_name(ctl.country, locale),
            "email": ctl.email,
            "phone": _phone(ctl.phone),
            "website": ctl.website,
            "registration_id": ctl.registration_id,
        },
        representative=(
            None
            if spec.representative is None
            else {**spec.representative.model_dump(), "phone": _phone(spec.representative.phone)}
        ),
        dpo=None
        if spec.dpo is None
        else {**spec.dpo.model_dump(), "phone": _phone(spec.dpo.phone)},
        authority=spec.supervisory_authority,
        authority_gloss=_authority_gloss(spec, locale),
        collection=collection,
        purposes=purposes,
        consent_purposes=tuple(p for p in purposes if p.legal_basis == "consent"),
        source=_source_view(spec, locale, purposes, collection),
        proof=(
            None
            if spec.proof is None
            or not ("consent" in bases or any(p.direct_marketing for p in purposes))
            else ProofView(
                consent="consent" in bases,
                objection=any(p.direct_marketing for p in purposes),
                retention=format_duration(parse_duration(spec.proof.retention), locale),
                retention_from=spec.proof.retention_from,
                evidence_form=any(p.from_person for p in purposes),
                channels=tuple(dict.fromkeys(p.channel for p in purposes)),
            )
        ),
        sms=_sms_view(spec, locale, purposes),
        notice_url=spec.notice_url,
        withdraw_url=spec.withdraw_url,
        updated=None if spec.updated is None else format_day(spec.updated, locale),
        rights=Rights(
            portability=bool(bases & PORTABLE_BASES),
            objection=bool(bases & OBJECTABLE_BASES),
            objection_legitimate_interests="legitimate_interests" in bases,
            objection_public_task="public_task" in bases,
            marketing_objection=any(p.direct_marketing for p in purposes),
            withdrawal="consent" in bases,
            post_mortem="FR" in markets,
            post_mortem_only_france=set(markets) == {"FR"},
        ),
    )
