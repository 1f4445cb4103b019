"""The README is part of the product: every `optin` command in it runs, every output it shows is
what the toolkit prints, and its Python examples run (in a scratch folder with the files they
name)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
BLOCKS = [(m.group(1), m.group(2)) for m in FENCE.finditer(README)]

PACK = """market = "PT"
name = "Portugal"
extends = "EU"
[[rules]]
id = "PT-POST"
summary = "Postal marketing may go ahead until the person objects."
channels = ["post"]
requires = "opt-out"
from = 2018-05-25
source = { citation = "GDPR art. 21", url = "https://eur-lex.europa.eu/eli/reg/2016/679/oj" }
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding what the README's commands name: the examples, the offences, a bad spec,
    a pack, contact files, a ledger (from the README's own ledger example) and an export."""
    work = tmp_path_factory.mktemp("readme")
    (work / "examples").symlink_to(ROOT / "examples")
    (work / "tests").mkdir()
    (work / "tests" / "offences").symlink_to(ROOT / "tests" / "offences")
    dse = (ROOT / "examples" / "dse-france.toml").read_text(encoding="utf-8")
    bad = dse.replace('retention = "P3Y"', 'retention = "3 years"', 1)
    (work / "bad.toml").write_text(bad.replace('"DIAGEXEMPL"', '"DIAGNOSTICSEXEMPLE"'))
    (work / "old.toml").write_text(dse)
    (work / "new.toml").write_text(dse.replace('retention = "P3Y"', 'retention = "P2Y"', 1))
    (work / "my-pack.toml").write_text(PACK)
    (work / "campaign.csv").write_text("first_name,phone\nAnne,+33612345678\nLéa,+33612345679\n")
    (work / "purchased.csv").write_text("name,phone\nA,06 12 34 56 78\nB,06 12 34 56 79\n")
    (work / "bloctel.csv").write_text("phone\n0612345679\n0612345670\n")
    digest = hashlib.sha256(b"+34612345678").hexdigest()
    (work / "robinson.csv").write_text(f"sha256\n{digest}\n")
    run_python(PRELUDE + python_block("from toolkit.proof import Ledger"), work)  # the ledger
    other = work / "other"
    other.mkdir()
    code = (
        "import toolkit; from toolkit.proof import Ledger\n"
        "spec = toolkit.load_spec('../examples/dse-france.toml')\n"
        "shown = {a: toolkit.render(spec, a, 'fr').version for a in ('checkbox', 'notice-full')}\n"
        "book = Ledger('o.db', spec=spec)\n"
        "book.record('+33611111111', 'sms_offers', 'grant', method='api', versions=shown, "
        "locale='fr')\n"
        "open('../other.jsonl', 'w').write('\\n'.join(book.export(texts=True)) + '\\n')\n"
    )
    run_python(code, other)
    return work


# What a reader has from the examples before: the toolkit, and the example spec.
PRELUDE = "import toolkit\nspec = toolkit.load_spec('examples/dse-france.toml')\n"


def python_block(marker: str) -> str:
    (code,) = [text for lang, text in BLOCKS if lang == "python" and marker in text]
    return code


def run_python(code: str, cwd: Path) -> str:
    """Run a README Python example in ``cwd``; its printed output."""
    before = Path.cwd()
    out = io.StringIO()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    finally:
        os.chdir(before)
    return out.getvalue()


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("OPTIN_DATABASE_URL", None)
    return subprocess.run(  # noqa: S602 - the README's own command lines
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def commands() -> list[str]:
    """Every `optin ...` line of the README's sh blocks, comments and [optional] parts cut."""
    found = []
    for lang, text in BLOCKS:
        if lang != "sh":
            continue
        for line in text.splitlines():
            if line.startswith("optin "):
                line = re.split(r"\s{2,}#", line)[0]
                found.append(re.sub(r"\s*\[[^\]]*\]", "", line).strip())
    return found


EXPECTED_EXIT = {"optin ledger status": {0, 3}, "optin suppress check": {0, 3}}


@pytest.mark.parametrize("command", commands())
def test_every_command_in_the_readme_runs(workdir: Path, command: str) -> None:
    result = shell(command, workdir)
    allowed = next((v for k, v in EXPECTED_EXIT.items() if command.startswith(k)), {0})
    assert result.returncode in allowed, (command, result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "block", [text for lang, text in BLOCKS if lang == "" and text.startswith("$ optin ")]
)
def test_every_shown_output_is_what_the_toolkit_prints(workdir: Path, block: str) -> None:
    first, *shown = block.splitlines()
    result = shell(first.removeprefix("$ "), workdir)
    assert (result.stdout + result.stderr).splitlines() == shown


def test_the_sms_preview_shown_is_what_it_prints(workdir: Path) -> None:
    (shown,) = [text for lang, text in BLOCKS if lang == "" and text.startswith("Pret ? ")]
    (command,) = [c for c in commands() if "--transliterate" in c]
    assert shell(command, workdir).stdout == shown


def test_the_pipeline_example_prints_what_the_readme_shows(workdir: Path) -> None:
    code = python_block('toolkit.render(spec, "checkbox", "fr")')
    index = [text for _lang, text in BLOCKS].index(code)
    assert run_python(code, workdir) == BLOCKS[index + 1][1]


@pytest.mark.parametrize("marker", ["from toolkit.sms import", "from toolkit.pdf import"])
def test_the_other_python_examples_run(workdir: Path, marker: str) -> None:
    code = python_block(marker)
    prelude = PRELUDE
    if "older_spec" in code:
        prelude += "older_spec = toolkit.load_spec('old.toml')\n"
    run_python(prelude + code, workdir)


def test_the_spec_shown_in_the_readme_validates() -> None:
    """A newcomer copies it first: it must be a valid spec under today's law."""
    import tomllib

    from toolkit.spec import validate_spec

    (block,) = re.findall(r"```toml\n(.*?)```", README, re.S)
    spec = validate_spec(tomllib.loads(block))
    assert spec.proof is not None and spec.purposes[0].retention_from == "last_inbound_contact"


def test_the_flask_example_records_a_consent_and_refuses_a_tampered_form(workdir: Path) -> None:
    """newcomer.md: the README's Flask snippet gave a 500 and a trace on a tampered form."""
    code = python_block("from toolkit.flask import")
    script = code.replace("examples/dse-france.toml", str(ROOT / "examples" / "dse-france.toml"))
    script += (
        "\nimport re\nclient = app.test_client()\n"
        "page = client.get('/?lang=fr').get_data(as_text=True)\n"
        'hidden = r\'<input type="hidden" name="([^"]+)" value="([^"]*)"\'\n'
        "form = dict(re.findall(hidden, page))\n"
        "form.update(phone='06 12 34 56 78', consent_sms_offers='sms_offers')\n"
        "print(client.post('/?lang=fr', data=form).get_data(as_text=True))\n"
        "form['optin_version_checkbox'] = 'sha256:' + '0' * 64\n"
        "bad = client.post('/?lang=fr', data=form)\n"
        "print(bad.status_code)\n"
    )
    out = run_python(script, workdir).splitlines()
    assert out[0] == "1 consent(s) recorded" and out[-1] == "400"
