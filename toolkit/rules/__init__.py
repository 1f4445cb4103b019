"""Channel law as data: dated, sourced rule packs per market, and the functions that apply them.

A rule says, for a market, a channel (sms, email, phone, post) and an audience (consumers,
businesses), what a contact needs (prior consent, or an opt-out with the registries to screen),
what each message carries, when contact is allowed, with its legal source and its dates of
effect. The packs are ``packs/<market>.toml``; ``EU`` is the baseline for EU and EEA markets.
This package knows nothing of specs: ``spec.py`` and ``proof/decision.py`` ask it with facts.
"""

from .apply import (
    CHANNEL_WORDS,
    CONDITION_WORDS,
    Finding,
    Requirement,
    add_duration,
    check_purpose,
    cite,
    days,
    in_window,
    requirement,
    variants,
)
from .load import EU_EEA, PACKS_DIR, RuleBook, book, load_pack, merge, parse_pack, shipped
from .model import (
    AUDIENCES,
    CHANNELS,
    Attempts,
    Pack,
    Preset,
    Registry,
    Rule,
    Source,
    Window,
)

__all__ = [
    "AUDIENCES",
    "CHANNELS",
    "CHANNEL_WORDS",
    "CONDITION_WORDS",
    "EU_EEA",
    "PACKS_DIR",
    "Attempts",
    "Finding",
    "Pack",
    "Preset",
    "Registry",
    "Requirement",
    "Rule",
    "RuleBook",
    "Source",
    "Window",
    "add_duration",
    "book",
    "check_purpose",
    "cite",
    "days",
    "in_window",
    "load_pack",
    "merge",
    "parse_pack",
    "requirement",
    "shipped",
    "variants",
]
