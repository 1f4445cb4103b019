"""The demo in a real browser: Debian's chromium driven by Playwright (no downloaded browser)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import demo_server
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from toolkit.proof import Ledger

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Ledger]]:
    """The demo as ``make demo`` serves it (gunicorn, its config, two workers), on a free
    loopback port; and the ledger it writes to."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'optin.db'}"
    with demo_server(url) as (base, _output):
        book = Ledger(url)
        yield base, book
        book.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), (
        "chromium missing: make test installs Debian's chromium as root; "
        "elsewhere: sudo apt-get install -y chromium"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


CONSOLE: dict[int, list[str]] = {}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    messages: list[str] = []
    CONSOLE[id(page)] = messages

    def keep(message: ConsoleMessage) -> None:
        messages.append(message.text)

    page.on("console", keep)
    yield page
    context.close()


def csp_violations(page: Page) -> list[str]:
    return [text for text in CONSOLE[id(page)] if "Content Security Policy" in text]


def test_sign_up_in_the_browser_records_what_was_shown(
    served: tuple[str, Ledger], page: Page
) -> None:
    base, book = served
    page.goto(f"{base}/?lang=fr")
    boxes = page.locator("input[type=checkbox]")
    assert boxes.count() == 2  # one per consent purpose: SMS offers, calls
    assert not any(boxes.nth(i).is_checked() for i in range(2))
    shown = {
        name: page.locator(f"input[name={name}]").get_attribute("value")
        for name in (
            "optin_version_checkbox",
            "optin_version_notice_short",
            "optin_version_notice_full",
        )
    }
    page.fill("#phone", "06 12 34 56 78")
    page.get_by_label("J'accepte de recevoir par SMS").check()
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Merci")
    events = list(book.events())
    assert len(events) == 1
    assert events[0].versions == {
        "checkbox": shown["optin_version_checkbox"],
        "notice-short": shown["optin_version_notice_short"],
        "notice-full": shown["optin_version_notice_full"],
    }
    assert events[0].hash in page.content()
    page.get_by_role("link", name="Deutsch", exact=True).click()  # the receipt, in German
    expect(page.get_by_role("heading", level=1)).to_have_text("Danke: Ihre Auswahl ist gespeichert")
    assert events[0].hash in page.content()
    page.get_by_role("link", name="Anmeldung").click()
    expect(page.locator("label[for=phone]")).to_have_text("Mobilfunknummer")
    assert csp_violations(page) == []


def test_csp_blocks_inline_script_and_the_check_sees_it(
    served: tuple[str, Ledger], page: Page
) -> None:
    base, _app = served
    page.goto(f"{base}/?lang=en")
    with pytest.raises(Exception):  # noqa: B017 - Playwright reports the refused script
        page.add_script_tag(content="document.title = 'injected'")
    assert page.title() != "injected"
    assert csp_violations(page), "the browser should report the refused inline script"


def test_double_opt_in_by_sms_reply_in_the_browser(served: tuple[str, Ledger], page: Page) -> None:
    """Issue 12 item 3, end to end: the form's consent waits; the carrier posts the holder's
    OUI; the number becomes sendable; the confirmation has its own receipt."""
    import urllib.parse
    import urllib.request

    from conftest import ROOT

    import toolkit

    base, plain = served
    book = Ledger(plain.url, spec=toolkit.load_spec(ROOT / "examples" / "dse-france.toml"))
    page.goto(f"{base}/?lang=fr")
    page.fill("#phone", "06 98 76 54 32")
    page.get_by_label("J'accepte de recevoir par SMS").check()
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator(".optin-waiting")).to_contain_text("Plus qu'une étape")
    assert "pending-confirmation" in book.can_send("+33698765432", "sms_offers").codes
    body = urllib.parse.urlencode({"From": "+33698765432", "Body": "Oui"}).encode()
    with urllib.request.urlopen(f"{base}/sms/inbound", data=body) as answer:  # noqa: S310
        assert "confirmé" in answer.read().decode()
    assert book.can_send("+33698765432", "sms_offers").allowed
    confirmation = [e for e in book.history("+33698765432") if e.action == "confirm"]
    assert len(confirmation) == 1 and confirmation[0].method == "sms-reply"
    page.goto(f"{base}/receipt/{confirmation[0].id}")
    expect(page.locator("body")).to_contain_text("Vous avez confirmé votre consentement.")
    assert csp_violations(page) == []
    book.close()


