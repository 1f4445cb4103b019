"""Reading rule packs: the shipped ones (``packs/*.toml``) and any a user adds.

Every pack is checked like a spec: a rule with no source, no date or an unknown channel is a
``RulesError`` naming the file and the place (``fr.toml: rules[2].source: ...``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import RulesError
from .model import Pack, Preset, Registry

PACKS_DIR = Path(__file__).resolve().parent / "packs"

# Member states of the EU and the other EEA states, where Directive 2002/58/EC applies: a
# market among them without a pack of its own follows the EU baseline.
EU_EEA = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
    "IS LI NO".split()
)


def _place(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_pack(path: str | Path) -> Pack:
    """Read and check one pack file (TOML)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: invalid TOML: {exc}") from None
    return parse_pack(data, str(path))


def parse_pack(data: Mapping[str, Any], name: str) -> Pack:
    """Check a decoded pack; every problem with its place."""
    try:
        return Pack.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = _place(error["loc"]) or "pack"
            kind = error["type"]
            if kind == "missing":
                what = "required field is missing (every rule carries its source and dates)"
            elif kind == "extra_forbidden":
                what = "unknown field (check its spelling)"
            else:
                what = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {where}: {what}")
        raise RulesError("\n".join(lines)) from None


@dataclass(frozen=True)
class RuleBook:
    """Every pack by market; ``EU`` is the baseline."""

    packs: Mapping[str, Pack]

    def pack(self, market: str) -> Pack:
        """The market's own pack, or the EU baseline for an EU/EEA market without one."""
        if market in self.packs and market != "EU":
            return self.packs[market]
        if market in EU_EEA:
            return self.packs["EU"]
        raise RulesError(
            f"unknown market {market!r}: no rule pack (packs: {', '.join(self.markets())}; "
            "other EU and EEA countries follow the EU baseline)"
        )

    def markets(self) -> list[str]:
        """The markets with a pack of their own."""
        return sorted(m for m in self.packs if m != "EU")

    def known(self, market: str) -> bool:
        """Whether rules exist for a market (its own pack, or the EU baseline)."""
        return (market in self.packs and market != "EU") or market in EU_EEA

    def registry(self, registry_id: str) -> Registry | None:
        """A registry by id, from any pack."""
        for pack in self.packs.values():
            for registry in pack.registries:
                if registry.id == registry_id:
                    return registry
        return None

    def preset(self, preset_id: str) -> Preset | None:
        """A sending-window preset by id, from any pack."""
        for pack in self.packs.values():
            for preset in pack.presets:
                if preset.id == preset_id:
                    return preset
        return None

    def presets(self) -> list[Preset]:
        """Every preset of every pack."""
        return [preset for pack in self.packs.values() for preset in pack.presets]


def merge(packs: Iterable[Pack]) -> RuleBook:
    """A book from packs; two packs of one market are joined (ids must not clash)."""
    by_market: dict[str, Pack] = {}
    for pack in packs:
        if pack.market in by_market:
            first = by_market[pack.market]
            joined = {
                "rules": (*first.rules, *pack.rules),
                "registries": (*first.registries, *pack.registries),
                "presets": (*first.presets, *pack.presets),
            }
            data = first.model_dump(by_alias=True) | {
                k: [item.model_dump(by_alias=True) for item in v] for k, v in joined.items()
            }
            by_market[pack.market] = parse_pack(data, f"{pack.market} packs joined")
        else:
            by_market[pack.market] = pack
    if "EU" not in by_market:
        raise RulesError('the EU baseline pack (market = "EU") is missing')
    return RuleBook(by_market)


@cache
def shipped() -> RuleBook:
    """The packs shipped with the toolkit (read once)."""
    return merge(load_pack(path) for path in sorted(PACKS_DIR.glob("*.toml")))


def book(extra: Iterable[str | Path] = ()) -> RuleBook:
    """The shipped packs, joined with any extra pack files."""
    files = list(extra)
    if not files:
        return shipped()
    return merge([*shipped().packs.values(), *(load_pack(path) for path in files)])
