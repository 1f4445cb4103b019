"""May this subject be contacted for this purpose? The one place that decides, and says why.

A decision is ``allowed`` or not, with every reason as a stable ``code`` and English words.
It fails closed: without a record, only a purpose that does not rest on consent may go ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .records import ConsentEvent

# Stable reason codes (tools match on these, never on the words).
CONSENT = "consent"  # the latest record is a grant
NO_CONSENT = "no-consent"  # a consent purpose with no record
WITHDRAWN = "withdrawn"  # the latest record withdraws consent
OPPOSITION = "opposition"  # the latest record objects (Art. 21)
NO_OBJECTION = "no-objection"  # a purpose on another basis, and nobody objected

BLOCKING_CODES = (NO_CONSENT, WITHDRAWN, OPPOSITION)

_METHOD_WORDS = {"sms-reply": "SMS", "web-form": "web form"}


class LatestRecord(Protocol):
    """What the decision reads of the latest record (a ``ConsentEvent`` or a store row)."""

    @property
    def action(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def at(self) -> str: ...


@dataclass(frozen=True)
class Reason:
    """One reason of a decision: a stable ``code`` and what it means in words."""

    code: str
    message: str


@dataclass(frozen=True)
class Decision:
    """May this subject be contacted for this purpose? And every reason why (or why not)."""

    allowed: bool
    reasons: tuple[Reason, ...]
    event: ConsentEvent | None = None

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


def consent_state(latest: LatestRecord | None, basis: str | None) -> tuple[bool, Reason]:
    """The rule of the consent record: the latest record decides; with none, only a purpose
    that does not rest on consent may go ahead (``basis`` None: consent is assumed)."""
    if latest is None:
        if basis is not None and basis != "consent":
            return True, Reason(NO_OBJECTION, f"no objection recorded (legal basis: {basis})")
        return False, Reason(NO_CONSENT, "no consent recorded")
    day = str(latest.at)[:10]  # records carry UTC ISO 8601 times: the date is the first ten
    if latest.action == "grant":
        return True, Reason(CONSENT, f"consent given on {day} by {latest.method}")
    how = _METHOD_WORDS.get(str(latest.method), str(latest.method))
    if latest.action == "withdraw":
        return False, Reason(WITHDRAWN, f"withdrawn by {how} on {day}")
    return False, Reason(OPPOSITION, f"opposition by {how} on {day}")


def decide(
    latest: LatestRecord | None, basis: str | None, event: ConsentEvent | None = None
) -> Decision:
    """The decision for one subject and purpose from its latest record."""
    allowed, reason = consent_state(latest, basis)
    return Decision(allowed, (reason,), event)
