"""An SMS exactly as it will be sent: the body plus the spec's footer, its analysis and warnings.

The footer (identity, free opt-out, notice link; on first contact also purpose and source) comes
from the rendering pipeline, so it is the very text the consent proof versions. Warnings tell the
marketer what the law or the bill will notice: an altered footer, a second opt-out in the body,
more segments than the spec allows, no way to reply, characters that force UCS-2, Windows line
breaks and invisible characters; each in the reader's language (``ui_locale``). ``suggestions``
offer the GSM-safe rewrites one by one, each with what it saves, and ``cells`` cut the message
into the characters a page draws, each with its segment and cost.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

import regex

from .replies import fold, spec_keywords
from .rewrite import Change, gsm_safe, is_symbol
from .segments import GSM_CHARS, GSM_EXTENSION, SINGLE, UCS2, SmsAnalysis, SmsError, analyze

if TYPE_CHECKING:
    from ..spec import Spec

SEPARATOR = "\n"  # between body and footer; a line feed is one GSM-7 septet

#: Characters a person cannot see in a text box, and the symbol a page shows for each.
INVISIBLE = {
    "\u00a0": "⍽",
    "\u202f": "⍽",
    "\u2007": "⍽",
    "\u200b": "◇",
    "\u200c": "◇",
    "\u200d": "◇",
    "\u2060": "◇",
    "\ufeff": "◇",
    "\u00ad": "‐",
    "\t": "⇥",
}
#: How line breaks and spaces are drawn in a cell (they stay GSM-7, nothing to warn about).
SHOWN = {"\r": "␍", "\n": "␊", " ": "·", "\f": "␌"}
#: Sample values for ``{placeholder}`` names a page does not give, so counts stay realistic.
SAMPLES = {
    "first_name": "Camille",
    "last_name": "Martin",
    "name": "Camille Martin",
    "city": "Lyon",
    "date": "12/03",
    "time": "14:30",
    "code": "123456",
}
DEFAULT_SAMPLE = "xxxxxxxx"
_CLUSTER = regex.compile(r"\X", regex.DOTALL)
_Gettext = Callable[[str], str]


class SmsWarning(NamedTuple):
    """A problem with a message: a stable code and a sentence for the marketer."""

    code: str
    message: str


class Suggestion(NamedTuple):
    """One GSM-safe rewrite of the body and what it would change on the bill."""

    kind: str  # "symbols": drop emoji and symbols, keep accents; "transliterate": also accents
    body: str
    changes: tuple[Change, ...]
    segments_before: int
    segments_after: int
    encoding_after: str

    @property
    def saves(self) -> bool:
        """Whether the rewrite sends fewer SMS (else a page says so instead of offering it)."""
        return self.segments_after < self.segments_before


class SmsPreview(NamedTuple):
    """The message as sent, its parts, analysis, warnings and any GSM-safe changes."""

    message: str
    body: str
    footer: str
    footer_version: str
    analysis: SmsAnalysis
    warnings: tuple[SmsWarning, ...]
    changes: tuple[Change, ...]
    suggestions: tuple[Suggestion, ...] = ()
    placeholders: tuple[tuple[str, str], ...] = ()

    @property
    def footer_budget(self) -> tuple[int, int]:
        """The footer's size and what it leaves for the body in one SMS: (units, left), in
        the footer's own encoding (a UCS-2 footer leaves room in a 70-unit SMS)."""
        footer = analyze(self.footer)
        left = SINGLE[footer.encoding] - footer.units - len(SEPARATOR)
        return footer.units, max(left, 0)

    def cells(self) -> list[dict[str, object]]:
        """The message as sent, one cell per character (grapheme cluster; CR and LF apart):
        its text, how a page shows it, its segment (0-based), its units, whether it is GSM-7,
        an extension character (two septets), invisible, and in the footer."""
        text = self.analysis.sent if self.analysis.sent is not None else self.message
        footer_start = len(text) - len(self.footer)
        breaks = self.analysis.breaks
        gsm = self.analysis.encoding != UCS2
        out: list[dict[str, object]] = []
        for match in _CLUSTER.finditer(text):
            pieces = ["\r", "\n"] if match.group() == "\r\n" else [match.group()]
            start = match.start()
            for piece in pieces:
                ok = all(c in GSM_CHARS for c in piece)
                extension = piece in GSM_EXTENSION
                units = (2 if extension else 1) if gsm else len(piece.encode("utf-16-le")) // 2
                out.append(
                    {
                        "text": piece,
                        "shown": SHOWN.get(piece) or INVISIBLE.get(piece) or piece,
                        "start": start,
                        "segment": bisect_right(breaks, start),
                        "units": units,
                        "gsm": ok,
                        "extension": extension and gsm,
                        "invisible": piece in INVISIBLE or piece in ("\r", "\n"),
                        "symbol": is_symbol(piece),
                        "footer": start >= footer_start,
                        "name": ""
                        if ok and not extension and piece not in SHOWN
                        else " ".join(
                            f"U+{ord(c):04X} {unicodedata.name(c, '')}".strip() for c in piece
                        ),
                    }
                )
                start += len(piece)
        return out

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
            "changes": [_change_json(c) for c in self.changes],
            "suggestions": [
                {
                    "kind": s.kind,
                    "body": s.body,
                    "changes": [_change_json(c) for c in s.changes],
                    "segments_before": s.segments_before,
                    "segments_after": s.segments_after,
                    "encoding_after": s.encoding_after,
                    "saves": s.saves,
                }
                for s in self.suggestions
            ],
            "placeholders": dict(self.placeholders),
        }


