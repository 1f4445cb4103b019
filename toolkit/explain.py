"""What the channel law says of a spec: per purpose and market, every rule that applies, what
it requires and why, with its source. The report a legal reviewer reads first
(``optin rules explain SPEC``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .rules import CHANNELS, Registry, Requirement, Rule, RuleBook, check_purpose, variants
from .spec import Spec


@dataclass(frozen=True)
class MarketReport:
    """One purpose in one market (and, where the rules tell them apart, one kind of number)."""

    required: Requirement
    problems: tuple[str, ...]  # why the purpose breaks a rule here ("" when it does not)

    def as_json(self) -> dict[str, Any]:
        """The report as ``rules explain --json`` prints it (stable keys)."""
        req = self.required
        return {
            "market": req.market,
            "number_type": req.number_type,
            "requires": req.requires,
            "soft_opt_in": None if req.soft_opt_in is None else list(req.soft_opt_in),
            "except_contract": req.except_contract,
            "ok": not self.problems,
            "problems": list(self.problems),
            "message": list(req.message),
            "opt_out_cost": req.opt_out_cost,
            "windows": [{"rule": r.id, "window": w.describe()} for r, w in req.windows],
            "max_attempts": [
                {"rule": r.id, "count": a.count, "period": a.period} for r, a in req.attempts
            ],
            "cooldown_after_refusal": [{"rule": r.id, "period": p} for r, p in req.cooldowns],
            "consent_max_age": None
            if req.consent_max_age is None
            else {"rule": req.consent_max_age[0].id, "period": req.consent_max_age[1]},
            "proof_retention": None
            if req.proof_retention is None
            else {"rule": req.proof_retention[0].id, "period": req.proof_retention[1]},
            "collection": [{"rule": r.id, "text": t} for r, t in req.collection],
            "registries": [_registry_json(r) for r in req.registries],
            "rules": [_rule_json(r) for r in req.rules],
        }


@dataclass(frozen=True)
class PurposeReport:
    """What the rules say of one purpose, market by market."""

    id: str
    channel: str
    audience: str
    legal_basis: str
    direct_marketing: bool
    markets: tuple[MarketReport, ...]

    def as_json(self) -> dict[str, Any]:
        """Stable keys."""
        return {
            "id": self.id,
            "channel": self.channel,
            "audience": self.audience,
            "legal_basis": self.legal_basis,
            "direct_marketing": self.direct_marketing,
            "markets": [m.as_json() for m in self.markets],
        }


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule.kind,
        "summary": rule.summary,
        "citation": rule.source.citation,
        "url": rule.source.url,
        "from": rule.from_.isoformat(),
        "until": None if rule.until is None else rule.until.isoformat(),
        "note": rule.note,
    }


def _registry_json(registry: Registry) -> dict[str, Any]:
    return {
        "id": registry.id,
        "name": registry.name,
        "consent_overrides": registry.consent_overrides,
        "contract_overrides": registry.contract_overrides,
        "refresh": registry.refresh,
        "citation": registry.source.citation,
        "url": registry.source.url,
    }


def explain(spec: Spec, day: date, book: RuleBook) -> list[PurposeReport]:
    """Every purpose of ``spec`` against the rules of each of its markets on ``day``."""
    reports = []
    for purpose in spec.purposes:
        markets: list[MarketReport] = []
        if purpose.direct_marketing and purpose.channel in CHANNELS:
            declared = None if purpose.soft_opt_in is None else purpose.soft_opt_in.model_dump()
            for market in spec.target_markets:
                for required in variants(book, market, purpose.channel, purpose.audience, day):
                    findings = check_purpose(required, purpose.legal_basis, declared)
                    markets.append(MarketReport(required, tuple(f.message for f in findings)))
        reports.append(
            PurposeReport(
                purpose.id,
                purpose.channel,
                purpose.audience,
                purpose.legal_basis,
                purpose.direct_marketing,
                tuple(markets),
            )
        )
    return reports


def report_lines(reports: list[PurposeReport], day: date) -> list[str]:
    """The report as text: a block per purpose and market, every rule with its source."""
    out = [f"Channel law as of {day.isoformat()}"]
    for report in reports:
        out.append("")
        head = (
            f"{report.id}: {report.channel} to {report.audience}, legal basis {report.legal_basis}"
        )
        out.append(head)
        if not report.markets:
            why = (
                "not direct marketing"
                if not report.direct_marketing
                else f"no channel rule for {report.channel}"
            )
            out.append(f"  no channel rule applies ({why})")
            continue
        for item in report.markets:
            req = item.required
            verdict = "OK" if not item.problems else "UNLAWFUL"
            kind = "" if req.number_type is None else f", {req.number_type.replace('_', ' ')}"
            needs = {"consent": "prior consent", "opt-out": "no objection (opt-out)"}.get(
                str(req.requires), "no channel rule"
            )
            extras = []
            if req.soft_opt_in is not None:
                extras.append("existing customers: " + ", ".join(req.soft_opt_in))
            if req.except_contract:
                extras.append("calls within an ongoing contract")
            exception = f" (exceptions: {'; '.join(extras)})" if extras else ""
            out.append(f"  {req.market}{kind}: {verdict}: requires {needs}{exception}")
            for problem in item.problems:
                out.append(f"    ! {problem}")
            for rule in req.rules:
                label = "" if rule.kind == "law" else f" [{rule.kind}]"
                dates = f"from {rule.from_}" + (f" until {rule.until}" if rule.until else "")
                out.append(f"    - {rule.id}{label}: {rule.summary}")
                out.append(f"      {rule.source.citation} ({dates}) {rule.source.url}")
                if rule.note:
                    out.append(f"      note: {rule.note}")
            for registry in req.registries:
                override = (
                    "consent to you overrides it"
                    if registry.consent_overrides
                    else ("registration prevails over consent")
                )
                out.append(
                    f"    - screen against {registry.name} ({registry.id}; {override}): "
                    f"{registry.source.citation} {registry.source.url}"
                )
            if req.message:
                out.append(f"    each message carries: {', '.join(req.message)}")
            if req.opt_out_cost:
                cost = "free" if req.opt_out_cost == "free" else "no cost beyond transmission"
                out.append(f"    opting out costs: {cost}")
            for rule, window in req.windows:
                out.append(f"    contact only {window.describe()} ({rule.id})")
            for rule, attempts in req.attempts:
                out.append(
                    f"    at most {attempts.count} attempts in {attempts.period} ({rule.id})"
                )
            for rule, period in req.cooldowns:
                out.append(f"    no contact for {period} after a refusal ({rule.id})")
            if req.consent_max_age:
                rule, period = req.consent_max_age
                out.append(f"    consent older than {period} no longer allows contact ({rule.id})")
            if req.proof_retention:
                rule, period = req.proof_retention
                out.append(f"    keep the proof of consent {period} ({rule.id})")
            for rule, text in req.collection:
                out.append(f"    at collection: {text} ({rule.id})")
    return out
