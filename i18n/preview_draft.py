"""Render the example's artefacts in a draft locale (i18n/drafts/LOC), before it ships.

A draft catalog is not yet a supported locale, so this script compiles it into a temporary
copy of the shipped catalogs, adds the locale for this process only, and renders
examples/newsletter.toml with the draft's own spec texts (i18n/drafts/LOC/newsletter.toml:
one table per purpose id, with the fields of ``[purposes.text.<locale>]``).

    .venv/bin/python i18n/preview_draft.py nl [notice-full|notice-short|checkbox|sms-footer ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    locale = sys.argv[1]
    artefacts = sys.argv[2:] or ["checkbox", "notice-short", "notice-full"]
    draft = ROOT / "i18n" / "drafts" / locale
    with tempfile.TemporaryDirectory() as tmp:
        catalogs = Path(tmp) / "locales"
        shutil.copytree(ROOT / "toolkit" / "locales", catalogs)
        target = catalogs / locale / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(draft / "LC_MESSAGES" / "messages.po", target / "messages.po")
        subprocess.run(
            [str(ROOT / ".venv/bin/pybabel"), "-q", "compile", "-d", str(catalogs), "-l", locale],
            check=True,
        )
        from toolkit import i18n, spec as spec_module

        i18n.LOCALES_DIR = catalogs
        i18n.SUPPORTED_LOCALES = (*i18n.SUPPORTED_LOCALES, locale)
        spec_module.SUPPORTED_LOCALES = i18n.SUPPORTED_LOCALES  # type: ignore[attr-defined]
        data = tomllib.loads((ROOT / "examples" / "newsletter.toml").read_text(encoding="utf-8"))
        texts = tomllib.loads((draft / "newsletter.toml").read_text(encoding="utf-8"))
        data["locales"] = [*data["locales"], locale]
        for purpose in data["purposes"]:
            purpose["text"][locale] = texts[purpose["id"]]
        spec = spec_module.validate_spec(data, "newsletter.toml")
        from toolkit import render

        for name in artefacts:
            print(f"===== {name} ({locale})")
            print(render(spec, name, locale).text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
