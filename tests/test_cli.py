"""The optin command: exit codes, messages on stderr, output formats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run

import toolkit
from toolkit import load_spec, render

DSE = str(ROOT / "examples" / "dse-france.toml")
NEWSLETTER = str(ROOT / "examples" / "newsletter.toml")


def test_validate_examples() -> None:
    code, out, err = run("validate", DSE, NEWSLETTER)
    assert code == 0, err
    assert out.splitlines() == [f"{DSE}: ok", f"{NEWSLETTER}: ok"]


def test_validate_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = Path(DSE).read_text(encoding="utf-8")
    text = text.replace('retention = "P3Y"', 'retention = "3 years"', 1)
    text = text.replace('sender = "DIAGEXEMPL"', 'sender = "DIAGNOSTICSEXEMPLE"')
    bad.write_text(text, encoding="utf-8")
    code, out, err = run("validate", DSE, str(bad), str(tmp_path / "absent.toml"))
    assert code == 1
    assert out.splitlines() == [f"{DSE}: ok"]
    assert err.splitlines() == [
        f"{bad}: purposes[0].retention: expected an ISO 8601 duration like P3Y, got '3 years'",
        f"{bad}: sms.sender: expected an alphanumeric sender id (at most 11 letters, digits or "
        "spaces, at least one letter) or a phone number / short code in digits, got "
        "'DIAGNOSTICSEXEMPLE'",
        f"{tmp_path / 'absent.toml'}: file not found",
    ]


def test_render_json_has_the_api_version() -> None:
    code, out, err = run(
        "render", DSE, "--artefact", "notice-full", "--locale", "de", "--format", "json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"artefact", "locale", "version", "html", "text"}
    expected = render(load_spec(DSE), "notice-full", "de")
    assert payload["version"] == expected.version
    assert payload["text"] == expected.text
    assert "Widerspruch" in payload["text"]


def test_render_text_html_and_first_contact() -> None:
    code, out, _ = run("render", DSE, "-a", "checkbox", "-l", "fr")
    assert code == 0 and out.startswith('<fieldset class="optin-consent" lang="fr" dir="ltr">')
    code, out, _ = run("render", DSE, "-a", "notice-short", "-l", "fr_CA", "--format", "text")
    assert code == 0 and "Diagnostics Exemple SAS" in out and "<" not in out.split("<https")[0]
    code, out, _ = run(
        "render", DSE, "-a", "sms-footer", "-l", "fr", "--first-contact", "--format", "text"
    )
    assert code == 0
    assert out.strip() == render(load_spec(DSE), "sms-footer", "fr", first_contact=True).text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["render", DSE, "-a", "banner", "-l", "fr"], 2, "Invalid value for '--artefact'"),
        (["render", DSE, "-a", "checkbox"], 2, "Missing option '--locale'"),
        (["render", DSE, "-a", "notice-full", "-l", "fr", "--first-contact"], 2, "sms-footer only"),
        (
            ["render", DSE, "-a", "notice-full", "-l", "pt"],
            1,
            "unsupported locale 'pt'; supported: fr, en, de, es, it",
        ),
        (
            ["render", "absent.toml", "-a", "notice-full", "-l", "fr"],
            1,
            "absent.toml: file not found",
        ),
        (["render", NEWSLETTER, "-a", "sms-footer", "-l", "fr"], 1, "no [sms] section"),
        (["validate"], 2, "Missing argument"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_errors_and_exit_codes(args: list[str], code: int, message: str) -> None:
    got, _, err = run(*args)
    assert got == code
    assert message in err


def test_schema_is_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"locales", "notice_url", "controller", "purposes", "source", "sms"} <= set(
        schema["properties"]
    )


def test_installed_console_script() -> None:
    optin = shutil.which("optin") or str(Path(toolkit.__file__).parents[1] / ".venv/bin/optin")
    done = subprocess.run([optin, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"optin, version {toolkit.__version__}"
    done = subprocess.run(
        [optin, "render", DSE, "--artefact", "notice-full", "--locale", "xx"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "unsupported locale 'xx'" in done.stderr


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """newcomer.md: `optin ... | head` printed "error: : Broken pipe"; like Unix tools, the
    command now ends quietly when its reader goes away (output larger than a pipe's buffer)."""
    import subprocess
    import sys

    campaign = tmp_path / "campaign.csv"
    rows = "".join(f"+3361234{i:04d},Anna\n" for i in range(20000))
    campaign.write_text("phone,first_name\n" + rows, encoding="utf-8")
    optin = Path(sys.executable).with_name("optin")
    spec = ROOT / "examples" / "dse-france.toml"
    command = f"'{optin}' sms batch '{spec}' '{campaign}' --template Bonjour --locale fr"
    done = subprocess.run(
        ["sh", "-c", command + " | head -c 5"], capture_output=True, text=True, timeout=120
    )
    assert done.stdout == "phone" and done.stderr == ""
