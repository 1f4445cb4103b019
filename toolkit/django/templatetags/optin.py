"""``{% load optin %}``: the spec's artefacts in the request's language, exactly as
``toolkit.render`` makes them (their versions are the ledger's)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ...render import render
from .. import locale_of, spec

register = template.Library()


def _locale(context: Any) -> str:
    request = context.get("request")
    return locale_of(getattr(request, "LANGUAGE_CODE", None))


@register.simple_tag(takes_context=True)
def consent_checkboxes(context: Any) -> SafeString:
    """The unticked checkboxes, with their hidden version fields."""
    html = render(spec(), "checkbox", _locale(context), collection="person").html
    return mark_safe(str(html or ""))  # noqa: S308 - autoescaped by the toolkit's renderer


@register.simple_tag(takes_context=True)
def collection_notice(context: Any, layer: str = "short") -> SafeString:
    """The short notice (beside a form: data the person gives) or the full one."""
    collection = "person" if layer == "short" else None
    html = render(spec(), f"notice-{layer}", _locale(context), collection=collection).html
    return mark_safe(str(html or ""))  # noqa: S308 - autoescaped by the toolkit's renderer


@register.simple_tag(takes_context=True)
def sms_footer(context: Any, first_contact: bool = False) -> str:
    """The SMS footer as text (Django escapes it like any string)."""
    return render(spec(), "sms-footer", _locale(context), first_contact=first_contact).text
