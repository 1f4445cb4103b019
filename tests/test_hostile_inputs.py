"""Hostile inputs through every field, header and webhook parameter of the demo, and out of
every export (issue 13 item 7; the security review used 722 inputs: this suite keeps more).

For each input and each place: no server error (a 4xx at worst), nothing reflected as markup,
no template evaluated, and at the end the chain verifies and every CSV cell is neutralised.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import API, ROOT, audited_list

from demo import create_app
from toolkit.csvio import FORMULA_STARTS

TOKEN = "hostile-admin-token-0000"
BASE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
    "{{7*191919}}",
    "{% raw %}{{ config }}{% endraw %}",
    "${7*191919}",
    "#{7*191919}",
    "%s%s%s%n",
    "' OR '1'='1",
    "'; DROP TABLE optin_events; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r\n=1+1",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "\x00",
    "a\x00b",
    "\u202e\u0645\u0631\u062d\u0628\u0627",  # right-to-left override
    "\u200b\u200c\u200d\ufeff",
    "😀" * 50,
    "é" * 300,
    "A" * 5000,
    "",
    " ",
    "\n",
    "null",
    "None",
    "undefined",
    "NaN",
    "-1",
    "0",
    "99999999999999999999999999",
    "+33 6 12 34 56 78",
    "+999999999999999",
    "0612345678\r\nX-Injected: 1",
    "STOP",
    "OUI",
    "stop calling me",
    "anna@example.org",
    "anna@example.org<script>",
    '"anna"@example.org',
    "anna@[127.0.0.1]",
    "x@x",
    "sha256:" + "0" * 64,
    "sha256:" + "z" * 64,
    '{"a": 1}',
    "[1, 2]",
    "%00",
    "%3Cscript%3E",
    "&lt;script&gt;",
    "\\u003cscript\\u003e",
    "<!--",
    "]]><x>",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
    "fr",
    "xx",
    "fr_FR",
    "en-US,en;q=0.9",
    "sms_offers",
]
SUFFIXES = ["", " ", "'", '"', "<b>", "\\", "%", "\u0000x", "é", "\n", "<script>", " OR 1=1"]
INPUTS = [base + suffix for base in BASE for suffix in SUFFIXES]
assert len(set(INPUTS)) > 722  # the security review's count, exceeded


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    work = tmp_path_factory.mktemp("hostile")
    app = create_app(
        {
            "OPTIN_SPEC": str(ROOT / "examples" / "dse-france.toml"),
            "OPTIN_DATABASE_URL": f"sqlite:///{work / 'h.db'}",
            "OPTIN_ADMIN_TOKEN": TOKEN,
            "OPTIN_API_TOKEN": API["Authorization"].removeprefix("Bearer "),
            "OPTIN_FORM_RATE": "1000000 per minute",
            "OPTIN_API_RATE": "1000000 per minute",
            "OPTIN_WEBHOOK_UNSIGNED": True,
            "OPTIN_OUTBOX": str(work / "outbox.jsonl"),
            "OPTIN_ADMIN_SESSIONS": str(work / "sessions.db"),
            "WTF_CSRF_ENABLED": False,  # the CSRF check is tested elsewhere; here every field
            "TESTING": True,
        }
    )
    yield app
    app.extensions["optin"].ledger.close()  # type: ignore[attr-defined]


def hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


MARKUP = re.compile(r"<script>alert|<img src=x|<svg/onload|<b>\\")  # raw tags, unescaped


def check(response: object, value: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, (status, value)
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    markup = response.mimetype in ("text/html", "application/xml")  # type: ignore[attr-defined]
    if markup and MARKUP.search(value):  # JSON is served as JSON, with nosniff
        assert not MARKUP.search(text), value  # reflected only escaped, never as markup
    if "7*191919" in value:
        assert "1343433" not in text, value  # a template in the input is never evaluated


def test_every_field_and_parameter_survives_every_input(app: object) -> None:
    client = app.test_client()  # type: ignore[attr-defined]
    base = hidden(client.get("/?lang=fr").get_data(as_text=True))
    fields = [*base, "phone", "consent_sms_offers", "consent_" + "x"]
    admin = {"Authorization": f"Bearer {TOKEN}"}
    count = 0
    for value in INPUTS:
        for field in fields:  # the sign-up form, one field at a time
            data = {**base, "phone": "06 12 34 56 78", "consent_sms_offers": "sms_offers"}
            data[field] = value
            check(client.post("/?lang=fr", data=data), value)
            count += 1
        check(
            client.post("/withdraw?lang=fr", data={"phone": value, "consent_sms_offers": "x"}),
            value,
        )
        check(client.post("/confirm", data={"code": value}), value)
        for name in ("From", "Body", "MessageSid"):  # the webhook
            params = {"From": "+33612345679", "Body": "AIDE", "MessageSid": ""}
            params[name] = value
            check(client.post("/sms/inbound", data=params), value)
        check(client.get("/", query_string={"lang": value}), value)
        header = re.sub(r"[\r\n\x00]", " ", value)[:200]  # what HTTP lets through
        check(client.get("/", headers={"Accept-Language": header}), value)
        check(client.get(f"/receipt/{value[:100]}"), value)
        check(client.post("/api/sms/preview", json={"body": value, "locale": value}), value)
        check(client.get("/api/consent", query_string={"subject": value, "purpose": value},
                         headers=API), value)  # fmt: skip
        check(client.post("/api/consent/batch", json={"purpose": "sms_offers",
                          "subjects": [value]}, headers=API), value)  # fmt: skip
        objection = {"subject": value, "purpose": "sms_offers", "method": "post", "note": value}
        check(client.post("/admin/objection", headers=admin, data=objection), value)
        count += 12
    assert count >= 722 * 10  # inputs x places (benchmarks/README.md reports it)
    print(f"hostile inputs: {len(INPUTS)} inputs, {count} requests, none a server error")
    book = app.extensions["optin"].ledger  # type: ignore[attr-defined]
    assert book.verify().ok
    exported = list(csv.reader(io.StringIO("\n".join(book.export("csv")))))
    for row in exported:
        for cell in row:
            assert not cell or cell[0] not in FORMULA_STARTS or re.fullmatch(r"[+\d ]+", cell)


def test_the_audit_upload_survives_every_input_in_its_cells(app: object, tmp_path: Path) -> None:
    client = app.test_client()  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {TOKEN}"}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["phone", "name"])
    for value in INPUTS:
        writer.writerow([value.replace("\x00", ""), value.replace("\x00", "")])
    answer = client.post(
        "/admin/audit",
        headers=admin,
        content_type="multipart/form-data",
        data={
            "purpose": "sms_offers",
            "contacts": (io.BytesIO(buffer.getvalue().encode()), "c.csv"),
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    rows = list(csv.reader(io.StringIO(audited_list(client, answer, admin))))
    assert len(rows) == len(INPUTS) + 1
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in FORMULA_STARTS or re.fullmatch(r"[+\d ().-]+", cell)
