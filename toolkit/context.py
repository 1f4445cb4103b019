"""Step 4 of the pipeline: turn a validated spec and a locale into a template context.

The context holds data only (the spec's texts for the locale, formatted with Babel, and the
facts that decide which legal statements apply); the legal words live in the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from .i18n import country_name, format_day, format_duration, join, translations
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
    retention_note: str | None
    transfers: tuple[dict[str, str | None], ...]
    automated_decision: bool
    automated_logic: str | None
    required: bool
    requirement: str | None
    consequence: str | None
    direct_marketing: bool
    soft_opt_in: bool  # existing customers, without consent (the exception to it)


@dataclass(frozen=True)
class Rights:
    """Which rights apply to the spec's purposes (every notice names exactly these)."""

    portability: bool
    objection: bool
    marketing_objection: bool
    withdrawal: bool
    post_mortem: bool


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


@dataclass(frozen=True)
class NoticeContext:
    """Everything a template may use, for one spec in one locale."""

    locale: str
    lang: str
    controller: dict[str, str | None]
    representative: dict[str, str | None] | None
    dpo: dict[str, str | None] | None
    authority: Authority
    purposes: tuple[PurposeView, ...]
    consent_purposes: tuple[PurposeView, ...]
    source: dict[str, Any] | None
    sms: SmsView | None
    notice_url: str
    updated: str | None
    rights: Rights

    def as_dict(self) -> dict[str, Any]:
        """The context as template variables, plus the locale's gettext and list joiner."""
        trans = translations(self.locale)
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "gettext": trans.gettext,
            "ngettext": trans.ngettext,
            "join": lambda items: join(list(items), self.locale),
            "join_or": lambda items: join(list(items), self.locale, style="or"),
        }


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    number = phonenumbers.parse(value, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _purpose_view(purpose: Purpose, locale: str) -> PurposeView:
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
    )


def _sms_view(spec: Spec, locale: str, purposes: tuple[PurposeView, ...]) -> SmsView | None:
    sms = spec.sms
    if sms is None:
        return None
    _ = translations(locale).gettext
    if isinstance(sms.opt_out, str):
        opt_out = sms.opt_out
    elif sms.opt_out is not None:
        opt_out = sms.opt_out[locale]
    else:
        # Translators: the opt-out instruction of an SMS, e.g. "STOP au 36111".
        opt_out = _("Reply %(keyword)s to %(number)s") % {
            "keyword": sms.opt_out_keyword,
            "number": sms.reply_number,
        }
    if sms.opt_out_cost == "free":
        # Translators: appended to the SMS opt-out instruction when replying costs nothing.
        cost = _("(free)")
        opt_out = f"{opt_out} {cost}"
    elif sms.opt_out_cost == "standard-rate":
        # Translators: appended to the SMS opt-out instruction when replying costs a normal,
        # non-premium SMS (FR « (SMS non surtaxé) »): never say "free" for this.
        cost = _("(standard rate)")
        opt_out = f"{opt_out} {cost}"
    names = [p.name for p in purposes if p.channel == "sms"]
    return SmsView(
        sender=sms.sender,
        opt_out=opt_out,
        link=sms.link or spec.notice_url,
        purposes=join(names, locale),
        scope=sms.stop_scope,
        web=sms.opt_out_url,
        web_in_sms=bool(spec.sms_unreachable_markets()) and sms.opt_out_url is not None,
    )


def build_context(spec: Spec, locale: str) -> NoticeContext:
    """The context of every artefact of ``spec`` in ``locale`` (a locale the spec declares)."""
    purposes = tuple(_purpose_view(p, locale) for p in spec.purposes)
    bases = {p.legal_basis for p in spec.purposes}
    ctl = spec.controller
    return NoticeContext(
        locale=locale,
        lang=locale.replace("_", "-"),
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
        purposes=purposes,
        consent_purposes=tuple(p for p in purposes if p.legal_basis == "consent"),
        source=(
            None
            if spec.source is None
            else {
                "description": spec.source.text[locale].description,
                "publicly_accessible": spec.source.publicly_accessible,
            }
        ),
        sms=_sms_view(spec, locale, purposes),
        notice_url=spec.notice_url,
        updated=None if spec.updated is None else format_day(spec.updated, locale),
        rights=Rights(
            portability=bool(bases & PORTABLE_BASES),
            objection=bool(bases & OBJECTABLE_BASES),
            marketing_objection=any(p.direct_marketing for p in spec.purposes),
            withdrawal="consent" in bases,
            post_mortem=ctl.country == "FR",
        ),
    )
