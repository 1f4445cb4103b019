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
import json
import os
import re
import threading
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..errors import LedgerError, LedgerUnavailable
from .records import ConsentEvent
from .schema import EVENT_COLUMNS, TABLES, create_schema, events_table, head_table, texts_table


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
    """What the decision needs of a subject's latest record for a purpose."""

    action: str
    method: str
    at: str


class WriteTransaction(Protocol):
    """One write transaction, holding the chain's write lock until it commits."""

    def head(self) -> Head:
        """The chain head, locked for this transaction."""

    def stored(self, versions: Collection[str]) -> set[str]:
        """Which of these versions already have their text stored."""

    def insert_texts(self, texts: Iterable[StoredText]) -> None:
        """Store texts; a version already stored is left as it is."""

    def insert_events(self, rows: Sequence[tuple[int, ConsentEvent]]) -> None:
        """Insert sealed events with their sequence numbers."""

    def move_head(self, head: Head) -> None:
        """Move the chain head forward."""


class ChainStore(Protocol):
    """The storage a ``Ledger`` needs: one serialised writer, consistent reads."""

    def ensure(self) -> None:
        """Create the schema if allowed, or check it is there."""

    def writing(self) -> AbstractContextManager[WriteTransaction]:
        """A write transaction, exclusive across threads and processes; commits on exit."""

    def latest(self, subject: str, purpose: str) -> ConsentEvent | None:
        """The subject's latest record for a purpose."""

    def latest_many(self, subjects: Sequence[str], purpose: str) -> dict[str, Latest]:
        """The latest record per subject for a purpose (subjects without one are absent)."""

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


def database_url(url: str | Path) -> str:
    """A SQLAlchemy URL from a file path, ``sqlite:///...`` or ``postgresql://...``."""
    text = str(url)
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


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
    }


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


class _SqlWrite:
    """A write transaction on the writer's own DB-API cursor."""

    def __init__(self, store: SqlStore, cursor: Any) -> None:
        self._store = store
        self._cursor = cursor

    def head(self) -> Head:
        self._cursor.execute(self._store._sql["head"])
        row = self._cursor.fetchone()
        if row is None:
            raise LedgerError("the ledger has lost its chain head (optin_head)")
        return Head(int(row[0]), int(row[1]), str(row[2]))

    def stored(self, versions: Collection[str]) -> set[str]:
        wanted = sorted(versions)
        if not wanted:
            return set()
        marks = ", ".join(f":v{i}" for i in range(len(wanted)))
        self._cursor.execute(
            self._store._driver(
                f"SELECT version FROM optin_texts WHERE version IN ({marks})"  # noqa: S608
            ),
            {f"v{i}": version for i, version in enumerate(wanted)},
        )
        return {row[0] for row in self._cursor.fetchall()}

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


class SqlStore:
    """The chain in SQLite or PostgreSQL.

    Writes are serialised so the chain never forks: threads of a process take ``_process_lock``;
    SQLite writers of different processes queue on ``flock`` of ``<database>-writer.lock`` and
    then take ``BEGIN IMMEDIATE``; PostgreSQL writers lock the head row (``FOR UPDATE``).
    Reads take no write lock (plain ``BEGIN``: in WAL mode, readers never block writers, D2).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.create = create
        try:
            sqlite = url.startswith("sqlite")  # a file needs no liveness ping
            self.engine: Engine = create_engine(url, pool_pre_ping=not sqlite)
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
        if self._sqlite:
            _sqlite_setup(self.engine)
        self._sql = {
            "head": _SQL_HEAD if self._sqlite else _SQL_HEAD + " FOR UPDATE",
            "insert_event": self._driver(_SQL_INSERT_EVENT),
            "move_head": self._driver(_SQL_MOVE_HEAD),
            "insert_text": self._driver(_SQL_INSERT_TEXT),
        }
        self._ready = False
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
            else:
                missing = set(TABLES) - set(inspect(self.engine).get_table_names())
                if missing:
                    raise LedgerError(
                        f"no ledger at {self.engine.url.render_as_string(hide_password=True)}"
                        f" (missing tables: {', '.join(sorted(missing))})"
                    )
        except IntegrityError:
            pass  # another process created the schema at the same moment
        except OperationalError as exc:
            raise LedgerUnavailable(f"cannot reach the ledger database: {exc.orig}") from None
        except OSError as exc:
            raise LedgerUnavailable(f"cannot open the ledger's lock file: {exc}") from None
        self._ready = True

    # --- writing ------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_SqlWrite]:
        """A write transaction on the kept DB-API connection, exclusive across threads and
        processes; committed when the block ends, rolled back (connection dropped) if not."""
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

    def latest(self, subject: str, purpose: str) -> ConsentEvent | None:
        with self._reading() as conn:
            row = conn.execute(
                select(events_table)
                .where(events_table.c.subject == subject, events_table.c.purpose == purpose)
                .order_by(events_table.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else _row_event(row)

    def latest_many(self, subjects: Sequence[str], purpose: str) -> dict[str, Latest]:
        """One plain DB-API query per 5,000 subjects (the audit's hot path)."""
        keys = list(dict.fromkeys(subjects))
        found: dict[str, Latest] = {}
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self._reading() as conn:
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
                        found[subject] = Latest(action, method, at)
            finally:
                cursor.close()
        return found

    def history(self, subject: str) -> list[ConsentEvent]:
        with self._reading() as conn:
            rows = conn.execute(
                select(events_table)
                .where(events_table.c.subject == subject)
                .order_by(events_table.c.seq)
            )
            return [_row_event(r) for r in rows]

    def event(self, event_id: str) -> ConsentEvent | None:
        with self._reading() as conn:
            row = conn.execute(select(events_table).where(events_table.c.id == event_id)).first()
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
        with self._reading() as conn:
            row = conn.execute(select(head_table)).first()
        head = Head(0, 0, "") if row is None else Head(row.seq, row.records, row.hash)

        def rows() -> Iterator[tuple[int, ConsentEvent]]:
            with self._reading() as conn:
                result = conn.execution_options(yield_per=2000).execute(
                    select(events_table)
                    .where(events_table.c.seq <= head.seq)
                    .order_by(events_table.c.seq)
                )
                for item in result:
                    yield int(item.seq), _row_event(item)

        return head, rows()

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
