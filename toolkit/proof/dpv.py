"""Consent records as ISO/IEC TS 27560 consent records in W3C DPV JSON-LD (``--format dpv``).

Why: other consent tools, auditors and authorities read that standard form, and every record
still carries its hash and link, so it can be checked against the chain (GDPR Art. 7(1)).
Sources: https://w3id.org/dpv/guides/consent-27560 (§2 profiles, §7.2 the 27560 fields and
their DPV terms, §8 the record), https://w3id.org/dpv/schema/dpv-27560 (the profiles) and
DPV 2.3, https://github.com/w3c/dpv/blob/master/2.3/dpv/dpv.ttl (the ten consent states).

One ``dpv:ConsentRecord`` per event, in chain order: a grant is ``dpv:ConsentGiven``, a
withdrawal ``dpv:ConsentWithdrawn``, an opposition ``dpv:ConsentRefused`` (an objection, GDPR
Art. 21, refuses the processing; its ``rdfs:comment`` says so). Any other action (``contact``: a
call or message the controller made) is no consent state and is skipped, so the ``prev_hash`` of
the next record names a record the document leaves out (the JSON lines export has them all).
Under ``optin:`` are the toolkit's proof fields; with the record's own fields they are every
field the hash covers, so a reader can recompute ``optin:recordHash``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..spec import Purpose, Spec
from .records import ConsentEvent, is_redacted

# The 27560 fields (guide §7.2, §8) -> DPV terms -> where the value comes from:
#   schema version        dct:conformsTo                 PROFILE
#   record id             dct:identifier (@id urn:uuid)  event.id
#   pii principal id      dpv:hasDataSubject             event.subject
#   privacy notice        dpv:hasNotice                  spec.notice_url; each text shown
#                                                        (event.versions) as a ConsentNotice
#   language              dct:language                   event.locale
#   purpose, its type     dpv:hasPurpose, skos:broader   purpose id, name, description;
#                                                        dpv:DirectMarketing if direct_marketing
#   lawful basis          dpv:hasLegalBasis              purpose.legal_basis (LEGAL_BASES)
#   pii information       dpv:hasPersonalData            pd:TelephoneNumber / pd:EmailAddress
#                                                        and the purpose's data_categories
#   collection method     dpv:hasDataSource              purpose.collected_from (the data's
#                                                        source; the event's channel is below)
#   pii controllers       dpv:hasDataController          spec.controller (party fields: id,
#                                                        name, address, e-mail, phone, url)
#   recipient parties     dpv:hasRecipient               the purpose's recipients
#   retention period      dpv:hasStorageCondition        purpose.retention (ISO 8601)
#   withdrawal method     dpv:hasConsentControl          spec.withdraw_url, else mailto: the
#                         (dpv:WithdrawConsent)          controller's e-mail
#   jurisdiction          dpv:hasJurisdiction            spec.target_markets as loc:XX
#   authority party       dpv:hasAuthority               spec.supervisory_authority
#   event state           dpv:hasConsentStatus @type     event.action (STATES)
#   event type            dpv:hasLegalBasis (on it)      ExpressedConsent for a grant by form or
#                                                        reply, else the purpose's basis/Consent
#   event time            dpv:isIndicatedAtTime          event.at
#   entity id             dpv:isIndicatedBy              dpv:DataSubject
#   validity duration     dpv:hasDuration (on a grant)   purpose.max_age, when the spec sets it
#   (expression method)   dpv:hasIndicationMethod        event.method

DPV = "https://w3id.org/dpv#"
#: The DPV-27560 profile for consent records (dct:conformsTo): the 27560 "schema version".
PROFILE = "https://w3id.org/dpv/schema/dpv-27560#record"
#: The toolkit's own terms. Not a web address: a name that no other vocabulary uses.
NAMESPACE = "urn:optin-toolkit:proof:"

# DPV publishes no JSON-LD context document, so the prefixes are declared here; terms whose
# values are IRIs are typed @id, and the toolkit's JSON-valued fields @json (JSON-LD 1.1).
CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    "dpv": DPV,
    "dpv-27560": "https://w3id.org/dpv/schema/dpv-27560#",
    "pd": "https://w3id.org/dpv/pd#",
    "loc": "https://w3id.org/dpv/loc#",
    "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
    "dct": "http://purl.org/dc/terms/",
    "schema": "https://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "optin": NAMESPACE,
    **{
        term: {"@type": "@id"}
        for term in (
            "dct:conformsTo",
            "dct:references",
            "dpv:hasJurisdiction",
            "dpv:hasLegalBasis",
            "dpv:isExercisedAt",
            "dpv:isIndicatedBy",
            "schema:url",
            "skos:broader",
        )
    },
    "dpv:hasPersonalData": {"@type": "@vocab"},
    "dpv:isIndicatedAtTime": {"@type": "xsd:dateTime"},
    "optin:versions": {"@type": "@json"},
    "optin:evidence": {"@type": "@json"},
}

#: The ten consent states of DPV 2.3: the first two allow processing, the others do not. The
#: guide's list names a "ConsentTerminated" that the vocabulary does not define: its term for a
#: consent ended by someone other than the person is ConsentRevoked.
CONSENT_STATES: tuple[str, ...] = (
    "dpv:ConsentGiven",
    "dpv:RenewedConsentGiven",
    "dpv:ConsentUnknown",
    "dpv:ConsentRequested",
    "dpv:ConsentRequestDeferred",
    "dpv:ConsentRefused",
    "dpv:ConsentWithdrawn",
    "dpv:ConsentExpired",
    "dpv:ConsentRevoked",
    "dpv:ConsentInvalidated",
)
#: The 27560 event state of each ledger action that is a choice about the processing.
STATES: dict[str, str] = {
    "grant": "dpv:ConsentGiven",
    "withdraw": "dpv:ConsentWithdrawn",
    "opposition": "dpv:ConsentRefused",
}
#: The spec's legal bases (GDPR Art. 6(1)) as DPV legal bases.
LEGAL_BASES: dict[str, str] = {
    "consent": "dpv:Consent",
    "contract": "dpv:Contract",
    "legal_obligation": "dpv:LegalObligation",
    "vital_interests": "dpv:VitalInterest",
    "public_task": "dpv:PublicInterest",
    "legitimate_interests": "dpv:LegitimateInterest",
}
# A grant through these methods is an affirmative act (a box ticked, a reply sent).
_EXPRESSED = ("web-form", "sms-reply")
_OBJECTION = (
    "An objection to the processing (GDPR Art. 21; for direct marketing Art. 21(2)-(3)), "
    "recorded as a refusal: it stops the processing until a later explicit grant."
)


def document(events: Iterable[ConsentEvent], spec: Spec | None = None) -> dict[str, Any]:
    """One JSON-LD document: the context and a record for every consent event (not contacts)."""
    return {"@context": dict(CONTEXT), "@graph": [r for e in events if (r := record(e, spec))]}


def record(event: ConsentEvent, spec: Spec | None = None) -> dict[str, Any] | None:
    """The 27560 consent record of one event; None for an action that is no consent state
    (``contact``). With ``spec``, the processing fields come from the event's purpose."""
    state = STATES.get(event.action)
    if state is None:
        return None
    purpose = _purpose(spec, event.purpose)
    notices: list[dict[str, Any]] = [
        {
            "@type": "dpv:ConsentNotice",
            "dct:identifier": version,
            "dct:language": event.locale,
            "optin:artefact": artefact,
        }
        for artefact, version in sorted(event.versions.items())
    ]
    if spec is not None:
        notices.insert(
            0,
            {"@id": spec.notice_url, "@type": "dpv:PrivacyNotice", "dct:language": event.locale},
        )
    out: dict[str, Any] = {
        "@id": f"urn:uuid:{event.id}",
        "@type": "dpv:ConsentRecord",
        "dct:conformsTo": PROFILE,
        "dct:identifier": event.id,
        "dpv:hasDataSubject": {"@type": "dpv:DataSubject", "dct:identifier": event.subject},
        "dct:language": event.locale,
    }
    if notices:
        out["dpv:hasNotice"] = notices
    out["dpv:hasProcess"] = _process(event, spec, purpose)
    out["dpv:hasConsentStatus"] = _status(event, state, purpose)
    out.update(
        {
            "optin:action": event.action,
            "optin:versions": dict(event.versions),
            "optin:evidence": dict(event.evidence),
            "optin:recordHash": event.hash,
            "optin:prevHash": event.prev_hash,
        }
    )
    if event.subject_digest:  # what the hash covers of the subject (schema 3), and the salt
        out["optin:subjectDigest"] = event.subject_digest  # that binds the subject to its seal
        out["optin:subjectSeal"] = event.subject_seal
        out["optin:subjectSalt"] = event.subject_salt
    return out


