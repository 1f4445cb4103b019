"""The ledger's tables (SQLAlchemy Core), its schema version, and creating them.

Every table is append-only by convention of the code that writes it: no statement of the
toolkit updates or deletes a row, except the single chain-head row that moves forward.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
)

from ..errors import LedgerError
from .records import GENESIS, utc_now

SCHEMA_VERSION = 4  # 2: suppression lists; 3: subject digests and the subject key;
# 4: the log of verifications

metadata = MetaData()

schema_table = Table(
    "optin_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(24), nullable=False),
)

texts_table = Table(  # the exact words behind each version, stored once
    "optin_texts",
    metadata,
    Column("version", String(71), primary_key=True),
    Column("artefact", String(40), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("text", Text, nullable=False),
)

events_table = Table(  # the chain: one row per grant, withdrawal or opposition
    "optin_events",
    metadata,
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
    # What the hash covers of the subject (schema 3; "" in older records): its keyed digest
    # and its salted hash (seal). A redacted record's subject is its digest, its salt "".
    Column("subject_digest", String(76), nullable=False, server_default=""),
    Column("subject_salt", String(32), nullable=False, server_default=""),
    Column("subject_seal", String(71), nullable=False, server_default=""),
)
Index("ix_optin_events_subject", events_table.c.subject, events_table.c.purpose, events_table.c.seq)

head_table = Table(  # one row: the last record's seq and hash, and how many records there are
    "optin_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("hash", String(71), nullable=False),
)

# Every verification of the chain that a writable ledger ran (the admin page's, on each view,
# of the records appended since the last one; a full one on demand): one row each, never
# changed. The latest good row is where the next check starts, so a page view costs the
# records appended since, not the ledger's size. A cache of work done, not proof: a full
# verify, or a signed checkpoint, is what convinces someone who distrusts the database.
verifications_table = Table(
    "optin_verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("kind", String(8), nullable=False),  # "full" or "new" (the records since the last)
    Column("start", BigInteger, nullable=False),  # checked the records after this seq ...
    Column("upto", BigInteger, nullable=False),  # ... up to this one
    Column("hash", String(71), nullable=False),  # the hash of record #upto
    Column("head", BigInteger, nullable=False),  # the chain's last seq when it ran
    Column("ok", Integer, nullable=False),
    Column("broken_id", String(64), nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("tally", Text, nullable=False, server_default="{}"),  # records per purpose and action
)
Index("ix_optin_verifications_kind", verifications_table.c.kind, verifications_table.c.id)

# The key of the subjects' digests: the key itself ("key:<hex>"), or only its fingerprint
# ("fingerprint:sha256:<hex>") when the key is kept outside the database (OPTIN_SUBJECT_KEY).
keys_table = Table(
    "optin_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(200), nullable=False),
)

# Suppression lists: national registries (Bloctel, Lista Robinson...) and the controller's own.
# Reference data, not consent records: a new import of a list replaces the entries of the
# previous one (its row stays, as history). Entries are keys, never numbers: the first 8 bytes
# of the SHA-256 of the E.164 number (or lower-cased address), as a signed 64-bit integer.
suppression_lists_table = Table(
    "optin_suppression_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("channel", String(8), nullable=True),  # None: every channel
    Column("imported_at", String(24), nullable=False),
    Column("until", String(10), nullable=True),
    Column("source", String(255), nullable=False),
    Column("entries", BigInteger, nullable=False),
)
suppressed_table = Table(
    "optin_suppressed",
    metadata,
    Column("key", BigInteger, primary_key=True),
    Column("list_id", Integer, primary_key=True),
    sqlite_with_rowid=False,  # clustered on the key: a lookup reads one page
)

EVENT_COLUMNS: tuple[str, ...] = tuple(column.name for column in events_table.columns)
TABLES: tuple[str, ...] = tuple(metadata.tables)
# What a ledger must have to be read; a version-1 ledger (no suppression lists) reads as one
# with no lists.
CORE_TABLES: tuple[str, ...] = ("optin_schema", "optin_texts", "optin_events", "optin_head")


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def create_schema(conn: Connection) -> None:
    """Create what is missing (in the caller's transaction) and record the schema version;
    refuse a ledger written by a newer toolkit."""
    versions = []
    if schema_table.name in _tables(conn):
        versions = [row.version for row in conn.execute(select(schema_table.c.version))]
    if versions and max(versions) > SCHEMA_VERSION:
        raise LedgerError(
            f"the ledger's schema is version {max(versions)}; this toolkit knows "
            f"up to {SCHEMA_VERSION}: upgrade optin-toolkit"
        )
    had = _tables(conn)
    metadata.create_all(conn, checkfirst=True)  # version 1 -> 2 adds tables, changes none
    if events_table.name in had:  # version 2 -> 3: older records cover their subject itself
        present = {column["name"] for column in inspect(conn).get_columns(events_table.name)}
        for name, size in (("subject_digest", 76), ("subject_salt", 32), ("subject_seal", 71)):
            if name not in present:
                conn.exec_driver_sql(
                    f"ALTER TABLE optin_events ADD COLUMN {name} VARCHAR({size})"
                    " NOT NULL DEFAULT ''"
                )
    if not versions or max(versions) < SCHEMA_VERSION:
        conn.execute(insert(schema_table).values(version=SCHEMA_VERSION, applied_at=utc_now()))
    if conn.execute(select(head_table.c.id)).first() is None:
        conn.execute(insert(head_table).values(id=1, seq=0, records=0, hash=GENESIS))
