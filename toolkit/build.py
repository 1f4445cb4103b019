"""Every artefact of a spec, in every locale and variant, as files for stacks that are not
Python: HTML fragments to include, the text a phone shows, and ``manifest.json`` with each
one's version (what the page's hidden fields carry, and what the consent API records).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .artefacts import COLLECTIONS
from .errors import ArtefactError
from .render import ARTEFACTS, Rendered, render
from .spec import Spec


def _name(artefact: str, collection: str | None, first: bool) -> str:
    return artefact + (f".{collection}" if collection else "") + (".first" if first else "")


def build(spec: Spec, outdir: str | Path) -> dict[str, Any]:
    """Write ``<locale>/<artefact>[.<collection>][.first].html`` and ``.txt`` for every
    artefact the spec has, and ``manifest.json``; return the manifest."""
    out = Path(outdir)
    entries: list[dict[str, Any]] = []
    for locale in spec.locales:
        (out / locale).mkdir(parents=True, exist_ok=True)
        for artefact in ARTEFACTS:
            for collection in (None, *COLLECTIONS):
                for first in (False, True) if artefact == "sms-footer" else (False,):
                    try:
                        rendered = render(
                            spec, artefact, locale, first_contact=first, collection=collection
                        )
                    except ArtefactError:
                        continue  # this spec has no such artefact (no phone purpose...)
                    entries.append(_write(out, rendered, collection, first))
    manifest = {
        "generator": f"optin-toolkit {__version__}",
        "controller": spec.controller.name,
        "locales": list(spec.locales),
        # a consent form posts each shown version in these hidden fields
        "form_fields": {a: d.form_field for a, d in ARTEFACTS.items() if d.form_field},
        "artefacts": entries,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def _write(out: Path, rendered: Rendered, collection: str | None, first: bool) -> dict[str, Any]:
    base = Path(rendered.locale) / _name(rendered.artefact, collection, first)
    text, html = base.with_suffix(base.suffix + ".txt"), base.with_suffix(base.suffix + ".html")
    (out / text).write_text(rendered.text + "\n", encoding="utf-8")
    (out / html).write_text(str(rendered.html or "") + "\n", encoding="utf-8")
    return {
        "artefact": rendered.artefact,
        "locale": rendered.locale,
        "collection": collection,
        "first_contact": first,
        "version": rendered.version,
        "html": html.as_posix(),
        "text": text.as_posix(),
    }
