"""Supervisory authorities (GDPR Art. 51) by controller country, used as the spec's default.

Each entry is the national authority that receives complaints (Art. 77), for every EU and EEA
country. The data is ``authorities.toml`` next to this module (name in the local language and
in English, postal address, website, where it was checked), read once at import. Germany has
one authority per Land for private companies besides the federal BfDI: a German controller
should name its Land authority in the spec's ``[authority]`` table; the BfDI default is a valid
authority to complain to, not necessarily the competent one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, NotRequired, TypedDict

DATA_FILE = Path(__file__).with_name("authorities.toml")


class AuthorityData(TypedDict):
    """The fields of a spec ``Authority``: name, postal address, https website."""

    name: str
    address: str
    website: str


class AuthorityRecord(TypedDict):
    """One entry of ``authorities.toml``: the spec's fields, the English name and provenance."""

    name: str
    name_en: str
    address: str
    website: str
    source: str
    checked: bool
    note: NotRequired[str]


_TEXT_FIELDS = ("name", "name_en", "address", "website", "source")


def _record(code: str, entry: Any) -> AuthorityRecord:
    """Check one table of the data file: every text field present and non-empty, https."""
    where = f"{DATA_FILE.name} [{code}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = set(entry) - {*_TEXT_FIELDS, "checked", "note"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for field in _TEXT_FIELDS:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: {field} must be a non-empty string")
    for field in ("website", "source"):
        if not entry[field].startswith("https://"):
            raise ValueError(f"{where}: {field} must start with https://")
    if not isinstance(entry.get("checked"), bool):
        raise ValueError(f"{where}: checked must be true or false")
    record = AuthorityRecord(
        name=entry["name"],
        name_en=entry["name_en"],
        address=entry["address"],
        website=entry["website"],
        source=entry["source"],
        checked=entry["checked"],
    )
    if "note" in entry:
        if not isinstance(entry["note"], str):
            raise ValueError(f"{where}: note must be a string")
        record["note"] = entry["note"]
    return record


def load(path: Path = DATA_FILE) -> dict[str, AuthorityRecord]:
    """Read and check the data file: country code -> its authority's record."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {code: _record(code, entry) for code, entry in data.items()}


RECORDS: dict[str, AuthorityRecord] = load()
"""Every entry of the data file, with its English name and where it was checked."""

AUTHORITIES: dict[str, AuthorityData] = {
    code: {"name": r["name"], "address": r["address"], "website": r["website"]}
    for code, r in RECORDS.items()
}
"""Country code -> the default authority's spec fields (``Authority(**AUTHORITIES[code])``)."""

NAMES_EN: dict[str, str] = {code: r["name_en"] for code, r in RECORDS.items()}
"""Country code -> the default authority's name in English."""
