"""Rendering: every artefact in every locale carries what the spec says, and only that."""

from __future__ import annotations

import hashlib
import html as html_module
import re
import subprocess
import sys
from html.parser import HTMLParser
from typing import Any

import pytest
from conftest import LOCALES, ROOT, build, minimal_data

from toolkit import ARTEFACTS, render
from toolkit.errors import ArtefactError, LocaleError
from toolkit.render import clear_cache
from toolkit.spec import Spec

#: How each locale names each right (a regex, matched case-insensitively on the text).
RIGHTS: dict[str, dict[str, str]] = {
    "en": {
        "access": r"\baccess",
        "rectification": r"rectification|corrected",
        "erasure": r"erasure|erased",
        "restriction": r"restrict",
        "portability": r"portability|reuse",
        "objection": r"\bobject",
        "withdrawal": r"withdraw",
        "complaint": r"complaint",
    },
    "fr": {
        "access": r"accès|accéder",
        "rectification": r"rectification|rectifier",
        "erasure": r"effacement|effacer",
        "restriction": r"limitation|limiter",
        "portability": r"portabilité|réutilisable",
        "objection": r"opposition|opposer",
        "withdrawal": r"retrait|retirer",
        "complaint": r"réclamation",
    },
    "de": {
        "access": r"auskunft|einsehen",
        "rectification": r"berichtigung|berichtigen",
        "erasure": r"löschung|löschen",
        "restriction": r"einschränkung|einschränken",
        "portability": r"übertragbarkeit|weiterverwendbar",
        "objection": r"widerspruch|widersprechen",
        "withdrawal": r"widerruf",
        "complaint": r"beschwerde|beschweren",
    },
    "es": {
        "access": r"acceso|acceder",
        "rectification": r"rectificaci|rectifi",
        "erasure": r"supresión|suprim",
        "restriction": r"limitación|limite",
        "portability": r"portabilidad|reutilizar",
        "objection": r"oposición|oponerse",
        "withdrawal": r"retirada|retirar",
        "complaint": r"reclamación",
    },
    "it": {
        "access": r"accesso|accedere",
        "rectification": r"rettific",
        "erasure": r"cancellazione|cancellare",
        "restriction": r"limitazione|limitare",
        "portability": r"portabilità|riutilizzabile",
        "objection": r"opposizione|opporsi",
        "withdrawal": r"revoca",
        "complaint": r"reclamo",
    },
}

RETENTION_3Y = {"fr": "3 ans", "en": "3 years", "de": "3 Jahre", "es": "3 años", "it": "3 anni"}
VERSION = re.compile(r"sha256:[0-9a-f]{64}")


