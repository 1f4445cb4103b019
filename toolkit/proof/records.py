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
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..errors import LedgerError

# grant, withdraw and opposition decide whether a subject may be contacted; a contact records
# that the controller called or wrote (call caps and cool-downs count them), never a choice.
ACTIONS: tuple[str, ...] = (
    "grant",
    "withdraw",
    "opposition",
    "contact",
    "confirm",
    "notice-shown",  # a page showed these texts (the full notice displayed, or only linked)
    "notice-sent",  # a message went to the subject with these texts (its footer, a call script)
    "delivery",  # the carrier's delivery status of a notice-sent message (evidence.status)
    "redact",  # the subject's identifiers were replaced by their keyed digest (issue 12 item 7)
)
#: A carrier's delivery report, as the toolkit reads it: the message reached the phone, it
#: never will (failed, undelivered, expired, rejected), or the carrier cannot tell.
DELIVERY_STATUSES: tuple[str, ...] = ("delivered", "failed", "unknown")
CONSENT_ACTIONS: tuple[str, ...] = ("grant", "withdraw", "opposition")
# How the event reached us: a form, an SMS reply, the API, an import, or an objection received
# by e-mail, on the phone or by post (each must be recordable: GDPR Art. 21(3), 7(3)).
METHODS: tuple[str, ...] = (
    "web-form",
    "sms-reply",
    "api",
    "import",
    "email",
    "phone",
    "post",
    "code",  # a one-time code sent by SMS, typed on the page (double opt-in)
    "email-link",  # a link sent by e-mail, followed (double opt-in)
    "carrier",  # a delivery report from the carrier that sent the message
    "retention",  # a redaction: the proof's retention period ended
    "request",  # a redaction: an erasure request honoured before the retention ended
)
#: Grants captured where anyone can type anyone's number or address: pending until confirmed.
UNPROVEN_METHODS: frozenset[str] = frozenset({"web-form", "api"})
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


_Desc = tuple[frozenset[int], re.Pattern[str]] | None
# phonenumbers' precedence when several descriptions match a number (_number_type_helper)
_SPECIAL_TYPES = (
    ("premium_rate", phonenumbers.PhoneNumberType.PREMIUM_RATE),
    ("toll_free", phonenumbers.PhoneNumberType.TOLL_FREE),
    ("shared_cost", phonenumbers.PhoneNumberType.SHARED_COST),
    ("voip", phonenumbers.PhoneNumberType.VOIP),
    ("personal_number", phonenumbers.PhoneNumberType.PERSONAL_NUMBER),
    ("pager", phonenumbers.PhoneNumberType.PAGER),
    ("uan", phonenumbers.PhoneNumberType.UAN),
    ("voicemail", phonenumbers.PhoneNumberType.VOICEMAIL),
)


@cache
def _typer(
    code: int,
) -> tuple[str, _Desc, dict[str, _Desc], bool, re.Pattern[str] | None] | None:
    """A single-region country code's region, general description, descriptions by type and
    whether mobile and fixed lines share a pattern, compiled once (None: shared codes)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if len(regions) != 1:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    if metadata is None:
        return None

    def compiled(desc: Any) -> _Desc:
        pattern = getattr(desc, "national_number_pattern", None)
        if desc is None or not pattern:
            return None
        return frozenset(desc.possible_length or ()), re.compile(f"(?:{pattern})")

    names = ("mobile", "fixed_line", *(name for name, _kind in _SPECIAL_TYPES))
    descs = {name: compiled(getattr(metadata, name, None)) for name in names}
    same = bool(metadata.same_mobile_and_fixed_line_pattern)
    # One pass finds the first type, in phonenumbers' precedence, whose pattern matches: the
    # specials, then fixed line, then mobile (each group named after its type).
    order = [*(name for name, _kind in _SPECIAL_TYPES), "fixed_line", "mobile"]
    parts = [f"(?P<{n}>{d[1].pattern})" for n in order if (d := descs[n]) is not None]
    first = re.compile("|".join(parts)) if parts else None
    general = compiled(metadata.general_desc)
    patterns = [d[1].pattern for d in (general, *descs.values()) if d is not None]
    _FREE[code] = min((_free_digits(p[3:-1]) for p in patterns), default=0)  # "(?:...)"
    return regions[0], general, descs, same, first


_FREE_TAIL = re.compile(r"\\d\{(\d+)\}$")
_FREE: dict[int, int] = {}  # per country code: how many last digits no pattern looks at
_KINDS: dict[tuple[int, int, str], tuple[str, int]] = {}  # facts by code, length, prefix


def _free_digits(pattern: str) -> int:
    """How many last digits a metadata pattern leaves free: the least k over its top-level
    alternatives, each of which must end with ``\\d{k}`` outside every group
    (``(?:6[0-9]|7[3-9])\\d{6}|8\\d{7}``: 6), else 0."""
    alternatives, depth, index, in_class, begin = [], 0, 0, False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            alternatives.append(pattern[begin:index])
            begin = index + 1
        index += 1
    if depth != 0 or in_class:
        return 0
    alternatives.append(pattern[begin:])
    tails = [_FREE_TAIL.search(alternative) for alternative in alternatives]
    return min((int(tail.group(1)) if tail else 0) for tail in tails)


def _matches(nsn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


def number_facts(e164: str) -> tuple[str | None, int]:
    """The region (ISO 3166) and type (``phonenumbers.PhoneNumberType``) of a valid E.164
    number, from the same compiled metadata as the validity check: the decision asks this of
    every row of an audit, where phonenumbers' parser would cost 50 µs a number."""
    facts = _facts(e164)
    if facts is not None:
        return facts
    number = phonenumbers.parse(e164, None)
    return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)


