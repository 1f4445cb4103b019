"""PDF notice packs for legal review: every artefact, every locale, with its version.

The pack is built from the very ``Rendered`` artefacts the consent proof versions, so what a
lawyer signs and what a person is shown carry the same ``sha256:`` version. One HTML document
(templates/pdf/pack.html) goes through WeasyPrint, which is imported lazily so the rest of the
CLI stays fast. The font configuration and the parsed stylesheet are made once per process.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from . import __version__
from .errors import ArtefactError, ToolkitError
from .i18n import SUPPORTED_LOCALES, babel_locale, format_day, negotiate, translations
from .render import ARTEFACTS, ENVIRONMENT, TEMPLATES_DIR, Rendered, render
from .sms import analyze
from .spec import Spec

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

#: The PDF fonts by script, with their Debian packages (templates/pdf/pack.css uses them).
FONTS = {
    "DejaVu Sans": "fonts-dejavu-core",  # Latin, Greek, Cyrillic
    "Noto Sans Arabic": "fonts-noto-core",  # Arabic
    "Noto Sans CJK SC": "fonts-noto-cjk",  # Chinese (simplified forms)
}
REVIEW_FILE = Path(__file__).with_name("locales") / "review.toml"
PACK_CSS = TEMPLATES_DIR / "pdf" / "pack.css"


class PdfError(ToolkitError, ValueError):
    """A PDF pack that cannot be made as asked (bad options, unwritable output...)."""


@dataclass(frozen=True)
class Item:
    """One artefact of one locale as the pack shows it."""

    key: str
    title: str
    rendered: Rendered
    note: str | None = None

    @property
    def artefact(self) -> str:
        """How ``optin render`` names it, so the cover's names can be typed as they are."""
        return "sms-footer --first-contact" if self.key == "sms-footer-first" else self.key


def legal_review() -> dict[str, dict[str, Any]]:
    """Per-locale review status of the catalogs (toolkit/locales/review.toml)."""
    return tomllib.loads(REVIEW_FILE.read_text(encoding="utf-8"))


def is_reviewed(locale: str) -> bool:
    """True when a native legal reader has reviewed the locale's catalog."""
    return bool(legal_review().get(locale, {}).get("reviewed", False))


def _items(spec: Spec, locale: str) -> list[Item]:
    _ = translations(locale).gettext
    ngettext = translations(locale).ngettext
    items = []
    if any(p.legal_basis == "consent" for p in spec.purposes):
        items.append(_item("checkbox", _, render(spec, "checkbox", locale)))
    items.append(_item("notice-short", _, render(spec, "notice-short", locale)))
    items.append(_item("notice-full", _, render(spec, "notice-full", locale)))
    if spec.sms is not None:
        footer = _(ARTEFACTS["sms-footer"].title)
        for first, title in ((False, footer), (True, _("SMS footer, first message"))):
            rendered = render(spec, "sms-footer", locale, first_contact=first)
            result = analyze(rendered.text)
            note = ngettext(
                "%(encoding)s, %(units)s units, %(segments)s segment on its own",
                "%(encoding)s, %(units)s units, %(segments)s segments on its own",
                result.segments,
            ) % {
                "encoding": result.encoding,
                "units": result.units,
                "segments": result.segments,
            }
            key = "sms-footer-first" if first else "sms-footer"
            items.append(Item(key, title, rendered, note))
    if spec.sms is not None and spec.confirmation_for("sms") == "sms-reply":
        try:
            confirmation = render(spec, "confirmation-sms", locale)
        except ArtefactError:
            pass  # no SMS consent is given on a form: nothing to confirm
        else:
            items.append(_item("confirmation-sms", _, confirmation))
    if any(p.channel == "phone" for p in spec.purposes):
        items.append(_item("call-script", _, render(spec, "call-script", locale)))
    return items


def _item(name: str, gettext: Callable[[str], str], rendered: Rendered) -> Item:
    """A pack item titled as the artefact registry names it, in the pack's language."""
    return Item(name, gettext(ARTEFACTS[name].title), rendered)


def _short(version: str) -> str:
    return version.removeprefix("sha256:")[:12]