def _change_json(c: Change) -> dict[str, object]:
    return {
        "position": c.position,
        "original": c.original,
        "replacement": c.replacement,
        "kind": c.kind,
    }


def _describe(changes: tuple[Change, ...]) -> str:
    return ", ".join(f"{c.original} → {c.replacement}" for c in changes)


def fill_placeholders(
    body: str, samples: Mapping[str, str] | None
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``{first_name}`` replaced by a sample value (the page's, else ``SAMPLES``), with the
    syntax of ``sms batch`` (``{{`` and ``}}`` are braces); the values used, by name."""
    from .batch import compile_template  # batch imports this module

    literals, names = compile_template(body)
    given = samples or {}
    used = {n: str(given.get(n) or SAMPLES.get(n, DEFAULT_SAMPLE)) for n in names}
    parts = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        parts += [used[name], literal]
    return "".join(parts), tuple(used.items())


def preview(
    spec: Spec,
    body: str,
    locale: str,
    first_contact: bool = False,
    *,
    gsm_safe_rewrite: bool = False,
    transliterate: bool = False,
    smart_encoding: bool = False,
    samples: Mapping[str, str] | None = None,
    ui_locale: str | None = None,
) -> SmsPreview:
    """Compose ``body`` with the spec's footer for ``locale`` and say what to fix before sending.

    With ``gsm_safe_rewrite`` the body (and, with a warning for each change, the footer) is
    rewritten towards GSM-7; ``changes`` lists every change, with its position in the message
    as it was before the rewrite (body as typed, then the separator, then the footer).
    ``samples`` (even empty) turns ``{placeholder}`` names into sample values before counting;
    ``smart_encoding`` counts what a Twilio Messaging Service with Smart Encoding sends;
    warnings are in ``ui_locale`` (default: ``locale``), the language of whoever reads them.
    """
    # here, not at the top: ``optin sms analyze`` imports this package without the renderer
    from ..i18n import translations
    from ..render import notice_context, render

    sms = spec.sms
    if sms is None:
        raise SmsError("the spec has no [sms] section, so there is no SMS to preview")
    _ = translations(ui_locale or locale).gettext
    body = body.strip()
    if not body:
        raise SmsError("the message body is empty")
    placeholders: tuple[tuple[str, str], ...] = ()
    if samples is not None:
        body, placeholders = fill_placeholders(body, samples)
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
                    _(
                        "The GSM-safe rewrite changed the legal footer (%(changes)s): check "
                        "that it still names the sender and the opt-out."
                    )
                    % {"changes": _describe(footer_changes)},
                )
            )
    message = f"{body}{SEPARATOR}{footer}"
    analysis = analyze(message, smart_encoding=smart_encoding)
    sms_view = notice_context(spec, rendered.locale).sms
    assert sms_view is not None
    opt_out = sms_view.opt_out
    warnings += _content_warnings(spec, body, footer, opt_out, _)
    if analysis.segments > sms.max_segments:
        warnings.append(
            SmsWarning(
                "too-many-segments",
                _(
                    "%(segments)s SMS, more than the %(max)s the spec allows "
                    "(sms.max_segments): shorten the text or send the information in a "
                    "second SMS."
                )
                % {"segments": analysis.segments, "max": sms.max_segments},
            )
        )
    warnings += _line_break_warnings(message, analysis, smart_encoding, ui_locale or locale)
    if analysis.encoding == UCS2:
        warnings.append(_ucs2_warning(analysis, len(body) + len(SEPARATOR), _))
    suggestions = _suggestions(body, footer, analysis, smart_encoding)
    return SmsPreview(
        message,
        body,
        footer,
        rendered.version,
        analysis,
        tuple(warnings),
        changes,
        suggestions,
        placeholders,
    )


def _suggestions(
    body: str, footer: str, analysis: SmsAnalysis, smart_encoding: bool
) -> tuple[Suggestion, ...]:
    """Each GSM-safe rewrite of the body that changes something, with its segments before and
    after (the footer is legal text: never rewritten here)."""
    found: list[Suggestion] = []
    seen = {body}
    for kind, transliterate in (("symbols", False), ("transliterate", True)):
        text, changes = gsm_safe(body, transliterate=transliterate, remove_symbols=True)
        text = text.strip()
        if not changes or text in seen or not text:
            continue
        seen.add(text)
        after = analyze(f"{text}{SEPARATOR}{footer}", smart_encoding=smart_encoding)
        found.append(
            Suggestion(kind, text, changes, analysis.segments, after.segments, after.encoding)
        )
    return tuple(found)


def _opt_out_word(spec: Spec, body: str) -> str | None:
    """An opt-out instruction of the body's own: the spec's keyword in any case, or any word
    the toolkit recognises as an opt-out reply written as keywords are, in capitals (ARRET,
    STOPP, BAJA; "la baja" or "remove" in a sentence are words, not instructions)."""
    assert spec.sms is not None
    keyword = spec.sms.opt_out_keyword
    found = re.search(rf"\b{re.escape(keyword)}\b", body, re.IGNORECASE)
    if found:
        return str(found.group())
    words = spec_keywords(spec)["opt_out"]
    tokens: list[str] = re.findall(r"[^\W\d_][\w-]*", body)
    for token in tokens:
        if len(token) > 1 and token.isupper() and fold(token) in words:
            return token
    return None


def _content_warnings(
    spec: Spec, body: str, footer: str, opt_out: str, _: _Gettext
) -> list[SmsWarning]:
    assert spec.sms is not None
    warnings = []
    name = spec.controller.name
    if name not in footer:
        warnings.append(
            SmsWarning(
                "identity-missing",
                _("The footer no longer names %(name)s.") % {"name": name},
            )
        )
    keyword = spec.sms.opt_out_keyword
    if keyword.casefold() not in footer.casefold():
        warnings.append(
            SmsWarning(
                "opt-out-missing",
                _("The footer no longer carries %(keyword)s.") % {"keyword": keyword},
            )
        )
    mentioned = _opt_out_word(spec, body)
    if mentioned is not None and opt_out not in body:
        keyword = mentioned
        warnings.append(
            SmsWarning(
                "opt-out-conflict",
                _(
                    "Your text mentions %(keyword)s in words of its own; only the footer's "
                    "opt-out (%(opt_out)s) is handled, so remove it from your text or write it "
                    "identically."
                )
                % {"keyword": keyword, "opt_out": opt_out},
            )
        )
    if spec.sms.reply_number is None and not any(c.isdigit() for c in opt_out):
        warnings.append(
            SmsWarning(
                "no-reply-path",
                _(
                    "The sender %(sender)s is alphanumeric and cannot receive replies, but "
                    "the opt-out asks for a reply without naming a number to send it to."
                )
                % {"sender": spec.sms.sender},
            )
        )
    for i, char in enumerate(body):
        if unicodedata.category(char) == "Cc" and char not in "\n\r" and char not in INVISIBLE:
            warnings.append(
                SmsWarning(
                    "control-character",
                    _(
                        "Character %(position)s of your text is a control character "
                        "(%(codepoint)s): it will show as garbage on the phone."
                    )
                    % {"position": i + 1, "codepoint": f"U+{ord(char):04X}"},
                )
            )
    for i, char in enumerate(body):
        if char in INVISIBLE:
            warnings.append(
                SmsWarning(
                    "invisible-character",
                    _(
                        "Character %(position)s of your text is invisible (%(name)s): nobody "
                        "sees it, yet it sends the whole message as UCS-2. Remove it."
                    )
                    % {
                        "position": i + 1,
                        "name": f"U+{ord(char):04X} {unicodedata.name(char, 'TAB')}",
                    },
                )
            )
    return warnings


def _line_break_warnings(
    message: str, analysis: SmsAnalysis, smart_encoding: bool, locale: str
) -> list[SmsWarning]:
    """Windows line breaks (CR LF) cost two characters each: say whether that costs an SMS
    (what calculator 1.3.0's PR #74 warns about)."""
    count = message.count("\r\n")
    if not count:
        return []
    from ..i18n import translations

    plain = analyze(message.replace("\r\n", "\n"), smart_encoding=smart_encoding)
    values = {"count": count, "before": analysis.segments, "after": plain.segments}
    ngettext = translations(locale).ngettext
    if plain.segments < analysis.segments:
        text = ngettext(
            "Your text has %(count)s Windows line break (CR LF), counted as 2 characters: "
            "with a simple line break (LF) it would take %(after)s SMS instead of %(before)s.",
            "Your text has %(count)s Windows line breaks (CR LF), each counted as 2 "
            "characters: with simple line breaks (LF) it would take %(after)s SMS instead of "
            "%(before)s.",
            count,
        )
    else:
        text = ngettext(
            "Your text has %(count)s Windows line break (CR LF), counted as 2 characters; "
            "here it costs no extra SMS.",
            "Your text has %(count)s Windows line breaks (CR LF), each counted as 2 "
            "characters; here they cost no extra SMS.",
            count,
        )
    return [SmsWarning("crlf", text % values)]


def _ucs2_warning(analysis: SmsAnalysis, footer_start: int, _: _Gettext) -> SmsWarning:
    parts = []
    for item in analysis.non_gsm:
        body = [p + 1 for p in item.positions if p < footer_start]
        where = []
        if body:
            where.append(
                _("character %(positions)s of your text") % {"positions": ", ".join(map(str, body))}
            )
        if len(body) < len(item.positions):
            where.append(_("in the footer"))
        shown = INVISIBLE.get(item.char, item.char)
        parts.append(f"{shown} ({'; '.join(where)})")
    return SmsWarning(
        "ucs2",
        _(
            "Sent as UCS-2 (70 characters per SMS instead of 160) because of these "
            "characters: %(chars)s."
        )
        % {"chars": ", ".join(parts)},
    )