class Inputs(HTMLParser):
    """Collects every <input> and <label for> of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labels: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))
        elif tag == "label":
            self.labels.append(dict(attrs).get("for"))


def cases(examples: dict[str, Spec]) -> list[tuple[str, str, str]]:
    return [
        (name, loc, artefact)
        for name, spec in examples.items()
        for loc in spec.locales
        for artefact in ARTEFACTS
        if not (artefact == "sms-footer" and spec.sms is None)
    ]


EXAMPLE_LOCALES = [("dse-france", loc) for loc in LOCALES] + [
    ("newsletter", loc) for loc in LOCALES
]


@pytest.mark.parametrize("artefact", list(ARTEFACTS))
@pytest.mark.parametrize(("name", "locale"), EXAMPLE_LOCALES)
def test_version_is_the_hash_of_the_text(
    examples: dict[str, Spec], name: str, locale: str, artefact: str
) -> None:
    spec = examples[name]
    if artefact == "sms-footer" and spec.sms is None:
        with pytest.raises(ArtefactError, match=r"no \[sms\] section"):
            render(spec, artefact, locale)
        return
    if artefact == "call-script" and all(p.channel != "phone" for p in spec.purposes):
        with pytest.raises(ArtefactError, match="no phone purpose"):
            render(spec, artefact, locale)
        return
    if artefact == "confirmation-sms" and spec.sms is None:
        with pytest.raises(ArtefactError, match="nothing to confirm"):
            render(spec, artefact, locale)
        return
    out = render(spec, artefact, locale)
    assert (out.artefact, out.locale) == (artefact, locale)
    assert VERSION.fullmatch(out.version)
    assert out.version == "sha256:" + hashlib.sha256(out.text.encode()).hexdigest()
    assert out.html is not None and f'lang="{locale}"' in out.html
    assert out.text and "{{" not in out.text and "%(" not in out.text
    assert out.as_json() == {
        "artefact": artefact,
        "locale": locale,
        "version": out.version,
        "html": str(out.html),
        "text": out.text,
    }


@pytest.mark.parametrize(("name", "locale"), EXAMPLE_LOCALES)
def test_checkboxes_are_unticked_optional_and_labelled(
    examples: dict[str, Spec], name: str, locale: str
) -> None:
    spec = examples[name]
    out = render(spec, "checkbox", locale)
    assert out.html is not None
    parsed = Inputs(out.html)
    boxes = [i for i in parsed.inputs if i.get("type") == "checkbox"]
    consent = [p for p in spec.purposes if p.legal_basis == "consent"]
    assert [b["value"] for b in boxes] == [p.id for p in consent]
    for box, purpose in zip(boxes, consent, strict=True):
        assert "checked" not in box and "required" not in box
        assert box["name"] == f"consent_{purpose.id}"
        described = (box["aria-describedby"] or "").split()
        assert described == [f"optin-consent-{purpose.id}-about", "optin-consent-hint"]
        # every id it points to is in the fragment itself: nothing dangles without the notice
        assert all(f'id="{ref}"' in out.html for ref in described)
        assert box["id"] in parsed.labels
        assert purpose.text[locale].label in out.text
    assert "checked" not in out.html and "required" not in out.html
    assert "optin-notice-short" not in out.html
    hidden = {i["name"]: i["value"] for i in parsed.inputs if i.get("type") == "hidden"}
    assert hidden == {
        "optin_locale": locale,
        "optin_version_checkbox": out.version,
        "optin_version_notice_short": render(spec, "notice-short", locale).version,
        "optin_version_notice_full": render(spec, "notice-full", locale).version,
    }


def _has_rights(text: str, locale: str, rights: list[str]) -> list[str]:
    return [r for r in rights if not re.search(RIGHTS[locale][r], text, re.IGNORECASE)]


ALL_RIGHTS = list(RIGHTS["en"])


@pytest.mark.parametrize(("name", "locale"), EXAMPLE_LOCALES)
@pytest.mark.parametrize("artefact", ["notice-short", "notice-full"])
def test_notices_name_every_right_in_the_locale_words(
    examples: dict[str, Spec], name: str, locale: str, artefact: str
) -> None:
    text = render(examples[name], artefact, locale).text
    assert _has_rights(text, locale, ALL_RIGHTS) == []


@pytest.mark.parametrize("locale", LOCALES)
def test_full_notice_carries_every_spec_value(examples: dict[str, Spec], locale: str) -> None:
    for spec in examples.values():
        text = render(spec, "notice-full", locale).text
        ctl = spec.controller
        expected = [ctl.name, ctl.email, spec.supervisory_authority.name]
        expected += [spec.supervisory_authority.website, spec.supervisory_authority.address]
        expected += [v for v in (ctl.address, ctl.registration_id, ctl.website) if v]
        if spec.dpo is not None and spec.dpo.email:
            expected.append(spec.dpo.email)
        for purpose in spec.purposes:
            t = purpose.text[locale]
            expected += [t.name, t.description, *t.data_categories, *t.recipients]
            expected += [v for v in (t.legitimate_interest, t.retention_note, t.consequence) if v]
            for transfer in purpose.transfers:
                if transfer.copy_url:
                    expected.append(transfer.copy_url)
        if spec.source is not None:
            expected.append(spec.source.text[locale].description)
        missing = [value for value in expected if value not in text]
        assert missing == []


@pytest.mark.parametrize("locale", LOCALES)
def test_retention_is_formatted_in_the_locale(examples: dict[str, Spec], locale: str) -> None:
    spec = examples["dse-france"]
    assert RETENTION_3Y[locale] in render(spec, "notice-full", locale).text
    assert RETENTION_3Y[locale] in render(spec, "notice-short", locale).text


@pytest.mark.parametrize("locale", LOCALES)
def test_short_notice_has_identity_purposes_source_and_link(
    examples: dict[str, Spec], locale: str
) -> None:
    spec = examples["dse-france"]
    text = render(spec, "notice-short", locale).text
    for value in [spec.controller.name, spec.notice_url, spec.controller.email]:
        assert value in text
    for purpose in spec.purposes:
        assert purpose.text[locale].name in text
    assert spec.source is not None
    assert spec.source.text[locale].description in text
    assert render(spec, "sms-footer", locale).text.split(" - ")[1] in text  # the opt-out


@pytest.mark.parametrize("locale", LOCALES)
def test_sms_footer_identity_opt_out_link_and_first_contact(
    examples: dict[str, Spec], locale: str
) -> None:
    """Every SMS: identity and opt-out; the link only in the first one unless the spec asks
    (S-13). The first: the purposes, information and rights by link, never a partial list of
    rights presented as all of them (L-05)."""
    spec = examples["dse-france"]
    assert spec.sms is not None and spec.sms.link is not None
    regular = render(spec, "sms-footer", locale)
    first = render(spec, "sms-footer", locale, first_contact=True)
    for out in (regular, first):
        assert spec.controller.name in out.text
        assert "STOP" in out.text and "36111" in out.text
        assert "\n" not in out.text
    assert spec.sms.link in first.text and spec.sms.link not in regular.text
    sms_purpose = spec.purpose("sms_offers").text[locale].name
    assert sms_purpose in first.text and sms_purpose not in regular.text
    assert first.version != regular.version
    assert "(" not in first.text.replace(spec.sms.link, "").split("36111")[0]  # no list of rights
    data = minimal_data((locale,))
    data["sms"]["link_in_every_message"] = True
    data["sms"]["link"] = "https://example.fr/d"
    assert "https://example.fr/d" in render(build(data), "sms-footer", locale).text


def test_french_opt_out_convention(examples: dict[str, Spec]) -> None:
    text = render(examples["dse-france"], "sms-footer", "fr").text
    assert "STOP au 36111 (SMS non surtaxé)" in text


@pytest.mark.parametrize(
    ("cost", "words"),
    [
        ("free", {"fr": "(gratuit)", "en": "(free)", "de": "(kostenlos)", "es": "(gratis)"}),
        (
            "standard-rate",
            {
                "fr": "(SMS non surtaxé)",
                "en": "(standard rate)",
                "de": "(nur Übermittlungskosten)",
                "es": "(sin coste adicional)",
                "it": "(senza sovrapprezzo)",
            },
        ),
    ],
)
def test_the_opt_out_cost_is_said_as_it_is(cost: str, words: dict[str, str]) -> None:
    """L-06, T-10: "free" only when the spec says replying costs nothing; a standard-rate SMS
    is said to be no more than that; nothing is said when the spec says nothing."""
    data = minimal_data(LOCALES)
    data["sms"]["opt_out_cost"] = cost
    spec = build(data)
    for locale, expected in words.items():
        text = render(spec, "sms-footer", locale).text
        assert expected in text, (locale, text)
        if cost != "free":
            assert all(free not in text for free in ("gratuit", "(free)", "kostenlos", "gratis"))
    silent = render(build(minimal_data(LOCALES)), "sms-footer", "fr").text
    assert "gratuit" not in silent and "surtaxé" not in silent


def test_written_opt_out_is_used_verbatim() -> None:
    data = minimal_data()
    data["sms"]["opt_out"] = {"fr": "STOP au 36111", "en": "Text STOP to 36111"}
    spec = build(data)
    assert "Text STOP to 36111" in render(spec, "sms-footer", "en").text
    assert "STOP au 36111" in render(spec, "sms-footer", "fr").text


def renderable(spec: Spec) -> list[str]:
    """The artefacts this spec has (no call script without a phone purpose...)."""
    out = []
    for artefact in ARTEFACTS:
        try:
            render(spec, artefact, spec.locales[0])
        except ArtefactError:
            continue
        out.append(artefact)
    return out


def test_rights_follow_the_legal_bases() -> None:
    data = minimal_data()
    data["controller"]["country"] = "ES"
    data["purposes"][0].update(legal_basis="legal_obligation", direct_marketing=False)
    for text in data["purposes"][0]["text"].values():
        del text["label"]
    data["purposes"][0]["channel"] = "post"
    del data["sms"]
    text = render(build(data), "notice-full", "en").text
    assert _has_rights(text, "en", ["access", "rectification", "erasure", "restriction"]) == []
    for absent in ["portability", "Article 21", "withdraw", "direct marketing", "after your death"]:
        assert absent not in text
    assert "Agencia Española de Protección de Datos" in text


def test_post_mortem_directives_only_for_france(examples: dict[str, Spec]) -> None:
    """L-16: French law (art. 85 loi 78-17) for people living in France, whatever the
    controller's country: the German shop selling in France says it, for those readers."""
    dse = render(examples["dse-france"], "notice-full", "en").text
    assert "after your death" in dse and "If you live in France" not in dse
    shop = render(examples["newsletter"], "notice-full", "en").text
    assert "If you live in France, you may also give instructions" in shop
    data = minimal_data(("fr",))
    data["controller"]["country"] = "DE"
    data["markets"] = ["DE"]
    data["sms"]["opt_out_number"] = "+4915112345678"
    assert "décès" not in render(build(data), "notice-full", "fr").text


