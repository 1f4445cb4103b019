"""One exception hierarchy: every error the toolkit raises on purpose is a ToolkitError."""

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
