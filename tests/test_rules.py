"""Channel law as data: every rule sourced and dated, the requirements it gives per market and
day, the specs it refuses (with the rule and its source), and `optin rules` on the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, build, minimal_data, run

from toolkit import rules
from toolkit.errors import RulesError, SpecError
from toolkit.spec import check_spec, validate_spec

BOOK = rules.shipped()
ALL_RULES = [(pack.market, rule) for pack in BOOK.packs.values() for rule in pack.rules]
OFFENCES = ROOT / "tests" / "offences"
DSE = str(ROOT / "examples" / "dse-france.toml")
TODAY = date(2026, 11, 30)


def test_every_market_of_the_issue_has_a_pack() -> None:
    assert {"EU", "FR", "DE", "ES", "IT", "BE", "NL", "IE"} <= set(BOOK.packs)
    assert all(BOOK.packs[m].extends == "EU" for m in BOOK.markets())


@pytest.mark.parametrize(("market", "rule"), ALL_RULES, ids=[r.id for _m, r in ALL_RULES])
def test_every_rule_carries_its_source_and_dates(market: str, rule: rules.Rule) -> None:
    assert rule.source.citation.strip()
    assert rule.source.url.startswith("https://"), rule.source.url
    assert rule.from_ <= (rule.until or date.max)
    assert rule.channels and set(rule.channels) <= set(rules.CHANNELS)
    assert rule.id.startswith(market), "rule ids name their market"
    # a rule decides something, or says what a contact or message must carry
    assert (
        rule.requires
        or rule.message
        or rule.window
        or rule.max_attempts
        or rule.consent_max_age
        or rule.proof_retention
        or rule.collection
    )


@pytest.mark.parametrize(
    ("market", "channel", "audience", "day", "requires", "deciding"),
    [
        ("FR", "sms", "consumers", TODAY, "consent", {"FR-CPCE-L34-5"}),
        ("FR", "email", "consumers", TODAY, "consent", {"FR-CPCE-L34-5"}),
        ("FR", "email", "businesses", TODAY, "opt-out", {"FR-CNIL-B2B-EMAIL"}),
        ("FR", "sms", "businesses", TODAY, "consent", {"EU-EPRIVACY-13-5"}),
        ("FR", "phone", "consumers", date(2026, 8, 10), "opt-out", {"FR-CONSO-L223-1-BLOCTEL"}),
        ("FR", "phone", "consumers", date(2026, 8, 11), "consent", {"FR-CONSO-L223-1-CONSENT"}),
        ("FR", "post", "consumers", TODAY, "opt-out", {"FR-GDPR-21-POST"}),
        ("DE", "email", "businesses", TODAY, "consent", {"DE-UWG-7-2-2"}),
        ("DE", "phone", "consumers", TODAY, "consent", {"DE-UWG-7-2-1-CONSUMERS"}),
        ("DE", "phone", "businesses", TODAY, "opt-out", {"DE-UWG-7-2-1-BUSINESSES"}),
        ("ES", "sms", "consumers", TODAY, "consent", {"ES-LSSI-21"}),
        ("ES", "phone", "consumers", TODAY, "opt-out", {"ES-LGTEL-66"}),
        ("IT", "sms", "consumers", TODAY, "consent", {"IT-CODICE-130-SMS"}),
        ("IT", "phone", "consumers", TODAY, "opt-out", {"IT-RPO-PHONE"}),
        ("BE", "phone", "businesses", TODAY, "opt-out", {"BE-CDE-VI-110"}),
        ("NL", "phone", "consumers", TODAY, "consent", {"NL-TW-11-7-2"}),
        ("IE", "email", "businesses", TODAY, "opt-out", {"IE-SI336-13-4"}),
        ("PT", "sms", "consumers", TODAY, "consent", {"EU-EPRIVACY-13-1"}),  # EU baseline
        ("PT", "phone", "consumers", TODAY, "consent", {"EU-EPRIVACY-13-3"}),
    ],
)
def test_requirements_per_market_channel_audience_and_day(
    market: str, channel: str, audience: str, day: date, requires: str, deciding: set[str]
) -> None:
    required = rules.requirement(BOOK, market, channel, audience, day)
    assert required.requires == requires
    assert {r.id for r in required.deciding} == deciding


def test_registries_come_with_their_rules_and_dates() -> None:
    before = rules.requirement(BOOK, "FR", "phone", "consumers", date(2026, 8, 10))
    after = rules.requirement(BOOK, "FR", "phone", "consumers", date(2026, 8, 11))
    assert [r.id for r in before.registries] == ["bloctel"]
    assert after.registries == ()
    italy = rules.requirement(BOOK, "IT", "phone", "consumers", TODAY)
    assert [(r.id, r.consent_overrides) for r in italy.registries] == [("rpo-it", False)]
    spain = rules.requirement(BOOK, "ES", "post", "consumers", TODAY)
    assert [(r.id, r.consent_overrides) for r in spain.registries] == [("robinson-es", True)]


def test_ireland_tells_mobiles_from_fixed_lines() -> None:
    mobile, fixed = rules.variants(BOOK, "IE", "phone", "consumers", TODAY)
    assert (mobile.number_type, mobile.requires) == ("mobile", "consent")
    assert (fixed.number_type, fixed.requires) == ("fixed_line", "opt-out")
    assert [r.id for r in fixed.registries] == ["ndd-ie"]


def test_french_calls_carry_hours_attempts_and_cooldown() -> None:
    calls = rules.requirement(BOOK, "FR", "phone", "consumers", TODAY)
    ((rule, window),) = calls.windows
    assert rule.id == "FR-CONSO-D223-9"
    assert window.describe() == "mon-fri 10:00-13:00, 14:00-20:00, no public holidays"
    assert [(a.count, a.period) for _r, a in calls.attempts] == [(4, "P30D")]
    assert [p for _r, p in calls.cooldowns] == ["P60D"]
    paris = "Europe/Paris"
    assert rules.in_window(window, datetime(2026, 11, 30, 9, 30, tzinfo=UTC), paris, "FR")
    assert not rules.in_window(window, datetime(2026, 11, 30, 12, 30, tzinfo=UTC), paris, "FR")
    assert not rules.in_window(window, datetime(2026, 11, 28, 9, 30, tzinfo=UTC), paris, "FR")
    armistice = datetime(2026, 11, 11, 9, 30, tzinfo=UTC)  # a Wednesday, a public holiday
    assert not rules.in_window(window, armistice, paris, "FR")


def test_unknown_market_is_refused_with_the_packs_named() -> None:
    with pytest.raises(RulesError, match=r"unknown market 'US'.*packs: BE, DE, ES, FR, IE"):
        rules.requirement(BOOK, "US", "sms", "consumers", TODAY)


def _pack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.toml"
    path.write_text(text, encoding="utf-8")
    return path


PT_PACK = """
market = "PT"
name = "Portugal"
extends = "EU"
[[rules]]
id = "PT-PHONE"
summary = "Calls to consumers may go ahead until they object."
channels = ["phone"]
requires = "opt-out"
from = 2020-01-01
source = { citation = "a law", url = "https://example.org/law" }
"""


def test_a_rule_pack_without_a_source_is_refused_naming_the_place(tmp_path: Path) -> None:
    path = _pack(
        tmp_path,
        PT_PACK.replace('source = { citation = "a law", url = "https://example.org/law" }', ""),
    )
    with pytest.raises(RulesError, match=r"pack.toml: rules\[0\].source: required field"):
        rules.load_pack(path)
    code, out, err = run("validate", DSE, "--rules", str(path))
    assert code == 1 and out == "" and "rules[0].source: required field is missing" in err
    undated = _pack(tmp_path, PT_PACK.replace("from = 2020-01-01", ""))
    with pytest.raises(RulesError, match=r"rules\[0\].from: required field"):
        rules.load_pack(undated)


def test_a_user_pack_joins_the_shipped_ones(tmp_path: Path) -> None:
    book = rules.book([_pack(tmp_path, PT_PACK)])
    assert "PT" in book.markets()
    assert rules.requirement(book, "PT", "phone", "consumers", TODAY).requires == "opt-out"
    assert rules.requirement(book, "PT", "sms", "consumers", TODAY).requires == "consent"


# --- what the rules refuse in a spec ---------------------------------------------------------


def _problems(data: dict[str, Any], day: date = TODAY) -> list[str]:
    with pytest.raises(SpecError) as info:
        validate_spec(data, at=day)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("offence", "expected"),
    [
        (
            "sms-on-legitimate-interests.toml",
            "purposes[0].legal_basis: SMS prospecting of consumers in FR requires prior consent "
            "(FR-CPCE-L34-5: CPCE art. L.34-5, https://www.legifrance.gouv.fr/",
        ),
        (
            "newsletter-on-legitimate-interests.toml",
            "purposes[0].legal_basis: E-mail prospecting of consumers in DE requires prior consent "
            "(DE-UWG-7-2-2: UWG § 7 Abs. 2 Nr. 2",
        ),
        (
            "fr-calls-on-legitimate-interests.toml",
            "purposes[1].legal_basis: Phone prospecting of consumers in FR requires prior consent "
            "(FR-CONSO-L223-1-CONSENT: C. consom. art. L.223-1",
        ),
        (
            "short-code-abroad.toml",
            "sms.opt_out_number: 36111 can be reached only from FR: people in DE could not opt out",
        ),
    ],
)
def test_optin_validate_refuses_each_offence(offence: str, expected: str) -> None:
    code, out, err = run("validate", str(OFFENCES / offence))
    assert code == 1 and out == ""
    assert expected in err, err


def test_french_calls_on_legitimate_interests_were_lawful_until_10_august_2026() -> None:
    path = str(OFFENCES / "fr-calls-on-legitimate-interests.toml")
    assert run("validate", "--at", "2026-08-10", path)[:2] == (0, f"{path}: ok\n")
    assert run("validate", "--at", "2026-08-11", path)[0] == 1


def test_the_examples_follow_the_law_of_today() -> None:
    code, out, err = run("validate", *(str(p) for p in sorted((ROOT / "examples").glob("*.toml"))))
    assert code == 0 and err == "" and out.count(": ok") == 2


def _li(data: dict[str, Any], interest: str = "faire connaître nos offres") -> None:
    data["purposes"][0]["legal_basis"] = "legitimate_interests"
    for text in data["purposes"][0]["text"].values():
        text.pop("label", None)
        text["legitimate_interest"] = interest


SOFT = {
    "obtained_in_sale": True,
    "own_similar_products": True,
    "opt_out_at_collection": True,
    "opt_out_in_every_message": True,
}


def test_soft_opt_in_needs_every_condition_of_the_market() -> None:
    data = minimal_data()
    _li(data)
    data["purposes"][0]["soft_opt_in"] = SOFT
    spec = build(data)
    assert spec.purposes[0].soft_opt_in is not None
    data["purposes"][0]["soft_opt_in"] = {**SOFT, "own_similar_products": False}
    assert _problems(data) == [
        "purposes[0].soft_opt_in.own_similar_products: SMS prospecting of consumers in FR: the "
        "existing-customer exception requires that the messages offer the sender's own similar "
        "products or services (FR-CPCE-L34-5: CPCE art. L.34-5, "
        "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000006465785)"
    ]
    data["purposes"][0]["soft_opt_in"] = SOFT
    data["markets"] = ["FR", "IE"]
    data["sms"]["opt_out_url"] = "https://example.fr/stop"
    assert any("soft_opt_in.within_12_months_of_sale" in p and " IE:" in p for p in _problems(data))


def test_no_existing_customer_exception_for_sms_in_italy() -> None:
    data = minimal_data()
    _li(data)
    data.update(markets=["IT"])
    data["sms"]["opt_out_country"] = "IT"
    data["purposes"][0]["soft_opt_in"] = SOFT
    assert any(
        p.startswith(
            "purposes[0].soft_opt_in: SMS prospecting of consumers in IT: the "
            "existing-customer exception does not apply"
        )
        for p in _problems(data)
    )


def test_a_consent_purpose_declares_no_exception() -> None:
    data = minimal_data()
    data["purposes"][0]["soft_opt_in"] = SOFT
    assert _problems(data)[0].startswith("purposes[0].soft_opt_in: a consent purpose needs no")


def test_spain_wants_a_free_opt_out(data: dict[str, Any]) -> None:
    data.update(markets=["ES"])
    data["sms"]["opt_out_country"] = "ES"
    data["sms"]["opt_out_cost"] = "standard-rate"
    problem = _problems(data)[0]
    assert problem.startswith("sms.opt_out_cost: SMS prospecting of consumers in ES: opting out")
    assert "ES-LSSI-21" in problem and "https://www.boe.es/" in problem
    data["sms"]["opt_out_cost"] = "free"
    build(data)


def test_an_unreachable_short_code_needs_another_route(data: dict[str, Any]) -> None:
    data.update(markets=["FR", "BE"])
    assert _problems(data) == [
        "sms.opt_out_number: 36111 can be reached only from FR: people in BE could not opt out;"
        " give an international number (+...) or sms.opt_out_url"
    ]
    data["sms"]["opt_out_url"] = "https://example.fr/stop"
    build(data)
    data["sms"].pop("opt_out_url")
    data["sms"]["opt_out_number"] = "+33612345678"  # an international long number
    build(data)


def test_unknown_and_duplicate_markets_are_named(data: dict[str, Any]) -> None:
    data.update(markets=["FR", "XK", "FR"])
    found = _problems(data)
    assert any(p.startswith("markets[1]: unknown market 'XK'") for p in found)
    assert "markets[2]: market 'FR' is listed twice" in found
    data.update(markets=["A1"])
    assert _problems(data)[0].startswith("markets[0]: expected an ISO 3166-1")


def test_irish_calls_on_legitimate_interests_warn_for_mobiles() -> None:
    data = minimal_data()
    data["controller"]["country"] = "IE"
    data.update(markets=["IE"])
    data["purposes"][0]["channel"] = "phone"
    _li(data, "making our offers known")
    del data["sms"]
    spec = build(data)
    (warning,) = check_spec(spec, at=TODAY)
    assert warning.path == "purposes[0].legal_basis"
    assert "Phone prospecting of consumers (mobile) in IE requires prior consent" in warning.message


# --- optin rules explain / list, and bad input -------------------------------------------------


def test_rules_explain_cites_every_rule_that_applies() -> None:
    code, out, _err = run("rules", "explain", DSE, "--at", "2026-11-30")
    assert code == 0
    for rule_id in (
        "FR-CPCE-L34-5",
        "FR-CONSO-L223-1-CONSENT",
        "FR-CONSO-L223-2",
        "FR-CONSO-D223-9",
        "FR-CONSO-L221-16",
        "FR-CNIL-RETENTION",
    ):
        assert rule_id in out
    assert "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000051830285" in out
    assert "contact only mon-fri 10:00-13:00, 14:00-20:00, no public holidays" in out
    assert "UNLAWFUL" not in out
    code, out, _err = run("rules", "explain", DSE, "--at", "2026-11-30", "--json")
    data = json.loads(out)
    assert data["ok"] is True and data["markets"] == ["FR"]
    (call,) = [p for p in data["purposes"] if p["id"] == "ad_call"]
    (france,) = call["markets"]
    assert france["requires"] == "consent" and france["ok"]
    assert {r["id"] for r in france["rules"]} >= {"FR-CONSO-L223-1-CONSENT", "FR-CONSO-D223-9"}
    assert all(r["url"].startswith("https://") and r["citation"] for r in france["rules"])


def test_rules_explain_shows_an_unlawful_spec_and_exits_1() -> None:
    path = str(OFFENCES / "sms-on-legitimate-interests.toml")
    code, out, _err = run("rules", "explain", path)
    assert code == 1
    assert "sms_offers: sms to consumers, legal basis legitimate_interests" in out
    assert "FR: UNLAWFUL: requires prior consent" in out
    old = run(
        "rules",
        "explain",
        str(OFFENCES / "fr-calls-on-legitimate-interests.toml"),
        "--at",
        "2026-08-10",
    )
    assert old[0] == 0 and "screen against Bloctel (bloctel" in old[1]


@pytest.mark.parametrize("command", [["validate", DSE], ["rules", "explain", DSE]])
def test_a_date_that_is_not_a_date_is_named(command: list[str]) -> None:
    code, out, err = run(*command, "--at", "tomorrow")
    assert code == 1 and out == ""
    assert err.strip() == "--at: expected a date like 2026-08-10, got 'tomorrow'"


def test_rules_list_shows_sources_and_dates() -> None:
    code, out, _err = run("rules", "list", "--market", "FR")
    assert code == 0
    assert "FR-CONSO-L223-1-BLOCTEL" in out and "until 2026-08-10" in out
    code, out, _err = run("rules", "list", "--market", "FR", "--at", "2026-11-30")
    assert "FR-CONSO-L223-1-BLOCTEL" not in out and "FR-CONSO-L223-1-CONSENT" in out
    code, _out, err = run("rules", "list", "--market", "US")
    assert code == 1 and "unknown market 'US'" in err
