"""optin sms analyze | preview | reply | batch."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import ROOT, run

from toolkit.sms import analyze

DSE = str(ROOT / "examples" / "dse-france.toml")


def test_analyze_json_161_chars() -> None:
    code, out, _ = run("sms", "analyze", "a" * 161, "--json")
    assert code == 0
    assert json.loads(out) == {
        "encoding": "GSM-7",
        "units": 161,
        "segments": 2,
        "remaining": 145,
        "per_segment": [153, 8],
        "non_gsm": [],
        "breaks": [153],
    }


def test_analyze_text_has_a_ruler_and_the_culprits() -> None:
    code, out, _ = run("sms", "analyze", "Prêt ?\nOui")
    assert code == 0
    assert out.splitlines() == [
        "UCS-2, 10 UTF-16 units, 1 segment(s), 60 left in the last",
        "[1] 10 |Prêt ?⏎Oui|",
        "forces UCS-2: 'ê' U+00EA at 2",
    ]
    code, _, err = run("sms", "analyze", "a\ud800")
    assert code == 1 and "lone surrogate" in err


def test_smart_encoding_counts_what_twilio_sends_and_says_what_it_replaced() -> None:
    code, out, _ = run("sms", "analyze", "C’est l’offre", "--smart-encoding")
    assert code == 0
    assert out.splitlines() == [
        "GSM-7, 13 septets, 1 segment(s), 147 left in the last",
        "[1] 13 |C'est l'offre|",
        "smart encoding at 1: '’' -> \"'\"",
        "smart encoding at 7: '’' -> \"'\"",
    ]
    code, out, _ = run(
        "sms",
        "preview",
        str(ROOT / "examples" / "dse-france.toml"),
        "C’est l’offre du jour",
        "-l",
        "fr",
        "--smart-encoding",
        "--json",
    )
    sent = json.loads(out)["analysis"]
    assert code == 0 and sent["encoding"] == "GSM-7" and len(sent["replacements"]) == 2
    code, out, _ = run("sms", "analyze", "C’est l’offre")
    assert out.startswith("UCS-2")  # off unless asked: a plain carrier sends what it gets


def test_preview_first_contact_done_when() -> None:
    code, out, _ = run(
        "sms",
        "preview",
        DSE,
        "Votre diagnostic gratuit vous attend",
        "--locale",
        "fr",
        "--first-contact",
    )
    assert code == 0
    message = out.split("\n\n")[0]
    for words in [
        "Diagnostics Exemple SAS",
        "Offres de diagnostics immobiliers par SMS",
        "Pour vous opposer à nos SMS",
        "STOP au 36111",
    ]:
        assert words in message
    assert "GSM-7, 229 septets, 2 segment(s)" in out
    assert "[1] 153 |Votre diagnostic gratuit vous attend⏎Diagnostics" in out
    assert "no warnings" in out


def test_preview_shows_the_footer_budget() -> None:
    """Issue 11 item 2: what the footer costs and what it leaves for the body in one SMS."""
    code, out, _ = run("sms", "preview", DSE, "Bonjour", "--locale", "fr")
    footer = "Diagnostics Exemple SAS - STOP au 36111 (SMS non surtaxé)"
    assert code == 0 and footer in out
    assert f"footer {len(footer)} · {160 - len(footer) - 1} left in one SMS" in out
    code, out, _ = run("sms", "preview", DSE, "Hola", "--locale", "es", "--json")
    budget = json.loads(out)["footer_budget"]
    assert budget["units"] + 1 + budget["left_in_one_sms"] == 160


def test_preview_json_and_gsm_safe() -> None:
    code, out, _ = run(
        "sms", "preview", DSE, "C’est prêt", "-l", "fr", "--json", "--gsm-safe", "--transliterate"
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {
        "message",
        "body",
        "footer",
        "footer_version",
        "footer_budget",
        "analysis",
        "warnings",
        "changes",
        "suggestions",
        "placeholders",
    }
    assert payload["body"] == "C'est pret"
    assert payload["analysis"]["encoding"] == "GSM-7"
    assert [c["kind"] for c in payload["changes"]] == ["typography", "transliteration"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sms", "preview", DSE, "", "-l", "fr"], 1, "empty"),
        (["sms", "preview", DSE, "x", "-l", "pt"], 1, "unsupported locale"),
        (["sms", "preview", DSE, "x"], 2, "Missing option"),
        (["sms", "preview", DSE, "x", "-l", "fr", "--transliterate"], 2, "--gsm-safe"),
        (["sms", "preview", "absent.toml", "x", "-l", "fr"], 1, "file not found"),
    ],
)
def test_preview_errors(args: list[str], code: int, message: str) -> None:
    got, _, err = run(*args)
    assert got == code and message in err


def test_reply() -> None:
    assert run("sms", "reply", "Arrêt !")[1].strip() == "opt-out (arret)"
    assert run("sms", "reply", "please stop calling me at 6")[1].strip() == "other"
    code, out, _ = run("sms", "reply", "HELP", "--json")
    assert code == 0
    assert json.loads(out) == {"kind": "help", "keyword": "help", "normalized": "help"}


def _campaign(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "campaign.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_batch_report_and_totals(tmp_path: Path) -> None:
    path = _campaign(
        tmp_path,
        [
            {"phone": "+33612345678", "first_name": "Jean"},
            {"phone": "+33612345679", "first_name": "Françoise"},
            {"phone": "+33612345670", "first_name": "{{ 7*7 }}"},
        ],
    )
    report = tmp_path / "report.csv"
    code, out, err = run(
        "sms",
        "batch",
        DSE,
        str(path),
        "--template",
        "Bonjour {first_name}, {{promo}} votre diagnostic",
        "-l",
        "fr",
        "-o",
        str(report),
    )
    assert code == 0, err
    assert out == ""  # the report went to the file
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [r["phone"] for r in rows] == ["+33612345678", "+33612345679", "+33612345670"]
    assert [r["encoding"] for r in rows] == ["GSM-7", "UCS-2", "GSM-7"]
    assert rows[1]["non_gsm"] == "ç"
    footer = run("render", DSE, "-a", "sms-footer", "-l", "fr", "--format", "text")[1].strip()
    expected = analyze(f"Bonjour {{{{ 7*7 }}}}, {{promo}} votre diagnostic\n{footer}")
    assert rows[2]["units"] == str(expected.units)
    assert "3 messages" in err and "1 sent as UCS-2" in err and "'ç'" in err


def test_batch_to_stdout(tmp_path: Path) -> None:
    path = _campaign(tmp_path, [{"phone": "+33612345678", "name": "Jean"}])
    code, out, _ = run("sms", "batch", DSE, str(path), "-t", "Bonjour {name}", "-l", "fr")
    assert code == 0
    assert next(csv.reader(io.StringIO(out))) == [
        "phone",
        "name",
        "encoding",
        "units",
        "segments",
        "non_gsm",
    ]


def test_batch_bad_input(tmp_path: Path) -> None:
    path = _campaign(tmp_path, [{"phone": "+33612345678", "name": "Jean"}])
    code, _, err = run("sms", "batch", DSE, str(path), "-t", "Bonjour {first_name}", "-l", "fr")
    assert code == 1
    assert "column 'first_name', which the file does not have (columns: phone, name)" in err
    code, _, err = run("sms", "batch", DSE, str(path), "-t", "Bonjour {name", "-l", "fr")
    assert code == 1 and "lone '{'" in err
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("phone,name\n+33612345678,Fran\xe7oise\n".encode("latin-1"))
    code, _, err = run("sms", "batch", DSE, str(latin1), "-t", "Bonjour {name}", "-l", "fr")
    assert code == 1 and "not UTF-8 text" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = run("sms", "batch", DSE, str(empty), "-t", "x", "-l", "fr")
    assert code == 1 and "empty file" in err
    code, _, err = run("sms", "batch", DSE, str(tmp_path / "absent.csv"), "-t", "x", "-l", "fr")
    assert code == 1 and "absent.csv" in err


def test_batch_writes_nothing_on_error_and_dash_is_stdout(tmp_path: Path) -> None:
    """newcomer.md: a bad template left a report holding its header row; `-o -` made a file
    named "-". The report is now put in place only once the campaign went through."""
    path = _campaign(tmp_path, [{"phone": "+33612345678", "name": "Jean"}])
    report = tmp_path / "report.csv"
    code, _, err = run(
        "sms", "batch", DSE, str(path), "-t", "Bonjour {prenom}", "-l", "fr", "-o", str(report)
    )
    assert code == 1 and "prenom" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.csv"]  # nothing written
    code, out, _ = run(
        "sms", "batch", DSE, str(path), "-t", "Bonjour {name}", "-l", "fr", "-o", "-"
    )
    assert code == 0 and out.startswith("phone,name,") and not (tmp_path / "-").exists()
    code, _, _ = run(
        "sms", "batch", DSE, str(path), "-t", "Bonjour {name}", "-l", "fr", "-o", str(report)
    )
    assert code == 0 and report.read_text(encoding="utf-8").startswith("phone,name,")


def test_batch_writes_into_a_pipe_or_device_and_never_replaces_it(tmp_path: Path) -> None:
    """`-o /dev/null` once put the report file where /dev/null was (the report is written
    aside, then moved into place): what is not a file is written to directly and stays."""
    path = _campaign(tmp_path, [{"phone": "+33612345678", "name": "Jean"}])
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(
        target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True
    )
    reader.start()
    code, _, err = run(
        "sms", "batch", DSE, str(path), "-t", "Bonjour {name}", "-l", "fr", "-o", str(fifo)
    )
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the pipe, not a file put in its place
    assert received and received[0].startswith("phone,name,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.csv", "report.pipe"]
