"""One test per finding of the legal review (../shared/reference/reviews/legal.md, sections (a)
to (c)), named after its ID, on the rendered text in every locale it concerns. Findings other
tests already pin down say where (L-06 and T-10: test_render.test_the_opt_out_cost_is_said_as_
it_is; L-10: test_render.test_the_notices_say_what_an_sms_stop_stops; L-16: test_render.test_post_
mortem_directives_only_for_france)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from conftest import LOCALES, build, minimal_data

from toolkit import render
from toolkit.errors import ArtefactError, SpecError
from toolkit.i18n import format_duration, translations
from toolkit.spec import Spec, validate_spec


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def texts(spec: Spec, locale: str, **options: Any) -> dict[str, str]:
    """Every artefact this spec has in ``locale``, as text."""
    out = {}
    for artefact in ("checkbox", "notice-short", "notice-full", "sms-footer", "call-script"):
        try:
            out[artefact] = render(spec, artefact, locale, **options).text
        except ArtefactError:
            continue
    if spec.sms is not None:
        out["sms-first"] = render(spec, "sms-footer", locale, first_contact=True).text
    return out


_SINCE = {
    "collection": "%(period)s from when we obtained your data",
    "last_inbound_contact": (
        "%(period)s from your last reply, request or other contact initiated by you"
    ),
}


def since(locale: str, start: str, years: int) -> str:
    """A retention period with its start, as the notices word it in ``locale``."""
    return gettext(locale, _SINCE[start]) % {"period": format_duration((years, 0, 0, 0), locale)}


def sourced(locales: tuple[str, ...] = LOCALES, *, both: bool = False) -> dict[str, Any]:
    """A spec whose SMS and phone purposes use numbers from a source (Art. 14)."""
    data = minimal_data(locales)
    data["purposes"][0]["collected_from"] = ["person", "source"] if both else ["source"]
    data["purposes"][0]["text"] = {
        loc: {**text, "data_categories": [f"mobile {loc}"]}
        for loc, text in data["purposes"][0]["text"].items()
    }
    data["purposes"].append(
        {
            "id": "calls",
            "channel": "phone",
            "audience": "businesses",
            "legal_basis": "legitimate_interests",
            "collected_from": ["source"],
            "retention": "P1Y",
            "retention_from": "collection",
            "text": {
                loc: {
                    "name": f"Calls {loc}",
                    "description": f"Calling you {loc}.",
                    "legitimate_interest": f"interest {loc}",
                    "data_categories": [f"phone {loc}"],
                }
                for loc in locales
            },
        }
    )
    data["markets"] = ["IE"]  # calls to businesses on opt-out; SMS on consent
    data["controller"].update(country="IE")
    data["sms"]["opt_out_number"] = "+353861234567"
    data["source"] = {
        "publicly_accessible": True,
        "provider": "Lists Ltd",
        "text": {
            loc: {"description": f"their ads {loc}", "sms": f"your ad {loc}"} for loc in locales
        },
    }
    return data


# --- (a) legal findings --------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_L03_a_call_script_for_the_first_call(examples: dict[str, Spec], locale: str) -> None:
    """The first communication of a phone purpose is the call: identity, on whose behalf and
    that it is commercial (C. consom. L.221-16), the right to object set apart (Art. 21(4)),
    where the rest is written; with source data, where the number comes from (Art. 14(3)(b))."""
    spec = examples["dse-france"]
    out = render(spec, "call-script", locale)
    assert out.html is not None
    assert spec.controller.name in out.text and spec.notice_url in out.text
    assert gettext(locale, "This is a commercial call.") in out.text
    objection = re.search(r'<li class="optin-script-objection"><strong>(.*?)</strong>', out.html)
    assert objection is not None and objection.group(1) in out.text
    assert spec.purpose("ad_call").text[locale].name in out.text
    script = render(build(sourced()), "call-script", locale).text
    assert f"your ad {locale}" in script and "Lists Ltd" in script
    assert gettext(locale, "We are calling you because you agreed to it.") not in script
    with pytest.raises(ArtefactError, match="no phone purpose"):
        render(examples["newsletter"], "call-script", locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_L04_a_form_notice_never_says_the_data_came_from_elsewhere(
    examples: dict[str, Spec], locale: str
) -> None:
    """Beside a form (collection "person") no word of a source, and Art. 13(2)(e) asked for
    every purpose collected from the person; on the page everyone reads, the source is said
    only of the purpose that uses it."""
    spec = examples["dse-france"]
    assert spec.source is not None
    source = spec.source.text[locale].description
    question = gettext(locale, "Must you provide your data?")
    for artefact in ("notice-short", "notice-full"):
        form = render(spec, artefact, locale, collection="person").text
        assert source not in form
        assert spec.purpose("agency_email").text[locale].name not in form
    full_form = render(spec, "notice-full", locale, collection="person").text
    assert full_form.count(question) == 2
    everyone = render(spec, "notice-full", locale).text
    line = next(line for line in everyone.splitlines() if source in line)
    assert spec.purpose("agency_email").text[locale].name in line
    first_contact = render(build(sourced((locale,))), "notice-full", locale, collection="source")
    assert "their ads" in first_contact.text and question not in first_contact.text


def test_L04_a_source_belongs_to_the_purposes_that_use_it(data: dict[str, Any]) -> None:
    data["source"] = {"publicly_accessible": True, "text": {"fr": {"description": "x"}}}
    data["locales"] = ["fr"]
    data["purposes"][0]["text"] = {"fr": data["purposes"][0]["text"]["fr"]}
    with pytest.raises(SpecError, match=r"source: no purpose says its data comes from this source"):
        validate_spec(data)
    del data["source"]
    data["purposes"][0]["collected_from"] = ["source"]
    with pytest.raises(SpecError, match=r"purposes\[0\].collected_from: the data comes from a"):
        validate_spec(data)


@pytest.mark.parametrize("locale", LOCALES)
def test_L05_the_first_sms_states_the_right_to_object_as_a_right(
    examples: dict[str, Spec], locale: str
) -> None:
    spec = examples["dse-france"]
    first = render(spec, "sms-footer", locale, first_contact=True).text
    sentence = gettext(locale, "To object to our SMS: %(opt_out)s") % {"opt_out": ""}
    assert sentence.strip() in first
    assert first.endswith(render(spec, "sms-footer", locale).text.split(" - ", 1)[1])
    # no list of four rights presented as all of them: the link says "information and rights"
    assert "(" not in first.split("36111")[0]


def test_L05_first_sms_fits_two_segments_or_three_in_spanish(examples: dict[str, Spec]) -> None:
    """The issue's bar, measured as `optin sms analyze` measures it."""
    from toolkit.sms import analyze

    for locale, most in {"fr": 2, "en": 2, "de": 2, "it": 2, "es": 3}.items():
        result = analyze(
            render(examples["dse-france"], "sms-footer", locale, first_contact=True).text
        )
        assert result.segments <= most, (locale, result)
        if locale != "es":
            assert result.encoding == "GSM-7", locale
    sms = build(sourced(("fr", "en", "de", "it")))
    for locale in ("fr", "en", "de", "it"):
        text = render(sms, "sms-footer", locale, first_contact=True, collection="source").text
        assert f"your ad {locale}" in text and analyze(text).segments <= 2, text


