"""Every demo page, in every locale, at desktop and phone widths, checked by axe-core in the
browser (issue 14 item 5): 0 violations of WCAG 2.0-2.2 A/AA and axe's best practices.

axe-core is the version pinned in tests/e2e/package-lock.json (``make test`` installs it with
``npm ci --prefix tests/e2e``). It is evaluated into each page through the DevTools protocol,
which a page's Content-Security-Policy does not govern: the pages are checked with their real,
strict CSP, and no other test needs to loosen it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import demo_server
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)

from tests.e2e.test_browser import CHROMIUM_FLAGS

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LOCALES = ["en", "fr", "de", "es", "it"]
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
TOKEN = "test-token-of-the-demo"  # conftest.demo_server's admin token

#: How long the whole matrix took, per (width, locale), printed at the end of the module.
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def axe_source() -> str:
    assert AXE.exists(), "axe-core missing: run `make e2e-deps` (npm ci --prefix tests/e2e)"
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('a11y') / 'optin.db'}"
    with demo_server(url) as (address, _output):
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), "chromium missing: sudo apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
    if TIMES:
        total = sum(TIMES.values())
        print(f"\naxe: {len(TIMES)} width x locale runs in {total:.1f} s")


@pytest.fixture(scope="module")
def contexts(browser: Browser, base: str) -> Iterator[dict[str, tuple[BrowserContext, Page]]]:
    """Per width, one context and page reused by every locale, and a second one signed in
    to the admin once."""
    made: dict[str, tuple[BrowserContext, Page]] = {}
    for name, (width, height) in WIDTHS.items():
        for who in ("visitor", "admin"):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            _watch(page)
            if who == "admin":
                page.goto(f"{base}/admin?lang=en")
                page.fill("#token", TOKEN)
                page.locator("form button[type=submit]").click()
                page.wait_for_load_state()
            made[f"{name}-{who}"] = (context, page)
    yield made
    for context, _page in made.values():
        context.close()


#: What the browser reported while the pages were checked: sub-resources that failed (a
#: favicon, stylesheet or script answering 404...) and Content-Security-Policy refusals.
PROBLEMS: list[str] = []


def _watch(page: Page) -> None:
    def response(answer: Response) -> None:
        if answer.request.resource_type != "document" and answer.status >= 400:
            if not answer.url.endswith("/api/sms/preview"):  # JSON errors are its own states
                PROBLEMS.append(f"{answer.status} {answer.url}")

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            PROBLEMS.append(message.text)

    page.on("response", response)
    page.on("console", console)


def _violations(page: Page, axe: str, where: str) -> list[str]:
    """axe's violations on the page as it is now, one line per rule and node."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe)
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        TAGS,
    )
    return [
        f"{where}: {v['id']} ({v['impact']}) {node['target']}: {v['help']}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


def _sign_up(page: Page, base: str, locale: str, phone: str) -> None:
    page.goto(f"{base}/?lang={locale}")
    page.fill("#phone", phone)
    page.locator("input[name^=consent_]").first.check()
    page.locator("form.signup button[type=submit]").click()


def _pages(base: str, locale: str) -> list[tuple[str, Callable[[Page], None]]]:
    """Each page state to check, in order (the receipt is reached from the thanks page): a
    name and how to reach it."""
    q = f"?lang={locale}"

    def go(path: str) -> Callable[[Page], None]:
        return lambda page: page.goto(f"{base}{path}")

    def form_error(page: Page) -> None:
        _sign_up(page, base, locale, "06 12")
        expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")

    def thanks(page: Page) -> None:
        _sign_up(page, base, locale, "06 12 34 56 78")
        page.wait_for_url("**/thanks*")

    def receipt(page: Page) -> None:  # reached from the thanks page, the step before
        page.locator("ul.receipts a").first.click()
        page.wait_for_url("**/receipt/*")

    def typed_preview(page: Page) -> None:
        page.goto(f"{base}/preview{q}")
        page.fill("#body", "Bonjour Élodie ! Votre DPE est prêt 🏠 à 49 €\r\nRéservez")
        expect(page.locator("#c-segments")).not_to_be_empty()

    return [
        ("sign-up", go(f"/{q}")),
        ("sign-up with an error", form_error),
        ("thanks", thanks),
        ("receipt", receipt),
        ("withdraw", go(f"/withdraw{q}")),
        ("notice", go(f"/notice{q}")),
        ("preview with text", typed_preview),
        ("admin sign-in", go(f"/admin{q}")),  # a visitor: the sign-in form (401)
        ("404", go(f"/no-such-page{q}")),
    ]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_axe_violation_on_any_page(
    contexts: dict[str, tuple[BrowserContext, Page]],
    base: str,
    axe_source: str,
    width: str,
    locale: str,
) -> None:
    start = time.perf_counter()
    _context, page = contexts[f"{width}-visitor"]
    found: list[str] = []
    for name, reach in _pages(base, locale):
        reach(page)
        found += _violations(page, axe_source, f"{name} [{locale}, {width}]")
    _context, admin = contexts[f"{width}-admin"]
    admin.goto(f"{base}/admin?lang={locale}")
    found += _violations(admin, axe_source, f"admin [{locale}, {width}]")
    TIMES[f"{width}-{locale}"] = time.perf_counter() - start
    assert found == [], "\n".join(found)
    assert PROBLEMS == [], "\n".join(PROBLEMS)  # with axe in, the strict CSP still holds


def test_the_check_sees_a_violation(
    contexts: dict[str, tuple[BrowserContext, Page]], base: str, axe_source: str
) -> None:
    """The checker is really on: an image without a text alternative is reported."""
    _context, page = contexts["desktop-visitor"]
    page.goto(f"{base}/?lang=en")
    page.evaluate(
        "() => document.querySelector('main').append(Object.assign("
        "document.createElement('img'), {src: '/static/style.css'}))"
    )
    found = _violations(page, axe_source, "sign-up")
    assert any(" image-alt " in line for line in found), found


def test_the_first_tab_reaches_the_skip_link_and_it_skips(
    contexts: dict[str, tuple[BrowserContext, Page]], base: str
) -> None:
    """Ten header links stand before the form: one Tab and Enter jump past them."""
    _context, page = contexts["phone-visitor"]
    page.goto(f"{base}/?lang=fr")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Aller au contenu")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0  # on screen once focused
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("content")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_id("phone")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_short_notice_is_read_before_the_button(
    contexts: dict[str, tuple[BrowserContext, Page]], base: str, width: str
) -> None:
    """On a phone the notice stands between the boxes and the button; on a wide screen it
    stands beside the form, the button under the boxes."""
    _context, page = contexts[f"{width}-visitor"]
    page.goto(f"{base}/?lang=fr")
    notice = page.locator("#optin-notice-short").bounding_box()
    button = page.locator("form.signup button[type=submit]").bounding_box()
    boxes = page.locator(".optin-consent").bounding_box()
    assert notice and button and boxes
    if width == "phone":
        assert boxes["y"] < notice["y"] < button["y"]
    else:
        assert notice["x"] > boxes["x"] + boxes["width"] and button["y"] > boxes["y"]


def test_every_shipped_locale_passes_axe_and_arabic_reads_right_to_left(
    browser: Browser, axe_source: str, tmp_path: Path
) -> None:
    """Issue 15: the demo serving the thirty-language example, each locale's sign-up page and
    full notice checked by axe at desktop width; the Arabic pages are laid out right to left
    (the browser's computed direction), down to the consent boxes the page embeds."""
    from toolkit.i18n import SUPPORTED_LOCALES

    url = f"sqlite:///{tmp_path / 'thirty.db'}"
    spec = str(Path(__file__).parents[2] / "examples" / "newsletter.toml")
    with demo_server(url, {"OPTIN_SPEC": spec}) as (address, _output):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        _watch(page)
        found: list[str] = []
        for locale in SUPPORTED_LOCALES:
            for path in ("/", "/notice"):
                page.goto(f"{address}{path}?lang={locale}")
                found += _violations(page, axe_source, f"{path} [{locale}]")
        page.goto(f"{address}/?lang=ar")
        directions = page.evaluate(
            "() => [document.documentElement, document.querySelector('fieldset.optin-consent')]"
            ".map(e => getComputedStyle(e).direction)"
        )
        context.close()
    assert found == [], "\n".join(found)
    assert directions == ["rtl", "rtl"]
    assert PROBLEMS == [], "\n".join(PROBLEMS)
