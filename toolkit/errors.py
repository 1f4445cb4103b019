"""One exception hierarchy: every error the toolkit raises on purpose is a ToolkitError.

Two branches, mapped mechanically at the edges (CLI exit 1; web 4xx or 503)::

    ToolkitError
    ├── bad input (also a ValueError): SpecError, LocaleError, ArtefactError, RulesError,
    │   LedgerError, and the SMS, CSV, PDF and form errors defined beside their modules
    └── LedgerUnavailable: the ledger's database or lock cannot be reached (an outage, not the
        caller's fault: the web answers 503 so that carriers and browsers retry)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ToolkitError(Exception):
    """Base of every error the toolkit raises for bad input or configuration."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (dotted path) and what was expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(ToolkitError, ValueError):
    """A spec file that cannot be read or does not validate; lists every problem found."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{p}" for p in self.problems]
        super().__init__("\n".join(lines) if lines else f"{head}invalid spec")


class LocaleError(ToolkitError, ValueError):
    """A locale that the toolkit or the spec does not support."""


class ArtefactError(ToolkitError, ValueError):
    """An unknown artefact, or an option that the artefact does not take."""


class RulesError(ToolkitError, ValueError):
    """A rule pack that cannot be read or does not validate, or a market with no rules."""


class LedgerError(ToolkitError, ValueError):
    """A record that cannot be written as asked, or a ledger query that makes no sense."""


class LedgerUnavailable(ToolkitError):
    """The ledger's database, or its lock file, cannot be reached or written: an outage.

    Not a ``ValueError``: code that catches bad input must not swallow an outage (D9)."""
