"""Shared fixtures: the example specs and a small valid spec to vary in tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import toolkit
from toolkit.spec import Spec, validate_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
LOCALES = ("fr", "en", "de", "es", "it")


def minimal_data(locales: tuple[str, ...] = ("fr", "en")) -> dict[str, Any]:
    """A small valid spec as a dict: one consent purpose by SMS, French controller."""
    texts = {
        "fr": ("Offres par SMS", "Vous envoyer nos offres.", "J'accepte les offres par SMS."),
        "en": ("Offers by SMS", "Sending you our offers.", "I agree to offers by SMS."),
        "de": ("Angebote per SMS", "Wir senden Ihnen Angebote.", "Ich willige in SMS ein."),
        "es": ("Ofertas por SMS", "Enviarle nuestras ofertas.", "Acepto ofertas por SMS."),
        "it": ("Offerte via SMS", "Inviarle le nostre offerte.", "Acconsento alle offerte SMS."),
    }
    return {
        "locales": list(locales),
        "notice_url": "https://example.fr/donnees",
        "controller": {"name": "Exemple SARL", "country": "FR", "email": "rgpd@example.fr"},
        "purposes": [
            {
                "id": "sms_offers",
                "channel": "sms",
                "legal_basis": "consent",
                "retention": "P3Y",
                "text": {
                    loc: {
                        "name": texts[loc][0],
                        "description": texts[loc][1],
                        "label": texts[loc][2],
                    }
                    for loc in locales
                },
            }
        ],
        "sms": {"sender": "EXEMPLE", "opt_out_number": "36111"},
    }


@pytest.fixture
def data() -> dict[str, Any]:
    """A fresh copy of the minimal spec data, free to modify."""
    return copy.deepcopy(minimal_data())


@pytest.fixture(scope="session")
def examples() -> dict[str, Spec]:
    """Every spec in examples/, loaded once."""
    return {path.stem: toolkit.load_spec(path) for path in EXAMPLES}


def build(data: dict[str, Any]) -> Spec:
    """Validate a spec dict (fresh object, so nothing is memoised across tests)."""
    return validate_spec(copy.deepcopy(data))
