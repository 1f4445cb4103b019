"""Reading the CSV files people bring (campaigns, contact lists): UTF-8, a header, clear errors.

Rows are streamed as lists, so a file of any size is read in constant memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

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
