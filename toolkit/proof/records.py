"""Consent records: what one event says, how its subject and evidence are minimised, its hash.

A record's hash is SHA-256 over a canonical JSON serialisation of every field and the previous
record's hash, so each record seals the whole chain before it (GDPR Art. 7(1): the controller
must be able to demonstrate consent; EDPB 05/2020 §§104-108).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..errors import LedgerError

# grant, withdraw and opposition decide whether a subject may be contacted; a contact records
# that the controller called or wrote (call caps and cool-downs count them), never a choice.
ACTIONS: tuple[str, ...] = ("grant", "withdraw", "opposition", "contact")
CONSENT_ACTIONS: tuple[str, ...] = ("grant", "withdraw", "opposition")
# How the event reached us: a form, an SMS reply, the API, an import, or an objection received
# by e-mail, on the phone or by post (each must be recordable: GDPR Art. 21(3), 7(3)).
METHODS: tuple[str, ...] = ("web-form", "sms-reply", "api", "import", "email", "phone", "post")
GENESIS = "sha256:" + "0" * 64  # the prev_hash of the first record


_E164 = re.compile(r"\+([1-9]\d{6,14})")


# Any one matching type makes a number valid, so the common ones are tried first.
_DESCS = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_Matcher = tuple[
    tuple[frozenset[int], re.Pattern[str]], list[tuple[frozenset[int], re.Pattern[str]]]
]


@cache
def _matcher(code: int) -> _Matcher | None:
    """phonenumbers' validity rule for a country code with a single region, compiled once:
    the general description and at least one number type must match (length, then pattern)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if len(regions) != 1:
        return None  # shared codes (+1, +7, +44...) need phonenumbers' region choice
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    if metadata is None or metadata.general_desc is None:
        return None

    def compiled(desc: Any) -> tuple[frozenset[int], re.Pattern[str]] | None:
        pattern = getattr(desc, "national_number_pattern", None)
        if not pattern:
            return None
        return frozenset(desc.possible_length or ()), re.compile(f"(?:{pattern})")

    general = compiled(metadata.general_desc)
    if general is None:
        return None
    types = [c for c in (compiled(getattr(metadata, name)) for name in _DESCS) if c]
    return general, types


def _valid(code: int, nsn: str) -> bool | None:
    """Is the national significant number valid? None when only phonenumbers can say."""
    compiled = _matcher(code)
    if compiled is None:
        return None
    (lengths, pattern), types = compiled
    if (lengths and len(nsn) not in lengths) or not pattern.fullmatch(nsn):
        return False
    return any((not sizes or len(nsn) in sizes) and rule.fullmatch(nsn) for sizes, rule in types)


def _e164_fast(text: str) -> str | None:
    """A valid E.164 input, confirmed without phonenumbers' general parser (5x faster): split
    off the country code, build the number, let phonenumbers validate it. None or "" when
    the input needs the full parser (which may still read it, e.g. "+43 0664...")."""
    match = _E164.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1)
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            verdict = _valid(code, national)
            if verdict is not None:
                return text if verdict else ""
            zeros = len(national) - len(national.lstrip("0"))
            number = phonenumbers.PhoneNumber(
                country_code=code,
                national_number=int(national or "0"),
                italian_leading_zero=True if zeros else None,
                number_of_leading_zeros=zeros if zeros > 1 else None,
            )
            return text if phonenumbers.is_valid_number(number) else ""
    return ""


_SEPARATORS = str.maketrans("", "", " .-/()\t")


@cache
def _national_prefix(region: str) -> tuple[int, str] | None:
    """A region's country code and national prefix ("0" for FR), from phonenumbers' data."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None or metadata.country_code is None:
        return None
    return int(metadata.country_code), metadata.national_prefix or ""


def _national_fast(text: str, region: str | None) -> str | None:
    """A national number in the usual format ("06 12 34 56 78" in FR) as E.164, without the
    general parser (registry files hold millions of them); None when unsure."""
    if region is None:
        return None
    digits = text.translate(_SEPARATORS)
    known = _national_prefix(region)
    if not digits.isdigit() or known is None:
        return None
    code, prefix = known
    if prefix and digits.startswith(prefix):
        digits = digits[len(prefix) :]
    return _e164_fast(f"+{code}{digits}") or None


def normalise_subject(subject: str, region: str | None = None) -> str:
    """A phone number as E.164 (``+33612345678``) or an e-mail lower-cased; else LedgerError.

    ``region`` (ISO 3166, e.g. FR) reads national numbers such as ``06 12 34 56 78``.
    """
    text = subject.strip()
    if "@" in text:
        try:
            return validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            raise LedgerError(f"invalid e-mail address {subject!r}") from None
    fast = _e164_fast(text) or _national_fast(text, region)
    if fast:
        return fast
    try:  # national formats, and the lenient readings phonenumbers makes of odd E.164 input
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise LedgerError(f"invalid phone number {subject!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def subject_key(subject: str) -> int:
    """A normalised subject as a suppression-list key: the first 8 bytes of its SHA-256, as a
    signed 64-bit integer. Registries are kept as keys, never as numbers."""
    return int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big", signed=True)


def hash_key(hex_digest: str) -> int:
    """The key of a subject given as the hex SHA-256 of its normalised form (hashed lists)."""
    return int.from_bytes(bytes.fromhex(hex_digest)[:8], "big", signed=True)


def minimise_ip(address: str) -> str:
    """An IP address truncated for data minimisation: IPv4 to /24, IPv6 to /48."""
    ip = ipaddress.ip_address(address.strip())
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def minimise_evidence(evidence: Mapping[str, Any] | None) -> dict[str, str]:
    """Keep the evidence that proves how consent was given, and nothing more."""
    kept: dict[str, str] = {}
    for key, value in (evidence or {}).items():
        if key not in ("form_url", "user_agent", "ip", "channel_id", "message"):
            raise LedgerError(
                f"evidence.{key}: unknown field (form_url, user_agent, ip, channel_id, message)"
            )
        if value is None:
            continue
        text = str(value)[:500]
        if key == "ip":
            try:
                text = minimise_ip(text)
            except ValueError:
                raise LedgerError(f"evidence.ip: not an IP address: {value!r}") from None
        kept[key] = text
    return kept


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562, section 5.7): 48 bits of Unix milliseconds, then 74 random bits.
    Time-ordered ids make the ledger's id index grow at its end: an append rewrites one
    page there instead of a random page of the whole index."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10 (RFC 9562)
    return str(uuid.UUID(int=value))


def utc_now() -> str:
    """The current time in UTC, ISO 8601 with milliseconds: 2026-11-30T09:15:02.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ConsentEvent:
    """One grant, withdrawal or opposition, sealed into the chain by ``hash``."""

    id: str
    subject: str
    purpose: str
    action: str
    method: str
    versions: dict[str, str]
    locale: str
    at: str
    evidence: dict[str, str] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Every field the hash covers (all but the hash itself)."""
        return {
            "id": self.id,
            "subject": self.subject,
            "purpose": self.purpose,
            "action": self.action,
            "method": self.method,
            "versions": dict(self.versions),
            "locale": self.locale,
            "at": self.at,
            "evidence": dict(self.evidence),
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        """The hash this record's fields and ``prev_hash`` call for."""
        return compute_hash(self.body())

    def as_json(self) -> dict[str, Any]:
        """The record as stored and exported (stable keys)."""
        return asdict(self)


def canonical(body: Mapping[str, Any]) -> bytes:
    """Canonical serialisation: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(body: Mapping[str, Any]) -> str:
    """``sha256:`` of the canonical serialisation of a record body."""
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
