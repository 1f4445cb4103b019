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


def test_a_built_page_form_is_relayed_to_the_consent_api(tmp_path: Path) -> None:
    """The other half of `optin build`: the site's server relays what its form received to
    the consent API, which records it as the demo's own form would (then asks to confirm)."""
    from conftest import API

    from demo import create_app

    code, _out, err = run("build", str(DSE), "-o", str(tmp_path / "site"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "site" / "manifest.json").read_text(encoding="utf-8"))
    fields = manifest["form_fields"]
    shown = {
        fields[e["artefact"]]: e["version"]
        for e in manifest["artefacts"]
        if e["locale"] == "it" and e["collection"] == "person" and e["artefact"] in fields
    }
    app = create_app({"OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "TESTING": True})
    client = app.test_client()
    form = {**shown, "optin_locale": "it", "phone": "06 12 34 56 78", "consent_sms_offers": "x"}
    origin = {"url": "https://static.example/", "ip": "203.0.113.9", "user_agent": "Safari"}
    payload = {"form": form, "origin": origin, "locale": "it"}
    assert client.post("/api/consent/record", json=payload).status_code == 401
    answer = client.post("/api/consent/record", json=payload, headers=API)
    assert answer.status_code == 201 and answer.json["confirmation"] == ["sms-reply"]
    book = app.extensions["optin"].ledger
    (grant,) = book.events()
    assert (grant.locale, grant.evidence["ip"], grant.id) == (
        "it",
        "203.0.113.0/24",
        answer.json["recorded"][0],
    )
    assert "pending-confirmation" in book.can_send("+33612345678", "sms_offers").codes
    bad = client.post("/api/consent/record", headers=API,
                      json={**payload, "form": {**form, "phone": "01 23 45 67 89"}})  # fmt: skip
    assert bad.status_code == 400 and bad.json["field"] == "phone"
    assert "non può ricevere SMS" in bad.json["error"]  # in the relayed page's language
    book.close()
