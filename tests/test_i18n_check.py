"""``optin i18n check``: it passes on the shipped catalogs and names each kind of fault."""

from __future__ import annotations

import configparser
import re
import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po
from conftest import ROOT, run

from toolkit.i18n import SUPPORTED_LOCALES
from toolkit.i18n_check import METHOD_MAP, OPTIONS, check, placeholders

LOCALES = ROOT / "toolkit" / "locales"


def test_the_shipped_catalogs_pass() -> None:
    code, out, err = run("i18n", "check")
    assert code == 0, out + err
    shipped = ", ".join(sorted(SUPPORTED_LOCALES))
    assert out.strip() == f"ok: {len(SUPPORTED_LOCALES)} catalogs complete ({shipped})"


def _broken_french(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the catalogs whose French one has one fault of each kind."""
    work = tmp_path / "locales"
    shutil.copytree(LOCALES, work, ignore=shutil.ignore_patterns("*.mo"))
    path = work / "fr" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    singles = [m for m in catalog if m.id and isinstance(m.id, str)]
    with_name = [m for m in singles if "%(" in m.id]
    plural = next(m for m in catalog if m.id and not isinstance(m.id, str))
    faults = {
        singles[0].id: "not translated",
        singles[1].id: "fuzzy",
        with_name[0].id: "placeholders differ",  # a name changed
        with_name[1].id: "placeholders differ",  # a placeholder dropped
        plural.id[0]: "not translated",
    }
    singles[0].string = ""
    singles[1].flags.add("fuzzy")
    with_name[0].string = with_name[0].string.replace("%(", "%(x", 1)
    with_name[1].string = re.sub(r"%\(\w+\)s", "", with_name[1].string, count=1)
    plural.string = (*plural.string[:-1], "")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)
    return work, faults


def test_each_fault_is_named_with_its_message(tmp_path: Path) -> None:
    work, faults = _broken_french(tmp_path)
    problems = check(work)
    assert {p.msgid for p in problems} == set(faults)
    assert all(p.where.endswith("fr/LC_MESSAGES/messages.po") for p in problems)
    assert all(any(what in p.what for p in problems if p.msgid == m) for m, what in faults.items())
    code, out, err = run("i18n", "check", "--dir", str(work))
    assert code == 1 and "5 problem(s) in 1 file(s)" in err
    assert out.count("fr/LC_MESSAGES/messages.po") == 5


def test_a_wrong_number_of_plural_forms_is_named(tmp_path: Path) -> None:
    work = tmp_path / "locales"
    shutil.copytree(LOCALES, work, ignore=shutil.ignore_patterns("*.mo"))
    path = work / "fr" / "LC_MESSAGES" / "messages.po"
    text = path.read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith('"Plural-Forms:'))
    path.write_text(
        text.replace(header, '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"'), encoding="utf-8"
    )
    assert any("declares 2 plural forms; fr has 3" in p.what for p in check(work))


def test_a_marked_string_left_out_of_the_template_is_named(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        '<p>{{ _("A sentence nobody extracted") }}</p>', encoding="utf-8"
    )
    problems = check(LOCALES, tmp_path)
    assert [(p.msgid, p.what) for p in problems] == [
        ("A sentence nobody extracted", "in the sources but not extracted")
    ]


def test_placeholders_are_read_as_printf_reads_them() -> None:
    assert placeholders("%(name)s at %(rate).1f%%, %s and %d") == {
        "name": 1,
        "rate": 1,
        "s": 1,
        "d": 1,
    }


def test_the_checker_extracts_as_babel_cfg_says() -> None:
    """The check and `make extract` must read the same sources the same way."""
    config = configparser.ConfigParser()
    config.read(ROOT / "babel.cfg")
    sections = [s.split(": ", 1) for s in config.sections()]
    assert [(pattern, method) for method, pattern in sections] == METHOD_MAP
    for method, pattern in sections:
        assert dict(config[f"{method}: {pattern}"]) == OPTIONS.get(pattern, {})
