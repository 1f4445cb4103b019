"""The consent ledger: append-only, hash-chained, on SQLite or PostgreSQL.

A small façade over its parts: ``store`` keeps the chain, ``commit`` serialises writes
(group commit), ``chain`` seals and verifies, ``decision`` decides. No method updates or deletes
a record: a withdrawal or an opposition is a new record, and the latest record for a subject
and purpose decides. ``verify`` recomputes every hash and link.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import LedgerError
from ..render import Rendered, content_version, every_rendering, render
from ..rules import RuleBook, shipped
from ..spec import Spec
from .chain import VerifyResult, export_csv, export_jsonl, read_export, verify_chain
from .commit import GroupCommit
from .decision import Decision, Policy, decide, subject_of
from .erasure import retention_end
from .records import (
    ACTIONS,
    DELIVERY_STATUSES,
    METHODS,
    ConsentEvent,
    iso_utc,
    minimise_evidence,
    new_event_id,
    new_salt,
    normalise_subject,
    seal_subject,
    subject_key,
    utc_now,
)
from .store import (
    Head,
    Latest,
    SqlStore,
    StoredText,
    SuppressionList,
    database_url,
    subject_key_from_env,
)
from .verification import Verification, check

if TYPE_CHECKING:  # signing needs cryptography, imported only by the calls that sign
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .checkpoint import Checkpoint

__all__ = ["Decision", "Ledger", "VerifyResult", "database_url"]


def _stored(rendered: Rendered) -> StoredText:
    return StoredText(rendered.version, rendered.artefact, rendered.locale, rendered.text)


class Ledger:
    """Append-only consent ledger. ``spec`` (optional) checks purposes and locales and lets the
    ledger store the exact texts behind the versions a person was shown.

    ``create=False`` opens an existing ledger only (for reading: a typo in a path is an error,
    never a new empty ledger). A ``Ledger`` is a context manager that closes itself.
    """

    def __init__(
        self,
        url: str | Path,
        spec: Spec | None = None,
        *,
        create: bool = True,
        signing_key: Ed25519PrivateKey | None = None,
        subject_key: bytes | None = None,
    ) -> None:
        self.url = database_url(url)
        self.spec = spec
        self.signing_key = signing_key  # signs receipts (checkpoint.load_key), if given
        # The key of the subjects' digests: given, from OPTIN_SUBJECT_KEY, or kept in the ledger.
        key = subject_key if subject_key is not None else subject_key_from_env()
        self._store = SqlStore(self.url, create=create, subject_key=key)
        self._commit = GroupCommit(self._store)
        _LEDGERS.add(self)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections (and the lock file)."""
        self._store.close()

    def _after_fork(self) -> None:
        self._commit.after_fork()
        self._store.after_fork()

    # --- writing ------------------------------------------------------------------------------

    def remember(self, rendered: Rendered) -> str:
        """Store the exact text behind a version (once); return the version."""
        if content_version(rendered.text) != rendered.version:
            raise LedgerError(f"text does not match its version {rendered.version}")
        self._store.ensure()
        self._commit.write([], [_stored(rendered)])
        return rendered.version

    def record(
        self,
        subject: str,
        purpose: str,
        action: str,
        *,
        method: str,
        versions: Mapping[str, str] | None = None,
        locale: str,
        evidence: Mapping[str, Any] | None = None,
        region: str | None = None,
    ) -> ConsentEvent:
        """Append one event; return it with its ``id`` and ``hash``.

        A grant names the versions shown (e.g. ``{"checkbox": ..., "notice-full": ...}``); each
        must resolve to a stored text (``remember``, or the ledger's spec in ``locale``).
        """
        event = self.prepare(
            subject,
            purpose,
            action,
            method=method,
            versions=versions,
            locale=locale,
            evidence=evidence,
            region=region,
        )
        return self.append([event])[0]

    def append(self, prepared: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        """Write prepared events in one transaction: all of them, or none."""
        if not prepared:
            return []
        self._store.ensure()
        named = (version for item in prepared for version in item.versions.values())
        texts = [] if self._commit.knows(named) else self._texts_from_spec(prepared)
        return self._commit.write(prepared, texts)

    def prepare(
        self,
        subject: str,
        purpose: str,
        action: str,
        *,
        method: str,
        versions: Mapping[str, str] | None = None,
        locale: str,
        evidence: Mapping[str, Any] | None = None,
        region: str | None = None,
    ) -> ConsentEvent:
        """Check and build an event without writing it (``append`` writes it)."""
        if action not in ACTIONS:
            raise LedgerError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        if action == "redact":
            raise LedgerError("a redaction is made by Ledger.redact, which also redacts")
        if method not in METHODS:
            raise LedgerError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if self.spec is not None:
            self._purpose(purpose)
            if locale not in self.spec.locales:
                raise LedgerError(f"locale {locale!r} is not one of the spec's locales")
        shown = {str(k): str(v) for k, v in (versions or {}).items()}
        for artefact, version in shown.items():
            if not (version.startswith("sha256:") and len(version) == 71):
                raise LedgerError(f"versions.{artefact}: expected sha256:<64 hex>, got {version!r}")
        if action == "grant" and not shown:
            raise LedgerError("a grant needs the versions of the checkbox and notice shown")
        if action in ("notice-shown", "notice-sent") and not shown:
            raise LedgerError(f"a {action} record needs the versions of the texts it carried")
        if action == "notice-shown" and (evidence or {}).get("full_notice") not in (
            "displayed",
            "linked",
        ):
            raise LedgerError(
                "evidence.full_notice: say whether the full notice was displayed or only linked"
            )
        if action == "delivery":
            if not (evidence or {}).get("message_id"):
                raise LedgerError("evidence.message_id: a delivery report names the message")
            if (evidence or {}).get("status") not in DELIVERY_STATUSES:
                raise LedgerError(
                    f"evidence.status: expected one of {', '.join(DELIVERY_STATUSES)}"
                )
        key = normalise_subject(subject, region)
        links: dict[str, str] = {}
        if action == "delivery":
            links = {"delivers": self._sent(key, purpose, str((evidence or {})["message_id"]))}
        if action == "confirm":
            links = {"confirms": self._pending_grant(key, purpose)}
            if not shown and method == "sms-reply" and self.spec is not None:
                shown = {"confirmation-sms": render(self.spec, "confirmation-sms", locale).version}
        return ConsentEvent(
            id=new_event_id(),
            subject=key,
            subject_digest=self._store.digest(key),
            subject_salt=(salt := new_salt()),
            subject_seal=seal_subject(salt, key),
            purpose=purpose,
            action=action,
            method=method,
            versions=shown,
            locale=locale,
            at=utc_now(),
            evidence={**minimise_evidence(evidence), **links},
        )

    def _pending_grant(self, subject: str, purpose: str) -> str:
        """The id of the grant a confirmation confirms: the subject's latest consent record
        for the purpose, which must be a grant (a STOP since then leaves nothing to confirm)."""
        latest = self._store.latest(subject, purpose)
        if latest is None or latest.action != "grant":
            raise LedgerError(f"nothing to confirm: {subject} has no pending consent for {purpose}")
        return latest.id

    def _sent(self, subject: str, purpose: str, message_id: str) -> str:
        """The id of the notice-sent record of a message a delivery report is about."""
        for item in reversed(self._store.history(subject)):
            if (
                item.action == "notice-sent"
                and item.purpose == purpose
                and item.evidence.get("message_id") == message_id
            ):
                return item.id
        raise LedgerError(
            f"no message {message_id!r} to {subject} for {purpose} was recorded as sent"
            " (notice-sent): record it when it is sent, then its delivery"
        )

    def _texts_from_spec(self, events: Sequence[ConsentEvent]) -> list[StoredText]:
        """The spec's texts behind the versions the events name (rendered once, memoised)."""
        if self.spec is None:
            return []
        found: dict[str, StoredText] = {}
        wanted = {v for item in events for v in item.versions.values()}
        first = [item.locale for item in events if item.versions]  # most likely: the event's
        for locale in dict.fromkeys([*first, *self.spec.locales]):
            if not wanted - found.keys():
                break
            for rendered in every_rendering(self.spec, locale):
                if rendered.version in wanted:
                    found[rendered.version] = _stored(rendered)
        # A text of another locale or artefact is offered as what it is: the writer then
        # refuses it in the wrong slot, naming both, rather than as an unknown version.
        return list(found.values())

    def paused(self) -> AbstractContextManager[None]:
        """Hold this process's appends: they queue, and are written together (one transaction)
        once released. For a consistent backup or checkpoint of the chain head."""
        return self._commit.paused()

    @property
    def pending_writes(self) -> int:
        """How many appends of this process are waiting to be written."""
        return self._commit.pending

    # --- reading ------------------------------------------------------------------------------

    def _purpose(self, purpose: str) -> Any:
        assert self.spec is not None
        try:
            return self.spec.purpose(purpose)
        except KeyError:
            known = ", ".join(p.id for p in self.spec.purposes)
            raise LedgerError(f"unknown purpose {purpose!r}; the spec has {known}") from None

    def status(self, subject: str, purpose: str, region: str | None = None) -> ConsentEvent | None:
        """The latest event for a subject and purpose (it decides), or None."""
        return self._store.latest(normalise_subject(subject, region), purpose)

    def policy(self, purpose: str, book: RuleBook | None = None) -> Policy:
        """What ``purpose`` must meet (its spec and the rule packs), with the current copies of
        the suppression lists; without a spec, the consent record and the lists decide."""
        lists = {item.id: item for item in self._store.suppression_lists()}
        chosen = shipped() if book is None else book
        target = None if self.spec is None else self._purpose(purpose)
        return Policy(self.spec, target, chosen, lists)

    def can_send(
        self,
        subject: str,
        purpose: str,
        region: str | None = None,
        *,
        at: datetime | None = None,
        book: RuleBook | None = None,
    ) -> Decision:
        """May we contact ``subject`` for ``purpose`` (by its channel) at ``at`` (default now)?
        Every check, with every reason: see ``toolkit.proof.decision``. An unknown purpose or
        an invalid subject is a ``LedgerError``; an unreachable database ``LedgerUnavailable``."""
        moment = datetime.now(UTC) if at is None else at.astimezone(UTC)
        policy = self.policy(purpose, book)
        key = normalise_subject(subject, region)
        upto = None if at is None else iso_utc(moment)
        history = self._store.subject_events(key, purpose, upto)
        hashed = subject_key(key)
        on_lists = sorted(self._store.suppressed([hashed]).get(hashed, ()))
        return decide(policy, subject_of(key), history, on_lists, moment)

    # --- suppression lists --------------------------------------------------------------------

    def suppression_lists(self) -> list[SuppressionList]:
        """The current copy of every suppression list."""
        return self._store.suppression_lists()

    def import_suppression(
        self,
        name: str,
        keys: Iterable[int],
        *,
        channel: str | None = None,
        until: date | None = None,
        source: str = "",
    ) -> SuppressionList:
        """Store a new copy of a suppression list (all or nothing; it replaces the previous
        copy of that name). ``keys`` from ``toolkit.proof.suppress``."""
        return self._store.import_suppression(
            name, channel, None if until is None else until.isoformat(), source, keys
        )

    def suppressed_by(self, subject: str, region: str | None = None) -> list[SuppressionList]:
        """The lists whose current copy holds ``subject``."""
        key = subject_key(normalise_subject(subject, region))
        lists = {item.id: item for item in self._store.suppression_lists()}
        ids = self._store.suppressed([key]).get(key, set())
        return [lists[i] for i in sorted(ids) if i in lists]

    def purpose_basis(self, purpose: str) -> str | None:
        """The purpose's legal basis from the spec (None without a spec)."""
        if self.spec is None:
            return None
        return str(self._purpose(purpose).legal_basis)

    def events_many(
        self, subjects: Sequence[str], purpose: str, upto: str | None = None
    ) -> dict[str, list[Latest]]:
        """For normalised subjects: their records for a purpose, oldest first."""
        return self._store.events_many(subjects, purpose, upto)

    def suppressed_keys(self, keys: Sequence[int]) -> dict[int, set[int]]:
        """For suppression keys: the ids of the list copies each is on."""
        return self._store.suppressed(keys)

    def history(self, subject: str, region: str | None = None) -> list[ConsentEvent]:
        """Every event of a subject, oldest first."""
        return self._store.history(normalise_subject(subject, region))

    def numbered_history(
        self, subject: str, region: str | None = None
    ) -> list[tuple[int, ConsentEvent]]:
        """Every event of a subject with its place in the chain (seq), oldest first."""
        return self._store.numbered_history(normalise_subject(subject, region))

    def event(self, event_id: str) -> ConsentEvent:
        """One event by id (LedgerError when there is none)."""
        found = self._store.event(event_id)
        if found is None:
            raise LedgerError(f"no record with id {event_id!r}")
        return found

    def text(self, version: str) -> str:
        """The exact words behind a version."""
        found = self._store.text(version)
        if found is None:
            raise LedgerError(f"no stored text for {version}")
        return found.text

    def stored_text(self, version: str) -> StoredText | None:
        """A version's text with its artefact and locale, or None when it is not stored."""
        return self._store.text(version)

    def head(self) -> Head:
        """Where the chain ends now: its last seq, its count, its last hash."""
        return self._store.head()

    def events(self) -> Iterator[ConsentEvent]:
        """Every event in chain order, streamed."""
        _head, rows = self._store.chain()
        for _seq, item in rows:
            yield item

    def verify(self, checkpoints: Sequence[Checkpoint] = ()) -> VerifyResult:
        """Recompute every hash and link up to the head read first, every version against
        its stored text, and that the chain still extends each signed checkpoint; name the
        first record that does not hold."""
        head, rows = self._store.chain()
        digest = self._store.digest if self._store.keyed() else None
        return verify_chain(
            head,
            rows,
            list(self._store.texts()),
            checkpoints,
            digest,
            lambda: self._store.redactions_after(head.seq),
        )

    def check(self, *, full: bool = False) -> Verification:
        """The admin page's check: the records appended since the last logged check (a few
        thousand at most per call), or the whole chain with ``full``; logged unless the
        ledger was opened to read (verification.py says what the quick check cannot see)."""
        return check(self._store, full=full)

    def last_check(self, *, full: bool = False) -> Verification | None:
        """The latest logged check (the latest whole-chain one with ``full``), without
        checking anything."""
        row = self._store.last_verification("full" if full else None)
        return None if row is None else Verification.from_row(row)

    def page(self, before: int | None = None, size: int = 50) -> list[tuple[int, ConsentEvent]]:
        """(seq, record) for up to ``size`` records before seq ``before``, newest first."""
        return self._store.page(before, size)

    def checkpoint(self, key: Ed25519PrivateKey) -> dict[str, Any]:
        """A signed checkpoint of the chain head, to keep outside the database."""
        from .checkpoint import make_checkpoint

        head, _rows = self._store.chain()
        return make_checkpoint(head, key)

    def export(self, fmt: str = "jsonl", *, texts: bool = False) -> Iterator[str]:
        """Every event as JSON lines or CSV lines (header first), in chain order.

        ``texts=True`` (JSON lines) first emits each stored text as
        ``{"version", "artefact", "locale", "text"}``, so an import elsewhere keeps the words.
        """
        if fmt == "jsonl":
            return export_jsonl(self.events(), self._store.texts() if texts else ())
        if fmt == "csv":
            return export_csv(self.events())
        raise LedgerError(f"unknown export format {fmt!r}; expected jsonl or csv")

    def import_jsonl(self, lines: Iterable[str]) -> int:
        """Append records captured elsewhere: each verified against its own hash and chain,
        then re-chained here (method 'import', origin kept in evidence). All or nothing."""
        texts, origins = read_export(lines)
        ids = [origin.id for origin in origins]  # one chain: no record twice (read_export)
        known = self._store.known_ids(ids)
        if known:
            raise LedgerError(
                f"{len(known)} record(s) of the file are already in this ledger (first: "
                f"{next(i for i in ids if i in known)}): was the file imported before? "
                "Nothing was imported."
            )
        prepared = []
        for origin in origins:
            fresh = self.prepare(
                origin.subject,
                origin.purpose,
                origin.action,
                method="import",
                versions=origin.versions,
                locale=origin.locale,
            )
            prepared.append(
                replace(
                    fresh,
                    id=origin.id,
                    at=origin.at,
                    evidence={
                        "origin_method": origin.method,
                        "origin_hash": origin.hash,
                        **origin.evidence,
                    },
                )
            )
        if prepared:
            self._store.ensure()
            self._commit.write(prepared, [*texts, *self._texts_from_spec(prepared)])
        return len(prepared)

    # --- erasure ------------------------------------------------------------------------------

    def redact(
        self,
        subject: str,
        *,
        region: str | None = None,
        request: bool = False,
        now: datetime | None = None,
    ) -> tuple[ConsentEvent, int]:
        """Erase a person's number or address from their records, keeping its keyed digest:
        the chain still verifies and their objections still block them (issue 12 item 7).
        Allowed once the spec's ``[proof] retention`` has run from their records; earlier only
        as an erasure ``request`` the controller honours (recorded as such). Records a
        ``redact`` event; returns it and how many records were redacted."""
        key = normalise_subject(subject, region)
        if self.spec is None or self.spec.proof is None:
            raise LedgerError("a redaction needs the spec's [proof] retention: Ledger(url, spec=)")
        live = [item for item in self._store.history(key) if item.subject == key]
        if not live:
            raise LedgerError(f"no record of {key} to redact")
        older = [item.id for item in live if not item.subject_digest]
        if older:
            raise LedgerError(
                f"{len(older)} record(s) of {key} (first {older[0]}) were written before subject"
                " digests (schema 2): their hash covers the subject itself, so redacting it"
                " would break the chain"
            )
        proof = self.spec.proof
        if not request:
            ends = retention_end(
                ((item.action, item.at) for item in live), proof.retention, proof.retention_from
            )
            moment = now or datetime.now(UTC)
            if ends is None or moment < ends:
                until = "" if ends is None else f" until {iso_utc(ends)[:10]}"
                raise LedgerError(
                    f"the proof of {key}'s choices is kept{until} ([proof] retention"
                    f" {proof.retention} from {proof.retention_from}); to honour an erasure"
                    " request before then, redact it as a request"
                )
        digest = self._store.digest(key)
        event = ConsentEvent(
            id=new_event_id(),
            subject=digest,
            subject_digest=digest,
            subject_seal="",  # nothing to seal: the record names the digest only
            purpose="",  # every purpose: it concerns the person
            action="redact",
            method="request" if request else "retention",
            versions={},
            locale="",
            at=utc_now(),
            evidence={"records": str(len(live))},
        )
        return self._commit.redact(key, event)

    def expired(self, now: datetime | None = None) -> Iterator[str]:
        """Every subject whose proof's retention has ended (``redact`` each to erase them)."""
        if self.spec is None or self.spec.proof is None:
            raise LedgerError("expiry needs the spec's [proof] retention: Ledger(url, spec=)")
        proof = self.spec.proof
        moment = now or datetime.now(UTC)
        for subject, records in self._store.live_subjects():
            ends = retention_end(records, proof.retention, proof.retention_from)
            if ends is not None and ends <= moment:
                yield subject

    def receipt(self, event_id: str) -> dict[str, Any]:
        """The consent receipt of one event (Kantara v1.1 JSON; see toolkit.proof.receipt)."""
        from .receipt import build_receipt

        if self.spec is None:
            raise LedgerError("receipts need the ledger's spec: Ledger(url, spec=...)")
        receipt = build_receipt(self.event(event_id), self.spec)
        if self.signing_key is None:
            return receipt
        from .checkpoint import sign_receipt

        return sign_receipt(receipt, self.signing_key)

    def count(self) -> int:
        """How many events the ledger holds."""
        return self._store.count()


_LEDGERS: weakref.WeakSet[Ledger] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for ledger in list(_LEDGERS):
        ledger._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