def test_art14_elements_only_with_a_source(examples: dict[str, Spec]) -> None:
    with_source = render(examples["dse-france"], "notice-full", "en").text
    without = render(examples["newsletter"], "notice-full", "en").text
    assert "Where does your data come from?" in with_source
    assert "publicly accessible" in with_source
    assert "Where does your data come from?" not in without
    # Art. 13(2)(e) is about data the person provides: for those purposes only.
    assert without.count("Must you provide your data?") == 2
    assert with_source.count("Must you provide your data?") == 2  # not for agency_email


def test_missing_optional_elements_are_omitted_not_empty() -> None:
    spec = build(minimal_data())
    out = render(spec, "notice-full", "en")
    assert out.html is not None
    purpose = re.search(r'id="optin-purpose-sms_offers".*?</section>', out.html, re.S)
    assert purpose is not None and "Categories" not in purpose.group(0)
    # the proof of choices always lists its own data; the spec's optional elements are absent
    before, rest = out.text.split("\nProof of your choices\n")
    text = before + "\nWhat are your rights?" + rest.split("\nWhat are your rights?")[1]
    for label in [
        "Telephone:",
        "Website:",
        "Registration",
        "representative",
        "protection officer",
        "Recipients",
        "Categories",
        "Transfers",
        "Last updated",
        "You can also write",
    ]:
        assert label not in text
    assert not re.search(r"<(dd|li|p|address)[^>]*>\s*</\1>", out.html)
    assert "None" not in out.text


