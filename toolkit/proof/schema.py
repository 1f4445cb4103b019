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
    select,
)

from ..errors import LedgerError
from .records import GENESIS, utc_now

SCHEMA_VERSION = 1

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

EVENT_COLUMNS: tuple[str, ...] = tuple(column.name for column in events_table.columns)
TABLES: tuple[str, ...] = tuple(metadata.tables)


def create_schema(conn: Connection) -> None:
    """Create what is missing (in the caller's transaction) and record the schema version;
    refuse a ledger written by a newer toolkit."""
    metadata.create_all(conn, checkfirst=True)
    versions = [row.version for row in conn.execute(select(schema_table.c.version))]
    if not versions:
        conn.execute(insert(schema_table).values(version=SCHEMA_VERSION, applied_at=utc_now()))
    elif max(versions) > SCHEMA_VERSION:
        raise LedgerError(
            f"the ledger's schema is version {max(versions)}; this toolkit knows "
            f"up to {SCHEMA_VERSION}: upgrade optin-toolkit"
        )
    if conn.execute(select(head_table.c.id)).first() is None:
        conn.execute(insert(head_table).values(id=1, seq=0, records=0, hash=GENESIS))