def outbox(path: Path) -> list[dict[str, str]]:
    """What the demo's outbox sender wrote, oldest first."""
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@contextmanager
def served_with(spec_file: Path, work: Path) -> Iterator[tuple[str, Ledger, Path]]:
    """The demo served with another spec, its ledger, and the file its outbox writes."""
    import toolkit

    url = f"sqlite:///{work / 'optin.db'}"
    sent = work / "outbox.jsonl"
    with demo_server(url, {"OPTIN_SPEC": str(spec_file), "OPTIN_OUTBOX": str(sent)}) as (base, _o):
        with Ledger(url, spec=toolkit.load_spec(spec_file)) as book:
            yield base, book, sent


def test_double_opt_in_by_code_in_the_browser(
    tmp_path_factory: pytest.TempPathFactory, page: Page
) -> None:
    """The code route end to end: the code SMS goes out; a wrong code is refused in the page's
    language and changes nothing; the right one confirms."""
    import re

    from conftest import ROOT

    work = tmp_path_factory.mktemp("code")
    spec_file = work / "spec.toml"
    spec_file.write_text(
        (ROOT / "examples" / "dse-france.toml").read_text(encoding="utf-8")
        + '\n[confirmation]\nsms = "code"\n',
        encoding="utf-8",
    )
    with served_with(spec_file, work) as (base, book, sent):
        page.goto(f"{base}/?lang=fr")
        page.fill("#phone", "06 98 76 54 31")
        page.get_by_label("J'accepte de recevoir par SMS").check()
        page.get_by_role("button", name="Envoyer").click()
        expect(page.locator(".optin-waiting")).to_contain_text("Plus qu'une étape")
        (message,) = outbox(sent)
        assert message["to"] == "+33698765431"
        code = re.search(r"\b(\d{6})\b", message["text"]).group(1)  # type: ignore[union-attr]
        page.fill("#code", "000000" if code != "000000" else "111111")
        page.get_by_role("button", name="Confirmer").click()
        expect(page.locator("body")).to_contain_text(
            "Ce code n'est pas celui que nous avons envoyé"
        )
        assert "pending-confirmation" in book.can_send("+33698765431", "sms_offers").codes
        page.go_back()
        page.fill("#code", code)
        page.get_by_role("button", name="Confirmer").click()
        expect(page.locator("h1")).to_contain_text("Merci : votre consentement est confirmé")
        assert book.can_send("+33698765431", "sms_offers").allowed
        assert [e.method for e in book.history("+33698765431")] == ["web-form", "code"]
        assert csp_violations(page) == []


def test_double_opt_in_by_email_link_in_the_browser(
    tmp_path_factory: pytest.TempPathFactory, page: Page
) -> None:
    """The e-mail link route end to end, in German: the link in the outbox confirms the
    newsletter consent the form left pending."""
    import re

    from conftest import ROOT

    work = tmp_path_factory.mktemp("link")
    spec_file = ROOT / "examples" / "newsletter.toml"
    with served_with(spec_file, work) as (base, book, sent):
        page.goto(f"{base}/?lang=de")
        page.fill("#email", "Anna@Example.org")
        page.locator("input[name=consent_newsletter]").check()
        page.locator("form button[type=submit]").first.click()
        expect(page.locator(".optin-waiting")).to_be_visible()
        assert "pending-confirmation" in book.can_send("anna@example.org", "newsletter").codes
        (message,) = outbox(sent)
        assert (message["channel"], message["to"]) == ("email", "anna@example.org")
        link = re.search(r"https?://\S+/confirm/\S+?(?=\.? )", message["text"]).group(0)  # type: ignore[union-attr]
        page.goto(base + "/confirm/" + link.split("/confirm/", 1)[1])
        expect(page.locator("h1")).to_contain_text("Vielen Dank: Ihre Einwilligung ist bestätigt")
        assert book.can_send("anna@example.org", "newsletter").allowed
        assert [e.method for e in book.history("anna@example.org")] == ["web-form", "email-link"]
        assert csp_violations(page) == []
