"""Every EU and EEA country has a complete default supervisory authority (issue 15, item 3)."""

from __future__ import annotations

from typing import Any

import pytest
from babel import Locale
from babel.languages import get_official_languages
from conftest import build, minimal_data

from toolkit.authorities import AUTHORITIES, DATA_FILE, NAMES_EN, RECORDS, load

# The 27 EU member states (TEU Art. 52) and the EEA EFTA states; the EU lists Greece as EL,
# ISO 3166-1 (and so a spec's controller.country) as GR.
EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
EEA_EFTA = ("IS", "LI", "NO")
COUNTRIES = (*EU, *EEA_EFTA)


def test_country_list_is_the_eu_and_eea() -> None:
    assert len(EU) == 27 and len(set(COUNTRIES)) == 30


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_eu_and_eea_country_has_a_complete_entry(country: str) -> None:
    assert country in AUTHORITIES, f"no default supervisory authority for {country}"
    record = RECORDS[country]
    for field in ("name", "name_en", "address", "website", "source"):
        value = record[field]  # type: ignore[literal-required]
        assert isinstance(value, str) and value.strip(), f"{country}: empty {field}"
    assert record["website"].startswith("https://")
    assert record["source"].startswith("https://")
    assert isinstance(record["checked"], bool)
    if not record["checked"]:
        assert record.get("note"), f"{country}: an unchecked entry says what is confirmed"
    assert NAMES_EN[country] == record["name_en"]
    assert AUTHORITIES[country] == {
        "name": record["name"],
        "address": record["address"],
        "website": record["website"],
    }


@pytest.mark.parametrize("country", COUNTRIES)
def test_address_names_the_country_in_a_local_language(country: str) -> None:
    # CLDR's name for the country in one of its official languages, e.g. "Österreich"
    names = {
        Locale.parse(lang).territories[country]
        for lang in get_official_languages(country, de_facto=True)
    }
    address = AUTHORITIES[country]["address"]
    assert any(name in address for name in names), f"{country}: {address!r} names none of {names}"


def test_no_entry_outside_the_eu_and_eea() -> None:
    assert set(AUTHORITIES) == set(COUNTRIES)


@pytest.mark.parametrize("country", COUNTRIES)
def test_spec_without_authority_defaults_from_controller_country(country: str) -> None:
    data: dict[str, Any] = minimal_data()
    data["controller"]["country"] = country
    data["sms"]["opt_out_cost"] = "free"  # a rule pack (ES) asks for it; not this test's subject
    assert "authority" not in data
    spec = build(data)
    authority = spec.supervisory_authority
    expected = AUTHORITIES[country]
    assert (authority.name, authority.address, authority.website) == (
        expected["name"],
        expected["address"],
        expected["website"],
    )
    assert spec.supervisory_authority_country == country


def test_german_note_is_kept_in_the_data_file() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    assert "one authority per Land for private companies" in text
    assert "not necessarily the competent one" in text


def test_load_refuses_an_incomplete_entry(tmp_path: Any) -> None:
    path = tmp_path / "authorities.toml"
    path.write_text(
        '[XX]\nname = "A"\nname_en = ""\naddress = "B"\nwebsite = "https://a.example"\n'
        'source = "https://a.example"\nchecked = true\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"\[XX\]: name_en must be a non-empty string"):
        load(path)
    path.write_text(
        '[XX]\nname = "A"\nname_en = "A"\naddress = "B"\nwebsite = "http://a.example"\n'
        'source = "https://a.example"\nchecked = true\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="website must start with https://"):
        load(path)