def _facts(e164: str) -> tuple[str, int] | None:
    """``number_facts`` from the compiled metadata; None for a country code several regions
    share (+1, +7, +44...), which needs phonenumbers' region choice."""
    digits = e164[1:]
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            continue
        known = _typer(code)
        if known is None:
            return None
        nsn = digits[size:]
        # Every pattern of the country ignores the last `free` digits: numbers that differ
        # only there have the same facts (French mobiles: the first three digits decide).
        free = _FREE[code]
        key = (code, len(nsn), nsn[: len(nsn) - free]) if free >= 3 else None
        if key is not None:
            cached = _KINDS.get(key)
            if cached is not None:
                return cached
            if len(_KINDS) > 100_000:
                _KINDS.clear()
            _KINDS[key] = facts = _facts_of(known, nsn)
            return facts
        return _facts_of(known, nsn)
    return None


def _facts_of(
    known: tuple[str, _Desc, dict[str, _Desc], bool, re.Pattern[str] | None], nsn: str
) -> tuple[str, int]:
    """The region and type of a national significant number of a single-region code."""
    region, general, descs, same, first = known
    if not _matches(nsn, general) or first is None:
        return region, phonenumbers.PhoneNumberType.UNKNOWN
    found = first.fullmatch(nsn)
    if found is None:  # no type's pattern matches
        return region, phonenumbers.PhoneNumberType.UNKNOWN
    name = found.lastgroup or ""
    # The first pattern in precedence order matched; when its length is allowed too, no
    # earlier type can claim the number, and the answer is phonenumbers' own.
    if _matches(nsn, descs.get(name)):
        if name in _KIND:
            return region, _KIND[name]
        if name == "mobile":
            return region, phonenumbers.PhoneNumberType.MOBILE
        if same or _matches(nsn, descs["mobile"]):  # fixed_line
            return region, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
        return region, phonenumbers.PhoneNumberType.FIXED_LINE
    return region, _precise(nsn, descs, same)


def _precise(nsn: str, descs: dict[str, _Desc], same: bool) -> int:
    """phonenumbers' _number_type_helper, description by description (the general one
    already matched)."""
    for name, kind in _SPECIAL_TYPES:
        if _matches(nsn, descs[name]):
            return kind
    if _matches(nsn, descs["fixed_line"]):
        if same or _matches(nsn, descs["mobile"]):
            return phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
        return phonenumbers.PhoneNumberType.FIXED_LINE
    if not same and _matches(nsn, descs["mobile"]):
        return phonenumbers.PhoneNumberType.MOBILE
    return phonenumbers.PhoneNumberType.UNKNOWN


_KIND = dict(_SPECIAL_TYPES)


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
def _national_prefix(region: str) -> tuple[int, str, frozenset[int]] | None:
    """A region's country code, national prefix ("0" for FR) and the possible lengths of its
    national numbers, from phonenumbers' data."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None or metadata.country_code is None:
        return None
    general = metadata.general_desc
    lengths = frozenset(general.possible_length or ()) if general is not None else frozenset()
    return int(metadata.country_code), metadata.national_prefix or "", lengths


def national_format(text: str, region: str | None) -> str | None:
    """A national number of ``region`` ("06 12 34 56 78" in FR) in E.164 by its form alone:
    digits of a possible length, after the national prefix when there is one. For bulk lists,
    where an entry that is not a real number is harmless (it matches nobody); None when the
    form differs."""
    if region is None:
        return None
    known = _national_prefix(region)
    if known is None:
        return None
    code, prefix, lengths = known
    digits = text if text.isdigit() else text.translate(_SEPARATORS)
    if not digits.isdigit():
        return None
    national = digits[len(prefix) :] if prefix and digits.startswith(prefix) else digits
    return f"+{code}{national}" if not lengths or len(national) in lengths else None


def _national_fast(text: str, region: str | None) -> str | None:
    """A national number in the usual format ("06 12 34 56 78" in FR) as E.164, validated
    without the general parser; None when unsure (the full parser then decides)."""
    candidate = national_format(text, region)
    return (_e164_fast(candidate) or None) if candidate else None


def read_subject(text: str, region: str | None = None) -> tuple[str, tuple[str | None, int] | None]:
    """A subject normalised as ``normalise_subject`` does, with its number's region and type
    when it is a number: in one pass for E.164 input, since phonenumbers' validity is "has a
    type" (the audit reads millions). Raises LedgerError like ``normalise_subject``."""
    stripped = text.strip()
    if _E164.fullmatch(stripped):
        facts = _facts(stripped)
        if facts is not None and facts[1] != phonenumbers.PhoneNumberType.UNKNOWN:
            return stripped, facts
    key = normalise_subject(stripped, region)
    return key, (number_facts(key) if key.startswith("+") else None)


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


