"""Mixed directions (issue 15 item 2): every artefact says its direction, and a value from the
spec whose direction differs from the text around it is isolated (<bdi> in HTML, Unicode
isolates in SMS), so its punctuation and neighbours are not reordered."""

from __future__ import annotations

import re
from typing import Any

from conftest import build

from toolkit import render
from toolkit.i18n import FSI, PDI, SUPPORTED_LOCALES, isolate, text_direction

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
        assert html.count(ARABIC_NAME) == html.count(f"<bdi>{ARABIC_NAME}</bdi>"), artefact
    for first_contact in (False, True):
        footer = render(spec, "sms-footer", "fr", first_contact=first_contact).text
        assert f"{FSI}{ARABIC_NAME}{PDI}" in footer
    # a left-to-right name in a left-to-right text is left as it was: no markup, no isolate
    data["controller"]["name"] = "Exemple"
    plain = build(data)
    assert "<bdi>" not in str(render(plain, "notice-full", "fr").html)
    assert FSI not in render(plain, "sms-footer", "fr").text
