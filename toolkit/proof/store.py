"""Where the chain is kept: a small storage protocol and its SQL implementation.

``ChainStore`` is the seam (as httpx's ``BaseTransport``): the group commit writes through
``writing()``, the ledger reads through the other methods, and neither knows SQL. ``SqlStore``
holds every line of dialect-specific code (SQLite and PostgreSQL through SQLAlchemy 2 Core,
plus the DB-API for the hot append path), so a second backend is one class.

Errors: a record the database refuses is a ``LedgerError`` (bad input); a database or lock that
cannot be reached is ``LedgerUnavailable`` (an outage).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..errors import LedgerError, LedgerUnavailable
from .records import CONSENT_ACTIONS, ConsentEvent, digest_subject, utc_now
from .schema import (
    CORE_TABLES,
    EVENT_COLUMNS,
    create_schema,
    events_table,
    head_table,
    keys_table,
    suppression_lists_table,
    texts_table,
    verifications_table,
)


class Head(NamedTuple):
    """The chain head: the last record's ``seq`` and ``hash``, and how many records exist."""

    seq: int
    records: int
    hash: str


@dataclass(frozen=True)
class StoredText:
    """The exact words behind a version, as stored once in the ledger."""

    version: str
    artefact: str
    locale: str
    text: str

    def as_json(self) -> dict[str, str]:
        """The text as exported (stable keys)."""
        return {
            "version": self.version,
            "artefact": self.artefact,
            "locale": self.locale,
            "text": self.text,
        }


class Latest(NamedTuple):
    """What the decision needs of a subject's record for a purpose."""

    action: str
    method: str
    at: str
    id: str = ""
    hash: str = ""
    versions: str = ""  # a notice-sent's versions, a delivery's evidence (JSON); else ""
    subject: str = ""  # as stored (the audit's batch read groups its rows by it)


@dataclass(frozen=True)
class SuppressionList:
    """One imported version of a suppression list: a registry's copy, or the controller's own."""

    id: int
    name: str
    channel: str | None  # None: every channel
    imported_at: str
    until: str | None  # the last day this copy is valid, when the registry says
    source: str
    entries: int


class WriteTransaction(Protocol):
    """One write transaction, holding the chain's write lock until it commits."""

    def head(self) -> Head:
        """The chain head, locked for this transaction."""

    def stored(self, versions: Collection[str]) -> dict[str, tuple[str, str]]:
        """Which of these versions already have their text stored: version -> (artefact,
        locale), so that a version can be checked against the slot that names it."""

    def insert_texts(self, texts: Iterable[StoredText]) -> None:
        """Store texts; a version already stored is left as it is."""

    def insert_events(self, rows: Sequence[tuple[int, ConsentEvent]]) -> None:
        """Insert sealed events with their sequence numbers."""

    def move_head(self, head: Head) -> None:
        """Move the chain head forward."""

    def redact(self, subject: str, digest: str) -> int:
        """Replace a subject by its digest, and erase its salt, in every record of it written
        with that digest; how many records changed. The one write besides the head that
        changes a row: no field the hash covers changes."""


class ChainStore(Protocol):
    """The storage a ``Ledger`` needs: one serialised writer, consistent reads."""

    def ensure(self) -> None:
        """Create the schema if allowed, or check it is there."""

    def writing(self) -> AbstractContextManager[WriteTransaction]:
        """A write transaction, exclusive across threads and processes; commits on exit."""

    def digest(self, subject: str) -> str:
        """The keyed digest of a normalised subject ("" for a ledger without a subject key,
        written before schema 3 and opened to read)."""

    def latest(self, subject: str, purpose: str) -> ConsentEvent | None:
        """The subject's latest record for a purpose."""

    def events_many(
        self, subjects: Sequence[str], purpose: str, upto: str | None = None
    ) -> dict[str, list[Latest]]:
        """Each subject's records for a purpose, oldest first (subjects without any absent)."""

    def subject_events(self, subject: str, purpose: str, upto: str | None) -> list[Latest]:
        """A subject's records for a purpose, oldest first."""

    def suppression_lists(self) -> list[SuppressionList]:
        """The current copy of every suppression list."""

    def suppressed(self, keys: Sequence[int]) -> dict[int, set[int]]:
        """For each key on a list: the ids of the list copies it is on."""

    def import_suppression(
        self,
        name: str,
        channel: str | None,
        until: str | None,
        source: str,
        keys: Iterable[int],
    ) -> SuppressionList:
        """Store a new copy of a list, all or nothing."""

    def history(self, subject: str) -> list[ConsentEvent]:
        """Every record of a subject, oldest first."""

    def event(self, event_id: str) -> ConsentEvent | None:
        """One record by id."""

    def text(self, version: str) -> StoredText | None:
        """The stored text of a version."""

    def texts(self) -> Iterator[StoredText]:
        """Every stored text, by version."""

    def chain(self) -> tuple[Head, Iterator[tuple[int, ConsentEvent]]]:
        """A consistent view: the head, then every record up to it in chain order."""

    def count(self) -> int:
        """How many records the chain holds."""

    def after_fork(self) -> None:
        """In a forked child: forget the parent's connections and locks."""

    def close(self) -> None:
        """Release connections and locks."""


