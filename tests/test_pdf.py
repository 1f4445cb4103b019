"""The legal-review PDF pack: content, versions, running headers, metadata, tags, attachment,
redline and side-by-side views, fonts, and bad input; the public notice PDF."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
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
from toolkit.errors import ArtefactError
from toolkit.i18n import babel_locale, translations
from toolkit.pdf import _labels, export_pdf, notice_pdf, pack_html
from toolkit.spec import Spec, validate_spec

DSE = ROOT / "examples" / "dse-france.toml"
NEWSLETTER = ROOT / "examples" / "newsletter.toml"
MM = 72 / 25.4  # PDF points in a millimetre
TOP_MARGIN, BOTTOM_MARGIN = 22 * MM, 20 * MM  # pack.css: @page margin
VERSION = re.compile(r"sha256:?([0-9a-f]{64})")  # as printed, or flattened (no colon)
UNREVIEWED = {
    "en": "Translation not yet reviewed by a native legal reader",
    "fr": "Traduction pas encore relue par un juriste de langue maternelle",
}


def flat(text: str) -> str:
    """The characters a reader reads in order, whatever the line wrapping: no spaces, no colons
    (the PDF lays "Term: description" out as a term and a description)."""
    return re.sub(r"[\s:]", "", text)


@dataclass(frozen=True)
class Regions:
    """A page's text by where it is drawn: running header, body, footer (whitespace as read)."""

    header: str
    body: str
    footer: str


def regions(page: pypdf.PageObject) -> Regions:
    """Split a page's text by its position: above the top margin is the running header."""
    height = float(page.mediabox.height)
    parts: dict[str, list[str]] = {"header": [], "body": [], "footer": []}

    def visit(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]  # the text's origin on the page
        top, bottom = y > height - TOP_MARGIN, y < BOTTOM_MARGIN
        parts["header" if top else "footer" if bottom else "body"].append(text)

    page.extract_text(visitor_text=visit)
    return Regions(
        header=" ".join(" ".join(parts["header"]).split()),
        body="\n".join(parts["body"]),
        footer=" ".join(" ".join(parts["footer"]).split()),
    )


