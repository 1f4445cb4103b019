"""The consent ledger, on SQLite and on a real PostgreSQL server: records, decisions,
receipts, tampering, import/export, concurrency and crashes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from conftest import ROOT, build, minimal_data
from sqlalchemy import create_engine, text

import toolkit
from toolkit.proof import Ledger, LedgerError, LedgerUnavailable, database_url, minimise_ip
from toolkit.proof.receipt import receipt_html, receipt_pdf
from toolkit.spec import Spec

SPEC = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")


def postal_spec() -> Spec:
    """A spec with a purpose the law lets go ahead without consent: letters by post."""
    data = minimal_data(("fr",))
    data["purposes"].append(
        {
            "id": "letters",
            "channel": "post",
            "legal_basis": "legitimate_interests",
            "retention": "P3Y",
            "retention_from": "collection",
            "text": {
                "fr": {
                    "name": "Offres par courrier",
                    "description": "Vous écrire au sujet de nos offres.",
                    "legitimate_interest": "faire connaître nos offres",
                }
            },
        }
    )
    return build(data)


def shown(locale: str = "fr") -> dict[str, str]:
    return {a: toolkit.render(SPEC, a, locale).version for a in ("checkbox", "notice-full")}


def grant(book: Ledger, subject: str = "+33612345678", purpose: str = "sms_offers") -> str:
    return book.record(
        subject, purpose, "grant", method="web-form", versions=shown(), locale="fr"
    ).id


def raw(url: str, sql: str) -> None:
    engine = create_engine(database_url(url))
    with engine.begin() as conn:
        conn.execute(text(sql))
    engine.dispose()


def queued_behind_the_writer(book: Ledger, calls: list[Callable[[], None]]) -> None:
    """Run each call in its own thread while the ledger's appends are paused, so that all
    of them queue and the writer writes their batches together; wait for every one."""
    with book.paused():
        threads = [threading.Thread(target=call) for call in calls]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while book.pending_writes < len(calls) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert book.pending_writes == len(calls)
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)


def test_grant_withdraw_opposition_latest_wins(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    assert book.can_send("+33612345678", "sms_offers").reason == "no consent recorded"
    first = book.record(
        "06 12 34 56 78",
        "sms_offers",
        "grant",
        method="web-form",
        versions=shown(),
        locale="fr",
        region="FR",
        evidence={
            "ip": "203.0.113.77",
            "user_agent": "Firefox",
            "form_url": "https://diagnostics.example/",
        },
    )
    assert first.subject == "+33612345678"
    assert first.evidence["ip"] == "203.0.113.0/24"
    # a form consent waits for the holder of the number to confirm it (double opt-in)
    assert book.can_send("+33612345678", "sms_offers").codes == ("consent", "pending-confirmation")
    confirmed = book.record(
        "+33612345678", "sms_offers", "confirm", method="sms-reply", locale="fr"
    )
    assert confirmed.evidence["confirms"] == first.id and "confirmation-sms" in confirmed.versions
    assert book.can_send("+33612345678", "sms_offers").allowed
    book.record("+33612345678", "sms_offers", "opposition", method="sms-reply", locale="fr")
    decision = book.can_send("+33612345678", "sms_offers")
    assert not decision.allowed and decision.reason.startswith("opposition by SMS on 20")
    with pytest.raises(LedgerError, match="nothing to confirm"):  # a STOP is not confirmed
        book.record("+33612345678", "sms_offers", "confirm", method="sms-reply", locale="fr")
    book.record(
        "+33612345678", "sms_offers", "grant", method="web-form", versions=shown(), locale="fr"
    )
    book.record("+33612345678", "sms_offers", "confirm", method="code", locale="fr")
    assert book.can_send("+33612345678", "sms_offers").allowed  # a later explicit grant
    book.record("+33612345678", "sms_offers", "withdraw", method="web-form", locale="fr")
    assert book.can_send("+33612345678", "sms_offers").reason.startswith("withdrawn by web form")
    assert [e.action for e in book.history("+33 6 12 34 56 78")] == [
        "grant",
        "confirm",
        "opposition",
        "grant",
        "confirm",
        "withdraw",
    ]
    assert book.count() == 6  # nothing was updated: every change is a new record
    assert book.verify().ok
    book.close()
    # A purpose on legitimate interests (postal marketing) may go ahead until the person objects.
    letters = Ledger(ledger_url, spec=postal_spec())
    assert letters.can_send("+33611111111", "letters").allowed
    letters.record("+33611111111", "letters", "opposition", method="api", locale="fr")
    assert not letters.can_send("+33611111111", "letters").allowed
    letters.close()


def test_texts_are_kept_once_and_resolve(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    event = book.record(
        "a@Example.org", "sms_offers", "grant", method="api", versions=shown(), locale="fr"
    )
    assert event.subject == "a@example.org"
    grant(book)
    for version in event.versions.values():
        assert toolkit.render(SPEC, "notice-full", "fr").text == book.text(version) or (
            toolkit.render(SPEC, "checkbox", "fr").text == book.text(version)
        )
    plain = Ledger(ledger_url)  # without a spec, unknown versions are refused
    english = toolkit.render(SPEC, "checkbox", "en")

    def record() -> None:
        plain.record(
            "+33612345679",
            "x",
            "grant",
            method="api",
            locale="en",
            versions={"checkbox": english.version},
        )

    with pytest.raises(LedgerError, match="no stored text"):
        record()
    plain.remember(english)
    record()
    forged = dataclasses.replace(english, text=english.text + " (and more)")
    with pytest.raises(LedgerError, match="text does not match its version"):
        plain.remember(forged)  # even though a text is stored under that version
    assert plain.text(english.version) == english.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject": "12345"}, "invalid phone number '12345'"),
        ({"subject": "not@mail"}, "invalid e-mail"),
        ({"purpose": "spam"}, "unknown purpose 'spam'; the spec has sms_offers, ad_call"),
        ({"action": "update"}, "unknown action 'update'"),
        ({"method": "fax"}, "unknown method 'fax'"),
        ({"versions": {}}, "a grant needs the versions"),
        ({"versions": {"checkbox": "md5:1"}}, "expected sha256"),
        ({"locale": "pt"}, "locale 'pt' is not one of the spec's locales"),
        ({"evidence": {"ip": "999.1.1.1"}}, "evidence.ip: not an IP address"),
        ({"evidence": {"name": "Jean"}}, "evidence.name: unknown field"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant(book)
    args: dict[str, object] = {
        "subject": "+33612345678",
        "purpose": "sms_offers",
        "action": "grant",
        "method": "web-form",
        "versions": shown(),
        "locale": "fr",
    }
    args.update(kwargs)
    with pytest.raises(LedgerError, match=message.replace("(", r"\(")):
        book.record(args.pop("subject"), args.pop("purpose"), args.pop("action"), **args)  # type: ignore[arg-type]
    assert book.count() == 1 and book.verify().ok


def test_ip_minimisation() -> None:
    assert minimise_ip("192.0.2.200") == "192.0.2.0/24"
    assert minimise_ip("2001:db8:abcd:1234::1") == "2001:db8:abcd::/48"


def test_receipt(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    event_id = grant(book)
    data = book.receipt(event_id)
    event = book.event(event_id)
    assert data["version"] == "KI-CR-v1.1.0"
    assert data["consentReceiptID"] == event_id and data["piiPrincipalId"] == "+33612345678"
    assert data["jurisdiction"] == "FR" and data["language"] == "fr"
    assert data["piiControllers"][0]["piiController"] == "Diagnostics Exemple SAS"
    assert data["policyUrl"] == SPEC.notice_url
    assert data["services"][0]["service"] == "Offres de diagnostics immobiliers par SMS"
    assert data["noticeVersions"] == event.versions and data["recordHash"] == event.hash
    assert {"collectionMethod", "consentTimestamp", "sensitive", "spiCat"} <= set(data)
    page = str(receipt_html(data))
    assert event.hash in page and 'lang="fr"' in page
    # each version under the registry's name of its text, in the receipt's language
    assert "<dt>Version du texte présenté\u00a0: Cases de consentement</dt>" in page
    assert "<dt>Version du texte présenté\u00a0: Notice complète</dt>" in page
    assert "<dt>checkbox</dt>" not in page
    assert "<dd>par le formulaire de notre site</dd>" in page  # how, in words, not "web-form"
    assert receipt_pdf(data).startswith(b"%PDF-")
    with pytest.raises(LedgerError, match="no record"):
        book.receipt("nope")


@pytest.mark.parametrize(
    ("tamper", "expect"),
    [
        (  # the subject is bound by its salted seal, which the hash covers (item 7)
            "UPDATE optin_events SET subject = '+33612345670' WHERE seq = 2",
            "subject does not match its seal",
        ),
        (
            "UPDATE optin_events SET subject_seal = 'sha256:' || substr(hash, 8) WHERE seq = 2",
            "hash does not match",
        ),
        (  # a subject erased with no redaction recorded
            "UPDATE optin_events SET subject = subject_digest, subject_salt = '' WHERE seq = 3",
            "erased without a recorded redaction",
        ),
        (
            "UPDATE optin_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 3",
            "hash does not match",
        ),
        ("DELETE FROM optin_events WHERE seq = 2", "missing"),
        ("DELETE FROM optin_events WHERE seq = 4", "ends early"),
        (
            "UPDATE optin_texts SET text = text || ' ' WHERE artefact = 'checkbox'",
            "stored text does not match",
        ),
    ],
)
def test_tampering_is_named(ledger_url: str, tamper: str, expect: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    ids = [grant(book, f"+3361234567{i}") for i in range(4)]
    assert book.verify().ok
    raw(ledger_url, tamper)
    result = book.verify()
    assert not result.ok and expect in result.reason
    if "seq = 2" in tamper and "UPDATE" in tamper:
        assert result.broken_id == ids[1]
    if "DELETE FROM optin_events WHERE seq = 2" in tamper:
        assert result.broken_id == ids[2]


def test_export_and_import_round_trip(ledger_url: str, tmp_path: Path) -> None:
    source = Ledger(tmp_path / "source.db", spec=SPEC)
    for i in range(3):
        grant(source, f"+3361234567{i}")
    source.record("+33612345670", "sms_offers", "withdraw", method="sms-reply", locale="fr")
    lines = list(source.export("jsonl", texts=True))
    target = Ledger(ledger_url)  # no spec: the texts travel in the export
    grant_target = Ledger(ledger_url, spec=SPEC)
    grant(grant_target, "+33699999999")
    assert target.import_jsonl(lines) == 4
    assert target.count() == 5 and target.verify().ok
    imported = target.history("+33612345670")
    assert [e.method for e in imported] == ["import", "import"]
    assert imported[0].evidence["origin_hash"] == json.loads(lines[-4])["hash"]
    assert not target.can_send("+33612345670", "sms_offers").allowed
    csv_lines = list(source.export("csv"))
    assert csv_lines[0].startswith("id,subject,purpose,action") and len(csv_lines) == 5


def test_import_refuses_forgery_and_writes_nothing(tmp_path: Path) -> None:
    source = Ledger(tmp_path / "source.db", spec=SPEC)
    for i in range(3):
        grant(source, f"+3361234567{i}")
    lines = list(source.export("jsonl", texts=True))
    forged = json.loads(lines[-1])
    forged["subject"] = "+33600000000"
    target = Ledger(tmp_path / "target.db")
    with pytest.raises(LedgerError, match=r"line \d+: subject does not match its seal"):
        target.import_jsonl([*lines[:-1], json.dumps(forged)])
    forged = {**json.loads(lines[-1]), "at": "2020-01-01T00:00:00.000Z"}
    with pytest.raises(LedgerError, match=r"line \d+: hash does not match"):
        target.import_jsonl([*lines[:-1], json.dumps(forged)])
    assert target.count() == 0
    with pytest.raises(LedgerError, match="does not follow"):
        target.import_jsonl([*lines[:2], lines[2], lines[4]])  # texts, 1st and 3rd record
    with pytest.raises(LedgerError, match="not a consent record"):
        target.import_jsonl(["{}"])
    assert target.count() == 0
    assert target.import_jsonl(lines) == 3
    with pytest.raises(LedgerError, match=r"3 record\(s\) of the file are already") as twice:
        target.import_jsonl(lines)  # the same file again: said in words, not in SQL
    assert "UNIQUE" not in str(twice.value) and target.count() == 3


def test_unreachable_database_is_a_clear_error() -> None:
    book = Ledger("postgresql://optin@127.0.0.1:1/none")
    with pytest.raises(LedgerUnavailable, match="cannot reach the ledger database"):
        book.count()


def test_threads_and_processes_append_without_forking_the_chain(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    grant(book)  # schema in place before the crowd arrives
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(500):
                book.record(
                    f"+336{n:02d}{i:06d}", "sms_offers", "opposition", method="api", locale="fr"
                )
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    code = (
        "import sys; from toolkit.proof import Ledger\n"
        "b = Ledger(sys.argv[1]); n = int(sys.argv[2])\n"
        "for i in range(500): b.record(f'+336{n + 50:02d}{i:06d}', 'sms_offers', 'opposition', "
        "method='api', locale='fr')"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, ledger_url, str(n)]) for n in range(4)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0, 0, 0]
    assert book.count() == 1 + 8 * 500 + 4 * 500
    result = book.verify()
    assert result.ok, result
    ids = [e.id for e in book.events()]
    assert len(ids) == len(set(ids))


def test_a_group_commit_fails_only_the_faulty_batch(ledger_url: str) -> None:
    """Callers queued behind a write share one transaction; a batch that names a text nobody
    stored, or that the database refuses (a duplicate id), fails alone and writes nothing."""
    book = Ledger(ledger_url, spec=SPEC)
    replayed = book.record("+33611111111", "sms_offers", "opposition", method="api", locale="fr")
    unknown = {"checkbox": "sha256:" + "0" * 64}
    batches = {
        "good-1": [
            book.prepare(
                "+33622222222",
                "sms_offers",
                "grant",
                method="web-form",
                versions=shown(),
                locale="fr",
            )
        ],
        "no-text": [
            book.prepare("+33633333333", "sms_offers", "opposition", method="api", locale="fr"),
            book.prepare(
                "+33633333333",
                "sms_offers",
                "grant",
                method="web-form",
                versions=unknown,
                locale="fr",
            ),
        ],
        "duplicate": [replayed],
        "good-2": [
            book.prepare("+33644444444", "sms_offers", "opposition", method="api", locale="fr"),
            book.prepare("+33655555555", "sms_offers", "opposition", method="api", locale="fr"),
        ],
    }
    outcome: dict[str, object] = {}

    def append(name: str) -> None:
        try:
            outcome[name] = book.append(batches[name])
        except LedgerError as exc:
            outcome[name] = exc

    queued_behind_the_writer(book, [partial(append, name) for name in batches])
    assert isinstance(outcome["no-text"], LedgerError)
    assert "no stored text for checkbox=sha256:000" in str(outcome["no-text"])
    assert isinstance(outcome["duplicate"], LedgerError)
    assert "refused by the database" in str(outcome["duplicate"])
    for name in ("good-1", "good-2"):
        sealed = outcome[name]
        assert isinstance(sealed, list) and len(sealed) == len(batches[name])
        assert [book.event(e.id) for e in sealed] == sealed
    assert book.history("+33633333333") == []  # the faulty batch's good event is not stored
    assert book.count() == 1 + 1 + 2
    assert book.verify().ok


def test_a_failed_group_commit_leaves_nobody_waiting(ledger_url: str) -> None:
    """When the leader's write breaks, every queued caller gets an error, and the next
    append fails the same way instead of hanging."""
    book = Ledger(ledger_url, spec=SPEC)
    book.record("+33611111111", "sms_offers", "opposition", method="api", locale="fr")
    raw(ledger_url, "DELETE FROM optin_head")
    errors: list[LedgerError] = []

    def append(n: int) -> None:
        try:
            book.record(f"+3362222222{n}", "sms_offers", "opposition", method="api", locale="fr")
        except LedgerError as exc:
            errors.append(exc)

    queued_behind_the_writer(book, [partial(append, n) for n in range(3)])
    assert len(errors) == 3
    assert any("lost its chain head" in str(exc) for exc in errors)
    late = threading.Thread(target=append, args=(9,))
    late.start()
    late.join(timeout=30)
    assert not late.is_alive() and len(errors) == 4
    assert book.count() == 1


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_appends_survive_a_dropped_database_connection(ledger_url: str) -> None:
    """The ledger keeps one connection for its appends; when the server drops it (a restart,
    an idle timeout), the next append reconnects instead of failing."""
    book = Ledger(ledger_url, spec=SPEC)
    grant(book)
    raw(
        ledger_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    grant(book, "+33699999999")
    assert book.count() == 2 and book.verify().ok


def test_sqlite_writers_of_other_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    """A process that holds the writer lock makes another process's append wait, and the
    waiting append goes through as soon as the lock is released."""
    import fcntl

    path = tmp_path / "ledger.db"
    book = Ledger(path, spec=SPEC)
    book.count()
    code = (
        "import sys; from toolkit.proof import Ledger\n"
        "Ledger(sys.argv[1]).record('+33612345678', 'sms_offers', 'opposition', method='api', "
        "locale='fr')\n"
    )
    with open(f"{path}-writer.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=ROOT)
        time.sleep(3)
        assert proc.poll() is None  # still waiting for the lock
        assert book.count() == 0
        fcntl.flock(lock, fcntl.LOCK_UN)
        released = time.monotonic()
        assert proc.wait(timeout=60) == 0
    assert time.monotonic() - released < 2  # woken at once, not after a busy-wait back-off
    assert book.count() == 1 and book.verify().ok


def test_a_lock_file_failure_fails_every_queued_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the writer cannot take the lock file, every caller queued behind it gets a clear
    error (none is told its events were stored), and the ledger works again afterwards."""
    import fcntl

    book = Ledger(tmp_path / "ledger.db", spec=SPEC)
    book.count()
    outcome: list[object] = []

    def append(n: int) -> None:
        try:
            outcome.append(
                book.record(
                    f"+3362222222{n}", "sms_offers", "opposition", method="api", locale="fr"
                )
            )
        except LedgerUnavailable as exc:
            outcome.append(exc)

    def refuse(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    queued_behind_the_writer(book, [partial(append, n) for n in range(3)])
    assert len(outcome) == 3
    assert all(isinstance(o, LedgerUnavailable) and "cannot lock" in str(o) for o in outcome), (
        outcome
    )
    monkeypatch.undo()
    append(9)
    assert book.count() == 1 and book.verify().ok


def test_a_forked_child_writes_through_its_own_connection(ledger_url: str) -> None:
    """A ledger opened before a fork (gunicorn --preload) works in parent and child at once
    without sharing a connection or a lock."""
    import multiprocessing

    book = Ledger(ledger_url, spec=SPEC)
    grant(book)  # the parent now holds a connection and, on SQLite, the lock file

    def child() -> None:
        for i in range(200):
            book.record(f"+336110{i:05d}", "sms_offers", "opposition", method="api", locale="fr")

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    for i in range(200):
        book.record(f"+336220{i:05d}", "sms_offers", "opposition", method="api", locale="fr")
    proc.join(timeout=120)
    assert proc.exitcode == 0
    assert book.count() == 1 + 200 + 200
    assert book.verify().ok


def test_sigkill_mid_load_loses_nothing_that_was_acknowledged(ledger_url: str) -> None:
    Ledger(ledger_url, spec=SPEC).count()  # schema first
    code = (
        "import sys; from toolkit.proof import Ledger; b = Ledger(sys.argv[1])\n"
        "for i in range(100000):\n"
        "    e = b.record(f'+3367{i:07d}', 'sms_offers', 'opposition', method='api', locale='fr')\n"
        "    print(e.id, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, ledger_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged = []
    deadline = time.monotonic() + 120
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        acknowledged.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acknowledged += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    book = Ledger(ledger_url)
    assert book.verify().ok
    stored = {e.id for e in book.events()}
    assert len(acknowledged) >= 150
    assert set(acknowledged) <= stored


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).count()
    raw(str(path), "INSERT INTO optin_schema (version, applied_at) VALUES (99, 'x')")
    with pytest.raises(LedgerError, match="schema is version 99"):
        Ledger(path).count()


def _library_verdict(number: str) -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _ours(number: str) -> str:
    from toolkit.proof import normalise_subject

    try:
        return normalise_subject(number)
    except LedgerError:
        return ""


def test_fast_e164_check_agrees_with_phonenumbers() -> None:
    """The compiled validity check must give phonenumbers' verdict, valid or not."""
    import random

    import phonenumbers

    rng = random.Random(11)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
            phonenumbers.PhoneNumberType.VOIP,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            variants = [e164, e164[:-1], e164 + "5"]
            for _ in range(6):  # same prefix, other endings: mostly valid numbers
                cut = rng.randint(3, 5)
                variants.append(e164[:-cut] + "".join(rng.choice("0123456789") for _ in range(cut)))
            for number in variants:
                assert _ours(number) == _library_verdict(number), (region, number)
                checked += 1
    assert checked > 5000


def test_number_facts_agree_with_phonenumbers() -> None:
    """The region and type the decision reads (landline or mobile, which country) must be
    phonenumbers' own, for every region's example numbers of every type and their variants
    (which hit the cache of facts by prefix the example filled, when their country allows)."""
    import random

    import phonenumbers

    from toolkit.proof.records import number_facts

    rng = random.Random(13)
    checked = 0
    kinds = [
        getattr(phonenumbers.PhoneNumberType, name)
        for name in (
            "MOBILE",
            "FIXED_LINE",
            "TOLL_FREE",
            "PREMIUM_RATE",
            "SHARED_COST",
            "VOIP",
            "PERSONAL_NUMBER",
            "PAGER",
            "UAN",
            "VOICEMAIL",
        )
    ]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for _ in range(6):  # the last 2 to 7 digits varied: facts are cached by prefix
                cut = min(rng.randint(2, 7), len(e164) - 5)  # the country code stays
                e164_variant = e164[:-cut] + "".join(rng.choice("0123456789") for _ in range(cut))
                for number in (e164, e164_variant):
                    parsed = phonenumbers.parse(number, None)
                    if not phonenumbers.is_valid_number(parsed):
                        continue
                    expected = (
                        phonenumbers.region_code_for_number(parsed),
                        phonenumbers.number_type(parsed),
                    )
                    assert number_facts(number) == expected, (region, number)
                    checked += 1
    assert checked > 3000


def test_import_wants_utc_times(tmp_path: Path) -> None:
    source = Ledger(tmp_path / "source.db", spec=SPEC)
    grant(source)
    texts_and_record = list(source.export("jsonl", texts=True))
    record = json.loads(texts_and_record[-1])
    record["at"] = "2026-11-30T10:15:02.123+01:00"
    with pytest.raises(LedgerError, match="'at' must be UTC"):
        Ledger(tmp_path / "t.db").import_jsonl([*texts_and_record[:-1], json.dumps(record)])


def test_the_hash_covers_every_field_but_itself() -> None:
    from dataclasses import fields

    from toolkit.proof import ConsentEvent
    from toolkit.proof.records import seal_subject, subject_problem

    older = ConsentEvent(
        "i",
        "+33612345678",
        "p",
        "grant",
        "api",
        {"checkbox": "v"},
        "fr",
        "2026-11-30T00:00:00.000Z",
        {"ip": "192.0.2.0/24"},
    )
    salt = "00" * 16
    event = dataclasses.replace(
        older,
        subject_digest="hmac-sha256:ab",
        subject_salt=salt,
        subject_seal=seal_subject(salt, older.subject),
    )
    # Schema 3: the hash covers the subject through its digest and seal, not itself, so that
    # a redaction (subject and salt erased) keeps it; a schema-2 record covers the subject.
    bound = {"hash", "subject", "subject_salt"}
    assert set(event.body()) == {f.name for f in fields(ConsentEvent)} - bound
    assert set(older.body()) == {f.name for f in fields(ConsentEvent)} - bound - {
        "subject_digest",
        "subject_seal",
    } | {"subject"}
    for item in (older, event):
        for name in item.body():  # changing any field the hash covers changes the hash
            value = {"x": "y"} if name in ("versions", "evidence") else "x"
            changed = dataclasses.replace(item, **{name: value})
            assert changed.computed_hash() != item.computed_hash(), name
    # the subject and the salt are bound by the seal instead
    assert subject_problem(event) == ""
    assert "seal" in subject_problem(dataclasses.replace(event, subject="+33600000000"))
    assert "seal" in subject_problem(dataclasses.replace(event, subject_salt="11" * 16))


def test_event_ids_are_uuid7_in_time_order() -> None:
    from uuid import UUID

    from toolkit.proof.records import new_event_id

    before = int(time.time() * 1000)
    first = new_event_id()
    time.sleep(0.002)
    second = new_event_id()
    after = int(time.time() * 1000)
    for made in (first, second):
        value = UUID(made)
        assert value.version == 7 and value.variant == "specified in RFC 4122"
        assert before <= value.int >> 80 <= after
    assert first < second  # a later millisecond sorts later: the id index grows at its end
    assert len({new_event_id() for _ in range(10_000)}) == 10_000


def test_d5_first_appends_from_many_threads_never_deadlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D5 (code review addendum): threads making their first append on a fresh ledger at once
    each opened the lock file and unlocked another thread's descriptor, leaving one locked for
    ever. A slow open() widens the race so that the old code hangs every time."""
    real_open = os.open

    def slow_open(path: str, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith("-writer.lock"):
            time.sleep(0.05)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", slow_open)
    book = Ledger(tmp_path / "fresh.db", spec=SPEC)
    errors: list[BaseException] = []

    def first_grant(number: str) -> None:
        try:
            grant(book, number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=first_grant, args=(f"+3361234567{i}",), daemon=True)
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "appends hung on the lock file"
    assert errors == []
    assert book.count() == 4 and book.verify().ok
    book.close()


def test_d1_a_long_lived_ledger_accepts_texts_it_already_stored(ledger_url: str) -> None:
    """D1: a ledger that had stored a text re-inserted it when a later grant named it beside a
    new one, and the database refused the valid grant."""
    book = Ledger(ledger_url, spec=SPEC)
    for artefacts in (("checkbox", "notice-full"), ("checkbox", "notice-short")):
        versions = {a: toolkit.render(SPEC, a, "fr").version for a in artefacts}
        book.record(
            "+33612345678", "sms_offers", "grant", method="web-form", versions=versions, locale="fr"
        )
    footer = toolkit.render(SPEC, "sms-footer", "fr")
    book.remember(footer)
    versions = {"sms-footer": footer.version, "checkbox": shown()["checkbox"]}
    book.record("+33612345679", "sms_offers", "grant", method="api", versions=versions, locale="fr")
    assert book.count() == 3 and book.verify().ok
    book.close()


def test_d2_sqlite_reads_do_not_block_writers(tmp_path: Path) -> None:
    """D2: every transaction began with BEGIN IMMEDIATE, so a reader held SQLite's write lock
    and another connection's append waited for it (up to the 60 s busy timeout)."""
    path = tmp_path / "l.db"
    reader = Ledger(path, spec=SPEC)
    for i in range(3):
        grant(reader, f"+3361234567{i}")
    stream = reader.events()
    next(stream)  # a read transaction is now open
    writer = Ledger(path, spec=SPEC)
    done: list[float] = []
    start = time.monotonic()
    thread = threading.Thread(
        target=lambda: (grant(writer, "+33699999999"), done.append(time.monotonic() - start)),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=10)
    assert done and done[0] < 5, "the append waited for a reader"
    assert len(list(stream)) == 2  # the reader still sees its own snapshot
    stream.close()
    assert writer.count() == 4
    reader.close()
    writer.close()


def test_d3_verify_under_concurrent_appends_raises_no_false_alarm(ledger_url: str) -> None:
    """D3: on PostgreSQL the head was read after the scan, so records committed meanwhile
    looked like a chain that ends early."""
    book = Ledger(ledger_url, spec=SPEC)
    grant(book)
    stop = threading.Event()

    def append() -> None:
        i = 0
        while not stop.is_set():
            book.record(f"+33655{i:06d}", "sms_offers", "opposition", method="api", locale="fr")
            i += 1

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    try:
        results = [book.verify() for _ in range(15)]
    finally:
        stop.set()
        writer.join(timeout=30)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:1]
    assert book.verify().ok and book.count() > 1
    book.close()


