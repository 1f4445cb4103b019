"""optin ledger export --format dpv: ISO/IEC TS 27560 consent records in W3C DPV JSON-LD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import ROOT, run

import toolkit
from toolkit.proof import Ledger
from toolkit.proof.dpv import CONSENT_STATES, PROFILE
from toolkit.proof.records import compute_hash

DSE = str(ROOT / "examples" / "dse-france.toml")
SPEC = toolkit.load_spec(DSE)


def seeded(path: Path) -> Ledger:
    """A grant, a withdrawal, an opposition (by SMS) and a contact, which is no consent state."""
    book = Ledger(path, spec=SPEC)
    shown = {a: toolkit.render(SPEC, a, "fr").version for a in ("checkbox", "notice-full")}
    evidence = {"form_url": "https://diagnostics.example/", "ip": "203.0.113.7"}
    for subject in ("+33612345678", "+33612345679"):
        book.record(
            subject,
            "sms_offers",
            "grant",
            method="web-form",
            versions=shown,
            locale="fr",
            evidence=evidence,
        )
    book.record("+33612345678", "sms_offers", "withdraw", method="web-form", locale="fr")
    book.record("+33612345679", "sms_offers", "opposition", method="sms-reply", locale="fr")
    book.record("+33612345679", "ad_call", "contact", method="api", locale="fr")
    return book


def export(db: str, *spec: str) -> list[dict[str, Any]]:
    code, out, err = run("ledger", "export", "--db", db, "--format", "dpv", *spec)
    assert code == 0, err
    document = json.loads(out)
    assert document["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert document["@context"]["dpv-27560"] == "https://w3id.org/dpv/schema/dpv-27560#"
    records: list[dict[str, Any]] = document["@graph"]
    return records


def test_states_fields_and_hashes(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    events = list(seeded(Path(db)).events())
    records = export(db, "--spec", DSE)
    consent = [e for e in events if e.action != "contact"]  # a contact is left out
    assert [r["dct:identifier"] for r in records] == [e.id for e in consent]
    states = [r["dpv:hasConsentStatus"]["@type"] for r in records]
    given, withdrawn, refused = "dpv:ConsentGiven", "dpv:ConsentWithdrawn", "dpv:ConsentRefused"
    assert states == [given, given, withdrawn, refused]
    assert set(states) <= set(CONSENT_STATES)
    refusal = records[3]["dpv:hasConsentStatus"]
    assert "Art. 21" in refusal["rdfs:comment"] and refusal["dct:references"] == "eu-gdpr:A21"
    for rec, event in zip(records, consent, strict=True):
        process = rec["dpv:hasProcess"]
        status = rec["dpv:hasConsentStatus"]
        mandatory = {  # the 27560 mandatory fields this export maps
            "schema version": rec["dct:conformsTo"],
            "record id": rec["dct:identifier"],
            "pii principal id": rec["dpv:hasDataSubject"]["dct:identifier"],
            "privacy notice": rec["dpv:hasNotice"][0]["@id"],
            "language": rec["dct:language"],
            "purpose": process["dpv:hasPurpose"]["dct:identifier"],
            "pii information": process["dpv:hasPersonalData"],
            "pii controllers": process["dpv:hasDataController"]["dpv:hasName"],
            "party id": process["dpv:hasDataController"]["dpv:hasIdentifier"],
            "party contact": process["dpv:hasDataController"]["schema:contactPoint"],
            "retention period": process["dpv:hasStorageCondition"]["dpv:hasDuration"],
            "jurisdiction": process["dpv:hasJurisdiction"],
            "recipient third parties": process["dpv:hasRecipient"],
            "withdrawal method": process["dpv:hasConsentControl"]["dpv:isExercisedAt"],
            "event time": status["dpv:isIndicatedAtTime"],
            "entity id": status["dpv:isIndicatedBy"],
            "event type": status["dpv:hasLegalBasis"],
            "event state": status["@type"],
        }
        assert all(mandatory.values()), [k for k, v in mandatory.items() if not v]
        assert rec["dct:conformsTo"] == PROFILE
        assert rec["dpv:hasNotice"][0]["@id"] == SPEC.notice_url
        assert process["dpv:hasPurpose"]["skos:broader"] == "dpv:DirectMarketing"
        assert process["dpv:hasLegalBasis"] == "dpv:Consent"
        assert process["dpv:hasJurisdiction"] == ["loc:FR"]
        assert process["dpv:hasConsentControl"]["dpv:isExercisedAt"] == SPEC.withdraw_url
        assert process["dpv:hasStorageCondition"]["dpv:hasDuration"]["rdf:value"] == "P3Y"
        assert process["dpv:hasAuthority"]["schema:url"] == "https://www.cnil.fr"
        assert status["dpv:isIndicatedAtTime"] == event.at
        assert status["dpv:hasIndicationMethod"] == event.method
        # the proof fields: the ledger's hash and link, and enough to recompute the hash
        assert rec["optin:recordHash"] == event.hash
        assert rec["optin:prevHash"] == event.prev_hash
        body = {
            "id": rec["dct:identifier"],
            "subject_digest": rec["optin:subjectDigest"],
            "subject_seal": rec["optin:subjectSeal"],
            "purpose": process["dpv:hasPurpose"]["dct:identifier"],
            "action": rec["optin:action"],
            "method": status["dpv:hasIndicationMethod"],
            "versions": rec["optin:versions"],
            "locale": rec["dct:language"],
            "at": status["dpv:isIndicatedAtTime"],
            "evidence": rec["optin:evidence"],
            "prev_hash": rec["optin:prevHash"],
        }
        assert compute_hash(body) == rec["optin:recordHash"]
    grant = records[0]
    assert grant["dpv:hasConsentStatus"]["dpv:hasLegalBasis"] == "dpv:ExpressedConsent"
    notices = [n["@type"] for n in grant["dpv:hasNotice"]]
    assert notices == ["dpv:PrivacyNotice", "dpv:ConsentNotice", "dpv:ConsentNotice"]
    assert {n.get("dct:identifier") for n in grant["dpv:hasNotice"][1:]} == set(
        grant["optin:versions"].values()
    )


def test_without_spec_and_other_bases(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    seeded(Path(db))
    records = export(db)  # no spec: the event's own fields, no processing details
    assert len(records) == 4
    process = records[3]["dpv:hasProcess"]
    assert process["dpv:hasPurpose"] == {"@type": "dpv:Purpose", "dct:identifier": "sms_offers"}
    assert process["dpv:hasPersonalData"] == ["pd:TelephoneNumber"]
    assert "dpv:hasLegalBasis" not in process and "dpv:hasNotice" not in records[3]
    # an objection to a legitimate-interest purpose collected from a public source
    book = Ledger(Path(db), spec=SPEC)
    book.record("agence@immo.example", "agency_email", "opposition", method="email", locale="fr")
    last = export(db, "--spec", DSE)[-1]
    assert last["dpv:hasProcess"]["dpv:hasLegalBasis"] == "dpv:LegitimateInterest"
    assert last["dpv:hasConsentStatus"]["dpv:hasLegalBasis"] == "dpv:LegitimateInterest"
    assert last["dpv:hasProcess"]["dpv:hasDataSource"] == [{"@type": "dpv:PublicDataSource"}]
    assert last["dpv:hasProcess"]["dpv:hasPersonalData"][0] == "pd:EmailAddress"
    # redacted (item 7): the record keeps its digest, and still says an e-mail address was used
    book.redact("agence@immo.example", request=True)
    last = [r for r in export(db, "--spec", DSE) if r["optin:action"] == "opposition"][-1]
    assert last["dpv:hasDataSubject"]["dct:identifier"].startswith("hmac-sha256:")
    assert last["dpv:hasProcess"]["dpv:hasPersonalData"][0] == "pd:EmailAddress"
    assert all(r["optin:action"] != "redact" for r in export(db, "--spec", DSE))