def read(pdf: bytes) -> list[Regions]:
    return [regions(page) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def titles(spec: Spec, locale: str) -> dict[str, tuple[str, str]]:
    """Each version render() gives in a locale -> (locale, the artefact's title in it)."""
    _ = translations(locale).gettext
    known = {}
    for name, artefact in ARTEFACTS.items():
        try:
            known[render(spec, name, locale).version] = (locale, _(artefact.title))
        except ArtefactError:
            continue  # e.g. no confirmation SMS in a spec without SMS consent
    if spec.sms is not None:
        first = render(spec, "sms-footer", locale, first_contact=True).version
        known[first] = (locale, _("SMS footer, first message"))
    return known


def assert_headers_follow_artefacts(pdf: bytes, spec: Spec, locales: list[str]) -> int:
    """Every page after the cover names, in its header, the artefact whose text the page
    continues, or the one it opens with: title, locale and short version. Returns the number
    of pages checked.

    The oracle reads only the body: an artefact starts where its full ``sha256:`` version is
    printed under its title; a page whose body opens with headings and such a version starts
    that artefact, any other page continues the last one printed before it. In a side-by-side
    table both columns' versions stand together (and the table's head repeats on every page).
    """
    known: dict[str, tuple[str, str]] = {}
    headings: set[str] = set()
    for locale in locales:
        known |= titles(spec, locale)
        labels = _labels(locale)
        language = babel_locale(locale).get_display_name(locale)
        headings |= {labels["redline"], labels["version"], f"{language} ({locale})"}
        headings |= {f"{labels['compare']} — {a} | {b}" for a in locales for b in locales}
    headings |= {title for _, title in known.values()}
    removable = sorted((flat(h) for h in headings), key=len, reverse=True)

    def header(group: list[str]) -> str:
        names = [known[v] for v in group]
        where = " | ".join(locale for locale, _ in names)
        versions = " | ".join(f"sha256:{v.removeprefix('sha256:')[:12]}" for v in group)
        return f"{spec.controller.name} {names[0][1]} {where} {versions}"

    pages = read(pdf)
    note = flat(_labels(locales[0])["versions"])  # the cover's last words
    cover = next(i for i, page in enumerate(pages) if note in flat(page.body)) + 1
    for page in pages[:cover]:
        assert page.header == spec.controller.name  # the cover stands for no one artefact
    current: list[str] | None = None
    for number, page in enumerate(pages[cover:], start=cover + 1):
        text = flat(page.body)
        groups: list[tuple[int, int, list[str]]] = []  # (start, end, versions) as printed
        for found in VERSION.finditer(text):
            version = f"sha256:{found.group(1)}"
            if groups and groups[-1][1] == found.start():  # the next column of a side-by-side
                groups[-1] = (groups[-1][0], found.end(), [*groups[-1][2], version])
            else:
                groups.append((found.start(), found.end(), [version]))
        if groups:
            prefix = text[: groups[0][0]]
            for heading in removable:
                prefix = prefix.replace(heading, "")
            if not prefix:  # the page opens with this artefact
                current = groups[0][2]
        assert current is not None, f"page {number} continues nothing"
        assert page.header == header(current), (number, page.body[:300])
        if groups:
            current = groups[-1][2]
    return len(pages) - cover


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


@pytest.fixture(scope="module")
def laid_out(reader: pypdf.PdfReader) -> list[Regions]:
    return [regions(page) for page in reader.pages]


def test_every_page_has_the_running_header_and_page_numbers(pages: list[str], dse: Spec) -> None:
    total = len(pages)
    assert total > 10
    for number, text in enumerate(pages, start=1):
        assert dse.controller.name in text, number
        assert re.search(rf"\b{number}\b\D+\b{total}\b", text), number


def test_every_page_header_names_the_artefact_it_continues(pack: bytes, dse: Spec) -> None:
    # Every locale of the SMS-and-calls example: the full notice runs over several pages, and
    # pages that continue one artefact and start the next one are there in every locale.
    assert assert_headers_follow_artefacts(pack, dse, list(dse.locales)) > 20


def test_headers_in_the_newsletter_redline_and_side_by_side_packs(
    examples: dict[str, Spec], dse: Spec
) -> None:
    newsletter = examples["newsletter"]
    checked = assert_headers_follow_artefacts(
        export_pdf(newsletter, ["de", "fr", "it"]), newsletter, ["de", "fr", "it"]
    )
    data = json.loads(json.dumps(dse.model_dump(mode="json")))
    data["purposes"][0]["retention"] = "P2Y"
    newer = validate_spec(data)
    redline = export_pdf(newer, ["de", "es"], previous=dse)
    checked += assert_headers_follow_artefacts(redline, newer, ["de", "es"])
    side_by_side = export_pdf(dse, ["en"], compare=("fr", "en"))
    checked += assert_headers_follow_artefacts(side_by_side, dse, ["en", "fr"])
    assert checked > 20


def test_cover_rows_are_never_split_across_pages(laid_out: list[Regions], dse: Spec) -> None:
    note = flat(_labels(dse.locales[0])["versions"])
    cover = next(i for i, page in enumerate(laid_out) if note in flat(page.body)) + 1
    assert cover >= 2  # five locales' rows do not fit on one page: the table breaks
    bodies = [flat(page.body) for page in laid_out[:cover]]
    for locale in dse.locales:
        rows = [(name, render(dse, name, locale).version) for name in ARTEFACTS]
        first = render(dse, "sms-footer", locale, first_contact=True).version
        rows.append(("sms-footer --first-contact", first))  # as optin render spells it
        for name, version in rows:
            row = flat(f"{name} {locale} {version}")  # the row's cells, read in order
            assert sum(row in body for body in bodies) == 1, (name, locale)


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
    laid_out: list[Regions], dse: Spec, locale: str
) -> None:
    text = flat("\n".join(page.body for page in laid_out)).replace("•", "")  # list bullets
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
    # Each locale punctuates its label: a no-break space before the French colon.
    assert "Version\u00a0: sha256:" in pack_html(dse, ["fr"])
    assert "Version: sha256:" in pack_html(dse, ["en"])


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


