"""What the preview page draws, tested without a browser: the cells, the sample values, and
the suggestion that drops emoji but keeps the accents."""

from __future__ import annotations

from conftest import ROOT

import toolkit
from toolkit.sms import gsm_safe, preview
from toolkit.sms.preview import DEFAULT_SAMPLE, SAMPLES, fill_placeholders

SPEC = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")


def test_removing_symbols_keeps_every_letter_and_drops_whole_clusters() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of three people
    text = f"Prêt 🏠 ! Ça déménage {family} en été 🇫🇷"
    out, changes = gsm_safe(text, remove_symbols=True)
    assert out == "Prêt ! Ça déménage en été"
    assert [c.kind for c in changes] == ["removed"] * 3  # a flag and a family are one each
    assert [c.original.strip() for c in changes] == ["🏠", family, "🇫🇷"]
    assert all(text[c.position : c.position + len(c.original)] == c.original for c in changes)
    assert gsm_safe("Привет 🏠", remove_symbols=True)[0] == "Привет"  # letters of any script stay


def test_placeholders_take_the_page_samples_then_the_defaults() -> None:
    text, used = fill_placeholders("Bonjour {first_name}, code {{ref}} : {ref}", {"ref": "A12"})
    assert text == f"Bonjour {SAMPLES['first_name']}, code {{ref}} : A12"
    assert used == (("first_name", SAMPLES["first_name"]), ("ref", "A12"))
    assert fill_placeholders("{unknown}", {})[0] == DEFAULT_SAMPLE
    shown = preview(SPEC, "Bonjour {first_name}", "fr", samples={"first_name": "Zoé"})
    assert shown.body.startswith("Bonjour Zoé") and shown.placeholders == (("first_name", "Zoé"),)


def test_cells_cover_the_message_in_order_with_their_segments_and_units() -> None:
    body = "Été 😀 chez vous\r\n" + "x" * 80
    sms = preview(SPEC, body, "fr")
    cells = sms.cells()
    assert "".join(str(c["text"]) for c in cells) == sms.message
    assert sum(int(str(c["units"])) for c in cells) == sms.analysis.units
    by_text = {c["text"]: c for c in cells}
    assert by_text["😀"]["gsm"] is False and by_text["😀"]["units"] == 2
    assert by_text["😀"]["symbol"] is True and "GRINNING FACE" in str(by_text["😀"]["name"])
    assert by_text["É"]["gsm"] is True and by_text["é"]["gsm"] is True
    assert by_text["\r"]["invisible"] and by_text["\n"]["invisible"]
    assert by_text["\r"]["shown"] != "\r"  # a visible sign for what cannot be seen
    segments = [int(str(c["segment"])) for c in cells]
    assert segments == sorted(segments) and segments[-1] == sms.analysis.segments - 1
    starts = [int(str(c["start"])) for c in cells]
    assert all(
        segments[i] == sum(b <= starts[i] for b in sms.analysis.breaks) for i in range(len(cells))
    )
    footer = [c for c in cells if c["footer"]]
    assert "".join(str(c["text"]) for c in footer) == sms.footer
    assert not any(c["footer"] for c in cells[: len(body)])