def _redline(old: str, new: str) -> Markup:
    """Word-level differences as <del>/<ins>, one paragraph per line of the text."""
    tokens_old = [t for t in old.replace("\n", " \n ").split(" ") if t]
    tokens_new = [t for t in new.replace("\n", " \n ").split(" ") if t]
    marked: list[tuple[str, str]] = []  # (kind, token): equal, del or ins
    matcher = difflib.SequenceMatcher(a=tokens_old, b=tokens_new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            marked += [("equal", t) for t in tokens_new[b1:b2]]
        else:
            marked += [("del", t) for t in tokens_old[a1:a2]]
            marked += [("ins", t) for t in tokens_new[b1:b2]]
    lines: list[list[tuple[str, str]]] = [[]]
    for kind, word in marked:
        if word == "\n":
            if kind != "del":  # a deleted line break joins lines: keep the new layout
                lines.append([])
        else:
            lines[-1].append((kind, word))
    paragraphs = []
    for line in lines:
        runs: list[tuple[str, list[str]]] = []
        for kind, token in line:
            if runs and runs[-1][0] == kind:
                runs[-1][1].append(token)
            else:
                runs.append((kind, [token]))
        tags = {
            "equal": Markup("{}"),
            "del": Markup("<del>{}</del>"),
            "ins": Markup("<ins>{}</ins>"),
        }
        parts = [tags[kind].format(" ".join(words)) for kind, words in runs]
        paragraphs.append(Markup("<p>{}</p>").format(Markup(" ").join(parts)))
    return Markup("").join(paragraphs)


def _pairs(left: str, right: str) -> list[tuple[str, str]]:
    a, b = left.split("\n"), right.split("\n")
    a += [""] * (len(b) - len(a))
    b += [""] * (len(a) - len(b))
    return list(zip(a, b, strict=True))


@cache
def _font_config() -> FontConfiguration:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _stylesheet() -> CSS:
    """The pack's stylesheet: base CSS plus, per locale, its page footer and review note."""
    from weasyprint import CSS

    base = PACK_CSS.read_text(encoding="utf-8")
    rules = []
    for locale in SUPPORTED_LOCALES:
        _ = translations(locale).gettext
        page = _("page %(page)s of %(pages)s") % {
            "page": '" counter(page) "',
            "pages": '" counter(pages) "',
        }
        note = "" if is_reviewed(locale) else _labels(locale)["unreviewed"]
        rules.append(
            f'@page locale-{locale} {{ @bottom-right {{ content: "{page}" }}'
            f' @bottom-left {{ content: "{_css_string(note)}" }} }}'
            f" .locale-{locale} {{ page: locale-{locale} }}"
            f' @page public-{locale} {{ @bottom-right {{ content: "{page}" }} }}'
            f" .public-{locale} {{ page: public-{locale} }}"
        )
    return CSS(string=base + "\n".join(rules), font_config=_font_config())


def _css_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _choose(spec: Spec, locales: Sequence[str] | None) -> list[str]:
    chosen = [negotiate(loc, spec.locales) for loc in (locales or spec.locales)]
    return list(dict.fromkeys(chosen))


def pack_html(
    spec: Spec,
    locales: Sequence[str] | None = None,
    *,
    compare: tuple[str, str] | None = None,
    previous: Spec | None = None,
    source: str | None = None,
    generated: date | None = None,
) -> str:
    """The HTML of the pack (what WeasyPrint lays out), for tests and for debugging."""
    chosen = _choose(spec, locales)
    first = chosen[0]
    _ = translations(first).gettext
    sections = [
        {
            "locale": loc,
            "language": babel_locale(loc).get_display_name(loc),
            "labels": _labels(loc),
            "items": _items(spec, loc),
            "previous": None if previous is None else {i.key: i for i in _items_of(previous, loc)},
        }
        for loc in chosen
    ]
    side_by_side = None
    if compare is not None:
        left, right = (negotiate(loc, spec.locales) for loc in compare)
        if left == right:
            raise PdfError(f"--compare needs two different locales, got {left} twice")
        rights = {i.key: i for i in _items(spec, right)}
        side_by_side = {
            "left": left,
            "right": right,
            "items": [
                (i, rights[i.key], _pairs(i.rendered.text, rights[i.key].rendered.text))
                for i in _items(spec, left)
            ],
        }
    template = ENVIRONMENT.get_template("pdf/pack.html")
    return template.render(
        lang=first,
        labels=_labels(first),
        title=_("Personal data notices of %(name)s") % {"name": spec.controller.name},
        spec=spec,
        source=source,
        generated=format_day(generated or date.today(), first),
        version=__version__,
        sections=sections,
        side_by_side=side_by_side,
        previous=previous is not None,
        short=_short,
        redline=_redline,
    )


def _items_of(previous: Spec, locale: str) -> list[Item]:
    """The previous spec's artefacts in a locale (none when it did not have the locale)."""
    return _items(previous, locale) if locale in previous.locales else []


def _labels(locale: str) -> dict[str, str]:
    """The pack's own words in one locale."""
    _ = translations(locale).gettext
    return {
        "cover": _("Notice pack for legal review"),
        "controller": _("Data controller"),
        "source": _("Spec file"),
        "generated": _("Generated on"),
        "toolkit": _("Toolkit version"),
        "artefact": _("Artefact"),
        "locale": _("Locale"),
        "version": _("Version"),
        "colon": _colon(locale),
        "versions": _(
            "Each version is the SHA-256 hash of the artefact's text; the consent proof "
            "records the same versions."
        ),
        "unchanged": _("Unchanged since the previous version:"),
        "new": _("New since the previous version."),
        "redline": _(
            "Changes since the previous version: deletions struck through, insertions underlined."
        ),
        "compare": _("Side by side"),
        "unreviewed": _("Translation not yet reviewed by a native legal reader"),
    }


def _colon(locale: str) -> str:
    """A colon as the locale writes it after a label: French puts a no-break space before it."""
    return "\u00a0:" if babel_locale(locale).language == "fr" else ":"


def html_to_pdf(html: str, *, title: str = "") -> bytes:
    """A small HTML page (a receipt...) as PDF, with the pack's fonts and stylesheet."""
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=str(Path(__file__).parent)).write_pdf(
        stylesheets=[_stylesheet()], font_config=_font_config(), pdf_variant="pdf/ua-1"
    )
    if not isinstance(pdf, bytes):  # pragma: no cover
        raise PdfError(f"WeasyPrint returned no PDF for {title or 'the page'}")
    return pdf


