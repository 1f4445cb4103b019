"""The wheel ships the templates and the compiled catalogs, and works on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import LOCALES, ROOT


def test_wheel_ships_templates_and_compiled_catalogs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("optin_toolkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = ROOT / "templates"
    shipped = {
        f"toolkit/templates/{p.relative_to(templates).as_posix()}"
        for p in templates.rglob("*")
        if p.is_file()
    }
    assert shipped <= names
    assert {
        "toolkit/sms/keywords.toml",
        "toolkit/locales/review.toml",
        "toolkit/locales/cldr_gaps.toml",
        "toolkit/authorities.toml",
    } <= names
    # PEP 561: without the marker, users' type checkers ignore the toolkit's annotations
    assert "toolkit/py.typed" in names
    for locale in LOCALES:
        assert f"toolkit/locales/{locale}/LC_MESSAGES/messages.mo" in names
    assert any(n.endswith("entry_points.txt") for n in names)

    # Unpacked alone (no checkout on the path), it renders every locale from its own files.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys, toolkit, toolkit.i18n as i, toolkit.render; "
        "r = sys.modules['toolkit.render']; "
        "assert toolkit.__file__.startswith(sys.argv[1]), toolkit.__file__; "
        "assert str(r.TEMPLATES_DIR).startswith(sys.argv[1]); "
        "s = toolkit.load_spec(sys.argv[2]); "
        "[toolkit.render(s, a, l) for a in toolkit.ARTEFACTS for l in s.locales]; "
        "print(i.translations('de').files[0])"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, sys.argv[1]); {code}",
            str(site),
            str(ROOT / "examples" / "dse-france.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(site))
