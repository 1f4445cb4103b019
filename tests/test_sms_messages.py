"""SMS previews with the legal footer, GSM-safe rewrites, and reply recognition."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import build, minimal_data

from toolkit import render
from toolkit.sms import GSM7, UCS2, SmsError, gsm_safe, keyword_sets, parse_reply, preview
from toolkit.spec import Spec

# --- preview -------------------------------------------------------------------------------------


def test_first_contact_preview_carries_identity_purpose_objection_and_stop(
    examples: dict[str, Spec],
) -> None:
    spec = examples["dse-france"]
    result = preview(spec, "Votre diagnostic gratuit vous attend", "fr", first_contact=True)
    footer = render(spec, "sms-footer", "fr", first_contact=True)
    assert result.message == "Votre diagnostic gratuit vous attend\n" + footer.text
    assert result.footer_version == footer.version
    for words in [
        "Diagnostics Exemple SAS",
        "Offres de diagnostics immobiliers par SMS",
        "Pour vous opposer à nos SMS",
        "STOP au 36111 (SMS non surtaxé)",
    ]:
        assert words in result.message
    assert result.analysis.encoding == GSM7
    assert result.warnings == ()


def test_regular_preview_and_ucs2_warning(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    result = preview(spec, "Prêt ? Réservez dès aujourd’hui", "fr")
    assert result.analysis.encoding == UCS2
    (warning,) = [w for w in result.warnings if w.code == "ucs2"]
    # in the reader's language, 1-based positions, no code points
    assert "ê (caractère 3 de votre texte), ’ (caractère 28 de votre texte)" in warning.message
    english = preview(spec, "Prêt ? Réservez dès aujourd’hui", "fr", ui_locale="en")
    assert "ê (character 3 of your text)" in english.warnings[-1].message
    (transliterate,) = [s for s in result.suggestions if s.kind == "transliterate"]
    assert transliterate.body == "Pret ? Réservez dès aujourd'hui"
    assert (transliterate.segments_before, transliterate.segments_after) == (2, 1)
    assert transliterate.encoding_after == "GSM-7" and transliterate.saves


def test_gsm_safe_preview_reports_every_change(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    draft = "Réservez dès aujourd’hui – c’est simple… Prêt ?"
    result = preview(spec, draft, "fr", gsm_safe_rewrite=True)
    assert result.body == "Réservez dès aujourd'hui - c'est simple... Prêt ?"
    assert all(draft[c.position] == c.original for c in result.changes)
    assert [c.original for c in result.changes] == ["’", "–", "’", "…"]
    assert result.analysis.encoding == UCS2  # ê stays unless transliteration is asked for
    assert [n.char for n in result.analysis.non_gsm] == ["ê"]
    assert not [w for w in result.warnings if w.code == "footer-altered"]
    plain = preview(spec, draft, "fr", gsm_safe_rewrite=True, transliterate=True)
    assert plain.analysis.encoding == GSM7


def test_rewriting_the_footer_is_always_said() -> None:
    data = minimal_data()
    data["controller"]["name"] = "Crêperie Bretonne SARL"  # ê is outside GSM-7
    spec = build(data)
    result = preview(spec, "Offre du jour", "fr", gsm_safe_rewrite=True, transliterate=True)
    (warning,) = [w for w in result.warnings if w.code == "footer-altered"]
    assert "(ê → e)" in warning.message
    assert {w.code for w in result.warnings} >= {"footer-altered", "identity-missing"}
    assert "Creperie Bretonne SARL" in result.message
    before = "Offre du jour\n" + render(spec, "sms-footer", "fr").text
    assert all(c.position >= len("Offre du jour\n") for c in result.changes)
    assert all(before[c.position] == c.original for c in result.changes)


def test_body_with_its_own_opt_out_is_flagged(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    result = preview(spec, "Promo ! Répondez STOP au 36222 pour ne plus rien recevoir", "fr")
    assert [w.code for w in result.warnings] == ["opt-out-conflict"]
    ok = preview(spec, "Promo ! Diagnostic à 99 EUR", "fr")
    assert ok.warnings == ()


def test_too_many_segments(examples: dict[str, Spec]) -> None:
    data = minimal_data()
    data["sms"]["max_segments"] = 1
    result = preview(build(data), "x" * 150, "fr")
    assert result.analysis.segments == 2
    assert [w.code for w in result.warnings] == ["too-many-segments"]


def test_alphanumeric_sender_with_no_reply_number() -> None:
    data = minimal_data()
    del data["sms"]["opt_out_number"]
    data["sms"]["opt_out"] = "Répondez STOP"
    result = preview(build(data), "Offre du jour", "fr")
    assert "no-reply-path" in [w.code for w in result.warnings]
    numeric: dict[str, Any] = copy.deepcopy(data)
    numeric["sms"]["sender"] = "36111"
    assert "no-reply-path" not in [w.code for w in preview(build(numeric), "Offre", "fr").warnings]


def test_bad_bodies(examples: dict[str, Spec]) -> None:
    spec = examples["dse-france"]
    with pytest.raises(SmsError, match="empty"):
        preview(spec, "  \n ", "fr")
    with pytest.raises(SmsError, match="lone surrogate"):
        preview(spec, "abc\udc00", "fr")
    control = preview(spec, "Offre\x00 du jour", "fr")
    assert "control-character" in [w.code for w in control.warnings]
    long = preview(spec, "a" * 10_000, "fr")
    assert long.analysis.segments > 60
    with pytest.raises(SmsError, match=r"no \[sms\] section"):
        preview(examples["newsletter"], "Hello", "en")


# --- GSM-safe rewrite ----------------------------------------------------------------------------


def test_typography_is_rewritten_and_reported() -> None:
    text, changes = gsm_safe("L’offre “spéciale”… – 10\u00a0€\u202f!")
    assert text == 'L\'offre "spéciale"... - 10 € !'
    assert [(c.position, c.original, c.kind) for c in changes] == [
        (1, "’", "typography"),
        (8, "“", "typography"),
        (17, "”", "typography"),
        (18, "…", "typography"),
        (20, "–", "typography"),
        (24, "\u00a0", "space"),
        (26, "\u202f", "space"),
    ]


def test_accents_only_with_transliteration_and_case_only_when_allowed() -> None:
    assert gsm_safe("Prêt, reçu, cœur")[0] == "Prêt, reçu, cœur"
    text, changes = gsm_safe("Prêt, reçu, cœur", transliterate=True)
    assert text == "Pret, recu, coeur"
    assert {c.kind for c in changes} == {"transliteration"}
    assert gsm_safe("reçu", allow_case_change=True)[0] == "reÇu"
    assert gsm_safe("é à ù è ì ò Ä", transliterate=True) == ("é à ù è ì ò Ä", ())


def test_what_cannot_be_made_gsm_stays() -> None:
    assert gsm_safe("Merci 😜 中文", transliterate=True) == ("Merci 😜 中文", ())


# --- replies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "STOP!!!",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "Revoke",
        "OPTOUT",
        "OPT-OUT",
        "opt out",
        "REMOVE",
        "ARRET",
        "Arrêt !",
        "ARRETE",
        "arrête",
        "STOP SMS",
        "stop sms.",
        "ABMELDEN",
        "Stopp",
        "BAJA",
        "baja.",
        "CANCELLA",
        "Annulla",
        "«STOP»",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert parse_reply(text).kind == "opt-out"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("START", "opt-in"),
        ("unstop", "opt-in"),
        ("Yes", "confirm"),
        ("Oui !", "confirm"),
        ("sì", "confirm"),
        ("HELP", "help"),
        ("info?", "help"),
        ("Aide", "help"),
        ("HILFE", "help"),
    ],
)
def test_opt_in_and_help(text: str, kind: str) -> None:
    assert parse_reply(text).kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "please stop calling me at 6",
        "stop it now",
        "Bonjour",
        "",
        "STOP 36111 merci",
        "stopper",
        "start stop",
    ],
)
def test_sentences_are_other(text: str) -> None:
    assert parse_reply(text).kind == "other"


def test_spec_words_extend_the_lists() -> None:
    data = minimal_data()
    data["sms"]["keywords"] = {"opt_out": ["FINI"], "help": ["AU SECOURS"]}
    spec = build(data)
    assert spec.sms is not None
    words = spec.sms.keywords
    sets = keyword_sets(words.opt_out, words.opt_in, words.help)
    assert parse_reply("fini !", sets).kind == "opt-out"
    assert parse_reply("Au secours", sets).kind == "help"
    assert parse_reply("fini").kind == "other"


@pytest.mark.parametrize(
    ("body", "conflict"),
    [
        ("Pour vous désabonner, répondez ARRET", True),  # newcomer.md 7: any opt-out word
        ("Antworte STOPP an 12345 zum Abmelden", True),
        ("Répondez stop pour ne plus recevoir", True),  # the spec's keyword, in any case
        ("Soldes : remove the old stuff, precios a la baja", False),  # words, not keywords
    ],
)
def test_an_opt_out_of_the_body_s_own_wording_is_flagged(
    examples: dict[str, Spec], body: str, conflict: bool
) -> None:
    codes = [w.code for w in preview(examples["dse-france"], body, "fr").warnings]
    assert ("opt-out-conflict" in codes) is conflict


def test_the_word_every_confirmation_sms_asks_for_confirms() -> None:
    """A Czech reply ANO to a Czech confirmation SMS must confirm, as OUI does in French."""
    from toolkit.i18n import SUPPORTED_LOCALES, translations

    for locale in SUPPORTED_LOCALES:
        word = translations(locale).gettext("YES")
        assert parse_reply(word).kind == "confirm", (locale, word)
        assert parse_reply(f" {word.lower()} !").kind == "confirm", (locale, word)


@pytest.mark.parametrize("text", ["STOPP", "Uit", "RET", "R", "退订"])
def test_the_national_opt_out_words_with_a_source_stop(text: str) -> None:
    """Norway's STOPP (carriers require it), the Dutch code's UIT, Turkey's RET (the İYS
    register), China's R and 退订: see the sources in toolkit/sms/keywords.toml."""
    assert parse_reply(text).kind == "opt-out"


def test_a_consent_is_confirmed_only_in_the_languages_of_the_spec() -> None:
    """Irish "tá" is yes; "ta" from an English reader is thanks, not a consent. Opt-out words
    of every language still stop."""
    from toolkit.sms.replies import spec_keywords

    english = build(minimal_data(("fr", "en")))
    assert parse_reply("Ta", spec_keywords(english)).kind == "other"
    assert parse_reply("Tá", spec_keywords(english)).kind == "other"
    assert parse_reply("yes", spec_keywords(english)).kind == "confirm"
    assert parse_reply("oui", spec_keywords(english)).kind == "confirm"
    assert parse_reply("STOPP", spec_keywords(english)).kind == "opt-out"
    data = minimal_data(("fr",))
    data["locales"] = ["ga"]
    data["purposes"][0]["text"] = {
        "ga": {"name": "Tairiscintí", "description": "Tairiscintí.", "label": "Aontaím."}
    }
    assert parse_reply("Tá", spec_keywords(build(data))).kind == "confirm"