_VERIFY_RANGE = 20_000  # records read per transaction by a verify


def subject_key_from_env() -> bytes | None:
    """``OPTIN_SUBJECT_KEY``: the subject key as 64 hex digits, or the path of a file holding
    them; None when unset (the ledger then keeps its own key)."""
    value = os.environ.get("OPTIN_SUBJECT_KEY", "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        try:
            value = Path(value).expanduser().read_text().strip()
        except OSError as exc:
            raise LedgerError(f"OPTIN_SUBJECT_KEY: cannot read the key file: {exc}") from None
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise LedgerError("OPTIN_SUBJECT_KEY: expected 64 hex digits (32 bytes)")
    return bytes.fromhex(value)


def database_url(url: str | Path) -> str:
    """A SQLAlchemy URL from a file path, ``sqlite:///...`` or ``postgresql://...``."""
    text = str(url)
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


# What the decision reads of a sent message (its versions: did it carry the Art. 14 texts?)
# and of a delivery report (its evidence: which message, delivered or failed), and nothing of
# other records; and the id of a sent message only, which a delivery report names.
_SENT_VERSIONS = (
    "CASE WHEN action = 'notice-sent' THEN versions"
    " WHEN action = 'delivery' THEN evidence ELSE '' END"
)
_SENT_ID = "CASE WHEN action = 'notice-sent' THEN id ELSE '' END"

# The append path runs thousands of times a second: it speaks to the driver directly, with
# these statements (":name" placeholders, rewritten for psycopg by _driver_sql).
_SQL_HEAD = "SELECT seq, records, hash FROM optin_head WHERE id = 1"
_SQL_INSERT_EVENT = (  # built from the table's own column names
    f"INSERT INTO optin_events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in EVENT_COLUMNS)})"
)
_SQL_MOVE_HEAD = "UPDATE optin_head SET seq = :seq, records = :records, hash = :hash WHERE id = 1"
# A text already stored stays as it is: its version is the hash of its words (D1: a long-lived
# ledger re-inserting a known text had its valid grant refused).
_SQL_INSERT_TEXT = (
    "INSERT INTO optin_texts (version, artefact, locale, text) "
    "VALUES (:version, :artefact, :locale, :text) ON CONFLICT (version) DO NOTHING"
)


def _driver_sql(dialect: str, sql: str) -> str:
    """``:name`` placeholders in the driver's style: sqlite3 takes them as they are,
    psycopg wants ``%(name)s``."""
    return sql if dialect == "sqlite" else re.sub(r":(\w+)", r"%(\1)s", sql)


def _event_row(seq: int, item: ConsentEvent) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": item.id,
        "subject": item.subject,
        "purpose": item.purpose,
        "action": item.action,
        "method": item.method,
        "versions": json.dumps(item.versions, sort_keys=True),
        "locale": item.locale,
        "at": item.at,
        "evidence": json.dumps(item.evidence, sort_keys=True, ensure_ascii=False),
        "prev_hash": item.prev_hash,
        "hash": item.hash,
        "subject_digest": item.subject_digest,
        "subject_salt": item.subject_salt,
        "subject_seal": item.subject_seal,
    }


def _one(cursor: Any) -> tuple[Any, ...]:
    row = cursor.fetchone()
    if row is None:
        raise LedgerError("the ledger's suppression lists changed during the import")
    return tuple(row)