def _tag_languages(document: Any, pdf: Any) -> None:
    """Give each top-level structure element the language of its page (PDF /Lang).

    WeasyPrint tags the document's language only; every locale section starts on its own
    named page (``locale-fr``..., ``public-fr`` for the public notice), so the page tells the
    language of what it holds.
    """
    import pydyf

    def number(reference: Any) -> int:  # pydyf references are b"12 0 R"
        text = reference.decode() if isinstance(reference, bytes) else str(reference)
        return int(text.split()[0])

    def resolve(reference: Any) -> Any:
        return pdf.objects[number(reference)]

    pages = {number(ref): i for i, ref in enumerate(pdf.page_references)}
    root = resolve(pdf.catalog["StructTreeRoot"])
    for top in resolve(root["K"][0])["K"]:
        element = resolve(top)
        page = document.pages[pages[number(element["Pg"])]]
        kind, _, locale = str(page._page_box.page_type.name or "").partition("-")
        if kind in ("locale", "public") and locale:
            element["Lang"] = pydyf.String(locale)


def export_pdf(
    spec: Spec,
    locales: Sequence[str] | None = None,
    *,
    compare: tuple[str, str] | None = None,
    previous: Spec | None = None,
    source: str | None = None,
    generated: date | None = None,
) -> bytes:
    """The notice pack as PDF bytes: cover, then every artefact of every chosen locale.

    ``compare=("fr", "en")`` adds a side-by-side view; ``previous`` (an older spec) turns each
    artefact into a redline against it. The spec rides along as an attachment (spec.json).
    """
    html = pack_html(
        spec, locales, compare=compare, previous=previous, source=source, generated=generated
    )
    from weasyprint import HTML, Attachment

    attachment = Attachment(
        string=json.dumps(spec.model_dump(mode="json"), ensure_ascii=False, indent=2),
        name="spec.json",
        description="The optin-toolkit spec this pack was rendered from",
    )
    document = HTML(string=html, base_url=str(Path(__file__).parent))
    pdf = document.write_pdf(
        stylesheets=[_stylesheet()],
        font_config=_font_config(),
        attachments=[attachment],
        pdf_variant="pdf/ua-1",
        finisher=_tag_languages,
    )
    if not isinstance(pdf, bytes):  # pragma: no cover - WeasyPrint returns bytes without target
        raise PdfError("WeasyPrint returned no PDF")
    return pdf


def notice_html(spec: Spec, locale: str | None = None) -> str:
    """The HTML of the public notice PDF (what WeasyPrint lays out), for tests and debugging."""
    chosen = negotiate(locale or spec.locales[0], spec.locales)
    _ = translations(chosen).gettext
    rendered = render(spec, "notice-full", chosen)
    template = ENVIRONMENT.get_template("pdf/notice.html")
    return template.render(
        locale=chosen,
        spec=spec,
        rendered=rendered,
        heading=_(ARTEFACTS["notice-full"].title),
        title=_("How %(name)s uses your personal data") % {"name": spec.controller.name},
        labels=_labels(chosen),
        toolkit_version=__version__,
        short=_short,
    )


def notice_pdf(spec: Spec, locale: str | None = None) -> bytes:
    """The full notice a person reads, in one locale (default: the spec's first), as PDF.

    This is the document to offer the public: the notice and its ``sha256:`` version on every
    page, tagged with its language, without the pack's cover, review notes or redlines.
    """
    from weasyprint import HTML

    document = HTML(string=notice_html(spec, locale), base_url=str(Path(__file__).parent))
    pdf = document.write_pdf(
        stylesheets=[_stylesheet()],
        font_config=_font_config(),
        pdf_variant="pdf/ua-1",
        finisher=_tag_languages,
    )
    if not isinstance(pdf, bytes):  # pragma: no cover - WeasyPrint returns bytes without target
        raise PdfError("WeasyPrint returned no PDF")
    return pdf
