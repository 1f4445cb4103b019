"""Double opt-in: ask the holder of a number or address to confirm a consent given on a form,
and record their confirmation. Anyone can type anyone's number on a form; only the person who
receives the confirmation can answer it (GDPR Art. 7(1); BGH I ZR 164/09; security review H1).

Messages leave through a ``Sender``, a one-method seam: a carrier's API in production, the
``OutboxSender`` here (a JSON-lines file and a list, so the whole journey runs without one).
Framework-neutral: the demo and any adapter call these functions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .errors import LedgerError
from .i18n import translations
from .proof import ConsentEvent, Ledger
from .proof.records import UNPROVEN_METHODS
from .render import render
from .spec import Spec


@dataclass(frozen=True)
class Outgoing:
    """One message to send: by which channel, to whom, its text and its version if versioned."""

    channel: str  # "sms" or "email"
    to: str
    text: str
    version: str | None = None


class Sender(Protocol):
    """Sends a message; returns the carrier's message id."""

    def send(self, message: Outgoing) -> str: ...


class OutboxSender:
    """Keeps every message instead of sending it: appended to a JSON-lines file (when given)
    and to a list of the latest ``keep``, for the demo's admin page and for tests."""

    def __init__(self, path: str | Path | None = None, keep: int = 200) -> None:
        self.path = None if path is None else Path(path)
        self._latest: deque[tuple[str, Outgoing]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str:
        """Keep ``message``; its id is random, like a carrier's."""
        message_id = secrets.token_hex(8)
        with self._lock:
            self._latest.append((message_id, message))
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    line = {"id": message_id, **asdict(message)}
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return message_id

    def messages(self) -> list[tuple[str, Outgoing]]:
        """The kept messages, oldest first."""
        with self._lock:
            return list(self._latest)


def pending(spec: Spec, events: Iterable[ConsentEvent]) -> dict[tuple[str, str], list[str]]:
    """The grants among ``events`` that wait for a confirmation: (subject, how) -> purposes."""
    out: dict[tuple[str, str], list[str]] = {}
    for event in events:
        if event.action != "grant" or event.method not in UNPROVEN_METHODS:
            continue
        how = spec.confirmation_for(spec.purpose(event.purpose).channel)
        if how is not None:
            out.setdefault((event.subject, how), []).append(event.purpose)
    return out


def new_code() -> str:
    """A six-digit one-time code."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(code: str, subject: str, secret: str) -> str:
    """What is kept of a code (never the code itself): keyed by the app's secret and the
    subject, so a code for one number confirms nothing for another."""
    return hmac.new(secret.encode(), f"{subject}\n{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(code: str, subject: str, secret: str, digest: str) -> bool:
    """Whether ``code`` is the one sent to ``subject`` (constant-time)."""
    return hmac.compare_digest(code_digest(code.strip(), subject, secret), digest)


def ask(
    spec: Spec,
    subject: str,
    how: str,
    locale: str,
    sender: Sender,
    *,
    code: str | None = None,
    link: str | None = None,
) -> str:
    """Send the confirmation request: the versioned confirmation SMS (``sms-reply``), a code
    by SMS or e-mail (``code``), or a link by e-mail (``email-link``). Returns the message id."""
    _ = translations(locale).gettext
    name = spec.controller.name
    if how == "sms-reply":
        rendered = render(spec, "confirmation-sms", locale)
        return sender.send(Outgoing("sms", subject, rendered.text, rendered.version))
    channel = "email" if "@" in subject else "sms"
    if how == "code":
        if code is None:
            raise LedgerError("a code confirmation needs the code to send")
        text = _(
            "%(name)s: your confirmation code is %(code)s. If you did not ask for it, ignore"
            " this message."
        ) % {"name": name, "code": code}
        return sender.send(Outgoing(channel, subject, text))
    if how == "email-link":
        if link is None:
            raise LedgerError("an e-mail confirmation needs the link to send")
        text = _(
            "%(name)s: to confirm your subscription, open %(link)s. If you did not ask for it,"
            " ignore this message."
        ) % {"name": name, "link": link}
        return sender.send(Outgoing("email", subject, text))
    raise LedgerError(f"unknown confirmation method {how!r}")


def confirm(
    ledger: Ledger,
    subject: str,
    purposes: Sequence[str],
    method: str,
    locale: str,
    *,
    region: str | None = None,
    evidence: Mapping[str, str] | None = None,
) -> list[ConsentEvent]:
    """Record the confirmation of each purpose whose latest record is a grant; the others
    (confirmed since, or stopped) are left alone. The ledger links each to its grant.
    ``evidence``: e.g. the carrier's ``message_id`` of the reply that confirmed."""
    confirmed = {
        e.evidence.get("confirms") for e in ledger.history(subject, region) if e.action == "confirm"
    }
    events = []
    for purpose in purposes:
        latest = ledger.status(subject, purpose, region)
        if latest is None or latest.action != "grant" or latest.id in confirmed:
            continue
        events.append(
            ledger.record(
                subject,
                purpose,
                "confirm",
                method=method,
                locale=locale,
                region=region,
                evidence=evidence,
            )
        )
    return events


def awaiting(ledger: Ledger, subject: str, region: str | None = None) -> list[str]:
    """The purposes of ``subject`` whose consent waits for a confirmation now."""
    spec = ledger.spec
    if spec is None:
        return []
    return [
        p.id
        for p in spec.purposes
        if "pending-confirmation" in ledger.can_send(subject, p.id, region).codes
    ]