def test_d4_a_caller_interrupted_while_waiting_leaves_nobody_waiting(tmp_path: Path) -> None:
    """D4: a caller whose wait ended by an exception (a signal, a gevent timeout) while a write
    was under way stayed queued, was handed the writing, and every later append in the process
    hung. Here another process holds the SQLite writer lock while the main thread waits."""
    import fcntl

    path = tmp_path / "l.db"
    book = Ledger(path, spec=SPEC)
    grant(book)

    def interrupt(_signum: int, _frame: object) -> None:
        raise TimeoutError("interrupted while waiting")

    previous = signal.signal(signal.SIGALRM, interrupt)
    other: list[object] = []
    try:
        with open(f"{path}-writer.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as another process's write would
            first = threading.Thread(target=lambda: other.append(grant(book, "+33611111111")))
            first.start()
            time.sleep(0.3)  # the first append is now being written, waiting for the lock
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(TimeoutError):
                grant(book, "+33622222222")  # the main thread waits, and is interrupted
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    first.join(timeout=10)
    assert other and not first.is_alive()
    later = threading.Thread(target=grant, args=(book, "+33633333333"), daemon=True)
    later.start()
    later.join(timeout=10)
    assert not later.is_alive(), "a later append hung"
    # The interrupted caller's batch was still queued: it left with it, and nothing of it is
    # stored, as the exception it got says.
    assert book.history("+33622222222") == []
    assert book.count() == 3 and book.verify().ok
    book.close()


def test_verify_checks_each_link_not_only_each_hash(ledger_url: str) -> None:
    """A middle record rewritten with its own hash recomputed still breaks the next record's
    link (tests.md #7: prev_hash was never the check that caught a tamper)."""
    book = Ledger(ledger_url, spec=SPEC)
    ids = [grant(book, f"+3361234567{i}") for i in range(3)]
    middle = book.event(ids[1])
    forged = dataclasses.replace(middle, at="2020-01-01T00:00:00.000Z")
    forged = dataclasses.replace(forged, hash=forged.computed_hash())
    raw(
        ledger_url,
        f"UPDATE optin_events SET at = '{forged.at}', hash = '{forged.hash}' "  # noqa: S608
        f"WHERE id = '{middle.id}'",
    )
    result = book.verify()
    assert not result.ok and result.broken_id == ids[2]
    assert result.reason == "prev_hash does not match the record before it"
    book.close()


def test_reads_never_create_a_ledger(tmp_path: Path) -> None:
    """D8: opening a ledger to read it must not create one where there is none."""
    missing = tmp_path / "typo" / "ledger.db"
    with pytest.raises(LedgerError, match="no ledger at"):
        Ledger(missing, create=False).verify()
    assert not missing.parent.exists()
    with Ledger(tmp_path / "l.db") as book:
        book.count()
    with Ledger(tmp_path / "l.db", create=False) as book:
        assert book.verify().ok


def test_an_older_imported_grant_never_undoes_a_newer_stop(ledger_url: str, tmp_path: Path) -> None:
    """M4 / issue 12 item 5: the decision goes by event time. A grant exported from another
    ledger before the person texted STOP here is kept as history but does not decide; a
    record newer than what is stored does."""
    source = Ledger(tmp_path / "source.db", spec=SPEC)
    grant(source, "+33612345670")
    old_grant = list(source.export("jsonl", texts=True))
    time.sleep(0.01)  # the STOP below is later than the exported grant
    target = Ledger(ledger_url, spec=SPEC)
    target.record("+33612345670", "sms_offers", "opposition", method="sms-reply", locale="fr")
    assert target.import_jsonl(old_grant) == 1
    assert [e.action for e in target.history("+33612345670")] == ["opposition", "grant"]
    decision = target.can_send("+33612345670", "sms_offers")
    assert not decision.allowed and "opposition" in decision.codes
    latest = target.status("+33612345670", "sms_offers")
    assert latest is not None and latest.action == "opposition"
    # a later record still decides: the person consents again, here and now, and confirms
    grant(target, "+33612345670")
    target.record("+33612345670", "sms_offers", "confirm", method="sms-reply", locale="fr")
    assert target.can_send("+33612345670", "sms_offers").allowed
    target.close()
    source.close()


def test_versions_are_checked_per_slot_and_locale(ledger_url: str) -> None:
    """D6, M5: the checkbox's version as the notice's, or English texts on a French grant, are
    refused, naming the slot; nothing is stored."""
    book = Ledger(ledger_url, spec=SPEC)
    french, english = shown("fr"), shown("en")
    swapped = {"checkbox": french["notice-full"], "notice-full": french["checkbox"]}
    with pytest.raises(LedgerError, match=r"versions.checkbox: .* is the notice-full text in 'fr'"):
        book.record("+33612345678", "sms_offers", "grant", method="web-form", versions=swapped,
                    locale="fr")  # fmt: skip
    with pytest.raises(LedgerError, match=r"is the checkbox text in 'en', not a checkbox text in"):
        book.record("+33612345678", "sms_offers", "grant", method="web-form", versions=english,
                    locale="fr")  # fmt: skip
    # once the texts are known to the writer (the fast path), the check still holds
    grant(book)
    with pytest.raises(LedgerError, match=r"versions.notice-full: .* is the checkbox text"):
        book.record("+33612345678", "sms_offers", "grant", method="web-form",
                    versions={"checkbox": french["checkbox"], "notice-full": french["checkbox"]},
                    locale="fr")  # fmt: skip
    assert book.count() == 1 and book.verify().ok
    book.close()


def test_a_reader_cannot_write(ledger_url: str) -> None:
    """Issue 12 item 8: a ledger opened to read (create=False: verify, export, status, audit)
    is read-only down to the database (SQLite mode=ro, PostgreSQL read-only sessions)."""
    writer = Ledger(ledger_url, spec=SPEC)
    grant(writer)
    writer.close()
    reader = Ledger(ledger_url, spec=SPEC, create=False)
    assert reader.verify().ok and reader.count() == 1
    with pytest.raises(LedgerError, match="opened to read"):
        reader.record("+33612345678", "sms_offers", "opposition", method="api", locale="fr")
    store = reader._store  # the database itself refuses, not only the façade
    with pytest.raises(Exception, match=r"read-only|readonly"), store.engine.begin() as conn:
        conn.execute(text("UPDATE optin_head SET records = records + 1"))
    reader.close()
    assert Ledger(ledger_url, spec=SPEC).verify().ok
