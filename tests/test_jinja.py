"""toolkit.jinja (issue 13 item 2): the artefacts in any Jinja environment, exactly as
rendered (so their versions are the ledger's), escaped, in the locale asked."""

from __future__ import annotations

import pytest
from conftest import ROOT, build, minimal_data
from jinja2 import Environment

import toolkit
from toolkit.errors import ToolkitError
from toolkit.jinja import OptInExtension

SPEC = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")


def test_the_extension_renders_the_artefacts_as_render_does() -> None:
    env = Environment(extensions=[OptInExtension], autoescape=True)
    env.optin_spec = SPEC  # type: ignore[attr-defined]
    page = env.from_string(
        '<form>{{ consent_checkboxes("fr") }}</form><aside>{{ collection_notice("short", "fr") }}'
        '</aside><p>{{ sms_footer("de") }}</p>'
    ).render()
    checkbox = toolkit.render(SPEC, "checkbox", "fr", collection="person")
    short = toolkit.render(SPEC, "notice-short", "fr", collection="person")
    assert str(checkbox.html) in page and str(short.html) in page
    assert toolkit.render(SPEC, "sms-footer", "de").text in page


def test_values_from_the_spec_stay_escaped_and_a_missing_spec_is_said() -> None:
    data = minimal_data(("fr",))
    data["purposes"][0]["text"]["fr"]["name"] = "Offres <script>alert(1)</script>"
    env = Environment(extensions=[OptInExtension], autoescape=True)
    env.optin_spec = build(data)  # type: ignore[attr-defined]
    page = env.from_string('{{ collection_notice("full", "fr") }}').render()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    with pytest.raises(ToolkitError, match="optin_spec"):
        Environment(extensions=[OptInExtension], autoescape=True).from_string(
            '{{ consent_checkboxes("fr") }}'
        ).render()
