"""The legal-review PDF pack: content, versions, running headers, metadata, tags, attachment,
redline and side-by-side views, fonts, and bad input."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest
from click.testing import CliRunner
from conftest import LOCALES, ROOT, build, minimal_data
from PIL import Image
from test_render import RIGHTS

from toolkit import ARTEFACTS, load_spec, render
from toolkit.cli import main
from toolkit.i18n import translations
from toolkit.pdf import _labels, export_pdf, pack_html
from toolkit.spec import Spec, validate_spec

DSE = ROOT / "examples" / "dse-france.toml"
UNREVIEWED = {
    "en": "Translation not yet reviewed by a native legal reader",
    "fr": "Traduction pas encore relue par un juriste de langue maternelle",
}


def flat(text: str) -> str:
    """The characters a reader reads in order, whatever the line wrapping: no spaces, no colons
    (the PDF lays "Term: description" out as a term and a description)."""
    return re.sub(r"[\s:]", "", text)


def body(pages: list[str], controller: str) -> str:
    """The pages' text without running headers, footers and list bullets, pages joined."""
    footers = []
    for loc in LOCALES:
        _ = translations(loc).gettext
        page = (
            re.escape(_("page %(page)s of %(pages)s"))
            .replace(re.escape("%(page)s"), r"\d+")
            .replace(re.escape("%(pages)s"), r"\d+")
        )
        footers.append(rf"({re.escape(_labels(loc)['unreviewed'])} )?{page}")
    margin = re.compile(rf"^(•\s*|{re.escape(controller)}( \S+){{1,2}}|{'|'.join(footers)})$")
    kept = [line for text in pages for line in text.splitlines() if not margin.match(line)]
    return "\n".join(kept)


@pytest.fixture(scope="module")
def dse() -> Spec:
    return load_spec(DSE)


@pytest.fixture(scope="module")
def pack(dse: Spec) -> bytes:
    return export_pdf(dse, source=str(DSE))


@pytest.fixture(scope="module")
def reader(pack: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pack))


