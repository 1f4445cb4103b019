"""FastAPI integration: the consent API and the SMS webhook as a router, typed, so that
``/openapi.json`` documents them; and the two helpers a sign-up or withdrawal view needs.

    app = FastAPI()
    app.include_router(consent_router(ledger, api_token="...", verifiers=[TwilioVerifier(...)]))

    @app.post("/signup")
    async def signup(request: Request) -> dict[str, int]:
        form = await form_of(request)
        events = capture.record(ledger, capture.grants(ledger, form, origin(request), "fr"))
        return {"recorded": len(events)}

The rules live in ``toolkit.capture`` and ``toolkit.carriers``: this module only turns
FastAPI's requests into their inputs and their results into responses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

from . import capture, carriers
from .confirm import Outgoing, Sender
from .errors import LedgerUnavailable
from .proof import Ledger


class Verdict(BaseModel):
    """May this subject be contacted for this purpose? The reason codes say why (not)."""

    subject: str
    allowed: bool
    codes: list[str]


class PurposeVerdict(Verdict):
    purpose: str


class BatchRequest(BaseModel):
    purpose: str
    subjects: list[str] = Field(max_length=capture.BATCH_LIMIT)


class Recorded(BaseModel):
    recorded: list[str]  # the ids of the grants written (each waits for its confirmation)


class BatchAnswer(BaseModel):
    purpose: str
    results: list[Verdict]


def origin(request: Request) -> capture.Origin:
    """A request as the evidence of a capture: its address, IP address and browser."""
    host = request.client.host if request.client else ""
    try:
        ip: str | None = str(ipaddress.ip_address(host))
    except ValueError:  # a test client, a Unix socket: no address to keep
        ip = None
    return capture.Origin(str(request.url), ip, request.headers.get("user-agent", ""))


async def form_of(request: Request) -> carriers.Params:
    """A URL-encoded form body as a mapping ``toolkit.capture`` reads (first value of each)."""
    return carriers.Params((await request.body()).decode("utf-8", "replace"))


def consent_router(
    ledger: Ledger,
    *,
    api_token: str,
    verifiers: Sequence[carriers.Verifier] = (),
    allow_unsigned: bool = False,
    sender: Sender | None = None,
) -> APIRouter:
    """``GET /api/consent``, ``POST /api/consent/batch`` (Bearer ``api_token``) and
    ``POST /sms/inbound`` (signed by one of ``verifiers``; replies as TwiML for Twilio and the
    generic form, else through ``sender``)."""
    router = APIRouter()

    def caller(authorization: Annotated[str, Header()] = "") -> None:
        if not capture.bearer_matches(authorization, api_token):
            raise HTTPException(401, "this API needs its token", {"WWW-Authenticate": "Bearer"})

    def answer(purpose: str, subjects: list[str]) -> list[dict[str, Any]]:
        try:
            return capture.verdicts(ledger, purpose, subjects)
        except LedgerUnavailable:
            raise HTTPException(503, "the consent register is unavailable") from None
        except capture.CaptureError as exc:
            raise HTTPException(400, exc.message) from None

    @router.get("/api/consent", dependencies=[Depends(caller)])
    def consent(subject: str, purpose: str) -> PurposeVerdict:
        (verdict,) = answer(purpose, [subject])
        if verdict["codes"] == ["invalid"]:
            raise HTTPException(400, f"not a phone number or an e-mail address: {subject!r}")
        return PurposeVerdict(purpose=purpose, **verdict)

    @router.post("/api/consent/batch", dependencies=[Depends(caller)])
    def batch(request: BatchRequest) -> BatchAnswer:
        results = [Verdict(**v) for v in answer(request.purpose, request.subjects)]
        return BatchAnswer(purpose=request.purpose, results=results)

    @router.post("/api/consent/record", dependencies=[Depends(caller)], status_code=201)
    async def record(request: Request) -> Recorded:
        """A form another stack received, relayed by its server (``capture.relayed``)."""
        try:
            events = capture.relayed(ledger, await request.json())
        except capture.CaptureError as exc:
            raise HTTPException(400, {"error": exc.message, "field": exc.field}) from None
        except ValueError:  # not JSON at all
            raise HTTPException(400, "expected JSON {form, origin, locale}") from None
        except LedgerUnavailable:
            raise HTTPException(503, "the consent register is unavailable") from None
        return Recorded(recorded=[e.id for e in events])

    @router.post("/sms/inbound")
    async def inbound(request: Request) -> Response:
        body = await request.body()
        form = carriers.Params(request.url.query, body.decode("utf-8", "replace"))
        try:
            message = carriers.read_inbound(
                verifiers,
                str(request.url),
                dict(request.headers),
                form,
                body,
                allow_unsigned=allow_unsigned,
            )
            locale = (
                capture.choose_locale(
                    ledger.spec,
                    request.query_params.get("lang"),
                    request.headers.get("accept-language", ""),
                )
                if ledger.spec
                else "en"
            )
            reply = capture.inbound_sms(
                ledger, message.sender, message.text, locale, message_id=message.message_id
            )
        except carriers.WebhookError as exc:
            raise HTTPException(403, str(exc)) from None
        except capture.CaptureError as exc:
            raise HTTPException(400, exc.message) from None
        except LedgerUnavailable:
            raise HTTPException(503, "try again later", {"Retry-After": "30"}) from None
        if message.carrier in ("vonage", "telnyx"):
            if reply.reply and sender is not None:
                sender.send(Outgoing("sms", message.sender, reply.reply))
            return Response("{}", media_type="application/json")
        return Response(carriers.twiml(reply.reply), media_type="application/xml")

    return router
