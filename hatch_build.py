"""Hatch build hook: compile the gettext catalogs (.po -> .mo) into every wheel.

The .mo files are build products: never committed, never hand-edited. An editable install
compiles them in place so that a source checkout works too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def compile_catalogs(locales_dir: Path, out_dir: Path) -> list[Path]:
    """Compile each ``<locale>/LC_MESSAGES/messages.po`` under locales_dir into out_dir."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(locales_dir.glob("*/LC_MESSAGES/messages.po")):
        rel = po_path.relative_to(locales_dir).with_suffix(".mo")
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.parts[-3])
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        written.append(rel)
    return written


class CatalogBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile catalogs at build time and ship the .mo files inside the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        locales = Path(self.root) / "toolkit" / "locales"
        if version == "editable":
            compile_catalogs(locales, locales)
            return
        out = Path(tempfile.mkdtemp(prefix="optin-mo-"))
        for rel in compile_catalogs(locales, out):
            build_data["force_include"][str(out / rel)] = f"toolkit/locales/{rel.as_posix()}"