@pytest.fixture(scope="module")
def pages(reader: pypdf.PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def locale_text(pages: list[str], dse: Spec, locale: str) -> str:
    """The text of the pages of one locale's section (the header names the locale)."""
    others = "|".join(loc for loc in dse.locales if loc != locale)
    chosen = [
        p
        for p in pages[1:]
        if re.search(rf"\b{locale}\b", p.splitlines()[-1] + p)
        and not re.search(rf"^({others})\b", p, re.M)
    ]
    return flat("\n".join(chosen))


def test_every_page_has_the_running_header_and_page_numbers(pages: list[str], dse: Spec) -> None:
    total = len(pages)
    assert total > 10
    for number, text in enumerate(pages, start=1):
        assert dse.controller.name in text, number
        assert re.search(rf"\b{number}\b\D+\b{total}\b", text), number


def test_cover_lists_every_version_as_the_cli_renders_it(pages: list[str], dse: Spec) -> None:
    cover = "".join(pages[0:2]).replace("\n", "").replace(" ", "")
    runner = CliRunner()
    for locale in dse.locales:
        for artefact in ARTEFACTS:
            result = runner.invoke(
                main, ["render", str(DSE), "-a", artefact, "-l", locale, "--format", "json"]
            )
            assert json.loads(result.stdout)["version"] in cover, (artefact, locale)
        first = render(dse, "sms-footer", locale, first_contact=True).version
        assert first in cover
    assert "examples/dse-france.toml" in cover
    assert "optin-toolkit0.1.0" in cover


@pytest.mark.parametrize("locale", LOCALES)
def test_each_locale_carries_every_element_and_right(
    pages: list[str], dse: Spec, locale: str
) -> None:
    text = flat(body(pages, dse.controller.name))
    for artefact in ("notice-short", "notice-full", "checkbox"):
        for line in render(dse, artefact, locale).text.splitlines():
            line = line.lstrip("- ").removeprefix("[ ] ").strip()
            assert flat(line) in text, (artefact, line)
    for first in (False, True):
        assert flat(render(dse, "sms-footer", locale, first_contact=first).text) in text
    full = render(dse, "notice-full", locale).text
    assert all(re.search(pattern, full, re.I) for pattern in RIGHTS[locale].values())


def test_sections_headed_by_their_version_and_sms_analysis(pages: list[str], dse: Spec) -> None:
    text = flat("\n".join(pages))
    for locale in dse.locales:
        for artefact in ("checkbox", "notice-short", "notice-full"):
            assert flat(render(dse, artefact, locale).version) in text
    assert "GSM-7" in text and "segment" in text


def test_metadata_tags_and_languages(reader: pypdf.PdfReader, pack: bytes, dse: Spec) -> None:
    meta = reader.metadata
    assert meta is not None
    assert meta.title == f"Notices sur les données personnelles de {dse.controller.name}" or (
        dse.controller.name in (meta.title or "")
    )
    assert meta.author == dse.controller.name
    root: Any = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    langs: set[str] = set()

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 60:
            return
        node = node.get_object()
        if isinstance(node, pypdf.generic.DictionaryObject):
            if "/Lang" in node:
                langs.add(str(node["/Lang"]))
            kids = node.get("/K")
            if kids is not None:
                kids = kids.get_object()
                for kid in kids if isinstance(kids, pypdf.generic.ArrayObject) else [kids]:
                    walk(kid, depth + 1)

    walk(root["/StructTreeRoot"])
    assert set(dse.locales) <= langs | {str(root.get("/Lang"))}


def test_spec_attachment_round_trips(reader: pypdf.PdfReader, dse: Spec) -> None:
    (payload,) = reader.attachments["spec.json"]
    assert validate_spec(json.loads(payload)) == dse


def test_unreviewed_translations_say_so_on_every_page(pages: list[str], dse: Spec) -> None:
    notes = {loc: _labels(loc)["unreviewed"] for loc in LOCALES}
    assert all(any(note in page for note in notes.values()) for page in pages)
    for locale in dse.locales:
        own = [
            p for p in pages if re.search(rf"^{re.escape(dse.controller.name)} {locale}\b", p, re.M)
        ]
        assert own and all(notes[locale] in p for p in own), locale


def test_a_reviewed_locale_carries_no_note(monkeypatch: pytest.MonkeyPatch, dse: Spec) -> None:
    import toolkit.pdf as pdf_module

    monkeypatch.setattr(pdf_module, "legal_review", lambda: {"fr": {"reviewed": True}})
    pdf_module._stylesheet.cache_clear()
    try:
        reader = pypdf.PdfReader(io.BytesIO(export_pdf(dse, ["fr"])))
        text = " ".join(page.extract_text() for page in reader.pages)
    finally:
        monkeypatch.undo()
        pdf_module._stylesheet.cache_clear()
    assert _labels("fr")["unreviewed"] not in text
    assert "page 1 sur" in text


def test_first_page_renders_to_a_non_blank_image(pack: bytes, tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm missing: apt-get install poppler-utils (make test does it)"
    source = tmp_path / "pack.pdf"
    source.write_bytes(pack)
    subprocess.run(
        [pdftoppm, "-r", "40", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    image = Image.open(png).convert("L")
    dark = sum(1 for value in image.tobytes() if value < 128)
    assert dark > 500  # text is there, not a blank page


def test_no_missing_glyph_in_any_locale(examples: dict[str, Spec]) -> None:
    from fontTools.ttLib import TTFont

    fonts = subprocess.run(
        ["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True, check=True
    ).stdout
    assert "DejaVuSans" in fonts, "fonts-dejavu-core missing (make test installs it)"
    cmap = set(TTFont(fonts).getBestCmap())
    for spec in examples.values():
        html = pack_html(spec)
        text = re.sub(r"<[^>]+>", " ", html)
        missing = {c for c in text if ord(c) not in cmap and not c.isspace()}
        assert missing == set()


def test_pdf_uses_only_dejavu_fonts(reader: pypdf.PdfReader) -> None:
    names = set()
    for page in reader.pages[:6]:
        fonts = page["/Resources"].get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object()["/BaseFont"]))
    assert names and all("DejaVu" in name for name in names)


def test_redline_marks_only_the_changed_retention(dse: Spec) -> None:
    data = json.loads(json.dumps(dse.model_dump(mode="json")))
    data["purposes"][0]["retention"] = "P2Y"
    newer = validate_spec(data)
    html = pack_html(newer, ["fr", "de"], previous=dse)
    deletions = re.findall(r"<del>(.*?)</del>", html)
    insertions = re.findall(r"<ins>(.*?)</ins>", html)
    # Only the number changes ("3 ans" -> "2 ans"), in the checkbox's description of the box
    # and the short and full notice, of each locale.
    assert deletions == ["3"] * 6
    assert insertions == ["2"] * 6
    unchanged = html.count('class="unchanged"')
    assert unchanged == 2 * 4  # both SMS footers, the confirmation SMS, the call script
    pdf = pypdf.PdfReader(io.BytesIO(export_pdf(newer, ["fr"], previous=dse)))
    text = flat(" ".join(p.extract_text() for p in pdf.pages))
    assert flat("Inchangé depuis la version précédente") in text


def test_side_by_side_aligns_paragraphs(dse: Spec) -> None:
    html = pack_html(dse, ["fr", "en"], compare=("fr", "en"))
    rows = re.findall(r'<tr><td lang="fr">(.*?)</td><td lang="en">(.*?)</td></tr>', html)
    full_fr = render(dse, "notice-full", "fr").text.splitlines()
    full_en = render(dse, "notice-full", "en").text.splitlines()
    assert len(full_fr) == len(full_en)
    assert len(rows) >= len(full_fr)
    pdf = pypdf.PdfReader(io.BytesIO(export_pdf(dse, ["fr", "en"], compare=("fr", "en"))))
    text = flat(" ".join(p.extract_text() for p in pdf.pages[:8]))
    assert flat("Quels sont vos droits") in text and flat("What are your rights?") in text


def test_long_description_flows_over_pages() -> None:
    data = minimal_data(("fr",))
    words = [f"mot{i}" for i in range(2000)]
    data["purposes"][0]["text"]["fr"]["description"] = " ".join(words)
    spec = build(data)
    pdf = pypdf.PdfReader(io.BytesIO(export_pdf(spec)))
    text = " ".join(p.extract_text() for p in pdf.pages)
    found = re.findall(r"mot\d+", text)
    # Every word of the description, in order, across the pages (headers hold none of them).
    assert found.count("mot0") == found.count("mot1999") >= 1
    start = found.index("mot0")
    assert found[start : start + 2000] == words
    assert len(pdf.pages) >= 4


def test_cli_pdf(tmp_path: Path) -> None:
    out = tmp_path / "notice.pdf"
    broken = tmp_path / "broken.toml"
    broken.write_text(DSE.read_text(encoding="utf-8").replace('"P3Y"', '"3 years"', 1), "utf-8")
    runner = CliRunner()
    result = runner.invoke(
        main, ["pdf", str(DSE), "-o", str(out), "--locale", "fr", "--compare", "fr,en"]
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    bad = [
        (["pdf", str(DSE), "-o", str(out), "--locale", "pt"], 1, "unsupported locale 'pt'"),
        (["pdf", str(DSE), "-o", str(tmp_path / "no" / "x.pdf")], 1, "cannot write"),
        (["pdf", str(DSE), "-o", str(out), "--compare", "fr"], 2, "two locales"),
        (["pdf", str(DSE), "-o", str(out), "--compare", "fr,fr_CA"], 1, "two different"),
        (["pdf", "absent.toml", "-o", str(out)], 1, "file not found"),
        (["pdf", str(broken), "-o", str(out)], 1, "purposes[0].retention: expected an ISO 8601"),
    ]
    for args, code, message in bad:
        result = runner.invoke(main, args)
        assert result.exit_code == code, args
        assert message in result.stderr, args
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "no").exists()


def test_weasyprint_is_imported_lazily() -> None:
    code = "import sys, toolkit.cli, toolkit.sms; assert 'weasyprint' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
