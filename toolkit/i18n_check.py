"""``optin i18n check``: is every catalog complete and faithful to its source strings?

A notice is only valid in a language the person understands, and only true if every sentence
of it is there: an untranslated entry falls back to English in the middle of a French notice,
a lost ``%(period)s`` drops the retention period from the sentence. So, for each catalog:

- every entry of the template (.pot) is translated, none is fuzzy, and every plural form of
  the language is filled;
- each translation carries exactly the placeholders of its source (``%(name)s``, ``%s``);
- every string the sources mark for translation is in the template (nothing was left out of
  the extraction);
- the catalog declares as many plural forms as its language has (Babel's gettext table).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

SOURCE_LOCALE = "en"  # the language of the msgids
COUNT_NAMES = {"num", "count", "n"}  # the number a plural entry is chosen by
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")

#: How the project extracts its strings (babel.cfg, kept in step by a test).
METHOD_MAP = [
    ("toolkit/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
    ("demo/**.py", "python"),
    ("demo/templates/**.html", "jinja2"),
]
OPTIONS = {
    "templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
    "templates/**.txt": {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
    "demo/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (catalog or source file), which message, what."""

    where: str
    msgid: str
    what: str

    def __str__(self) -> str:
        short = self.msgid if len(self.msgid) <= 70 else self.msgid[:67] + "..."
        return f"{self.where}: {short!r}: {self.what}"


def placeholders(text: str) -> Counter[str]:
    """The printf-style placeholders of a string (``%%`` is a literal, not one)."""
    found: Counter[str] = Counter()
    for match in _PLACEHOLDER.finditer(text):
        if match.group() != "%%":
            found[match.group(1) or match.group()[-1]] += 1
    return found


def _key(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, (list, tuple)) else message.id)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def check_catalog(path: Path, template: Catalog, locale: str) -> Iterator[Problem]:
    """The problems of one catalog against the template."""
    catalog = _read(path, locale)
    where = str(path)
    expected = get_plural(locale).num_plurals  # gettext's forms (CLDR's decimals aside)
    if catalog.num_plurals != expected:
        yield Problem(
            where, "", f"declares {catalog.num_plurals} plural forms; {locale} has {expected}"
        )
    for source in template:
        if not source.id:
            continue
        key = _key(source)
        message = catalog.get(source.id if isinstance(source.id, str) else source.id[0])
        if message is None:
            yield Problem(where, key, "missing (run make update-catalogs)")
            continue
        if message.fuzzy:
            yield Problem(where, key, "fuzzy: a guess, not a translation")
        string = message.string
        forms = [string] if isinstance(string, str) else list(string or ())
        if locale == SOURCE_LOCALE and not any(forms):
            continue  # the source language: an empty entry is its msgid, as gettext reads it
        if not all(forms) or (source.pluralizable and len(forms) < catalog.num_plurals):
            yield Problem(where, key, "not translated (or a plural form is empty)")
            continue
        source_names = set(placeholders(key))
        if source.pluralizable:
            source_names |= set(placeholders(source.id[1]))
        for form in forms:
            names = set(placeholders(form))
            # a plural form may leave out the count ("Un enregistrement..."), nothing else
            optional = COUNT_NAMES if source.pluralizable else set()
            lost = source_names - names - optional
            added = names - source_names
            if lost or added:
                detail = ", ".join(
                    [f"missing {name}" for name in sorted(lost)]
                    + [f"unknown {name}" for name in sorted(added)]
                )
                yield Problem(where, key, f"placeholders differ from the source: {detail}")
                break


def extracted(root: Path) -> set[str]:
    """Every string the sources under ``root`` mark for translation (its singular form)."""
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), METHOD_MAP, OPTIONS, keywords=DEFAULT_KEYWORDS, comment_tags=("Translators:",)
    ):
        found.add(message[0] if isinstance(message, (list, tuple)) else message)
    return found


def check(locales_dir: Path, source_root: Path | None = None) -> list[Problem]:
    """Every problem of every catalog under ``locales_dir`` (``<locale>/LC_MESSAGES/messages.po``),
    against ``messages.pot`` there, or against the template next to the shipped catalogs;
    and, with ``source_root`` (a checkout), every marked string missing from the template."""
    pot = locales_dir / "messages.pot"
    if not pot.is_file():
        pot = Path(__file__).with_name("locales") / "messages.pot"
    template = _read(pot)
    problems: list[Problem] = []
    if source_root is not None:
        known = {_key(m) for m in template if m.id}
        for msgid in sorted(extracted(source_root) - known):
            problems.append(Problem(str(pot), msgid, "in the sources but not extracted"))
    for path in sorted(locales_dir.glob("*/LC_MESSAGES/messages.po")):
        problems.extend(check_catalog(path, template, path.parent.parent.name))
    return problems


def summary(problems: Iterable[Problem]) -> Counter[str]:
    """How many problems each catalog has."""
    return Counter(p.where for p in problems)