def _row_event(row: Any) -> ConsentEvent:
    """A stored row as a record, by position (the table's column order; a verify reads
    millions, and a named lookup on a row costs more than the hash)."""
    values = tuple(row)
    _seq, ident, subject, purpose, action, method, versions, locale, at = values[:9]
    evidence, prev_hash, digest = values[9], values[10], values[11]
    # the three subject columns are absent from a schema-2 ledger opened to read
    subject_digest, salt, seal = values[12:15] if len(values) >= 15 else ("", "", "")
    return ConsentEvent(
        ident,
        subject,
        purpose,
        action,
        method,
        json.loads(versions),
        locale,
        at,
        json.loads(evidence),
        prev_hash,
        digest,
        subject_digest,
        salt,
        seal,
    )


def key_fingerprint(key: bytes) -> str:
    """What the ledger keeps of a subject key held outside it: enough to refuse another key."""
    return "sha256:" + hashlib.sha256(b"optin-subject-key:" + key).hexdigest()


class _SqlWrite:
    """A write transaction on the writer's own DB-API cursor."""

    def __init__(self, store: SqlStore, cursor: Any) -> None:
        self._store = store
        self._cursor = cursor

    def execute(self, sql: str, values: dict[str, Any]) -> None:
        """One statement of the store's own (its SQL already in the driver's style)."""
        self._cursor.execute(sql, values)

    def head(self) -> Head:
        self._cursor.execute(self._store._sql["head"])
        row = self._cursor.fetchone()
        if row is None:
            raise LedgerError("the ledger has lost its chain head (optin_head)")
        return Head(int(row[0]), int(row[1]), str(row[2]))

    def stored(self, versions: Collection[str]) -> dict[str, tuple[str, str]]:
        wanted = sorted(versions)
        if not wanted:
            return {}
        marks = ", ".join(f":v{i}" for i in range(len(wanted)))
        self._cursor.execute(
            self._store._driver(
                "SELECT version, artefact, locale FROM optin_texts"  # noqa: S608
                f" WHERE version IN ({marks})"
            ),
            {f"v{i}": version for i, version in enumerate(wanted)},
        )
        return {row[0]: (row[1], row[2]) for row in self._cursor.fetchall()}

    def insert_texts(self, texts: Iterable[StoredText]) -> None:
        rows = [text.as_json() for text in texts]
        if rows:
            self._cursor.executemany(self._store._sql["insert_text"], rows)

    def insert_events(self, rows: Sequence[tuple[int, ConsentEvent]]) -> None:
        if rows:
            self._cursor.executemany(
                self._store._sql["insert_event"], [_event_row(seq, item) for seq, item in rows]
            )

    def move_head(self, head: Head) -> None:
        self._cursor.execute(
            self._store._sql["move_head"],
            {"seq": head.seq, "records": head.records, "hash": head.hash},
        )

    def redact(self, subject: str, digest: str) -> int:
        self._cursor.execute(  # the subject index finds the rows; the digest keeps older ones
            self._store._driver(
                "UPDATE optin_events SET subject = :digest, subject_salt = '' "
                "WHERE subject = :subject AND subject_digest = :digest"
            ),
            {"subject": subject, "digest": digest},
        )
        return int(self._cursor.rowcount)