DIGEST_PREFIX = "hmac-sha256:"


def digest_subject(key: bytes, subject: str) -> str:
    """A normalised subject's keyed digest: what the chain covers, and what stays of the
    subject once redacted (so that an objection still blocks the same number). Keyed, since a
    plain hash of a phone number is undone by trying every number."""
    inner, outer = _pads(key)
    digest = inner.copy()
    digest.update(subject.encode())
    result = outer.copy()
    result.update(digest.digest())
    return DIGEST_PREFIX + str(result.hexdigest())


@lru_cache(maxsize=8)
def _pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) with its key pads hashed once: a verify or an audit digests
    millions of subjects, and ``hmac.digest`` sets the key up again each time (5x slower)."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def new_salt() -> str:
    """A record's random salt (16 bytes, hex): its seal cannot be undone by trying numbers."""
    return os.urandom(16).hex()


def seal_subject(salt: str, subject: str) -> str:
    """The salted hash of a subject that a record's hash covers."""
    return "sha256:" + hashlib.sha256(bytes.fromhex(salt) + subject.encode()).hexdigest()


def subject_problem(item: ConsentEvent) -> str:
    """What is wrong with how a record holds its subject, keyless ("" when nothing): a kept
    subject must match its seal; a redacted one is its digest, with no salt left."""
    if not item.subject_digest:
        return ""  # schema 2: the hash covers the subject itself
    if is_redacted(item.subject):
        if item.subject != item.subject_digest or item.subject_salt:
            return "a redacted subject must be its digest, with no salt"
        return ""
    try:
        sealed = seal_subject(item.subject_salt, item.subject)
    except ValueError:
        return "the subject's salt is not hex"
    return "" if sealed == item.subject_seal else "subject does not match its seal (changed)"


def is_redacted(subject: str) -> bool:
    """Whether a stored subject is a redacted one (its digest); no normalised number or
    address starts so."""
    return subject.startswith(DIGEST_PREFIX)


def hash_key(hex_digest: str) -> int:
    """The key of a subject given as the hex SHA-256 of its normalised form (hashed lists)."""
    return int.from_bytes(bytes.fromhex(hex_digest)[:8], "big", signed=True)


def minimise_ip(address: str) -> str:
    """An IP address truncated for data minimisation: IPv4 to /24, IPv6 to /48."""
    ip = ipaddress.ip_address(address.strip())
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


_EVIDENCE = (
    "form_url",
    "user_agent",
    "ip",
    "channel_id",
    "message",
    "full_notice",
    "message_id",
    "status",
)


def minimise_evidence(evidence: Mapping[str, Any] | None) -> dict[str, str]:
    """Keep the evidence that proves how consent was given, and nothing more."""
    kept: dict[str, str] = {}
    for key, value in (evidence or {}).items():
        if key not in _EVIDENCE:
            raise LedgerError(f"evidence.{key}: unknown field ({', '.join(_EVIDENCE)})")
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


def iso_utc(moment: datetime) -> str:
    """A moment as records store it, UTC ISO 8601 with milliseconds (2026-11-30T09:15:02.123Z):
    such strings compare as the times they are."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as records store it."""
    return iso_utc(datetime.now(UTC))


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
    # Schema 3 ("" in older records): the subject's keyed digest, a random salt, and the
    # salted hash of the subject (its seal). Redacting erases the subject and the salt.
    subject_digest: str = ""
    subject_salt: str = ""
    subject_seal: str = ""

    def body(self) -> dict[str, Any]:
        """Every field the hash covers (all but the hash and the salt). The hash covers the
        subject through its digest and its seal, so that erasing the subject and the salt
        (redaction) keeps the chain whole, while the seal binds a kept subject to the record
        for anyone, keyless; a record of schema 2 or before covers the subject itself."""
        return {
            "id": self.id,
            **(
                {"subject_digest": self.subject_digest, "subject_seal": self.subject_seal}
                if self.subject_digest
                else {"subject": self.subject}
            ),
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
