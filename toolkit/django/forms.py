"""A form mixin that records consent when the form is valid (``toolkit.capture`` decides)."""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import capture
from ..proof import ConsentEvent
from . import ledger, locale_of


def origin(request: Any) -> capture.Origin:
    """A Django request as the evidence of a capture."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        ip: str | None = str(ipaddress.ip_address(address))
    except ValueError:
        ip = None
    return capture.Origin(request.build_absolute_uri(), ip, request.META.get("HTTP_USER_AGENT", ""))


class ConsentFormMixin:
    """Mix into a ``forms.Form`` built with ``request=``: ``is_valid()`` also records one grant
    per ticked ``consent_<purpose>`` box (all or none); a refusal becomes an error on its
    field (or the form's), in the request's language, and nothing is stored. The events
    written are in ``self.consents``."""

    phone_field = "phone"
    email_field = "email"

    def __init__(self, *args: Any, request: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.consents: list[ConsentEvent] = []

    def is_valid(self) -> bool:
        if not super().is_valid():  # type: ignore[misc]
            return False
        book = ledger()
        locale = locale_of(getattr(self.request, "LANGUAGE_CODE", None))
        fields = capture.Fields(self.phone_field, self.email_field)
        posted = self.request.POST
        try:
            prepared = capture.grants(book, posted, origin(self.request), locale, fields=fields)
            self.consents = capture.record(book, prepared, locale)
        except capture.CaptureError as exc:
            field = exc.field if exc.field in self.fields else None  # type: ignore[attr-defined]
            self.add_error(field, exc.message)  # type: ignore[attr-defined]
            return False
        return True