def test_transfers_and_automated_decisions() -> None:
    data = minimal_data()
    purpose = data["purposes"][0]
    purpose["automated_decision"] = True
    purpose["transfers"] = [
        {"country": "US", "safeguard": "standard_contractual_clauses"},
        {"country": "CH", "safeguard": "adequacy_decision"},
    ]
    for loc, text in purpose["text"].items():
        text["automated_logic"] = f"score-{loc}"
    text = render(build(data), "notice-full", "fr").text
    assert "États-Unis" in text and "Suisse" in text
    assert "score-fr" in text
    assert text.count("rgpd@example.fr") >= 2  # copy of the clauses on request, rights
    del purpose["text"]["en"]["automated_logic"]
    with pytest.raises(ValueError, match=r"purposes\[0\].text.en.automated_logic: required"):
        build(data)


def test_hostile_values_are_escaped_never_evaluated() -> None:
    data = minimal_data()
    data["controller"]["name"] = "<script>alert(1)</script> {{ 7*7 }}"
    data["controller"]["address"] = "{% raw %}{{ config }}"
    for text in data["purposes"][0]["text"].values():
        text["label"] = 'Oui" onmouseover="alert(1)'
        text["description"] = "{{ 7*7 }} {% if true %}x{% endif %} ${7*7} %(name)s"
        text["name"] = "<img src=x onerror=alert(1)>"
    spec = build(data)
    for locale in spec.locales:
        for artefact in renderable(spec):
            out = render(spec, artefact, locale)
            assert out.html is not None
            assert "<script>" not in out.html and "<img" not in out.html
            assert 'onmouseover="' not in out.html
            assert "49" not in VERSION.sub("", out.html) and "49" not in out.text
            if artefact != "checkbox":
                assert "&lt;script&gt;" in out.html
            if artefact == "notice-full":
                assert "{{ 7*7 }} {% if true %}x{% endif %} ${7*7} %(name)s" in out.text
                assert "{% raw %}{{ config }}" in out.text
            if artefact == "checkbox":
                assert "Oui&#34; onmouseover=&#34;alert(1)" in out.html
                assert 'Oui" onmouseover="alert(1)' in out.text


