"""The CSV files people bring (campaigns, contact lists) and the ones we write back.

Reading: UTF-8, a header, clear errors; rows are streamed as lists, so a file of any size is
read in constant memory. Writing: every cell a spreadsheet would run as a formula is
neutralised (CSV injection, OWASP's rule), since audits and exports are opened in one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .errors import ToolkitError


class CsvError(ToolkitError, ValueError):
    """A CSV file that cannot be read: not UTF-8, no header, malformed."""


def read_csv(handle: TextIO, source: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header row and a stream of the other rows of a UTF-8 CSV file."""
    reader = csv.reader(handle)
    try:
        columns = next(reader, [])
    except UnicodeDecodeError as exc:
        raise CsvError(f"{source}: not UTF-8 text (byte {exc.start} of the header)") from None
    if not columns:
        raise CsvError(f"{source}: empty file, expected a header row of column names")

    def rows() -> Iterator[list[str]]:
        try:
            yield from reader
        except UnicodeDecodeError:
            raise CsvError(
                f"{source}: not UTF-8 text after row {reader.line_num - 1}; save it as UTF-8"
            ) from None
        except csv.Error as exc:
            raise CsvError(f"{source}: line {reader.line_num}: {exc}") from None

    return columns, rows()


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@\t\r")
# A number or a phone number ("+33 6 12 34 56 78", "-12.5", "+1 (555) 123-4567"): at worst
# arithmetic, never a function call; kept as it is so that numbers survive the round trip.
_NUMBER = re.compile(r"[+-]?[\d .()-]*\d[\d .()-]*")


def neutralise(cell: Any) -> str:
    """A cell made safe to open in a spreadsheet: one that starts with = + - @, a tab or a
    carriage return gets a leading apostrophe (shown as text, never run), unless it is a
    plain number or phone number."""
    text = "" if cell is None else str(cell)
    if text and text[0] in FORMULA_STARTS and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose every cell is neutralised."""

    def __init__(self, handle: TextIO, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