@pytest.mark.parametrize("locale", LOCALES)
def test_L07_retention_starts_at_a_date_the_person_can_know(
    examples: dict[str, Spec], locale: str, data: dict[str, Any]
) -> None:
    full = render(examples["dse-france"], "notice-full", locale).text
    assert since(locale, "last_inbound_contact", 3) in full
    assert since(locale, "collection", 3) not in full
    del data["purposes"][0]["retention_from"]
    with pytest.raises(SpecError, match=r"purposes\[0\].retention_from: required"):
        validate_spec(data)


@pytest.mark.parametrize("locale", LOCALES)
def test_L08_the_toolkit_discloses_its_own_processing(
    examples: dict[str, Spec], locale: str
) -> None:
    """The proof of choices is a purpose of its own in both layers, with a retention the spec
    sets (5 years in both examples)."""
    for spec in examples.values():
        full = render(spec, "notice-full", locale).text
        assert gettext(locale, "Proof of your choices") in full
        assert "5" in full.split(gettext(locale, "Proof of your choices"))[1].split("\n\n")[0]
        assert gettext(locale, "Proof of your choices") in render(spec, "notice-short", locale).text
        # what happens at its end: `optin ledger redact --expired` (issue 12 item 7)
        pseudonym = gettext(
            locale,
            "When this period ends, we replace your contact details in this record with a"
            " pseudonym (a keyed digest), which we keep only so that we go on respecting your"
            " choices.",
        )
        assert pseudonym in " ".join(full.split())