def test_unreviewed_translations_say_so_on_every_page(laid_out: list[Regions], dse: Spec) -> None:
    notes = {loc: _labels(loc)["unreviewed"] for loc in LOCALES}
    assert all(any(note in page.footer for note in notes.values()) for page in laid_out)
    for locale in dse.locales:
        own = [p for p in laid_out if re.search(rf" {locale} sha256:[0-9a-f]{{12}}$", p.header)]
        assert own and all(notes[locale] in p.footer for p in own), locale


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
    rows = re.findall(
        r'<tr><td lang="fr" dir="ltr">(.*?)</td><td lang="en" dir="ltr">(.*?)</td></tr>', html
    )
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


@pytest.mark.parametrize("locale", ["de", "fr"])
def test_public_notice_is_the_persons_notice_without_review_marks(dse: Spec, locale: str) -> None:
    reader = pypdf.PdfReader(io.BytesIO(notice_pdf(dse, locale)))
    pages = [regions(page) for page in reader.pages]
    assert len(pages) >= 2  # continuation pages too
    notice = render(dse, "notice-full", locale)
    text = flat("\n".join(page.body for page in pages)).replace("•", "")  # list bullets
    for line in notice.text.splitlines():
        assert flat(line.lstrip("- ")) in text, line
    # Its version, in full at the end and short on every page, as the pack's headers say it.
    title = translations(locale).gettext(ARTEFACTS["notice-full"].title)
    short = notice.version.removeprefix("sha256:")[:12]
    for page in pages:
        assert page.header == f"{dse.controller.name} {title} {locale} sha256:{short}"
    everything = flat(" ".join(f"{p.header} {p.body} {p.footer}" for p in pages))
    assert {f"sha256:{v}" for v in VERSION.findall(everything)} == {notice.version}
    # Nothing of the review pack: no note on the translation, cover, redline or side by side.
    for loc in LOCALES:
        labels = _labels(loc)
        for key in ("unreviewed", "cover", "versions", "redline", "unchanged", "new", "compare"):
            assert flat(labels[key]) not in everything, (loc, key)
    page_words = translations(locale).gettext("page %(page)s of %(pages)s")
    for number, page in enumerate(pages, start=1):
        assert page.footer == page_words % {"page": number, "pages": len(pages)}
    assert not reader.attachments
    root: Any = reader.trailer["/Root"]
    assert str(root["/Lang"]) == locale
    tops = root["/StructTreeRoot"]["/K"][0]["/K"]  # the document's top-level elements
    elements: list[Any] = [top.get_object() for top in tops]
    assert {str(element.get("/Lang")) for element in elements} == {locale}
    assert reader.metadata is not None and dse.controller.name in (reader.metadata.title or "")


def test_demo_serves_the_public_notice_not_the_pack(tmp_path: Path, dse: Spec) -> None:
    from demo import create_app

    app = create_app(
        {
            "OPTIN_DATABASE_URL": f"sqlite:///{tmp_path / 'optin.db'}",
            "OPTIN_ADMIN_TOKEN": "admin-secret-token",
            "TESTING": True,
        }
    )
    try:
        response = app.test_client().get("/notice.pdf?lang=it")
    finally:
        app.extensions["optin"].ledger.close()
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = read(response.data)
    served = [(page.header, page.body, page.footer) for page in pages]
    public = [(page.header, page.body, page.footer) for page in read(notice_pdf(dse, "it"))]
    assert served == public


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
    public = tmp_path / "public.pdf"
    result = runner.invoke(main, ["pdf", str(DSE), "-o", str(public), "--public", "-l", "es"])
    assert result.exit_code == 0, result.stderr
    notice = render(load_spec(DSE), "notice-full", "es")
    assert [flat(p.body) for p in read(public.read_bytes())][-1].endswith(flat(notice.version))
    bad = [
        (["pdf", str(DSE), "-o", str(out), "--public", "-l", "fr", "-l", "en"], 2, "one --locale"),
        (["pdf", str(DSE), "-o", str(out), "--public", "--compare", "fr,en"], 2, "one --locale"),
        (["pdf", str(DSE), "-o", str(out), "--public", "-l", "pt"], 1, "unsupported locale 'pt'"),
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