def test_versions_are_stable_across_loads_and_processes(examples: dict[str, Spec]) -> None:
    path = ROOT / "examples" / "dse-france.toml"
    code = (
        "import sys, toolkit; s = toolkit.load_spec(sys.argv[1]); "
        "print(toolkit.render(s, 'notice-full', 'de').version)"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(path)],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {render(examples["dse-france"], "notice-full", "de").version}


def test_versions_change_with_any_word() -> None:
    base = minimal_data()
    before = {a: render(build(base), a, "fr").version for a in renderable(build(base))}
    changed = minimal_data()
    changed["purposes"][0]["text"]["fr"]["description"] = "Vous envoyer nos offres, rarement."
    after = {a: render(build(changed), a, "fr").version for a in renderable(build(changed))}
    assert after["notice-full"] != before["notice-full"]
    assert after["checkbox"] == before["checkbox"]  # the labels did not change
    relabelled = minimal_data()
    relabelled["purposes"][0]["text"]["fr"]["label"] = "J'accepte les offres par SMS !"
    assert render(build(relabelled), "checkbox", "fr").version != before["checkbox"]
    longer = minimal_data()
    longer["purposes"][0]["retention"] = "P2Y"
    assert render(build(longer), "notice-short", "fr").version != before["notice-short"]
    assert render(build(longer), "notice-short", "en").version != before["notice-short"]


def test_render_is_memoised_per_spec_and_equal_specs_stay_equal() -> None:
    spec, twin = build(minimal_data()), build(minimal_data())
    assert render(spec, "notice-full", "fr") is render(spec, "notice-full", "fr")
    assert spec == twin
    clear_cache(spec)
    assert render(spec, "notice-full", "fr") == render(twin, "notice-full", "fr")


@pytest.mark.parametrize(
    ("asked", "got"),
    [("fr_CA", "fr"), ("fr-CA", "fr"), ("en_GB", "en"), ("DE", "de"), ("es_MX", "es")],
)
def test_locale_fallback(examples: dict[str, Spec], asked: str, got: str) -> None:
    assert render(examples["newsletter"], "notice-short", asked).locale == got


@pytest.mark.parametrize("asked", ["ja", "zz", "", "fr_CA_weird!", "../../etc"])
def test_unsupported_locale_names_the_supported_ones(examples: dict[str, Spec], asked: str) -> None:
    offered = ", ".join(examples["newsletter"].locales)
    with pytest.raises(LocaleError, match=f"supported: {offered}$"):
        render(examples["newsletter"], "notice-short", asked)