class SqlStore:
    """The chain in SQLite or PostgreSQL.

    Writes are serialised so the chain never forks: threads of a process take ``_process_lock``;
    SQLite writers of different processes queue on ``flock`` of ``<database>-writer.lock`` and
    then take ``BEGIN IMMEDIATE``; PostgreSQL writers lock the head row (``FOR UPDATE``).
    Reads take no write lock (plain ``BEGIN``: in WAL mode, readers never block writers, D2).
    """

    def __init__(self, url: str, *, create: bool = True, subject_key: bytes | None = None) -> None:
        self.url = url
        self.create = create
        self._given_key = subject_key  # kept outside the database (OPTIN_SUBJECT_KEY), if given
        self._key: bytes | None = None
        self._columns = list(events_table.columns)  # a schema-2 ledger read has no digests
        try:
            sqlite = url.startswith("sqlite")  # a file needs no liveness ping
            # A reader (create=False) cannot write, whatever it calls: PostgreSQL sessions are
            # read-only; SQLite files are opened read-only below (issue 12 item 8).
            options = {} if create or sqlite else {"options": "-c default_transaction_read_only=on"}
            self.engine: Engine = create_engine(url, pool_pre_ping=not sqlite, connect_args=options)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise LedgerError(f"cannot open the ledger at {url}: {exc}") from None
        self.dialect = self.engine.dialect.name
        self._sqlite = self.dialect == "sqlite"
        database = self.engine.url.database if self._sqlite else None
        self._file = database if database and database != ":memory:" else None
        if self._file is not None:
            if not create and not Path(self._file).is_file():
                raise LedgerError(f"no ledger at {self._file} (the file does not exist)")
            if create:
                Path(self._file).parent.mkdir(parents=True, exist_ok=True)
            else:  # a reader: SQLite itself refuses any write to the ledger (issue 12 item 8)
                self.engine.dispose()
                path = quote(str(Path(self._file).resolve()))
                self.engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        if self._sqlite:
            _sqlite_setup(self.engine)
        self._sql = {
            "head": _SQL_HEAD if self._sqlite else _SQL_HEAD + " FOR UPDATE",
            "insert_event": self._driver(_SQL_INSERT_EVENT),
            "move_head": self._driver(_SQL_MOVE_HEAD),
            "insert_text": self._driver(_SQL_INSERT_TEXT),
        }
        self._ready = False
        self._tables: dict[str, bool] = {}  # whether the tables of newer schemas exist
        self._raw: Any = None  # the writer's own DB-API connection (see _writer_connection)
        self._lock_path = f"{self._file}-writer.lock" if self._file else None
        self._lock_fd: int | None = None
        self._lock_closer: weakref.finalize[Any, Any] | None = None
        # flock belongs to an open file description, which all threads share: this lock makes
        # the section exclusive between the threads of this process too, and guards the
        # descriptor's lazy opening (D5: two threads opening it at once hung every writer).
        self._process_lock = threading.Lock()

    def _driver(self, sql: str) -> str:
        return _driver_sql(self.dialect, sql)

    # --- schema -------------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the schema (or, opened with ``create=False``, check that it exists)."""
        if self._ready:
            return
        try:
            if self.create:
                with self._across_processes(), self.engine.begin() as conn:
                    create_schema(conn)  # SQLite: workers starting together take turns
                    self._key = self._subject_key(conn)
            else:
                missing = set(CORE_TABLES) - set(inspect(self.engine).get_table_names())
                if missing:
                    raise LedgerError(
                        f"no ledger at {self.engine.url.render_as_string(hide_password=True)}"
                        f" (missing tables: {', '.join(sorted(missing))})"
                    )
                with self.engine.connect() as conn:
                    present = {c["name"] for c in inspect(conn).get_columns(events_table.name)}
                    self._columns = [c for c in events_table.columns if c.name in present]
                    self._key = self._subject_key(conn)
        except IntegrityError:  # another process created the schema at the same moment
            with self.engine.connect() as conn:
                self._key = self._subject_key(conn)
        except OperationalError as exc:
            raise LedgerUnavailable(f"cannot reach the ledger database: {exc.orig}") from None
        except OSError as exc:
            raise LedgerUnavailable(f"cannot open the ledger's lock file: {exc}") from None
        self._ready = True

    def _subject_key(self, conn: Connection) -> bytes | None:
        """The key of the subjects' digests: the one kept in the ledger, or the one given
        (checked against the fingerprint the ledger keeps of it). A new ledger keeps a random
        key, or the given key's fingerprint only. None: a schema-2 ledger opened to read."""
        if keys_table.name not in inspect(conn).get_table_names():
            return self._given_key
        value = conn.execute(
            select(keys_table.c.value).where(keys_table.c.name == "subject")
        ).scalar_one_or_none()
        if value is None:
            if not self.create:
                return self._given_key
            key = self._given_key or os.urandom(32)
            kept = f"fingerprint:{key_fingerprint(key)}" if self._given_key else f"key:{key.hex()}"
            conn.execute(insert(keys_table).values(name="subject", value=kept))
            return key
        kind, _, data = str(value).partition(":")
        if kind == "key":
            key = bytes.fromhex(data)
            if self._given_key is not None and self._given_key != key:
                raise LedgerError(
                    "the subject key given (OPTIN_SUBJECT_KEY) is not this ledger's: it keeps"
                    " its own key in the database"
                )
            return key
        if self._given_key is None:
            raise LedgerError(
                "this ledger's subject key is kept outside the database: set OPTIN_SUBJECT_KEY"
                " (64 hex digits, or the path of a file holding them)"
            )
        if key_fingerprint(self._given_key) != data:
            raise LedgerError("the subject key given (OPTIN_SUBJECT_KEY) is not this ledger's")
        return self._given_key

    def digest(self, subject: str) -> str:
        """The keyed digest of a normalised subject ("" without a key: see ``_subject_key``)."""
        self.ensure()
        return "" if self._key is None else digest_subject(self._key, subject)

    def keyed(self) -> bool:
        """Whether this store knows the subject key (every ledger of schema 3 does)."""
        self.ensure()
        return self._key is not None

    def live_subjects(self) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """Each subject not redacted, with its records' (action, at), by subject."""
        mark = self._mark
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT subject, action, at FROM optin_events"  # noqa: S608
                f" WHERE subject < {mark} OR subject >= {mark} ORDER BY subject, seq",
                ["hmac-sha256:", "hmac-sha256;"],
            )
            for subject, rows in groupby(cursor.fetchall(), key=itemgetter(0)):
                yield subject, [(action, at) for _subject, action, at in rows]

    def _named(self, subject: str) -> list[str]:
        """What a subject's records may hold as their subject: itself, or (redacted) its
        digest; so an objection recorded before a redaction still blocks the number."""
        digest = self.digest(subject)
        return [subject, digest] if digest else [subject]

    # --- writing ------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_SqlWrite]:
        """A write transaction on the kept DB-API connection, exclusive across threads and
        processes; committed when the block ends, rolled back (connection dropped) if not."""
        if not self.create:
            raise LedgerError("this ledger was opened to read (create=False): it cannot write")
        self.ensure()
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            with self._across_processes():
                raw = self._writer_connection()
                try:
                    cursor = raw.cursor()
                    if self._sqlite:
                        cursor.execute("BEGIN IMMEDIATE")  # the single writer lock, taken now
                    yield _SqlWrite(self, cursor)
                    raw.commit()
                except BaseException:
                    self._drop_writer_connection()
                    raise
        except (dbapi.IntegrityError, IntegrityError) as exc:
            raise LedgerError(
                f"record refused by the database: {getattr(exc, 'orig', None) or exc}"
            ) from None
        except (dbapi.Error, SQLAlchemyError) as exc:
            raise LedgerUnavailable(
                f"cannot write to the ledger database: {getattr(exc, 'orig', None) or exc}"
            ) from None
        except OSError as exc:
            raise LedgerUnavailable(f"cannot lock the ledger for writing: {exc}") from None

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
        """The DB-API connection writes use: one, kept, so a batch pays no pool checkout."""
        if self._raw is None:
            raw = self.engine.raw_connection()
            raw.detach()  # ours alone from now on; closed by _drop_writer_connection
            self._raw = raw
        return self._raw

    def _drop_writer_connection(self) -> None:
        """Roll back and close the writer's connection (after a failure, or on close); the
        next write opens a fresh one (a server restart is survived this way)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(Exception):
                raw.rollback()
            with suppress(Exception):
                raw.close()

    # --- reading ------------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        self.ensure()
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise LedgerUnavailable(f"cannot reach the ledger database: {exc.orig}") from None

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A DB-API cursor on a pooled connection, for the hot read paths (the decision and
        the audit): a few plain queries, no ORM rows."""
        with self._reading() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                yield cursor
            finally:
                cursor.close()

    @property
    def _mark(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def latest(self, subject: str, purpose: str) -> ConsentEvent | None:
        """The consent record (grant, withdraw, opposition) that decides: the latest by event
        time, the later stored on a tie (an imported older record never decides); contacts
        never decide."""
        with self._reading() as conn:
            row = conn.execute(
                select(*self._columns)
                .where(
                    events_table.c.subject.in_(self._named(subject)),
                    events_table.c.purpose == purpose,
                    events_table.c.action.in_(CONSENT_ACTIONS),
                )
                .order_by(events_table.c.at.desc(), events_table.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else _row_event(row)

    def subject_events(self, subject: str, purpose: str, upto: str | None) -> list[Latest]:
        """A subject's records for a purpose, oldest first (at or before ``upto``, when given)."""
        mark = self._mark
        named = self._named(subject)
        sql = (
            f"SELECT action, method, at, id, hash, {_SENT_VERSIONS} FROM optin_events "  # noqa: S608
            f"WHERE subject IN ({', '.join([mark] * len(named))}) AND purpose = {mark}"
            + (f" AND at <= {mark}" if upto else "")
            + " ORDER BY seq"
        )
        with self._cursor() as cursor:
            cursor.execute(sql, [*named, purpose, *([upto] if upto else [])])
            return [Latest(*row) for row in cursor.fetchall()]

    def events_many(
        self, subjects: Sequence[str], purpose: str, upto: str | None = None
    ) -> dict[str, list[Latest]]:
        """Each subject's records for a purpose, oldest first: one plain DB-API query per
        5,000 subjects (the audit's hot path)."""
        keys = list(dict.fromkeys(subjects))
        found: dict[str, list[Latest]] = {}
        mark = self._mark
        with self._cursor() as cursor:
            redacted = self._any_redacted(cursor)  # digests only then: 1M HMACs cost ~1 s
            for start in range(0, len(keys), 5000):
                chunk = keys[start : start + 5000]
                if redacted:
                    named = {self.digest(subject): subject for subject in chunk}
                    chunk = [*chunk, *named]
                else:
                    named = {}
                marks = ", ".join([mark] * len(chunk))
                cursor.execute(
                    f"SELECT action, method, at, {_SENT_ID}, '', {_SENT_VERSIONS}, subject "  # noqa: S608
                    f"FROM optin_events WHERE purpose = {mark} AND subject IN ({marks})"
                    + (f" AND at <= {mark}" if upto else "")
                    + " ORDER BY seq",
                    [purpose, *chunk, *([upto] if upto else [])],
                )
                new = tuple.__new__  # the columns are Latest's, in its order: no copy
                for row in cursor.fetchall():
                    record = new(Latest, row)
                    owner = named.get(record[6], record[6]) if named else record[6]
                    found.setdefault(owner, []).append(record)
        return found

    def _any_redacted(self, cursor: Any) -> bool:
        """Whether any record's subject is a digest (one step down the subject index)."""
        if self._key is None:
            return False
        cursor.execute(
            f"SELECT 1 FROM optin_events WHERE subject >= {self._mark}"  # noqa: S608
            f" AND subject < {self._mark} LIMIT 1",
            ["hmac-sha256:", "hmac-sha256;"],
        )
        return cursor.fetchone() is not None

    # --- suppression lists --------------------------------------------------------------------

    def _has_suppression(self) -> bool:
        return self._has_table(suppression_lists_table.name)

    def _has_table(self, name: str) -> bool:
        """Whether a table a newer schema added is there (an older ledger read as it is)."""
        if name not in self._tables:
            self._tables[name] = name in set(inspect(self.engine).get_table_names())
        return self._tables[name]

    def suppression_lists(self) -> list[SuppressionList]:
        """The current copy of every list (the latest import of each name)."""
        self.ensure()
        if not self._has_suppression():
            return []
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT id, name, channel, imported_at, until, source, entries "
                "FROM optin_suppression_lists WHERE id IN "
                "(SELECT max(id) FROM optin_suppression_lists GROUP BY name) ORDER BY name"
            )
            return [SuppressionList(*row) for row in cursor.fetchall()]

    def suppressed(self, keys: Sequence[int]) -> dict[int, set[int]]:
        """For each key on a list: the ids of the list copies it is on."""
        found: dict[int, set[int]] = {}
        if not keys or not self._has_suppression():
            return found
        mark = self._mark
        with self._cursor() as cursor:
            for start in range(0, len(keys), 5000):
                chunk = list(keys[start : start + 5000])
                marks = ", ".join([mark] * len(chunk))
                cursor.execute(
                    f"SELECT key, list_id FROM optin_suppressed WHERE key IN ({marks})",  # noqa: S608
                    chunk,
                )
                for key, list_id in cursor.fetchall():
                    found.setdefault(int(key), set()).add(int(list_id))
        return found

    def import_suppression(
        self,
        name: str,
        channel: str | None,
        until: str | None,
        source: str,
        keys: Iterable[int],
    ) -> SuppressionList:
        """Store a new copy of a list, all or nothing: its keys are staged outside the write
        lock (a TEMP table, whatever ``keys`` raises leaves nothing), then merged in key order
        in one transaction that also drops the previous copy's entries."""
        self.ensure()
        raw = self.engine.raw_connection()
        raw.detach()  # ours alone: closing it drops the staging table with it
        try:
            cursor = raw.cursor()
            temp = "TEMP " if self._sqlite else "TEMPORARY "
            cursor.execute(f"CREATE {temp}TABLE optin_staging (key BIGINT NOT NULL)")
            insert_key = self._driver("INSERT INTO optin_staging (key) VALUES (:key)")
            if self._sqlite:
                cursor.execute("BEGIN")  # one transaction for the staging, not one per row
            batch: list[dict[str, int]] = []
            for key in keys:
                batch.append({"key": key})
                if len(batch) == 10_000:
                    cursor.executemany(insert_key, batch)
                    batch.clear()
            if batch:
                cursor.executemany(insert_key, batch)
            # sorted now, outside the lock: the merge below then appends in key order
            cursor.execute("CREATE INDEX optin_staging_key ON optin_staging (key)")
            raw.commit()
            with self._across_processes():
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    self._driver(
                        "INSERT INTO optin_suppression_lists "
                        "(name, channel, imported_at, until, source, entries) "
                        "VALUES (:name, :channel, :at, :until, :source, 0)"
                    ),
                    {
                        "name": name,
                        "channel": channel,
                        "at": utc_now(),
                        "until": until,
                        "source": source[:255],
                    },
                )
                cursor.execute(
                    self._driver("SELECT max(id) FROM optin_suppression_lists WHERE name = :n"),
                    {"n": name},
                )
                list_id = int(_one(cursor)[0])
                ignore = (
                    ("INSERT OR IGNORE INTO", "")
                    if self._sqlite
                    else (
                        "INSERT INTO",
                        " ON CONFLICT DO NOTHING",
                    )
                )
                cursor.execute(
                    self._driver(
                        f"{ignore[0]} optin_suppressed (key, list_id) "  # noqa: S608
                        f"SELECT key, :id FROM optin_staging ORDER BY key{ignore[1]}"
                    ),
                    {"id": list_id},
                )
                cursor.execute(
                    self._driver(
                        "UPDATE optin_suppression_lists SET entries = "
                        "(SELECT count(*) FROM optin_suppressed WHERE list_id = :id) WHERE id = :id"
                    ),
                    {"id": list_id},
                )
                cursor.execute(
                    self._driver(
                        "DELETE FROM optin_suppressed WHERE list_id IN (SELECT id FROM "
                        "optin_suppression_lists WHERE name = :n AND id < :id)"
                    ),
                    {"n": name, "id": list_id},
                )
                raw.commit()
            cursor.execute(
                self._driver(
                    "SELECT id, name, channel, imported_at, until, source, entries "
                    "FROM optin_suppression_lists WHERE id = :id"
                ),
                {"id": list_id},
            )
            return SuppressionList(*_one(cursor))
        except BaseException as exc:
            with suppress(Exception):
                raw.rollback()
            dbapi = self.engine.dialect.loaded_dbapi
            if isinstance(exc, dbapi.Error):
                raise LedgerUnavailable(f"cannot write the suppression list: {exc}") from None
            if isinstance(exc, OSError):
                raise LedgerUnavailable(f"cannot lock the ledger for writing: {exc}") from None
            raise
        finally:
            with suppress(Exception):
                raw.close()

    def history(self, subject: str) -> list[ConsentEvent]:
        return [item for _seq, item in self.numbered_history(subject)]

    def numbered_history(self, subject: str) -> list[tuple[int, ConsentEvent]]:
        """Every record of a subject with its place in the chain (seq), oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(*self._columns)
                .where(events_table.c.subject.in_(self._named(subject)))
                .order_by(events_table.c.seq)
            )
            return [(int(r.seq), _row_event(r)) for r in rows]

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these record ids the chain already holds (5,000 per query)."""
        found: set[str] = set()
        with self._reading() as conn:
            for start in range(0, len(ids), 5000):
                chunk = list(ids[start : start + 5000])
                found.update(
                    conn.execute(
                        select(events_table.c.id).where(events_table.c.id.in_(chunk))
                    ).scalars()
                )
        return found

    def event(self, event_id: str) -> ConsentEvent | None:
        with self._reading() as conn:
            row = conn.execute(select(*self._columns).where(events_table.c.id == event_id)).first()
        return None if row is None else _row_event(row)

    def text(self, version: str) -> StoredText | None:
        with self._reading() as conn:
            row = conn.execute(select(texts_table).where(texts_table.c.version == version)).first()
        return None if row is None else StoredText(row.version, row.artefact, row.locale, row.text)

    def texts(self) -> Iterator[StoredText]:
        with self._reading() as conn:
            for row in conn.execute(select(texts_table).order_by(texts_table.c.version)):
                yield StoredText(row.version, row.artefact, row.locale, row.text)

    def chain(self) -> tuple[Head, Iterator[tuple[int, ConsentEvent]]]:
        """The head first, then the records up to it: records appended meanwhile are outside
        the view, so verifying under load raises no false alarm (D3)."""
        head = self.head()
        return head, self.rows(0, head.seq)

    def head(self) -> Head:
        """The chain's head row: its last seq, its count and its last hash."""
        with self._reading() as conn:
            row = conn.execute(select(head_table)).first()
        return Head(0, 0, "") if row is None else Head(row.seq, row.records, row.hash)

    def rows(self, start: int, end: int) -> Iterator[tuple[int, ConsentEvent]]:
        """The records after seq ``start`` up to ``end``, in chain order.

        Range by range, each in its own short read: a verify of millions of records holds no
        snapshot for minutes (on PostgreSQL, a long one bloats the head row that every append
        rewrites). Records are never changed, so the ranges agree."""
        while start < end:
            stop = min(start + _VERIFY_RANGE, end)
            with self._reading() as conn:  # streamed within the range: no burst of work
                found = conn.execution_options(yield_per=2000).execute(
                    select(*self._columns)
                    .where(events_table.c.seq > start, events_table.c.seq <= stop)
                    .order_by(events_table.c.seq)
                )
                for item in found:
                    yield int(item.seq), _row_event(item)
            start = stop

    def page(self, before: int | None, size: int) -> list[tuple[int, ConsentEvent]]:
        """Up to ``size`` records before seq ``before`` (the newest without it), newest
        first: one step down the primary key, whatever the ledger's size."""
        query = select(*self._columns).order_by(events_table.c.seq.desc()).limit(size)
        if before is not None:
            query = query.where(events_table.c.seq < before)
        with self._reading() as conn:
            return [(int(row.seq), _row_event(row)) for row in conn.execute(query)]

    def hash_at(self, seq: int) -> str | None:
        """The hash of record #seq, or None when there is no such record."""
        with self._reading() as conn:
            found = conn.execute(
                select(events_table.c.hash).where(events_table.c.seq == seq)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def texts_of(self, versions: Collection[str]) -> list[StoredText]:
        """The stored texts of these versions (those that are stored)."""
        if not versions:
            return []
        with self._reading() as conn:
            rows = conn.execute(select(texts_table).where(texts_table.c.version.in_(versions)))
            return [StoredText(r.version, r.artefact, r.locale, r.text) for r in rows]

    def last_verification(self, kind: str | None = None) -> dict[str, Any] | None:
        """The latest row of the verification log (of that ``kind``), or None (none yet, or a
        ledger made by a toolkit that kept no log)."""
        if not self._has_table(verifications_table.name):
            return None
        query = select(verifications_table).order_by(verifications_table.c.id.desc()).limit(1)
        if kind is not None:
            query = query.where(verifications_table.c.kind == kind)
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def log_verification(self, values: dict[str, Any]) -> None:
        """Append one row to the verification log, under the writer lock (a short insert)."""
        sql = self._driver(
            f"INSERT INTO optin_verifications ({', '.join(values)}) "  # noqa: S608
            f"VALUES ({', '.join(':' + name for name in values)})"
        )
        with self.writing() as tx:
            tx.execute(sql, values)

    def redactions_after(self, seq: int) -> set[str]:
        """The digests redacted by records after ``seq`` (a redaction during a verify)."""
        with self._reading() as conn:
            return set(
                conn.execute(
                    select(events_table.c.subject_digest).where(
                        events_table.c.action == "redact", events_table.c.seq > seq
                    )
                ).scalars()
            )

    def count(self) -> int:
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(events_table)).scalar_one())

    # --- lifecycle ----------------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a child process (gunicorn --preload, multiprocessing): never touch the parent's
        connections or locks; open its own on first use."""
        self._process_lock = threading.Lock()
        if self._raw is not None:
            _INHERITED.append(self._raw)  # closing it here could disturb the parent's database
        self._raw = None
        if self._lock_closer is not None:
            self._lock_closer()  # the child's copy only: the parent keeps its descriptor
        self._lock_fd = self._lock_closer = None
        self.engine.dispose(close=False)

    def close(self) -> None:
        with self._process_lock:
            self._drop_writer_connection()
            if self._lock_closer is not None:
                self._lock_closer()
            self._lock_fd = self._lock_closer = None
        self.engine.dispose()


_INHERITED: list[Any] = []  # connections a forked child inherited: kept, never used or closed


def _sqlite_setup(engine: Engine) -> None:
    """WAL, durable commits, a patient lock wait; every transaction the engine opens is a
    plain deferred ``BEGIN`` (SQLAlchemy's recipe): reads take no write lock, and the writer
    takes its own ``BEGIN IMMEDIATE`` on its DB-API connection."""

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
        conn.exec_driver_sql("BEGIN")
