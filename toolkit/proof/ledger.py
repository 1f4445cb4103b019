"""The consent ledger: append-only, hash-chained, on SQLite or PostgreSQL (SQLAlchemy 2 Core).

Appends are serialised so the chain never forks: SQLite takes its single writer lock at
``BEGIN IMMEDIATE``; PostgreSQL locks the chain head row (``SELECT ... FOR UPDATE``). No method
updates or deletes a record: a withdrawal or an opposition is a new record, and the latest
record for a subject and purpose decides. ``verify`` recomputes every hash and the chain.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..render import Rendered, content_version, render
from ..spec import Spec
from .records import (
    ACTIONS,
    GENESIS,
    METHODS,
    ConsentEvent,
    LedgerError,
    compute_hash,
    minimise_evidence,
    new_event_id,
    normalise_subject,
    utc_now,
)

SCHEMA_VERSION = 1
_metadata = MetaData()
schema_table = Table(
    "optin_schema",
    _metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(24), nullable=False),
)
texts_table = Table(
    "optin_texts",
    _metadata,
    Column("version", String(71), primary_key=True),
    Column("artefact", String(40), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("text", Text, nullable=False),
)
events_table = Table(
    "optin_events",
    _metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("subject", String(320), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("action", String(12), nullable=False),
    Column("method", String(12), nullable=False),
    Column("versions", Text, nullable=False),
    Column("locale", String(16), nullable=False),
    Column("at", String(24), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("prev_hash", String(71), nullable=False),
    Column("hash", String(71), nullable=False, unique=True),
)
Index("ix_optin_events_subject", events_table.c.subject, events_table.c.purpose, events_table.c.seq)
head_table = Table(
    "optin_head",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("hash", String(71), nullable=False),
)


_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

# The append path runs thousands of times a second: it speaks to the driver directly, with
# these statements (":name" placeholders, rewritten for psycopg by _driver_sql).
_EVENT_COLUMNS = tuple(column.name for column in events_table.columns)
_SQL_HEAD = "SELECT seq, records, hash FROM optin_head WHERE id = 1"
_SQL_INSERT_EVENT = (  # built from the table's own column names
    f"INSERT INTO optin_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)})"
)
_SQL_MOVE_HEAD = "UPDATE optin_head SET seq = :seq, records = :records, hash = :hash WHERE id = 1"
_SQL_INSERT_TEXT = (
    "INSERT INTO optin_texts (version, artefact, locale, text) "
    "VALUES (:version, :artefact, :locale, :text)"
)


def _driver_sql(dialect: str, sql: str) -> str:
    """``:name`` placeholders in the driver's style: sqlite3 takes them as they are,
    psycopg wants ``%(name)s``."""
    return sql if dialect == "sqlite" else re.sub(r":(\w+)", r"%(\1)s", sql)


def _event_row(seq: int, event: ConsentEvent) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": event.id,
        "subject": event.subject,
        "purpose": event.purpose,
        "action": event.action,
        "method": event.method,
        "versions": json.dumps(event.versions, sort_keys=True),
        "locale": event.locale,
        "at": event.at,
        "evidence": json.dumps(event.evidence, sort_keys=True, ensure_ascii=False),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _closed_gate() -> threading.Lock:
    gate = threading.Lock()
    gate.acquire()
    return gate


@dataclass(eq=False)
class _Ticket:
    """One caller's batch waiting for the group commit, and how it ended."""

    prepared: list[ConsentEvent]
    words: list[dict[str, str]]
    gate: threading.Lock = field(default_factory=_closed_gate)  # opened by the leader
    done: bool = False
    sealed: list[ConsentEvent] = field(default_factory=list)
    error: LedgerError | None = None


