"""Suppression lists: national registries (Bloctel, Lista Robinson, Registro pubblico delle
opposizioni...) and the controller's own, read into keys and kept in the ledger's database.

A list is kept as keys, never as numbers (``records.subject_key``): the SHA-256 of the number
in E.164 (or the lower-cased e-mail address), cut to 64 bits. A file may give the numbers
(CSV with a phone column, or one number per line) or their SHA-256 already (``hashed``). The
file is read as a stream, and a line that is neither a number nor a hash stops the import,
naming the line: nothing is stored then.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import TextIO

from ..errors import LedgerError
from ..rules import CHANNELS
from .audit import PHONE_COLUMNS
from .ledger import Ledger
from .records import hash_key, national_format, normalise_subject
from .store import SuppressionList

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_HASH_COLUMNS = ("sha256", "hash", "key", *PHONE_COLUMNS, "email", "e-mail")


def check_name(name: str) -> str:
    """A list name: lowercase letters, digits, dots, dashes and underscores (a registry's id,
    like ``bloctel``, makes the rules treat the list as that registry)."""
    if not _NAME.fullmatch(name):
        raise LedgerError(
            f"--list: expected a name of lowercase letters, digits, '.', '-' or '_', like "
            f"bloctel or own-list, got {name!r}"
        )
    return name


def check_channel(channel: str | None) -> str | None:
    """None (every channel) or one of sms, email, phone, post."""
    if channel is not None and channel not in CHANNELS:
        raise LedgerError(f"--channel: expected one of {', '.join(CHANNELS)}, got {channel!r}")
    return channel


def read_keys(
    handle: TextIO,
    source: str,
    *,
    column: str | None = None,
    hashed: bool = False,
    region: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> Iterator[int]:
    """The keys of a list file, streamed. The file is a CSV with a header naming its column
    (a usual phone column, ``column``, or for hashed files ``sha256``), or plain lines of one
    number (or hash) each, with no header."""
    reader = csv.reader(handle)
    first = next(reader, None)
    if first is None:
        raise LedgerError(f"{source}: the file is empty")
    header = [cell.strip().lower() for cell in first]
    index = 0
    names = _HASH_COLUMNS if hashed else PHONE_COLUMNS
    key = _hashed_key if hashed else _number_key(region)
    if column is not None:
        if column.lower() not in header:
            raise LedgerError(f"{source}: no column {column!r} (columns: {', '.join(first)})")
        index = header.index(column.lower())
    elif len(first) > 1 or header[0] in names:
        found = [i for i, name in enumerate(header) if name in names]
        if not found:
            raise LedgerError(
                f"{source}: no phone column (columns: {', '.join(first)}); name one with "
                f"--column or call it one of {', '.join(names)}"
            )
        index = found[0]
    else:  # one value per line, no header: the first line is an entry
        yield key(first[0].strip(), source, 1)
    for line, row in enumerate(reader, start=2):
        if not row:
            continue  # a blank line
        value = row[index].strip() if index < len(row) else ""
        if not value and not any(cell.strip() for cell in row):
            continue  # a line of empty cells
        yield key(value, source, line)
        if progress is not None and not line % 50_000:
            progress(line)


def _hashed_key(value: str, source: str, line: int) -> int:
    if not _HEX.fullmatch(value):
        raise LedgerError(f"{source}: line {line}: expected a SHA-256 in hex, got {value!r}")
    return hash_key(value)


def _number_key(region: str | None) -> Callable[[str, str, int], int]:
    """The key of one entry: a registry's national numbers are read by their form alone
    (millions of lines): digits of a possible length after the national prefix. An entry that
    is no real number then matches nobody, which is harmless; any other form goes to the full
    reader, and one that is no number at all stops the import."""
    sha256 = hashlib.sha256
    from_bytes = int.from_bytes

    def key(value: str, source: str, line: int) -> int:
        e164 = national_format(value, region)
        if e164 is None:
            try:
                e164 = normalise_subject(value, region)
            except LedgerError as exc:
                raise LedgerError(f"{source}: line {line}: {exc}") from None
        return from_bytes(sha256(e164.encode()).digest()[:8], "big", signed=True)

    return key


def import_list(
    ledger: Ledger,
    handle: TextIO,
    source: str,
    name: str,
    *,
    channel: str | None = None,
    until: date | None = None,
    column: str | None = None,
    hashed: bool = False,
    region: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> SuppressionList:
    """Read a list file and store it as the new copy of list ``name`` (all or nothing)."""
    keys = read_keys(handle, source, column=column, hashed=hashed, region=region, progress=progress)
    return ledger.import_suppression(
        check_name(name), keys, channel=check_channel(channel), until=until, source=source
    )
