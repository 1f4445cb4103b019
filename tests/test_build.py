"""optin build (issue 13 item 2): every artefact in every locale as files, with a manifest of
versions that a page's form carries and the ledger accepts."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run

import toolkit
from toolkit.proof import Ledger

DSE = ROOT / "examples" / "dse-france.toml"


def test_build_writes_every_artefact_with_its_version(tmp_path: Path) -> None:
    code, out, err = run("build", str(DSE), "-o", str(tmp_path / "site"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "site" / "manifest.json").read_text(encoding="utf-8"))
    spec = toolkit.load_spec(DSE)
    assert f"{len(manifest['artefacts'])} artefacts in 5 locales" in out
    assert {e["locale"] for e in manifest["artefacts"]} == set(spec.locales)
    for entry in manifest["artefacts"]:
        rendered = toolkit.render(
            spec, entry["artefact"], entry["locale"], first_contact=entry["first_contact"],
            collection=entry["collection"],
        )  # fmt: skip
        assert entry["version"] == rendered.version
        text = (tmp_path / "site" / entry["text"]).read_text(encoding="utf-8")
        assert text == rendered.text + "\n"
    form = {
        e["artefact"]: e["version"]
        for e in manifest["artefacts"]
        if e["locale"] == "fr" and e["collection"] == "person"
        and e["artefact"] in manifest["form_fields"]
    }  # fmt: skip
    # what a static page's form carries is what the ledger records, as the demo's would be
    with Ledger(tmp_path / "l.db", spec=spec) as book:
        event = book.record("+33612345678", "sms_offers", "grant", method="web-form",
                            versions=form, locale="fr")  # fmt: skip
        assert event.versions == form


def test_build_of_a_broken_spec_is_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[controller]\nname = 1\n", encoding="utf-8")
    code, _out, err = run("build", str(broken), "-o", str(tmp_path / "site"))
    assert code == 1 and "broken.toml" in err and not (tmp_path / "site").exists()