@dataclass(frozen=True)
class Decision:
    """May this subject be contacted for this purpose? And why."""

    allowed: bool
    reason: str
    event: ConsentEvent | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain: ``ok``, or the first broken record and why."""

    ok: bool
    count: int
    broken_id: str | None = None
    reason: str = ""


def database_url(url: str | Path) -> str:
    """A SQLAlchemy URL from a file path, ``sqlite:///...`` or ``postgresql://...``."""
    text = str(url)
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _row_event(row: Any) -> ConsentEvent:
    return ConsentEvent(
        id=row.id,
        subject=row.subject,
        purpose=row.purpose,
        action=row.action,
        method=row.method,
        versions=json.loads(row.versions),
        locale=row.locale,
        at=row.at,
        evidence=json.loads(row.evidence),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def decide(
    action: str | None, method: str | None, at: str | None, basis: str | None
) -> tuple[bool, str]:
    """The rule of "can I send?": the latest event decides; with none, only a purpose that
    does not rest on consent may go ahead. Returns (allowed, reason)."""
    if action is None:
        if basis is not None and basis != "consent":
            return True, f"no objection recorded (legal basis: {basis})"
        return False, "no consent recorded"
    day = str(at)[:10]  # records carry UTC ISO 8601 times: the date is the first ten characters
    if action == "grant":
        return True, f"consent given on {day} by {method}"
    how = {"sms-reply": "SMS", "web-form": "web form"}.get(str(method), str(method))
    word = "withdrawn" if action == "withdraw" else "opposition"
    return False, f"{word} by {how} on {day}"


class Ledger:
    """Append-only consent ledger. ``spec`` (optional) checks purposes and locales and lets the
    ledger store the exact texts behind the versions a person was shown."""

    def __init__(self, url: str | Path = "optin.db", spec: Spec | None = None) -> None:
        self.url = database_url(url)
        self.spec = spec
        try:
            sqlite = self.url.startswith("sqlite")  # a file needs no liveness ping
            self.engine: Engine = create_engine(self.url, pool_pre_ping=not sqlite)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise LedgerError(f"cannot open the ledger at {url}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            _sqlite_setup(self.engine)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._sql = {
            "head": _SQL_HEAD if self._sqlite else _SQL_HEAD + " FOR UPDATE",
            "insert_event": _driver_sql(self.engine.dialect.name, _SQL_INSERT_EVENT),
            "move_head": _driver_sql(self.engine.dialect.name, _SQL_MOVE_HEAD),
            "insert_text": _driver_sql(self.engine.dialect.name, _SQL_INSERT_TEXT),
        }
        self._ready = False
        self._stored: set[str] = set()  # versions known to have their text stored (never removed)
        # Threads of one process queue their appends and one of them, the leader, writes them
        # all (group commit, see _append); this also keeps them out of SQLite's busy handler,
        # which sleeps up to 100 ms at a time while another connection holds the write lock.
        self._queue_lock = threading.Lock()  # guards _queue and _writing
        self._queue: list[_Ticket] = []
        self._writing = False  # a leader is at work: newcomers wait for it
        self._writer = threading.Lock()  # held while a batch is written
        self._raw: Any = None  # the writer's own DB-API connection (see _writer_connection)
        database = self.engine.url.database if self._sqlite else None
        self._lock_path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self._lock_fd: int | None = None
        self._lock_closer: weakref.finalize[Any, Any] | None = None
        # flock belongs to an open file description, which all threads share: this lock makes
        # the section exclusive between the threads of this process too, and guards the
        # descriptor's lazy opening (D5: two threads opening it at once hung every writer).
        self._process_lock = threading.Lock()
        _LEDGERS.add(self)

    # --- schema ----------------------------------------------------------------------------

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            with self._across_processes():  # SQLite: workers starting together take turns
                self._create_schema()
        except IntegrityError:
            pass  # another process created the schema at the same moment
        except OperationalError as exc:
            raise LedgerError(f"cannot reach the ledger database: {exc.orig}") from None
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger's lock file: {exc}") from None
        self._ready = True

    def _create_schema(self) -> None:
        _metadata.create_all(self.engine, checkfirst=True)
        with self.engine.begin() as conn:
            versions = [r.version for r in conn.execute(select(schema_table.c.version))]
            if not versions:
                conn.execute(insert(schema_table).values(version=1, applied_at=utc_now()))
            elif max(versions) > SCHEMA_VERSION:
                raise LedgerError(
                    f"the ledger's schema is version {max(versions)}; this toolkit knows "
                    f"up to {SCHEMA_VERSION}: upgrade optin-toolkit"
                )
            if conn.execute(select(head_table.c.id)).first() is None:
                conn.execute(insert(head_table).values(id=1, seq=0, records=0, hash=GENESIS))

    def close(self) -> None:
        """Release the database connections (and the lock file)."""
        with self._writer, self._process_lock:
            self._drop_writer_connection()
            if self._lock_closer is not None:
                self._lock_closer()
            self._lock_fd = self._lock_closer = None
        self.engine.dispose()

    def _after_fork(self) -> None:
        """In a child process (gunicorn --preload, multiprocessing): never touch the parent's
        connections, locks or queue; open its own on first use."""
        self._queue_lock, self._queue, self._writing = threading.Lock(), [], False
        self._writer = threading.Lock()
        self._process_lock = threading.Lock()
        if self._raw is not None:
            _INHERITED.append(self._raw)  # closing it here could disturb the parent's database
        self._raw = None
        if self._lock_closer is not None:
            self._lock_closer()  # the child's copy only: the parent keeps its descriptor
        self._lock_fd = self._lock_closer = None
        self.engine.dispose(close=False)

    @contextmanager
    def _across_processes(self) -> Iterator[None]:
        """SQLite: one writer at a time, across processes and threads. Processes queue on a
        kernel file lock next to the database (a waiting process wakes the moment it is free,
        where SQLite's busy handler would sleep up to 100 ms between tries); the threads of
        this process queue on ``_process_lock`` first, since they share one descriptor."""
        if self._lock_path is None:
            yield
            return
        with self._process_lock:
            if self._lock_fd is None:
                # read-only is enough for flock: whoever may read the database may queue to write
                self._lock_fd = os.open(self._lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
                self._lock_closer = weakref.finalize(self, os.close, self._lock_fd)
            descriptor = self._lock_fd  # unlock the very descriptor that was locked
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _writer_connection(self) -> Any:
        """The DB-API connection appends use (under the writer lock): one, kept, so a batch
        pays no pool checkout."""
        if self._raw is None:
            raw = self.engine.raw_connection()
            raw.detach()  # ours alone from now on; closed by _drop_writer_connection
            self._raw = raw
        return self._raw

    def _drop_writer_connection(self) -> None:
        """Roll back and close the writer's connection (after a failure, or on close); the
        next append opens a fresh one."""
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(Exception):
                raw.rollback()
            with suppress(Exception):
                raw.close()

    # --- writing ---------------------------------------------------------------------------

    def remember(self, rendered: Rendered) -> str:
        """Store the exact text behind a version (once); return the version."""
        text = {
            "version": rendered.version,
            "artefact": rendered.artefact,
            "locale": rendered.locale,
            "text": rendered.text,
        }
        self._append([], [text])
        return rendered.version

    def _texts_from_spec(self, versions: Mapping[str, str], locale: str) -> list[Rendered]:
        if self.spec is None:
            return []
        wanted = set(versions.values())
        found = []
        for artefact in ("checkbox", "notice-short", "notice-full"):
            try:
                rendered = render(self.spec, artefact, locale)
            except ValueError:
                continue
            if rendered.version in wanted:
                found.append(rendered)
        for first in (False, True):
            if self.spec.sms is not None:
                rendered = render(self.spec, "sms-footer", locale, first_contact=first)
                if rendered.version in wanted:
                    found.append(rendered)
        return found

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
        return self._append([event])[0]

    def append(self, prepared: list[ConsentEvent]) -> list[ConsentEvent]:
        """Write prepared events in one transaction: all of them, or none."""
        return self._append(prepared) if prepared else []

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
        if method not in METHODS:
            raise LedgerError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if self.spec is not None:
            try:
                self.spec.purpose(purpose)
            except KeyError:
                known = ", ".join(p.id for p in self.spec.purposes)
                raise LedgerError(f"unknown purpose {purpose!r}; the spec has {known}") from None
            if locale not in self.spec.locales:
                raise LedgerError(f"locale {locale!r} is not one of the spec's locales")
        shown = {str(k): str(v) for k, v in (versions or {}).items()}
        for artefact, version in shown.items():
            if not (version.startswith("sha256:") and len(version) == 71):
                raise LedgerError(f"versions.{artefact}: expected sha256:<64 hex>, got {version!r}")
        if action == "grant" and not shown:
            raise LedgerError("a grant needs the versions of the checkbox and notice shown")
        return ConsentEvent(
            id=new_event_id(),
            subject=normalise_subject(subject, region),
            purpose=purpose,
            action=action,
            method=method,
            versions=shown,
            locale=locale,
            at=utc_now(),
            evidence=minimise_evidence(evidence),
        )

    def _append(
        self, prepared: list[ConsentEvent], words: list[dict[str, str]] | None = None
    ) -> list[ConsentEvent]:
        """Chain and insert events (and texts) in one transaction: all of them, or none.

        Group commit: callers queue their events; the first, the leader, writes every queued
        batch in one transaction and one durable commit, so concurrent sign-ups share a disk
        sync instead of waiting for one each; each waiting caller is woken once, when its
        batch is written or when it is its turn to lead. Each batch succeeds or fails alone.
        """
        self._ensure()
        ticket = _Ticket(prepared, words or [])
        with self._queue_lock:
            self._queue.append(ticket)
            leader = not self._writing
            self._writing = True
        if not leader:
            ticket.gate.acquire()  # until a leader has written this batch, or hands over
        if not ticket.done:  # this caller leads: write everything queued so far
            tickets: list[_Ticket] = []
            try:
                with self._writer:
                    with self._queue_lock:
                        tickets, self._queue = self._queue, []
                    try:
                        with self._across_processes():
                            self._write(tickets)
                    except OSError as exc:  # the lock file: nothing of these batches is stored
                        failed = LedgerError(f"cannot lock the ledger for writing: {exc}")
                        for taken in tickets:
                            taken.sealed, taken.error, taken.done = [], failed, True
            finally:  # whatever happened, nobody is left waiting
                for other in tickets:
                    if other is not ticket:
                        other.gate.release()
                with self._queue_lock:
                    if self._queue:  # those who queued meanwhile: the first of them leads next
                        self._queue[0].gate.release()
                    else:
                        self._writing = False
        if ticket.error is not None:
            raise ticket.error
        return ticket.sealed

    def _write(self, tickets: list[_Ticket], *, retry: bool = True) -> None:
        """Write queued batches in one transaction (under the writer lock); on a database
        refusal, write them one by one so only the faulty batch fails. Every ticket leaves
        with its sealed events or an error, never with neither."""
        dbapi = self.engine.dialect.loaded_dbapi
        kept = self._raw is not None
        try:
            known = set(self._stored)
            raw = self._writer_connection()
            try:
                cursor = raw.cursor()
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")  # the single writer lock, taken now
                cursor.execute(self._sql["head"])
                head = cursor.fetchone()
                if head is None:
                    raise LedgerError("the ledger has lost its chain head (optin_head)")
                seq, count, prev = head
                rows: list[dict[str, Any]] = []
                for ticket in tickets:
                    ticket.sealed, ticket.error = [], None
                    try:
                        known |= self._store_ticket_texts(cursor, ticket, known)
                    except LedgerError as exc:
                        ticket.error = exc
                        continue
                    for item in ticket.prepared:
                        sealed = replace(item, prev_hash=prev)
                        sealed = replace(sealed, hash=sealed.computed_hash())
                        seq += 1
                        count += 1
                        rows.append(_event_row(seq, sealed))
                        prev = sealed.hash
                        ticket.sealed.append(sealed)
                if rows:
                    cursor.executemany(self._sql["insert_event"], rows)
                    cursor.execute(
                        self._sql["move_head"], {"seq": seq, "records": count, "hash": prev}
                    )
                raw.commit()
            except BaseException:
                self._drop_writer_connection()
                raise
            self._stored |= known
            for ticket in tickets:
                ticket.done = True
        except (dbapi.IntegrityError, dbapi.OperationalError, SQLAlchemyError) as exc:
            if kept and retry and isinstance(exc, dbapi.OperationalError):
                # the kept connection may have gone stale (a server restart): once more, fresh
                self._write(tickets, retry=False)
                return
            if len(tickets) > 1:
                for ticket in tickets:
                    self._write([ticket])
                return
            refused = isinstance(exc, (dbapi.IntegrityError, IntegrityError))
            what = (
                "record refused by the database"
                if refused
                else "cannot write to the ledger database"
            )
            tickets[0].error = LedgerError(f"{what}: {getattr(exc, 'orig', None) or exc}")
        finally:
            for ticket in tickets:
                if not ticket.done:  # an unexpected failure: nothing of this batch is stored
                    ticket.sealed = []
                    ticket.error = ticket.error or LedgerError(
                        "the ledger write failed; nothing was stored"
                    )
                    ticket.done = True

    def _store_ticket_texts(self, cursor: Any, ticket: _Ticket, known: set[str]) -> set[str]:
        """Make sure every version a batch names has its text stored, from the batch's own
        texts, the database or the spec; raise LedgerError, having written nothing, when one
        has none. Returns the versions now known to be stored."""
        offered = {w["version"]: w for w in ticket.words}
        for version, word in offered.items():
            if content_version(word["text"]) != version:
                raise LedgerError(f"text does not match its version {version}")
        needed = {v for item in ticket.prepared for v in item.versions.values()} | set(offered)
        unknown = sorted(needed - known)
        if not unknown:
            return set()
        marks = ", ".join(f":v{i}" for i in range(len(unknown)))
        cursor.execute(
            _driver_sql(
                self.engine.dialect.name,
                f"SELECT version FROM optin_texts WHERE version IN ({marks})",  # noqa: S608
            ),
            {f"v{i}": version for i, version in enumerate(unknown)},
        )
        stored = {row[0] for row in cursor.fetchall()}
        new = {v: w for v, w in offered.items() if v not in stored}
        for item in ticket.prepared:
            for rendered in self._texts_from_spec(item.versions, item.locale):
                if rendered.version not in stored:
                    new[rendered.version] = {
                        "version": rendered.version,
                        "artefact": rendered.artefact,
                        "locale": rendered.locale,
                        "text": rendered.text,
                    }
        for item in ticket.prepared:
            missing = [
                f"{k}={v}"
                for k, v in item.versions.items()
                if v not in known and v not in stored and v not in new
            ]
            if missing:
                raise LedgerError(
                    "no stored text for " + ", ".join(missing) + ": the ledger only records "
                    "versions whose words it keeps (call Ledger.remember(rendered) first)"
                )
        if new:
            cursor.executemany(self._sql["insert_text"], list(new.values()))
        return stored | set(new)

    # --- reading ---------------------------------------------------------------------------

    def status(self, subject: str, purpose: str, region: str | None = None) -> ConsentEvent | None:
        """The latest event for a subject and purpose (it decides), or None."""
        self._ensure()
        key = normalise_subject(subject, region)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(events_table)
                .where(events_table.c.subject == key, events_table.c.purpose == purpose)
                .order_by(events_table.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else _row_event(row)

    def can_send(self, subject: str, purpose: str, region: str | None = None) -> Decision:
        """May we contact ``subject`` for ``purpose`` now? The latest event decides;
        an opposition blocks until a later explicit grant."""
        try:
            latest = self.status(subject, purpose, region)
        except LedgerError as exc:
            return Decision(False, str(exc))
        try:
            basis = self.purpose_basis(purpose)
        except LedgerError as exc:
            return Decision(False, str(exc))
        if latest is None:
            allowed, reason = decide(None, None, None, basis)
            return Decision(allowed, reason)
        allowed, reason = decide(latest.action, latest.method, latest.at, basis)
        return Decision(allowed, reason, latest)

    def purpose_basis(self, purpose: str) -> str | None:
        """The purpose's legal basis from the spec (None without a spec)."""
        if self.spec is None:
            return None
        try:
            return self.spec.purpose(purpose).legal_basis
        except KeyError:
            raise LedgerError(f"unknown purpose {purpose!r}") from None

    def latest_many(self, subjects: Iterable[str], purpose: str) -> dict[str, tuple[str, str, str]]:
        """For normalised subjects: the latest (action, method, at) per subject for a purpose.

        Runs one plain DB-API query per 5,000 subjects (the audit's hot path)."""
        self._ensure()
        keys = list(dict.fromkeys(subjects))
        found: dict[str, tuple[str, str, str]] = {}
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                for start in range(0, len(keys), 5000):
                    chunk = keys[start : start + 5000]
                    marks = ", ".join([mark] * len(chunk))
                    cursor.execute(
                        "SELECT subject, action, method, at FROM optin_events "  # noqa: S608
                        f"WHERE purpose = {mark} AND subject IN ({marks}) ORDER BY seq",
                        [purpose, *chunk],
                    )
                    for subject, action, method, at in cursor.fetchall():
                        found[subject] = (action, method, at)
            finally:
                cursor.close()
        return found

    def history(self, subject: str, region: str | None = None) -> list[ConsentEvent]:
        """Every event of a subject, oldest first."""
        self._ensure()
        key = normalise_subject(subject, region)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events_table)
                .where(events_table.c.subject == key)
                .order_by(events_table.c.seq)
            )
            return [_row_event(r) for r in rows]

    def event(self, event_id: str) -> ConsentEvent:
        """One event by id (LedgerError when there is none)."""
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(select(events_table).where(events_table.c.id == event_id)).first()
        if row is None:
            raise LedgerError(f"no record with id {event_id!r}")
        return _row_event(row)

    def text(self, version: str) -> str:
        """The exact words behind a version."""
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(texts_table.c.text).where(texts_table.c.version == version)
            ).first()
        if row is None:
            raise LedgerError(f"no stored text for {version}")
        return str(row.text)

    def events(self) -> Iterator[ConsentEvent]:
        """Every event in chain order, streamed."""
        self._ensure()
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(
                select(events_table).order_by(events_table.c.seq)
            )
            for row in result:
                yield _row_event(row)

    def verify(self) -> VerifyResult:
        """Recompute every hash and link; name the first record that does not hold."""
        self._ensure()
        prev, count, last_seq = GENESIS, 0, 0
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=2000).execute(
                select(events_table).order_by(events_table.c.seq)
            )
            for row in rows:
                item = _row_event(row)
                count += 1
                if row.seq != last_seq + 1:
                    return VerifyResult(
                        False,
                        count,
                        item.id,
                        f"record(s) before this one are missing (seq {last_seq + 1})",
                    )
                if item.prev_hash != prev:
                    return VerifyResult(
                        False, count, item.id, "prev_hash does not match the record before it"
                    )
                if item.computed_hash() != item.hash:
                    return VerifyResult(
                        False, count, item.id, "hash does not match the record's content"
                    )
                prev, last_seq = item.hash, row.seq
            head = conn.execute(select(head_table)).first()
            for row in conn.execute(select(texts_table)):
                if content_version(row.text) != row.version:
                    return VerifyResult(
                        False, count, row.version, "stored text does not match its version"
                    )
        if head is not None and (head.records != count or head.hash != prev):
            return VerifyResult(
                False,
                count,
                None,
                f"the chain ends early: {head.records - count} last record(s) missing",
            )
        return VerifyResult(True, count)

    def export(self, fmt: str = "jsonl", *, texts: bool = False) -> Iterator[str]:
        """Every event as JSON lines or CSV lines (header first), in chain order.

        ``texts=True`` (JSON lines) first emits each stored text as
        ``{"version", "artefact", "locale", "text"}``, so an import elsewhere keeps the words.
        """
        if fmt == "jsonl":
            if texts:
                self._ensure()
                with self.engine.connect() as conn:
                    for row in conn.execute(select(texts_table).order_by(texts_table.c.version)):
                        yield json.dumps(dict(row._mapping), ensure_ascii=False, sort_keys=True)
            for item in self.events():
                yield json.dumps(item.as_json(), ensure_ascii=False, sort_keys=True)
            return
        if fmt != "csv":
            raise LedgerError(f"unknown export format {fmt!r}; expected jsonl or csv")
        import csv
        import io

        columns = list(ConsentEvent.__dataclass_fields__)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="")
        writer.writerow(columns)
        yield buffer.getvalue()
        for item in self.events():
            buffer.seek(0)
            buffer.truncate()
            values = item.as_json()
            writer.writerow(
                [
                    json.dumps(values[c], sort_keys=True)
                    if isinstance(values[c], dict)
                    else values[c]
                    for c in columns
                ]
            )
            yield buffer.getvalue()

    def import_jsonl(self, lines: Iterable[str]) -> int:
        """Append records captured elsewhere: each verified against its own hash and chain,
        then re-chained here (method 'import', origin kept in evidence). All or nothing."""
        prepared, prev_origin = [], None
        words: list[dict[str, str]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict) and set(data) == {
                    "version",
                    "artefact",
                    "locale",
                    "text",
                }:
                    if content_version(str(data["text"])) != data["version"]:
                        raise LedgerError(f"line {number}: text does not match its version")
                    words.append({k: str(v) for k, v in data.items()})
                    continue
                origin = ConsentEvent(**data)
            except (ValueError, TypeError) as exc:
                raise LedgerError(f"line {number}: not a consent record: {exc}") from None
            if not _UTC_MS.fullmatch(str(origin.at)):
                raise LedgerError(
                    f"line {number}: 'at' must be UTC with milliseconds, like "
                    f"2026-11-30T09:15:02.123Z, got {origin.at!r}"
                )
            if compute_hash(origin.body()) != origin.hash:
                raise LedgerError(
                    f"line {number}: hash does not match the record (forged or altered)"
                )
            if prev_origin is not None and origin.prev_hash != prev_origin:
                raise LedgerError(f"line {number}: does not follow the line before it in its chain")
            prev_origin = origin.hash
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
            self._append(prepared, words)
        return len(prepared)

    def receipt(self, event_id: str) -> dict[str, Any]:
        """The consent receipt of one event (Kantara v1.1 JSON; see toolkit.proof.receipt)."""
        from .receipt import receipt

        return receipt(self, event_id)

    def count(self) -> int:
        """How many events the ledger holds."""
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events_table)).scalar_one())


_LEDGERS: weakref.WeakSet[Ledger] = weakref.WeakSet()
_INHERITED: list[Any] = []  # connections a forked child inherited: kept, never used or closed


def _reset_after_fork() -> None:
    for ledger in list(_LEDGERS):
        ledger._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def _sqlite_setup(engine: Engine) -> None:
    """WAL, durable commits, a patient lock wait, and BEGIN IMMEDIATE for one writer at a time."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