def _purpose(spec: Spec | None, purpose_id: str) -> Purpose | None:
    if spec is None:
        return None
    try:
        return spec.purpose(purpose_id)
    except KeyError:  # a purpose the spec no longer has: the record keeps its id only
        return None


def _process(event: ConsentEvent, spec: Spec | None, purpose: Purpose | None) -> dict[str, Any]:
    """The 27560 processing fields: purpose, data, controller, retention, withdrawal..."""
    email = (
        purpose.channel == "email"  # a redacted subject no longer says what it was
        if is_redacted(event.subject) and purpose is not None
        else "@" in event.subject
    )
    data: list[Any] = ["pd:EmailAddress" if email else "pd:TelephoneNumber"]
    process: dict[str, Any] = {
        "@type": "dpv:Process",
        "dpv:hasPurpose": {"@type": "dpv:Purpose", "dct:identifier": event.purpose},
        "dpv:hasPersonalData": data,
    }
    if spec is None or purpose is None:
        return process
    text = purpose.text.get(event.locale) or next(iter(purpose.text.values()))
    goal = process["dpv:hasPurpose"]
    goal.update({"dct:title": text.name, "dct:description": text.description})
    if purpose.direct_marketing:
        goal["skos:broader"] = "dpv:DirectMarketing"
    process["dpv:hasLegalBasis"] = LEGAL_BASES[purpose.legal_basis]
    data += [{"@type": "dpv:PersonalData", "dct:description": d} for d in text.data_categories]
    process["dpv:hasDataSource"] = [_source(spec, where) for where in purpose.collected_from]
    process["dpv:hasDataController"] = _controller(spec)
    if text.recipients:
        process["dpv:hasRecipient"] = [
            {"@type": "dpv:Recipient", "dct:description": r} for r in text.recipients
        ]
    process["dpv:hasStorageCondition"] = {
        "@type": "dpv:StorageDuration",
        "dpv:hasDuration": {"@type": "dpv:TemporalDuration", "rdf:value": purpose.retention},
        "optin:retentionFrom": purpose.retention_from,
    }
    withdraw = spec.withdraw_url or f"mailto:{spec.controller.email}"
    process["dpv:hasConsentControl"] = {
        "@type": "dpv:WithdrawConsent",
        "dpv:isExercisedAt": withdraw,
    }
    process["dpv:hasJurisdiction"] = [f"loc:{market}" for market in spec.target_markets]
    authority = spec.supervisory_authority
    process["dpv:hasAuthority"] = {
        "@type": "dpv:DataProtectionAuthority",
        "dpv:hasName": authority.name,
        "schema:address": {
            "@type": "schema:PostalAddress",
            "schema:streetAddress": authority.address,
        },
        "schema:url": authority.website,
    }
    return process


