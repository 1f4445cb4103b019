"""The one send-time decision (`can_send`, `ledger status`, `audit`): consent, channel law,
suppression lists and registries, consent age, windows, caps, cool-downs, number kinds."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from conftest import ROOT, build, minimal_data, run

import toolkit
from toolkit.proof import Ledger
from toolkit.proof.suppress import import_list
from toolkit.spec import Spec

DSE = ROOT / "examples" / "dse-france.toml"
SPEC = toolkit.load_spec(DSE)
PARIS = ZoneInfo("Europe/Paris")
FR_HOLIDAYS = holidays.country_holidays("FR")


def shown(spec: Spec = SPEC, locale: str = "fr") -> dict[str, str]:
    return {a: toolkit.render(spec, a, locale).version for a in ("checkbox", "notice-full")}


def grant(book: Ledger, subject: str, purpose: str = "sms_offers") -> None:
    """A consent given on the form, and confirmed (double opt-in) where its channel needs it."""
    assert book.spec is not None
    locale = book.spec.locales[0]
    book.record(
        subject,
        purpose,
        "grant",
        method="web-form",
        versions=shown(book.spec, locale),
        locale=locale,
    )
    if book.spec.confirmation_for(book.spec.purpose(purpose).channel):
        book.record(subject, purpose, "confirm", method="code", locale=locale)


def working_time(days_ahead: int, hour: int = 10, minute: int = 30) -> datetime:
    """A weekday at least ``days_ahead`` days from now, not a French public holiday, at a time
    in Paris."""
    day = datetime.now(PARIS).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5 or day in FR_HOLIDAYS:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def write_list(path: Path, *numbers: str, header: str = "phone") -> Path:
    path.write_text("\n".join([header, *numbers]) + "\n", encoding="utf-8")
    return path


# --- suppression lists -----------------------------------------------------------------------


def test_a_number_on_an_imported_list_is_blocked_everywhere_naming_the_list(
    ledger_url: str, tmp_path: Path
) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    grant(book, "+33612345678")
    grant(book, "+33612345679")
    source = write_list(tmp_path / "own.csv", "06 12 34 56 78", "06 00 00 00 01")
    with source.open(encoding="utf-8") as handle:
        copy = import_list(book, handle, str(source), "own", region="FR")
    assert (copy.name, copy.entries, copy.channel) == ("own", 2, None)
    decision = book.can_send("+33612345678", "sms_offers")
    assert not decision.allowed
    assert "suppressed" in decision.codes and "suppression list own" in decision.reason
    assert book.can_send("+33612345679", "sms_offers").allowed
    # ledger status: exit 3 with the list named
    db = ledger_url
    code, out, _err = run(
        "ledger", "status", "+33612345678", "-p", "sms_offers", "--db", db, "--spec", str(DSE)
    )
    assert code == 3 and "[suppressed] on the suppression list own" in out
    # audit: blocked.csv names the list, the summary counts the code
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,phone\nA,+33612345678\nB,+33612345679\n", encoding="utf-8")
    code, out, _err = run(
        "audit",
        str(contacts),
        "-p",
        "sms_offers",
        "--db",
        db,
        "-o",
        str(tmp_path / "out"),
        "--spec",
        str(DSE),
    )
    assert code == 0 and out.startswith("2 contacts: 1 sendable, 1 blocked")
    blocked = list(csv.DictReader((tmp_path / "out" / "blocked.csv").open(encoding="utf-8")))
    assert [r["name"] for r in blocked] == ["A"]
    assert "on the suppression list own" in blocked[0]["reason"]
    assert "suppressed" in out
    # a new copy replaces the old one
    source = write_list(tmp_path / "own2.csv", "06 00 00 00 01")
    with source.open(encoding="utf-8") as handle:
        import_list(book, handle, str(source), "own", region="FR")
    assert book.can_send("+33612345678", "sms_offers").allowed
    assert [(c.name, c.entries) for c in book.suppression_lists()] == [("own", 1)]
    book.close()


def test_a_list_for_one_channel_leaves_the_others(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    for purpose in ("sms_offers", "ad_call"):
        grant(book, "+33612345678", purpose)
    source = write_list(tmp_path / "sms.csv", "+33612345678")
    with source.open(encoding="utf-8") as handle:
        import_list(book, handle, str(source), "sms-stop", channel="sms")
    assert "suppressed" in book.can_send("+33612345678", "sms_offers").codes
    assert "suppressed" not in book.can_send("+33612345678", "ad_call", at=working_time(1)).codes


def test_a_malformed_list_stores_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    good = write_list(tmp_path / "good.csv", "+33612345678")
    assert run("suppress", "import", str(good), "--list", "own", "--db", db)[0] == 0
    bad = write_list(tmp_path / "bad.csv", "+33612345679", "not a number", "+33612345670")
    code, out, err = run("suppress", "import", str(bad), "--list", "own", "--db", db)
    assert code == 1 and out == ""
    assert err.strip() == f"error: {bad}: line 3: invalid phone number 'not a number'"
    code, out, _err = run("suppress", "list", "--db", db)
    assert out.startswith("own: 1 entries") and "good.csv" in out  # the previous copy holds
    code, out, _err = run("suppress", "check", "+33612345679", "--db", db)
    assert code == 0 and "on no suppression list" in out
    for args, message in [
        (["--list", "Own List"], "--list: expected a name"),
        (["--list", "own", "--channel", "fax"], "--channel: expected one of sms, email"),
        (["--list", "own", "--until", "soon"], "--until: expected a date like"),
    ]:
        code, _out, err = run("suppress", "import", str(good), *args, "--db", db)
        assert code == 1 and message in err, err
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _out, err = run("suppress", "import", str(empty), "--list", "own", "--db", db)
    assert code == 1 and "the file is empty" in err


def test_hashed_and_headerless_lists(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    digest = hashlib.sha256(b"+33612345678").hexdigest()
    hashed = write_list(tmp_path / "h.csv", digest, header="sha256")
    with hashed.open(encoding="utf-8") as handle:
        import_list(book, handle, "h.csv", "robinson-es", hashed=True)
    assert [c.name for c in book.suppressed_by("+33612345678")] == ["robinson-es"]
    plain = tmp_path / "plain.txt"
    plain.write_text("0612345679\n0612345670\n", encoding="utf-8")  # no header
    with plain.open(encoding="utf-8") as handle:
        copy = import_list(book, handle, "plain.txt", "own", region="FR")
    assert copy.entries == 2
    code, out, _err = run(
        "suppress", "check", "06 12 34 56 79", "--region", "FR", "--db", str(tmp_path / "l.db")
    )
    assert code == 3 and "on own (every channel" in out


# --- registries the law says to screen ---------------------------------------------------------


def spain_calls(basis: str = "legitimate_interests") -> Spec:
    """A Spanish controller calling consumers in Spain (opt-out, with the Lista Robinson)."""
    data = minimal_data(("en",))
    data["controller"]["country"] = "ES"
    data["purposes"][0].update(channel="phone", legal_basis=basis)
    if basis != "consent":
        text = data["purposes"][0]["text"]["en"]
        text.pop("label")
        text["legitimate_interest"] = "making our offers known"
    del data["sms"]
    return build(data)


def test_a_registry_the_law_names_must_be_screened_unless_the_person_consented(
    tmp_path: Path,
) -> None:
    book = Ledger(tmp_path / "l.db", spec=spain_calls())
    at = datetime.now(UTC) + timedelta(minutes=1)
    decision = book.can_send("+34612345678", "sms_offers", at=at)
    assert not decision.allowed and decision.codes == ("no-objection", "registry-missing")
    assert "Lista Robinson must be screened first (LOPDGDD art. 23.4" in decision.reason
    source = write_list(tmp_path / "robinson.csv", "+34612345679")
    with source.open(encoding="utf-8") as handle:
        import_list(book, handle, "robinson.csv", "robinson-es")
    assert book.can_send("+34612345678", "sms_offers").allowed
    on_list = book.can_send("+34612345679", "sms_offers")
    assert not on_list.allowed and "suppressed" in on_list.codes
    consenting = Ledger(tmp_path / "l.db", spec=spain_calls("consent"))
    grant(consenting, "+34612345679")
    # consent to this sender overrides the Lista Robinson (LOPDGDD art. 23.4)
    assert consenting.can_send("+34612345679", "sms_offers").allowed


def test_registration_in_italy_prevails_over_consent(tmp_path: Path) -> None:
    data = minimal_data(("en",))
    data["controller"]["country"] = "IT"
    data["purposes"][0].update(channel="phone")
    del data["sms"]
    book = Ledger(tmp_path / "l.db", spec=build(data))
    grant(book, "+393123456789")
    source = write_list(tmp_path / "rpo.csv", "+393123456789")
    with source.open(encoding="utf-8") as handle:
        import_list(book, handle, "rpo.csv", "rpo-it")
    decision = book.can_send("+393123456789", "sms_offers")
    assert decision.codes == ("consent", "suppressed")


def test_an_expired_registry_copy_blocks_until_a_fresh_one(tmp_path: Path) -> None:
    spec = toolkit.load_spec(
        ROOT / "tests" / "offences" / "fr-calls-on-legitimate-interests.toml",
        at=datetime(2026, 8, 10).date(),
    )
    book = Ledger(tmp_path / "l.db", spec=spec)
    source = write_list(tmp_path / "bloctel.csv", "+33699999999")
    with source.open(encoding="utf-8") as handle:
        import_list(book, handle, "b.csv", "bloctel", until=datetime(2026, 8, 3).date())
    before = datetime(2026, 8, 3, 8, 30, tzinfo=UTC)  # a Monday, 10:30 in Paris
    after = datetime(2026, 8, 5, 8, 30, tzinfo=UTC)
    assert book.can_send("+33612345678", "ad_call", at=before).codes == ("no-objection",)
    stale = book.can_send("+33612345678", "ad_call", at=after)
    assert stale.codes == ("no-objection", "registry-stale")
    assert "valid until 2026-08-03" in stale.reason
    # since 11 August 2026 the same purpose needs consent, whatever Bloctel says
    later = book.can_send("+33612345678", "ad_call", at=datetime(2026, 8, 11, 8, 30, tzinfo=UTC))
    assert later.codes == ("no-consent",)


# --- consent age, windows, caps, cool-downs ----------------------------------------------------


def test_consent_older_than_its_max_age_is_blocked(tmp_path: Path) -> None:
    data = minimal_data()
    data["purposes"][0]["max_age"] = "P30D"
    book = Ledger(tmp_path / "l.db", spec=build(data))
    grant(book, "+33612345678")
    assert book.can_send("+33612345678", "sms_offers").allowed
    late = book.can_send("+33612345678", "sms_offers", at=datetime.now(UTC) + timedelta(days=31))
    assert late.codes == ("consent", "consent-expired")
    assert "older than P30D (the purpose's max_age): ask again" in late.reason
    cnil = Ledger(tmp_path / "c.db", spec=SPEC)  # the market default: the CNIL's 3 years
    grant(cnil, "+33612345678")
    old = cnil.can_send(
        "+33612345678", "sms_offers", at=datetime.now(UTC) + timedelta(days=3 * 366)
    )
    assert "consent-expired" in old.codes and "FR-CNIL-RETENTION" in old.reason


def test_french_calls_keep_the_hours_caps_and_cool_down(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant(book, "+33612345678", "ad_call")
    monday = working_time(2)
    assert book.can_send("+33612345678", "ad_call", at=monday).allowed
    lunch = monday.replace(hour=13, minute=30)
    assert book.can_send("+33612345678", "ad_call", at=lunch).codes == ("consent", "outside-hours")
    saturday = monday + timedelta(days=(5 - monday.weekday()) % 7)
    assert "outside-hours" in book.can_send("+33612345678", "ad_call", at=saturday).codes
    for _ in range(4):
        book.record("+33612345678", "ad_call", "contact", method="api", locale="fr")
    capped = book.can_send("+33612345678", "ad_call", at=monday)
    assert capped.codes == ("consent", "too-many-attempts")
    assert "the most allowed is 4 (FR-CONSO-D223-9" in capped.reason
    assert book.can_send("+33612345678", "ad_call", at=working_time(31)).allowed
    book.record("+33612345678", "ad_call", "opposition", method="phone", locale="fr")
    grant(book, "+33612345678", "ad_call")  # asked to be called again
    soon = book.can_send("+33612345678", "ad_call", at=working_time(31))
    assert soon.codes == ("consent", "cooldown")
    assert book.can_send("+33612345678", "ad_call", at=working_time(61)).allowed


def test_sms_needs_a_number_that_receives_sms_in_a_covered_market(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant(book, "+33412345678")  # a landline in Lyon
    assert book.can_send("+33412345678", "sms_offers").codes == ("consent", "not-mobile")
    german = book.can_send("+4915112345678", "sms_offers")
    assert "outside-markets" in german.codes
    assert "a number of DE, which is not among the spec's markets (FR)" in german.reason


def test_a_spec_sending_window_applies_to_sms(tmp_path: Path) -> None:
    data = minimal_data()
    data["sms"]["sending_window"] = "af2m"
    book = Ledger(tmp_path / "l.db", spec=build(data))
    grant(book, "+33612345678")
    evening = working_time(1, 22, 0)
    decision = book.can_send("+33612345678", "sms_offers", at=evening)
    assert decision.codes == ("consent", "outside-hours")
    assert "send only every day 08:00-21:30 (preset af2m" in decision.reason
    assert book.can_send("+33612345678", "sms_offers", at=working_time(1, 21, 0)).allowed


def test_the_decision_is_as_of_its_moment(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    before = datetime.now(UTC) - timedelta(minutes=5)
    grant(book, "+33612345678")
    assert book.can_send("+33612345678", "sms_offers", at=before).codes == ("no-consent",)
    assert book.can_send("+33612345678", "sms_offers").allowed


def test_without_a_spec_the_lists_still_block(tmp_path: Path) -> None:
    plain = Ledger(tmp_path / "l.db")
    plain.record("+33612345678", "anything", "opposition", method="api", locale="fr")
    source = write_list(tmp_path / "own.csv", "+33612345679")
    with source.open(encoding="utf-8") as handle:
        import_list(plain, handle, "own.csv", "own")
    assert plain.can_send("+33612345679", "anything").codes == ("no-consent", "suppressed")


def test_objections_by_email_phone_or_post_are_recorded_from_the_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    book = Ledger(db, spec=SPEC)
    grant(book, "+33612345678")
    grant(book, "+33612345678", "ad_call")
    code, out, _err = run(
        "ledger",
        "record",
        "06 12 34 56 78",
        "--region",
        "FR",
        "-p",
        "sms_offers",
        "-p",
        "ad_call",
        "--method",
        "email",
        "--note",
        "mail of 30 November",
        "--db",
        db,
        "--spec",
        str(DSE),
    )
    assert code == 0 and out.count("opposition") == 2
    for purpose in ("sms_offers", "ad_call"):
        decision = book.can_send("+33612345678", purpose)
        assert decision.codes[0] == "opposition" and "by e-mail on" in decision.reason
    (event, *_rest) = [e for e in book.history("+33612345678") if e.method == "email"]
    assert event.evidence == {"message": "mail of 30 November"}
    code, _out, err = run(
        "ledger",
        "record",
        "+33612345678",
        "-p",
        "nope",
        "--method",
        "post",
        "--db",
        db,
        "--spec",
        str(DSE),
    )
    assert code == 1 and "unknown purpose 'nope'" in err


def test_status_at_and_json(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    grant(Ledger(db, spec=SPEC), "+33612345678", "ad_call")
    saturday = working_time(2)
    saturday += timedelta(days=(5 - saturday.weekday()) % 7)
    code, out, _err = run(
        "ledger",
        "status",
        "+33612345678",
        "-p",
        "ad_call",
        "--db",
        db,
        "--spec",
        str(DSE),
        "--at",
        saturday.isoformat(),
        "--json",
    )
    import json

    data: dict[str, Any] = json.loads(out)
    assert code == 3 and data["allowed"] is False
    assert [r["code"] for r in data["reasons"]] == ["consent", "outside-hours"]
    code, _out, err = run(
        "ledger", "status", "+33612345678", "-p", "ad_call", "--db", db, "--at", "yesterday"
    )
    assert code == 1 and "--at: expected a date like 2026-08-10 or a time like" in err


def test_L03_source_data_never_contacted_within_a_month_is_blocked(tmp_path: Path) -> None:
    """GDPR Art. 14(3)(a): the information on data obtained elsewhere is due within a month;
    the audit reads when each row was obtained and blocks those never contacted since."""
    data = minimal_data(("fr",))
    data["purposes"][0].update(
        channel="post", legal_basis="legitimate_interests", collected_from=["source"]
    )
    text = data["purposes"][0]["text"]["fr"]
    del text["label"]
    text.update(legitimate_interest="faire connaître nos offres", data_categories=["adresse"])
    del data["sms"]
    data["source"] = {"publicly_accessible": True, "text": {"fr": {"description": "un fichier"}}}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(__import__("json").dumps(data), encoding="utf-8")
    db = tmp_path / "l.db"
    with Ledger(f"sqlite:///{db}", build(data)) as book:
        book.record("+33612345671", "sms_offers", "contact", method="post", locale="fr")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "phone,obtained_at\n"
        "+33612345670,2026-11-20\n"  # 11 days before: not yet due
        "+33612345671,2026-09-01\n"  # long ago, but contacted (informed)
        "+33612345672,2026-09-01\n"  # long ago, never contacted
        "+33612345673,last summer\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = run(
        "audit", str(contacts), "-p", "sms_offers", "--db", str(db), "-o", str(out),
        "--spec", str(spec_file), "--at", "2026-12-01T12:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    sendable = [r["phone"] for r in csv.DictReader((out / "sendable.csv").open())]
    blocked = {r["phone"]: r["reason"] for r in csv.DictReader((out / "blocked.csv").open())}
    assert sendable == ["+33612345670", "+33612345671"]
    assert "GDPR Art. 14(3)(a)" in blocked["+33612345672"]
    assert "obtained on 2026-09-01" in blocked["+33612345672"]
    assert "not a date" in blocked["+33612345673"]
    summary = (out / "summary.txt").read_text()
    assert "information-overdue" in summary and "invalid-date" in summary


def rented_list_spec() -> tuple[Spec, toolkit.Rendered, toolkit.Rendered]:
    """An SMS purpose whose numbers come from a rented list (Art. 14), with its regular and
    first-contact footers."""
    data = minimal_data(("fr",))
    data["purposes"][0]["collected_from"] = ["source"]
    data["purposes"][0]["text"]["fr"]["data_categories"] = ["numéro"]
    data["source"] = {
        "publicly_accessible": True,
        "text": {"fr": {"description": "un fichier loué", "sms": "un fichier loué"}},
    }
    spec = build(data)
    regular = toolkit.render(spec, "sms-footer", "fr")
    first = toolkit.render(spec, "sms-footer", "fr", first_contact=True, collection="source")
    return spec, regular, first


def test_the_first_message_to_source_data_must_carry_the_art14_information(
    tmp_path: Path,
) -> None:
    """Issue 12 item 4 (the D.S.E case): proof of information. A `notice-sent` record keeps
    the versions a message carried; for data from a source, the first one sent must be the
    first-contact text, else the person is blocked until informed."""
    spec, regular, first = rented_list_spec()
    with Ledger(tmp_path / "l.db", spec=spec) as book:
        for number, footer in (("+33612345671", regular), ("+33612345672", first)):
            book.record(number, "sms_offers", "notice-sent", method="api", locale="fr",
                        versions={"sms-footer": footer.version},
                        evidence={"message_id": "SM1"})  # fmt: skip
        missing = book.can_send("+33612345671", "sms_offers")
        assert "information-missing" in missing.codes
        assert "did not carry the first-contact information" in missing.reason
        assert "information-missing" not in book.can_send("+33612345672", "sms_offers").codes
        with pytest.raises(toolkit.errors.LedgerError, match="displayed or only linked"):
            book.record("+33612345673", "sms_offers", "notice-shown", method="web-form",
                        locale="fr", versions={"sms-footer": regular.version})  # fmt: skip
        shown = book.record("+33612345673", "sms_offers", "notice-shown", method="web-form",
                            locale="fr", versions={"sms-footer": regular.version},
                            evidence={"full_notice": "linked"})  # fmt: skip
        assert shown.evidence == {"full_notice": "linked"}


def test_a_first_contact_message_that_failed_informed_nobody(tmp_path: Path) -> None:
    """Issue 12 item 4: a notice-sent message gets its carrier's delivery report later (action
    `delivery`, linked to the message by its id). A first-contact message reported failed did
    not inform: the next message must carry the first-contact text again. The audit reads it
    the same way as can_send."""
    spec, regular, first = rented_list_spec()
    number = "+33612345671"
    with Ledger(tmp_path / "l.db", spec=spec) as book:

        def send(subject: str, footer: toolkit.Rendered, message_id: str) -> None:
            book.record(subject, "sms_offers", "notice-sent", method="api", locale="fr",
                        versions={"sms-footer": footer.version},
                        evidence={"message_id": message_id})  # fmt: skip

        send(number, first, "SM1")
        send(number, regular, "SM2")
        assert "information-missing" not in book.can_send(number, "sms_offers").codes
        with pytest.raises(toolkit.errors.LedgerError, match="no message 'SM9'"):
            book.record(number, "sms_offers", "delivery", method="carrier", locale="fr",
                        evidence={"message_id": "SM9", "status": "failed"})  # fmt: skip
        with pytest.raises(toolkit.errors.LedgerError, match=r"evidence\.status"):
            book.record(number, "sms_offers", "delivery", method="carrier", locale="fr",
                        evidence={"message_id": "SM1", "status": "lost"})  # fmt: skip
        report = book.record(number, "sms_offers", "delivery", method="carrier", locale="fr",
                             evidence={"message_id": "SM1", "status": "failed"})  # fmt: skip
        sent = [e for e in book.history(number) if e.action == "notice-sent"]
        assert report.evidence["delivers"] == sent[0].id
        decision = book.can_send(number, "sms_offers")
        assert "information-missing" in decision.codes
        histories = book.events_many([number], "sms_offers")
        from toolkit.proof.decision import decide, subject_of
        from toolkit.proof.records import number_facts

        audited = decide(
            book.policy("sms_offers"), subject_of(number, number_facts(number)),
            histories[number], [], datetime.now(UTC),
        )  # fmt: skip
        assert "information-missing" in audited.codes
        # delivered reports change nothing
        other = "+33612345672"
        send(other, first, "SM3")
        book.record(other, "sms_offers", "delivery", method="carrier", locale="fr",
                    evidence={"message_id": "SM3", "status": "delivered"})  # fmt: skip
        assert "information-missing" not in book.can_send(other, "sms_offers").codes
