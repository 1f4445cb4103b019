"""Mixed directions (issue 15 item 2): every artefact says its direction, and a value from the
spec whose direction differs from the text around it is isolated (<bdi> in HTML, Unicode
isolates in SMS), so its punctuation and neighbours are not reordered."""

from __future__ import annotations

import re
import subprocess
from html import unescape
from typing import Any

from conftest import build
from markupsafe import escape

import toolkit
from toolkit import render
from toolkit.i18n import FSI, PDI, SUPPORTED_LOCALES, isolate, text_direction
from toolkit.pdf import notice_pdf
from toolkit.spec import Spec

ARABIC_NAME = "شركة المثال"


def test_direction_comes_from_the_locale_s_script() -> None:
    assert text_direction("ar") == "rtl"
    assert [loc for loc in SUPPORTED_LOCALES if text_direction(loc) == "rtl"] == [
        loc for loc in SUPPORTED_LOCALES if loc in {"ar", "he", "fa", "ur"}
    ]
    assert text_direction("fr") == text_direction("zh") == "ltr"


def test_isolation_only_where_directions_mix() -> None:
    assert isolate("Exemple SARL", "fr") == "Exemple SARL"  # nothing to isolate
    assert isolate(ARABIC_NAME, "fr") == f"{FSI}{ARABIC_NAME}{PDI}"
    assert isolate("36111", "ar") == f"{FSI}36111{PDI}"  # everything, in a right-to-left text


def test_every_html_artefact_carries_its_direction(data: dict[str, Any]) -> None:
    spec = build(data)
    for artefact in ("checkbox", "notice-short", "notice-full"):
        html = str(render(spec, artefact, "fr").html)
        assert re.match(r'<[a-z]+ [^>]*lang="fr" dir="ltr"', html), artefact


def test_a_right_to_left_name_in_a_left_to_right_notice_is_isolated(
    data: dict[str, Any],
) -> None:
    data["controller"]["name"] = ARABIC_NAME
    spec = build(data)
    for artefact in ("notice-short", "notice-full"):
        html = str(render(spec, artefact, "fr").html)
        assert ARABIC_NAME in html
        assert html.count(ARABIC_NAME) == html.count(f'<bdi dir="rtl">{ARABIC_NAME}</bdi>'), (
            artefact
        )
    for first_contact in (False, True):
        footer = render(spec, "sms-footer", "fr", first_contact=first_contact).text
        assert f"{FSI}{ARABIC_NAME}{PDI}" in footer
    # a left-to-right name in a left-to-right text is left as it was: no markup, no isolate
    data["controller"]["name"] = "Exemple"
    plain = build(data)
    assert "<bdi>" not in str(render(plain, "notice-full", "fr").html)
    assert FSI not in render(plain, "sms-footer", "fr").text


# --- Arabic, right to left -----------------------------------------------------------------


def _values(spec: Spec) -> list[str]:
    """The spec's own values an Arabic notice shows in Latin script."""
    ctl = spec.controller
    found = [ctl.name, ctl.address, ctl.email, ctl.website, ctl.registration_id, "+49 30 12345678"]
    found += [spec.notice_url, spec.withdraw_url, spec.supervisory_authority.website]
    return [str(v) for v in found if v]


def test_every_latin_value_in_an_arabic_notice_is_isolated(examples: dict[str, Spec]) -> None:
    spec = examples["newsletter"]
    for artefact in ("checkbox", "notice-short", "notice-full"):
        html = str(toolkit.render(spec, artefact, "ar").html)
        assert html.startswith(("<fieldset", "<section", "<article")) and 'dir="rtl"' in html
        outside = re.sub(r"<bdi dir=\"(?:ltr|rtl)\">.*?</bdi>", "", html)
        outside = unescape(re.sub(r"<[^>]*>", "", outside))  # attributes (href) do not count
        shown = [v for v in _values(spec) if str(escape(v)) in html]
        assert shown or artefact == "checkbox"
        assert [v for v in shown if v in outside] == [], artefact
    # a number has no strong character: it is isolated left to right, so "+49 30 12345678"
    # does not read "12345678 30 +49"
    full = str(toolkit.render(spec, "notice-full", "ar").html)
    assert '<bdi dir="ltr">+49 30 12345678</bdi>' in full


