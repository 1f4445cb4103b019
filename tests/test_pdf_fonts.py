"""Fonts for every shipped script (issue 15 item 7): no tofu in any locale's PDF.

Two checks. Every character a locale can print (its catalog and every artefact of the
examples in it) is in the character map of one of the PDF fonts that pack.css names (the
font files fontconfig resolves: DejaVu Sans, Noto Sans Arabic, Noto Sans CJK SC). And a
rendered page per locale embeds only those fonts (a character they lacked would make Pango
fall back to some other font on the machine, or draw a box) and maps every character of its
text to a glyph (the PDF's ToUnicode maps, which copy-paste and screen readers use)."""

from __future__ import annotations

import io
import subprocess
import unicodedata
from functools import cache
from typing import Any

import pypdf
import pytest
from babel.messages.pofile import read_po
from conftest import build
from fontTools.ttLib import TTFont

import toolkit
from toolkit.i18n import LOCALES_DIR, SUPPORTED_LOCALES
from toolkit.pdf import FONTS, notice_pdf
from toolkit.spec import Spec

#: What pack.css may embed: the families of FONTS, bold and mono faces included.
EMBEDDABLE = ("DejaVu-Sans", "Noto-Sans-Arabic", "Noto-Sans-CJK-SC")


@cache
def _coverage(family: str) -> frozenset[int]:
    """The code points the font fontconfig resolves for ``family`` has glyphs for."""
    found = subprocess.run(
        ["fc-match", "-f", "%{family[0]}|%{file}|%{index}", family],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name, path, index = found.split("|")
    assert name == family, f"fontconfig has no {family} (Debian package {FONTS[family]})"
    with TTFont(path, fontNumber=int(index), lazy=True) as font:
        return frozenset(font.getBestCmap())


def _drawn(text: str) -> set[str]:
    """The characters of ``text`` that need a glyph (not spaces, not format controls such as
    the isolates around a value)."""
    return {ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc")}


def _printed(locale: str, examples: dict[str, Spec]) -> set[str]:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    texts = [
        s for m in catalog if m.id for s in ((m.string,) if isinstance(m.string, str) else m.string)
    ]
    for spec in examples.values():
        if locale in spec.locales:
            texts += [
                toolkit.render(spec, artefact, locale).text
                for artefact in ("checkbox", "notice-short", "notice-full")
            ]
            if spec.sms is not None:
                texts.append(toolkit.render(spec, "sms-footer", locale, first_contact=True).text)
    return _drawn(" ".join(texts))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_pdf_fonts_cover_every_character_a_locale_prints(
    locale: str, examples: dict[str, Spec]
) -> None:
    covered = frozenset().union(*(_coverage(family) for family in FONTS))
    missing = sorted(ch for ch in _printed(locale, examples) if ord(ch) not in covered)
    assert missing == [], [f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}" for ch in missing]


def _fonts_and_text(pdf: bytes) -> tuple[set[str], set[str]]:
    """The base fonts a PDF embeds and the characters its ToUnicode maps give."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    fonts: set[str] = set()
    text = ""
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources.get("/Font", {}).values():
            fonts.add(str(ref.get_object()["/BaseFont"]).split("+", 1)[-1])
        text += page.extract_text()
    return fonts, set(text)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_notice_page_in_every_locale_uses_only_the_pack_s_fonts(
    locale: str, examples: dict[str, Spec]
) -> None:
    spec = next(s for s in examples.values() if locale in s.locales)
    fonts, extracted = _fonts_and_text(notice_pdf(spec, locale))
    assert fonts and all(f.startswith(EMBEDDABLE) for f in fonts), fonts
    shown = _drawn(toolkit.render(spec, "notice-full", locale).text)
    assert shown - extracted == set()


@pytest.mark.parametrize("name", ["شركة المثال للتجارة", "示例贸易有限公司"])
def test_arabic_and_chinese_values_take_the_pack_s_fonts(data: dict[str, Any], name: str) -> None:
    """A value in another script (a company name in a French notice) is drawn with the pack's
    fonts (Arabic by DejaVu Sans, which has it, Chinese by Noto Sans CJK SC), never whatever
    fallback the machine has (WenQuanYi, Noto Kufi...), and reads back as written."""
    data["controller"]["name"] = name
    fonts, extracted = _fonts_and_text(notice_pdf(build(data), "fr"))
    assert all(f.startswith(EMBEDDABLE) for f in fonts), fonts
    assert set(name) - {" "} <= extracted
