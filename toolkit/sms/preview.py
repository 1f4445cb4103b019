"""An SMS exactly as it will be sent: the body plus the spec's footer, its analysis and warnings.

The footer (identity, free opt-out, notice link; on first contact also purpose and source) comes
from the rendering pipeline, so it is the very text the consent proof versions. Warnings tell the
marketer what the law or the bill will notice: an altered footer, a second opt-out in the body,
more segments than the spec allows, no way to reply, characters that force UCS-2.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from ..render import notice_context, render
from ..spec import Spec
from .rewrite import Change, gsm_safe
from .segments import SINGLE, UCS2, SmsAnalysis, SmsError, analyze

SEPARATOR = "\n"  # between body and footer; a line feed is one GSM-7 septet


class SmsWarning(NamedTuple):
    """A problem with a message: a stable code and a sentence for the marketer."""

    code: str
    message: str


class SmsPreview(NamedTuple):
    """The message as sent, its parts, analysis, warnings and any GSM-safe changes."""

    message: str
    body: str
    footer: str
    footer_version: str
    analysis: SmsAnalysis
    warnings: tuple[SmsWarning, ...]
    changes: tuple[Change, ...]

    @property
    def footer_budget(self) -> tuple[int, int]:
        """The footer's size and what it leaves for the body in one SMS: (units, left), in
        the footer's own encoding (a UCS-2 footer leaves room in a 70-unit SMS)."""
        footer = analyze(self.footer)
        left = SINGLE[footer.encoding] - footer.units - len(SEPARATOR)
        return footer.units, max(left, 0)

    def as_json(self) -> dict[str, object]:
        """Stable JSON form (documented in the README)."""
        units, left = self.footer_budget
        return {
            "message": self.message,
            "body": self.body,
            "footer": self.footer,
            "footer_version": self.footer_version,
            "footer_budget": {"units": units, "left_in_one_sms": left},
            "analysis": self.analysis.as_json(),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "changes": [
                {
                    "position": c.position,
                    "original": c.original,
                    "replacement": c.replacement,
                    "kind": c.kind,
                }
                for c in self.changes
            ],
        }


def _describe(changes: tuple[Change, ...]) -> str:
    return ", ".join(f"{c.original!r}->{c.replacement!r}" for c in changes)


def preview(
    spec: Spec,
    body: str,
    locale: str,
    first_contact: bool = False,
    *,
    gsm_safe_rewrite: bool = False,
    transliterate: bool = False,
) -> SmsPreview:
    """Compose ``body`` with the spec's footer for ``locale`` and say what to fix before sending.

    With ``gsm_safe_rewrite`` the body (and, with a warning for each change, the footer) is
    rewritten towards GSM-7; ``changes`` lists every change, with its position in the message
    as it was before the rewrite (body as typed, then the separator, then the footer).
    """
    sms = spec.sms
    if sms is None:
        raise SmsError("the spec has no [sms] section, so there is no SMS to preview")
    body = body.strip()
    if not body:
        raise SmsError("the message body is empty")
    rendered = render(spec, "sms-footer", locale, first_contact=first_contact)
    footer = rendered.text
    warnings: list[SmsWarning] = []
    changes: tuple[Change, ...] = ()
    if gsm_safe_rewrite:
        offset = len(body) + len(SEPARATOR)  # positions refer to the message before rewriting
        body, body_changes = gsm_safe(body, transliterate=transliterate)
        footer, footer_changes = gsm_safe(footer, transliterate=transliterate)
        changes = body_changes + tuple(
            c._replace(position=c.position + offset) for c in footer_changes
        )
        if footer_changes:
            warnings.append(
                SmsWarning(
                    "footer-altered",
                    f"the GSM-safe rewrite changed the legal footer ({_describe(footer_changes)}); "
                    "check that it still names the sender and the opt-out",
                )
            )
    message = f"{body}{SEPARATOR}{footer}"
    analysis = analyze(message)
    sms_view = notice_context(spec, rendered.locale).sms
    assert sms_view is not None
    opt_out = sms_view.opt_out
    warnings += _content_warnings(spec, body, footer, opt_out)
    if analysis.segments > sms.max_segments:
        warnings.append(
            SmsWarning(
                "too-many-segments",
                f"{analysis.segments} segments, more than the spec's sms.max_segments "
                f"({sms.max_segments}); shorten the body or send the information in a second SMS",
            )
        )
    if analysis.encoding == UCS2:
        warnings.append(_ucs2_warning(message, analysis, len(body) + len(SEPARATOR)))
    return SmsPreview(message, body, footer, rendered.version, analysis, tuple(warnings), changes)


def _content_warnings(spec: Spec, body: str, footer: str, opt_out: str) -> list[SmsWarning]:
    assert spec.sms is not None
    warnings = []
    name = spec.controller.name
    if name not in footer:
        warnings.append(SmsWarning("identity-missing", f"the footer no longer names {name!r}"))
    keyword = spec.sms.opt_out_keyword
    if keyword.casefold() not in footer.casefold():
        warnings.append(SmsWarning("opt-out-missing", f"the footer no longer carries {keyword!r}"))
    if re.search(rf"\b{re.escape(keyword)}\b", body, re.IGNORECASE) and opt_out not in body:
        warnings.append(
            SmsWarning(
                "opt-out-conflict",
                f"the body mentions {keyword!r} in words of its own; only the footer's opt-out "
                f"({opt_out!r}) is handled, so remove it from the body or write it identically",
            )
        )
    if spec.sms.reply_number is None and not any(c.isdigit() for c in opt_out):
        warnings.append(
            SmsWarning(
                "no-reply-path",
                f"the sender {spec.sms.sender!r} is alphanumeric and cannot receive replies, "
                "but the opt-out asks for a reply without naming a number to send it to",
            )
        )
    for i, char in enumerate(body):
        if unicodedata.category(char) == "Cc" and char not in "\n\r":
            warnings.append(
                SmsWarning(
                    "control-character",
                    f"body position {i}: control character U+{ord(char):04X} will show as garbage",
                )
            )
    return warnings


def _ucs2_warning(message: str, analysis: SmsAnalysis, footer_start: int) -> SmsWarning:
    parts = []
    for item in analysis.non_gsm:
        where = ["footer" if p >= footer_start else f"body {p}" for p in item.positions]
        parts.append(f"{item.char!r} ({item.codepoint}) at {', '.join(where)}")
    rewritten = analyze(gsm_safe(message, transliterate=True)[0])
    saving = (
        f"; the GSM-safe rewrite would make it {rewritten.encoding}, "
        f"{rewritten.segments} segment(s)"
        if rewritten.segments < analysis.segments or rewritten.encoding != UCS2
        else ""
    )
    return SmsWarning(
        "ucs2",
        f"sent as UCS-2 (70 characters a segment instead of 160) because of {'; '.join(parts)}"
        f"{saving}",
    )
