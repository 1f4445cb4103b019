"""Proof of consent: an append-only, hash-chained ledger of grants, withdrawals and oppositions.

``records`` says what a record is and how it is hashed; ``schema`` and ``store`` keep the chain
(SQLite or PostgreSQL); ``commit`` serialises writes; ``chain`` seals and verifies; ``decision``
says who may be contacted; ``ledger`` is the façade over them; ``receipt`` gives the person a
receipt; ``audit`` checks a contact list before anyone is contacted.
"""

from ..errors import LedgerError, LedgerUnavailable
from .chain import VerifyResult
from .decision import Decision, Reason
from .ledger import Ledger
from .records import ACTIONS, METHODS, ConsentEvent, minimise_ip, normalise_subject
from .store import database_url

__all__ = [
    "ACTIONS",
    "METHODS",
    "ConsentEvent",
    "Decision",
    "Ledger",
    "LedgerError",
    "LedgerUnavailable",
    "Reason",
    "VerifyResult",
    "database_url",
    "minimise_ip",
    "normalise_subject",
]
