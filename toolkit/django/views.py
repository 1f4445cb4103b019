"""The SMS webhook as a Django view: ``path("sms/inbound", toolkit.django.views.sms_inbound)``.
Signed by whichever carrier the settings configure (``OPTIN_TWILIO_AUTH_TOKEN``...; unsigned
only with ``OPTIN_WEBHOOK_UNSIGNED = True``); the rules live in ``toolkit.capture``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .. import capture, carriers
from ..errors import LedgerUnavailable
from . import ledger, locale_of


@csrf_exempt  # a carrier posts it, with its signature instead of a CSRF token
@require_POST
def sms_inbound(request: Any) -> HttpResponse:
    config = {
        name: getattr(settings, name, "") for name in dir(settings) if name.startswith("OPTIN_")
    }
    body = request.body
    form = carriers.Params(request.META.get("QUERY_STRING", ""), body.decode("utf-8", "replace"))
    headers = {key: value for key, value in request.headers.items()}
    try:
        message = carriers.read_inbound(
            carriers.configured(config),
            request.build_absolute_uri(),
            headers,
            form,
            body,
            allow_unsigned=bool(getattr(settings, "OPTIN_WEBHOOK_UNSIGNED", False)),
        )
        answer = capture.inbound_sms(
            ledger(),
            message.sender,
            message.text,
            locale_of(getattr(request, "LANGUAGE_CODE", None)),
            message_id=message.message_id,
        )
    except carriers.WebhookError as exc:
        return HttpResponse(str(exc), status=403)
    except capture.CaptureError as exc:
        return HttpResponse(exc.message, status=400)
    except LedgerUnavailable:
        return HttpResponse("try again later", status=503, headers={"Retry-After": "30"})
    if message.carrier in ("vonage", "telnyx"):
        return JsonResponse({})  # their replies are sent through their API, not in the answer
    return HttpResponse(carriers.twiml(answer.reply), content_type="application/xml")