def _source(spec: Spec, where: str) -> dict[str, str]:
    """The 27560 collection method: from the person, or from a (public) source."""
    if where == "person":
        return {"@type": "dpv:DataSubjectDataSource"}
    public = spec.source is not None and spec.source.publicly_accessible
    return {"@type": "dpv:PublicDataSource" if public else "dpv:ThirdPartyDataSource"}


def _controller(spec: Spec) -> dict[str, Any]:
    """The 27560 party fields of the controller: id, name, address, contact."""
    who = spec.controller
    contact: dict[str, Any] = {"@type": "schema:ContactPoint", "schema:email": who.email}
    if who.phone:
        contact["schema:telephone"] = who.phone
    entity: dict[str, Any] = {
        "@type": "dpv:DataController",
        "dpv:hasIdentifier": who.registration_id or who.website or f"mailto:{who.email}",
        "dpv:hasName": who.name,
        "schema:contactPoint": contact,
    }
    if who.address:
        entity["schema:address"] = {
            "@type": "schema:PostalAddress",
            "schema:streetAddress": who.address,
        }
    if who.website:
        entity["schema:url"] = who.website
    return entity


def _status(event: ConsentEvent, state: str, purpose: Purpose | None) -> dict[str, Any]:
    """The 27560 event fields: state, type, time, who expressed it, how, validity."""
    if event.action == "grant":
        kind = "dpv:ExpressedConsent" if event.method in _EXPRESSED else "dpv:Consent"
    elif event.action == "opposition" and purpose is not None:
        kind = LEGAL_BASES[purpose.legal_basis]  # an objection may be to a legitimate interest
    else:
        kind = "dpv:Consent"
    status: dict[str, Any] = {
        "@type": state,
        "dpv:hasLegalBasis": kind,
        "dpv:isIndicatedAtTime": event.at,
        "dpv:isIndicatedBy": "dpv:DataSubject",
        "dpv:hasIndicationMethod": event.method,
    }
    if event.action == "grant" and purpose is not None and purpose.max_age:
        status["dpv:hasDuration"] = {"@type": "dpv:TemporalDuration", "rdf:value": purpose.max_age}
    if event.action == "opposition":
        status["rdfs:comment"] = _OBJECTION
        status["dct:references"] = "eu-gdpr:A21"
    return status