def test_locale_the_spec_does_not_declare(examples: dict[str, Spec]) -> None:
    spec = build(minimal_data(("fr",)))
    with pytest.raises(LocaleError, match="unsupported locale 'de'; supported: fr"):
        render(spec, "notice-full", "de")


def test_unknown_artefact_and_misplaced_option(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    with pytest.raises(ArtefactError, match="unknown artefact 'banner'; expected one of"):
        render(spec, "banner", "fr")
    with pytest.raises(ArtefactError, match="sms-footer artefact only"):
        render(spec, "notice-full", "fr", first_contact=True)


def test_no_consent_purpose_means_no_checkbox() -> None:
    data: dict[str, Any] = minimal_data()
    data["purposes"][0].update(legal_basis="contract", direct_marketing=False)
    with pytest.raises(ArtefactError, match="no consent-based purpose"):
        render(build(data), "checkbox", "fr")


def test_memo_is_dropped_with_its_spec() -> None:
    import gc

    from toolkit.render import _MEMOS

    spec = build(minimal_data())
    render(spec, "notice-short", "fr")
    key = id(spec)
    assert key in _MEMOS
    del spec
    gc.collect()
    assert key not in _MEMOS


OBJECTION_HEADS = {
    "en": "Right to object to direct marketing:",
    "fr": "Droit d'opposition à la prospection\u00a0:",
    "de": "Widerspruchsrecht gegen Direktwerbung:",
    "es": "Derecho de oposición a la mercadotecnia directa:",
    "it": "Diritto di opposizione al marketing diretto:",
}


def test_a_legitimate_interest_purpose_gets_the_separate_art_21_4_paragraph() -> None:
    """tests.md #14: the Art. 21(4) objection paragraph itself, for a marketing purpose on
    legitimate interests (postal offers), in every locale, with the ways to object; and none
    for a spec without marketing."""
    data = minimal_data(LOCALES)
    data["purposes"][0].update(channel="post", legal_basis="legitimate_interests")
    for loc, text in data["purposes"][0]["text"].items():
        text.pop("label")
        text["legitimate_interest"] = f"interest {loc}"
    del data["sms"]
    spec = build(data)
    for locale, head in OBJECTION_HEADS.items():
        html = str(render(spec, "notice-full", locale).html)
        paragraph = re.search(r'<p class="optin-objection">(.*?)</p>', html, re.S)
        assert paragraph is not None, locale
        assert html_module.escape(head, quote=True).replace("&#x27;", "&#39;") in paragraph.group(1)
        assert "21" in paragraph.group(1) and "rgpd@example.fr" in paragraph.group(1)
    data["purposes"][0]["direct_marketing"] = False
    quiet = str(render(build(data), "notice-full", "fr").html)
    assert 'class="optin-objection"' not in quiet


def test_the_notices_say_what_an_sms_stop_stops() -> None:
    """L-10: STOP stops our SMS only (the default), and the notices say so when the spec has
    marketing by another channel; with stop_scope = "all" they say STOP plainly."""
    data = minimal_data(("fr", "en"))
    data["purposes"].append(
        {
            "id": "letters",
            "channel": "post",
            "legal_basis": "legitimate_interests",
            "retention": "P1Y",
            "retention_from": "collection",
            "text": {
                loc: {"name": "Courriers", "description": "Courriers.", "legitimate_interest": "x"}
                for loc in ("fr", "en")
            },
        }
    )
    short = render(build(data), "notice-short", "en").text
    assert "Text STOP to 36111 to stop our SMS" in short
    fr = render(build(data), "notice-short", "fr").text
    assert "STOP au 36111 pour ne plus recevoir nos SMS" in fr
    data["sms"]["stop_scope"] = "all"
    data["sms"]["opt_out_url"] = "https://example.fr/stop"
    short = render(build(data), "notice-short", "en").text
    assert "Text STOP to 36111, go to https://example.fr/stop" in short
    assert "our SMS" not in short
