"""The SMS preview page in a real browser (chromium via Playwright, fixtures of test_browser)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from toolkit.proof import Ledger

from .test_browser import browser, csp_violations, page, served  # noqa: F401 - fixtures

MESSAGE = "Bonjour Élodie, votre diagnostic est prêt 🏠\r\nreçu à 49 € !"


def test_preview_shows_cells_bands_counts_suggestions_in_french(
    served: tuple[str, Ledger],  # noqa: F811
    page: Page,  # noqa: F811
) -> None:
    base, _book = served
    page.goto(f"{base}/preview?lang=fr")
    expect(page.locator("#empty")).to_be_visible()
    page.fill("#body", MESSAGE)
    # A textarea keeps line feeds only (the HTML value API turns CR LF into LF): what the
    # marketer pastes reaches the API with LF; CR LF is checked through the API below.
    assert "\r" not in page.eval_on_selector("#body", "el => el.value")
    expect(page.locator("#c-encoding")).to_have_text("UCS-2")
    expect(page.locator("#c-segments")).to_have_text("2")
    cells = page.locator("#cells .cell")
    expect(page.locator('#cells .cell[data-text="🏠"]')).to_have_attribute("data-gsm", "0")
    expect(page.locator('#cells .cell[data-text="ç"]')).to_have_attribute("data-gsm", "0")
    expect(page.locator('#cells .cell[data-text="ç"]')).to_have_class("cell band-0 cell-ucs2")
    expect(page.locator('#cells .cell[data-text="É"]')).to_have_attribute("data-gsm", "1")
    assert page.locator('#cells .cell[data-text="é"]').first.get_attribute("data-gsm") == "1"
    segments = {cells.nth(i).get_attribute("data-segment") for i in range(cells.count())}
    assert segments == {"0", "1"}  # two bands, one per SMS
    assert page.locator("#cells .cell.band-1").count() > 0
    assert page.locator("#cells .cell-footer").count() == len(
        "Diagnostics Exemple SAS - STOP au 36111 (SMS non surtaxé)"
    )
    expect(page.locator("#budget")).to_contain_text("reste pour votre texte dans 1 SMS")
    expect(page.locator("#status")).to_have_text("2 SMS, UCS-2")  # the live region: summary only
    keep = page.locator('.suggestion[data-kind="symbols"]')
    expect(keep).to_contain_text("N'économise rien")  # ê and ç stay: still 2 SMS
    plain = page.locator('.suggestion[data-kind="transliterate"]')
    expect(plain).to_contain_text("2 SMS → 1 SMS (GSM-7)")
    expect(page.locator('#warnings li[data-code="ucs2"]')).to_contain_text(
        "Envoyé en UCS-2 (70 caractères par SMS au lieu de 160)"
    )
    plain.get_by_role("button", name="Utiliser cette suggestion").click()
    expect(page.locator("#body")).to_be_focused()
    expect(page.locator("#c-encoding")).to_have_text("GSM-7")
    expect(page.locator("#c-segments")).to_have_text("1")
    # CR LF, as an API client (or a pasted file through a script) sends it: 2 characters, warned
    answer = page.evaluate(
        """async (body) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/sms/preview?lang=fr', {method: 'POST',
              headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
              body: JSON.stringify({body: body, locale: 'fr'})});
            return await r.json();
        }""",
        MESSAGE,
    )
    (crlf,) = [w for w in answer["warnings"] if w["code"] == "crlf"]
    assert "saut de ligne Windows (CR LF), compté comme 2 caractères" in crlf["message"]
    assert [c["shown"] for c in answer["cells"] if c["text"] in "\r\n"][:2] == ["␍", "␊"]
    # an empty box clears the result and shows the empty state
    page.fill("#body", "")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#empty")).to_be_visible()
    assert csp_violations(page) == []


def test_preview_says_when_the_session_expired(
    served: tuple[str, Ledger],  # noqa: F811
    page: Page,  # noqa: F811
) -> None:
    base, _book = served
    page.goto(f"{base}/preview?lang=fr")
    page.fill("#body", "Votre diagnostic vous attend")
    expect(page.locator("#c-encoding")).to_have_text("GSM-7")
    page.context.clear_cookies()  # the session is gone (expired, or the server restarted)
    page.fill("#body", "Votre diagnostic vous attend demain")
    expect(page.locator("#error")).to_have_text(
        "Votre session a expiré. Rechargez la page pour continuer."
    )
    expect(page.locator("#result")).to_be_hidden()  # no stale result


def test_placeholders_are_counted_with_sample_values(
    served: tuple[str, Ledger],  # noqa: F811
    page: Page,  # noqa: F811
) -> None:
    base, _book = served
    page.goto(f"{base}/preview?lang=fr")
    page.fill("#body", "Bonjour {first_name}")
    sample = page.get_by_label("{first_name}")
    expect(sample).to_have_value("Camille")
    expect(page.locator("#c-units")).to_have_text(str(len("Bonjour Camille\n") + 57))
    sample.fill("Marie-Antoinette")
    expect(page.locator("#c-units")).to_have_text(str(len("Bonjour Marie-Antoinette\n") + 57))
