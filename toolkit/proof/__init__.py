"""Proof of consent: an append-only, hash-chained ledger of grants, withdrawals and oppositions.

``records.py`` says what a record is and how it is hashed; ``ledger.py`` stores and verifies the
chain (SQLite or PostgreSQL); ``receipt.py`` gives the person a receipt; ``audit.py`` checks a
contact list against the ledger before anyone is contacted.
"""

from .ledger import Decision, Ledger, VerifyResult, database_url
from .records import ACTIONS, METHODS, ConsentEvent, LedgerError, minimise_ip, normalise_subject

__all__ = [
    "ACTIONS",
    "METHODS",
    "ConsentEvent",
    "Decision",
    "Ledger",
    "LedgerError",
    "VerifyResult",
    "database_url",
    "minimise_ip",
    "normalise_subject",
]