def test_L08_proof_retention_is_required_and_kept_as_long_as_the_law_asks(
    data: dict[str, Any],
) -> None:
    del data["proof"]
    with pytest.raises(SpecError, match=r"proof: required: say how long the proof"):
        validate_spec(data)
    data["proof"] = {"retention": "P1Y"}
    data["markets"] = ["DE"]
    data["purposes"][0]["channel"] = "phone"  # § 7a UWG: proof of consent to calls, 5 years
    del data["sms"]
    with pytest.raises(SpecError, match=r"proof.retention: .* at least P5Y .*7a"):
        validate_spec(data)


def test_L08_a_registry_screened_before_contact_is_a_recipient() -> None:
    data = minimal_data(("it",))
    data["controller"]["country"] = "IT"
    data["purposes"][0].update(channel="phone", legal_basis="legitimate_interests")
    text = data["purposes"][0]["text"]["it"]
    del text["label"]
    text["legitimate_interest"] = "farci conoscere"
    del data["sms"]
    full = render(build(data), "notice-full", "it").text
    assert "Registro pubblico delle opposizioni" in full.split("Prova delle Sue scelte")[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_L10_the_web_route_to_withdraw_is_in_both_notices(
    examples: dict[str, Spec], locale: str
) -> None:
    for spec in examples.values():
        assert spec.withdraw_url is not None
        for artefact in ("notice-short", "notice-full"):
            assert spec.withdraw_url in render(spec, artefact, locale).text


@pytest.mark.parametrize("locale", LOCALES)
def test_L12_the_company_that_supplied_the_data_is_named(locale: str) -> None:
    spec = build(sourced())
    assert "Lists Ltd" in render(spec, "notice-full", locale).text
    assert "Lists Ltd" in render(spec, "notice-short", locale).text


@pytest.mark.parametrize("locale", LOCALES)
def test_L13_the_newsletter_implies_no_open_tracking(
    examples: dict[str, Spec], locale: str
) -> None:
    full = render(examples["newsletter"], "notice-full", locale).text.lower()
    for word in ("opened", "ouverture", "öffnen", "abrió", "apertura"):
        assert word not in full


@pytest.mark.parametrize("locale", LOCALES)
def test_L14_the_first_layer_and_each_box_say_which_data(
    examples: dict[str, Spec], locale: str
) -> None:
    spec = examples["dse-france"]
    short = render(spec, "notice-short", locale).text
    box = render(spec, "checkbox", locale).text
    for pid in ("sms_offers", "ad_call"):
        for category in spec.purpose(pid).text[locale].data_categories:
            assert category in short and category in box


@pytest.mark.parametrize("locale", LOCALES)
def test_L15_art_21_1_is_its_own_paragraph_with_only_the_ground_that_applies(
    locale: str,
) -> None:
    data = minimal_data((locale,))
    data["purposes"][0].update(
        channel="web", legal_basis="legitimate_interests", direct_marketing=False
    )
    text = data["purposes"][0]["text"][locale]
    del text["label"]
    text["legitimate_interest"] = "security"
    del data["sms"]
    html = str(render(build(data), "notice-full", locale).html)
    paragraph = re.search(r'<p class="optin-objection-situation">(.*?)</p>', html, re.S)
    assert paragraph is not None and "21" in paragraph.group(1)
    public = gettext(locale, "public interest task")
    assert public.split()[-1] not in paragraph.group(1)


# --- (b) translation findings --------------------------------------------------------------------


def test_T01_text_stop_to_another_number_reply_stop_to_the_sender(data: dict[str, Any]) -> None:
    spec = build(data)  # alphanumeric sender EXEMPLE, replies to 36111
    assert "Text STOP to 36111" in render(spec, "sms-footer", "en").text
    assert "Reply" not in render(spec, "sms-footer", "en").text
    data["sms"] = {"sender": "36111"}
    assert "Reply STOP" in render(build(data), "sms-footer", "en").text


@pytest.mark.parametrize("locale", ["en", "es", "de", "fr", "it"])
def test_T02_T03_T04_the_authority_is_named_as_a_label(
    examples: dict[str, Spec], locale: str
) -> None:
    """No article or case hangs on a name in another language: "Supervisory authority: X"."""
    for spec in examples.values():
        short = render(spec, "notice-short", locale).text
        label = gettext(locale, "Supervisory authority: %(authority)s.") % {"authority": ""}
        assert label.rstrip(".").strip() + " " + spec.supervisory_authority.name in short
        for wrong in ("complaint to Commission", "ante Commission", "z. B. Berliner"):
            assert wrong not in short


def test_T05_french_diagnostics_are_said_to_be_french(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    sms = spec.purpose("sms_offers").text
    assert "in Frankreich vorgeschriebenen Immobiliendiagnosen" in sms["de"].description
    assert "obligatorios en Francia" in sms["es"].description
    assert "obbligatorie in Francia" in sms["it"].description
    assert "Immobiliengutachten" not in render(spec, "notice-full", "de").text


def test_T06_spanish_post_mortem_instructions(examples: dict[str, Spec]) -> None:
    full = render(examples["dse-france"], "notice-full", "es").text
    assert "instrucciones" in full and "directrices" not in full


@pytest.mark.parametrize("locale", LOCALES)
def test_T07_T11_the_first_sms_speaks_to_the_person(locale: str) -> None:
    text = render(
        build(sourced()), "sms-footer", locale, first_contact=True, collection="source"
    ).text
    assert f"your ad {locale}" in text and f"their ads {locale}" not in text
    assert "acceder, rectificar" not in text


def test_T08_italian_courtesy_form_is_capitalised(examples: dict[str, Spec]) -> None:
    for spec in (build(minimal_data(("it",))), examples["dse-france"], examples["newsletter"]):
        for text in texts(spec, "it").values():
            found = re.findall(r"\b(lei|suoi|presentarle|contattarla|chiederle)\b", text)
            assert found == [], found


@pytest.mark.parametrize("locale", LOCALES)
def test_T09_the_whole_post_mortem_sentence_with_article_85(
    examples: dict[str, Spec], locale: str
) -> None:
    full = render(examples["dse-france"], "notice-full", locale).text
    sentence = next(line for line in full.splitlines() if "78-17" in line)
    assert "85" in sentence and "1978" in sentence


def test_T10_standard_rate_is_never_called_free(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    words = {"fr": "(gratuit)", "en": "(free)", "de": "(kostenlos)", "es": "(gratis)"}
    for locale, free in words.items():
        for variant in texts(spec, locale).values():
            assert free not in variant
            assert gettext(locale, "(standard rate)") in variant or "36111" not in variant


# --- (c) style findings -------------------------------------------------------------------------

_NOT_COLONS = re.compile(r"https?://\S+|mailto:\S+|\d:\d")


@pytest.mark.parametrize("locale", LOCALES)
def test_S01_never_two_colons_in_one_sentence(examples: dict[str, Spec], locale: str) -> None:
    for spec in examples.values():
        for artefact, text in texts(spec, locale).items():
            for line in text.splitlines():
                for sentence in re.split(r"(?<=[.?!])\s+", line):
                    assert _NOT_COLONS.sub("", sentence).count(":") <= 1, (artefact, sentence)


@pytest.mark.parametrize("locale", LOCALES)
def test_S02_the_list_of_rights_ends_with_a_period(examples: dict[str, Spec], locale: str) -> None:
    for spec in examples.values():
        html = str(render(spec, "notice-full", locale).html)
        rights = re.search(r'<section class="optin-rights">.*?<ul>(.*?)</ul>', html, re.S)
        assert rights is not None
        items = re.findall(r"<li>(.*?)</li>", rights.group(1), re.S)
        assert items[-1].rstrip().endswith(".") and all(
            i.rstrip().endswith(";") for i in items[:-1]
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_S03_the_first_layer_says_rights_in_verbs(examples: dict[str, Spec], locale: str) -> None:
    short = render(examples["dse-france"], "notice-short", locale).text
    for phrase in ("access your data", "have it corrected or erased", "object to its use"):
        assert gettext(locale, phrase) in short


@pytest.mark.parametrize("locale", LOCALES)
def test_S04_no_public_task_words_without_a_public_task(
    examples: dict[str, Spec], locale: str
) -> None:
    full = render(examples["dse-france"], "notice-full", locale).text
    assert gettext(locale, "public interest task") not in full
    words = {"en": "official authority", "fr": "autorité publique", "de": "öffentlichen Gewalt"}
    if locale in words:
        assert words[locale] not in full


@pytest.mark.parametrize("locale", LOCALES)
def test_S05_the_first_layer_names_the_interest_the_email_and_the_start(
    examples: dict[str, Spec], locale: str
) -> None:
    spec = examples["dse-france"]
    short = render(spec, "notice-short", locale).text
    assert spec.purpose("agency_email").text[locale].legitimate_interest in short
    assert spec.controller.email in short.splitlines()[0]
    assert since(locale, "last_inbound_contact", 3) in short


@pytest.mark.parametrize("locale", LOCALES)
def test_S06_question_headings_end_with_a_question_mark(
    examples: dict[str, Spec], locale: str
) -> None:
    html = str(render(examples["dse-france"], "notice-full", locale).html)
    headings = re.findall(r"<h3>(.*?)</h3>", html)
    assert len(headings) == 4 and all(h.endswith("?") for h in headings), headings


@pytest.mark.parametrize(
    ("locale", "opening"), [("fr", "«"), ("de", "„"), ("es", "«"), ("it", "«")]
)
def test_S07_local_quotation_marks(examples: dict[str, Spec], locale: str, opening: str) -> None:
    full = render(examples["dse-france"], "notice-full", locale).text
    assert re.search(opening + r"\s?(Loi )?Informatique et Libert", full), locale
    assert '"Loi' not in full


@pytest.mark.parametrize(
    ("locale", "often"),
    [
        ("de", "einmal pro Woche"),
        ("en", "once a week"),
        ("fr", "une fois par semaine"),
        ("es", "una vez por semana"),
        ("it", "una volta alla settimana"),
    ],
)
def test_S08_the_newsletter_box_says_what_and_how_often(
    examples: dict[str, Spec], locale: str, often: str
) -> None:
    label = render(examples["newsletter"], "checkbox", locale).text
    assert often in label


def test_S10_the_italian_processor_is_glossed(examples: dict[str, Spec]) -> None:
    full = render(examples["dse-france"], "notice-full", "it").text
    assert "responsabile del trattamento ai sensi dell'art. 28 GDPR" in full


def test_S11_english_dates_the_eu_way(examples: dict[str, Spec]) -> None:
    assert "30 November 2026" in render(examples["dse-france"], "notice-full", "en").text


@pytest.mark.parametrize("locale", LOCALES)
def test_S12_the_withdrawal_paragraph_says_how(examples: dict[str, Spec], locale: str) -> None:
    html = str(render(examples["dse-france"], "notice-full", locale).html)
    paragraph = re.search(r'<p class="optin-withdrawal">(.*?)</p>', html, re.S)
    assert paragraph is not None
    assert "36111" in paragraph.group(1) and "donnees@diagnostics.example" in paragraph.group(1)


def test_S13_the_link_is_optional_in_every_sms(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    assert spec.sms is not None and spec.sms.link is not None
    for locale in LOCALES:
        assert spec.sms.link not in render(spec, "sms-footer", locale).text
        assert len(render(spec, "sms-footer", locale).text) <= 70


@pytest.mark.parametrize("locale", LOCALES)
def test_S14_a_foreign_authority_name_is_glossed(examples: dict[str, Spec], locale: str) -> None:
    berlin = "Berliner Beauftragte für Datenschutz und Informationsfreiheit"
    short = render(examples["newsletter"], "notice-short", locale).text
    line = next(line for line in short.splitlines() if berlin in line)
    glossed = line.split(berlin)[1].startswith(",")
    assert glossed == (locale != "de")


# --- tests.md 2b ------------------------------------------------------------------------------


def test_text_is_nfc_whatever_the_spec_was_typed_in() -> None:
    composed = minimal_data(("fr",))
    decomposed = minimal_data(("fr",))
    name = "Société Générale Établissements"
    composed["controller"]["name"] = unicodedata.normalize("NFC", name)
    decomposed["controller"]["name"] = unicodedata.normalize("NFD", name)
    assert composed != decomposed
    for artefact in ("notice-full", "notice-short", "sms-footer"):
        a = render(build(composed), artefact, "fr")
        b = render(build(decomposed), artefact, "fr")
        assert unicodedata.is_normalized("NFC", b.text)
        assert a.version == b.version