def test_an_arabic_sms_isolates_every_value(data: dict[str, Any]) -> None:
    data["locales"] = ["ar"]
    data["purposes"][0]["text"] = {
        "ar": {"name": "عروض عبر الرسائل", "description": "إرسال عروضنا.", "label": "أوافق."}
    }
    spec = build(data)
    for text in (
        render(spec, "sms-footer", "ar").text,
        render(spec, "sms-footer", "ar", first_contact=True).text,
        render(spec, "confirmation-sms", "ar").text,
    ):
        outside = re.sub(f"{FSI}[^{PDI}]*{PDI}", "", text)
        assert "Exemple SARL" in text
        assert [v for v in ("Exemple SARL", "STOP", "36111", "https://") if v in outside] == []


def _lines(pdf: bytes) -> list[list[tuple[float, float, str]]]:
    """The first page's lines as pdftotext (poppler) lays them out: (xMin, xMax, word)."""
    out = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-bbox-layout", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout.decode()
    word = re.compile(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>'
    )
    return [
        [(float(a), float(b), unescape(w)) for a, b, w in word.findall(block)]
        for block in out.split("<line ")[1:]
    ]


def test_the_arabic_pdf_reads_right_to_left(examples: dict[str, Spec]) -> None:
    spec = examples["newsletter"]
    title = toolkit.render(spec, "notice-full", "ar").text.splitlines()[0]
    before, after = title.split(spec.controller.name)
    lines = _lines(notice_pdf(spec, "ar"))
    # the title: its first words at the right, the company name in the middle, reading left
    # to right inside, and the last words at the left
    line = next(ln for ln in lines if len(ln) > 3 and "GmbH" in [w for _, _, w in ln])
    x = {w: (a, b) for a, b, w in line}
    assert x["Beispiel"][0] < x["Mode"][0] < x["GmbH"][0]
    right = [w for a, _, w in line if a > x["GmbH"][1]]
    left = [w for _, b, w in line if b < x["Beispiel"][0]]
    assert (len(right), len(left)) == (len(before.split()), len(after.split()))
    # the text is set against the right margin, as an Arabic page is
    edges = [round(ln[-1][1]) for ln in lines if len(ln) > 1]
    starts = [round(ln[0][0]) for ln in lines if len(ln) > 1]
    assert edges.count(max(set(edges), key=edges.count)) > starts.count(
        max(set(starts), key=starts.count)
    )
    # and the phone number reads as written
    phone = next(ln for ln in lines if "12345678" in [w for _, _, w in ln])
    order = [w for _, _, w in sorted(phone) if w in ("+49", "30", "12345678")]
    assert order == ["+49", "30", "12345678"]


# --- Chinese punctuation -----------------------------------------------------------------


def test_chinese_notices_use_full_width_punctuation_without_spaces(
    examples: dict[str, Spec],
) -> None:
    """The marks a template adds (brackets, semicolons, list commas, the full stop) are the
    locale's: a Chinese first layer reads （基于您的同意；数据：电子邮件地址、…）。 and no space
    follows a full-width mark."""
    spec = examples["newsletter"]
    short = toolkit.render(spec, "notice-short", "zh").text
    purposes = [line for line in short.splitlines() if line.startswith("- ")]
    assert purposes and all(line.endswith("）。") for line in purposes)
    assert all("；" in line and "（" in line for line in purposes)
    assert "、" in purposes[0] and ", " not in purposes[0] and "; " not in purposes[0]
    for artefact in ("checkbox", "notice-short", "notice-full"):
        text = toolkit.render(spec, artefact, "zh").text
        assert re.search(r"[。，、：；？（）] ", text) is None, artefact
    # other locales keep their own marks
    french = toolkit.render(spec, "notice-short", "fr").text
    assert "\u00a0; " in french and "(" in french


def test_chinese_sms_cost_follows_without_a_space(data: dict[str, Any]) -> None:
    data["locales"] = ["zh"]
    data["purposes"][0]["text"] = {
        "zh": {"name": "短信优惠", "description": "向您发送优惠。", "label": "我同意。"}
    }
    data["sms"]["opt_out_cost"] = "standard-rate"
    footer = render(build(data), "sms-footer", "zh").text
    assert "36111（" in footer and " （" not in footer
