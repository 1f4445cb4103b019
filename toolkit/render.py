"""Steps 5 and 6 of the pipeline: template -> artefact, with its version.

``render(spec, artefact, locale)`` is the one entry point. One Jinja2 ``Environment``
(autoescaped, compiled templates cached) serves every call; a spec is frozen, so each
artefact is rendered once per spec, locale and option and then served from the spec's memo.
The version is ``sha256:`` of the artefact's plain text: what a person reads, not the markup.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import stat
import unicodedata
import weakref
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from markupsafe import Markup

from .artefacts import ARTEFACTS, COLLECTIONS, Artefact
from .artefacts import N_ as N_  # re-exported: the receipt marks its messages with it
from .context import NoticeContext, build_context
from .errors import ArtefactError
from .i18n import (
    FSI,
    PDI,
    needs_isolation,
    negotiate,
    punctuation,
    text_direction,
    tighten,
    value_direction,
)
from .spec import Spec


def _templates_dir() -> Path:
    """Templates ship inside the wheel as toolkit/templates; a checkout has them at the top."""
    packaged = Path(__file__).with_name("templates")
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


TEMPLATES_DIR = _templates_dir()


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.filters["bdi"] = _bdi
    env.globals["direction"] = text_direction
    return env


@jinja2.pass_context
def _bdi(context: jinja2.runtime.Context, value: Any) -> Any:
    """A value from the spec (a name, an address, a URL, a number) isolated from the sentence
    around it when directions mix (issue 15 item 2): ``<bdi>`` in HTML, Unicode isolates in
    text. Unchanged otherwise, so left-to-right artefacts with left-to-right values stay as
    they were. Only for text positions: never in an attribute."""
    if value is None or value == "":
        return value
    text = str(value)
    locale = context.get("locale")
    if not isinstance(locale, str) or not needs_isolation(text, locale):
        return value
    if context.eval_ctx.autoescape:
        # an explicit direction: "auto" would take a phone number, which has no strong
        # character, in the direction of the sentence around it ("12345678 30 +49")
        return Markup('<bdi dir="{}">{}</bdi>').format(value_direction(text), value)
    return f"{FSI}{text}{PDI}"


ENVIRONMENT = _make_environment()


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja2's cache of compiled templates on disk, failing soft: an entry that cannot be
    read or written is compiled again, never an error."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with suppress(OSError):
            super().dump_bytecode(bucket)


def keep_compiled_templates(directory: Path) -> bool:
    """Keep the compiled templates in ``directory`` for the next process (the ``optin``
    command: compiling the checkbox's templates takes longer than the rest of ``optin
    render``). Jinja2 checks each entry against its template's source; the directory's name
    adds the environment's options and the Jinja2 and toolkit versions, which change the code
    compiled from the same source. Since the entries are code, a directory that others may
    write to is not used (False)."""
    from . import __version__

    env = ENVIRONMENT
    escape = env.autoescape
    options = (
        __version__,
        getattr(jinja2, "__version__", None),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        sorted(env.extensions),
        sorted(env.policies.items(), key=repr),
        [escape(name) if callable(escape) else escape for name in ("a.html", "a.txt")],
    )
    fingerprint = hashlib.sha256(repr(options).encode()).hexdigest()[:16]
    target = directory / f"templates-{fingerprint}"
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = target.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    env.bytecode_cache = _CompiledTemplates(str(target))
    return True


@dataclass(frozen=True)
class Rendered:
    """One artefact in one locale: what a person sees (html), reads (text), and its version."""

    artefact: str
    locale: str
    text: str
    version: str
    html: Markup | None

    def as_json(self) -> dict[str, str | None]:
        """The JSON form: artefact, locale, version, html, text."""
        return {
            "artefact": self.artefact,
            "locale": self.locale,
            "version": self.version,
            "html": None if self.html is None else str(self.html),
            "text": self.text,
        }


def content_version(text: str) -> str:
    """The version of a text: ``sha256:`` + hex digest of its UTF-8 bytes (NFC)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


_BLOCKS = frozenset(
    "address article aside blockquote div dl dt fieldset footer form h1 h2 h3 h4 h5 h6 header"
    " legend li ol p section table tr ul".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: A term that already ends with a question mark or colon (Latin, Arabic, full-width) is not
#: given another.
_TERM_ENDS = ("?", ":", "\u061f", "\uff1f", "\uff1a")


class _TextExtractor(HTMLParser):
    """HTML -> the plain text a person reads: blocks on lines, links with their address."""

    def __init__(self, term_separator: str, space: str = " ") -> None:
        super().__init__(convert_charrefs=True)
        self.term_separator = term_separator
        self.space = space
        self.out: list[str] = []
        self.links: list[tuple[str | None, int]] = []
        self.last_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HEADINGS:
            self.out.append(_BREAK)
        elif tag in _BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "input" and dict(attrs).get("type") == "checkbox":
            self.out.append("[x] " if "checked" in dict(attrs) else "[ ] ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "dt":
            ends = self.last_text.endswith(_TERM_ENDS)
            self.out.append(self.space if ends else self.term_separator)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.out[start:])
            target = (href or "").removeprefix("mailto:").removeprefix("tel:")
            if href and not href.startswith("#") and target not in shown:
                self.out.append(f" <{target}>")
        elif tag in _BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        self.out.append(" ".join(data.split("\n")))  # source line breaks are only spaces in HTML
        if data.strip():
            self.last_text = data.rstrip()


_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAK = "\n\x00\n"  # a blank line before each heading; other blocks just start a new line


def normalise_text(text: str) -> str:
    """NFC, one space between words, no blank line runs, no leading/trailing blanks."""
    lines = [
        _SPACES.sub(" ", line).strip() for line in unicodedata.normalize("NFC", text).split("\n")
    ]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def html_to_text(html: str, locale: str = "en") -> str:
    """The plain text of an HTML fragment, as ``Rendered.text`` holds it.

    A definition term and its description read as one line, joined the locale's way
    ("Retention period: 3 years", French "Durée de conservation : 3 ans").
    """
    marks = punctuation(locale)
    parser = _TextExtractor(marks.term, marks.space)
    parser.feed(str(html))  # plain str: slicing Markup would build a Markup per token
    parser.close()
    lines = normalise_text("".join(parser.out)).split("\n")
    text = "\n".join(line for line in lines if line)
    return tighten(normalise_text(text.replace("\x00", "")), locale)


@cache
def _template(name: str) -> Template:
    """The compiled template (compiled once per process)."""
    return ENVIRONMENT.get_template(name)


def _template_render(name: str, variables: dict[str, Any]) -> str:
    return tighten(_template(name).render(variables), variables["locale"])


def _render_html(artefact: str, variables: dict[str, Any]) -> Rendered:
    # The template is autoescaped: every spec value in it is already escaped.
    html = Markup(_template_render(ARTEFACTS[artefact].template, variables).strip())  # noqa: S704
    text = html_to_text(html, variables["locale"])
    return Rendered(artefact, variables["locale"], text, content_version(text), html)


_MEMOS: dict[int, dict[Any, Any]] = {}


def _memo_of(spec: Spec) -> dict[Any, Any]:
    """The memo of one spec's contexts and artefacts, dropped when the spec is collected.

    Kept beside the spec, not in it, so that two equal specs stay equal once rendered.
    """
    memo = _MEMOS.get(id(spec))
    if memo is None:
        memo = _MEMOS[id(spec)] = {}
        weakref.finalize(spec, _MEMOS.pop, id(spec), None)
    return memo


def clear_cache(spec: Spec) -> None:
    """Forget what was rendered for ``spec`` (benchmarks use it to time the cold path)."""
    _memo_of(spec).clear()


_SELF_VERSION = "\x00optin-self-version\x00"


def _render_checkbox(spec: Spec, variables: dict[str, Any], collection: str | None) -> Rendered:
    if collection == "source":
        raise ArtefactError("a checkbox is on a form: its data comes from the person, not a source")
    variables["consent_purposes"] = tuple(p for p in variables["consent_purposes"] if p.from_person)
    if not variables["consent_purposes"]:
        raise ArtefactError(
            "the spec has no consent-based purpose collected from the person, so there is no"
            " checkbox"
        )
    locale = variables["locale"]
    variables["versions"] = {
        "notice-short": render(spec, "notice-short", locale, collection=collection).version,
        "notice-full": render(spec, "notice-full", locale).version,
    }
    # The version hashes the readable text only, and hidden fields are not text: render with
    # a placeholder in the checkbox's own version field, then put the version in its place.
    variables["self_version"] = _SELF_VERSION
    draft = _render_html("checkbox", variables)
    html = Markup(str(draft.html).replace(_SELF_VERSION, draft.version))  # noqa: S704 (escaped)
    return Rendered("checkbox", locale, draft.text, draft.version, html)


def _render_plain(artefact: str, variables: dict[str, Any]) -> Rendered:
    """A text artefact (what a phone shows): one line, versioned, and a ``<p>`` to show it."""
    body = _template_render(ARTEFACTS[artefact].template, variables)
    text = normalise_text(body).replace("\n", " ")
    html = Markup('<p class="optin-{}" lang="{}">{}</p>').format(artefact, variables["lang"], text)
    return Rendered(artefact, variables["locale"], text, content_version(text), html)


def _render_sms_footer(variables: dict[str, Any], first_contact: bool) -> Rendered:
    if variables["sms"] is None:
        raise ArtefactError("the spec has no [sms] section, so there is no SMS footer")
    if not variables["sms"].purposes:
        raise ArtefactError(
            f"no SMS purpose's data comes from the {variables['collection']}, so there is no SMS"
            " footer for it"
        )
    variables["first_contact"] = first_contact
    return _render_plain("sms-footer", variables)


def _render_confirmation_sms(variables: dict[str, Any]) -> Rendered:
    texting = [p for p in variables["consent_purposes"] if p.channel == "sms" and p.from_person]
    if variables["sms"] is None or not texting:
        raise ArtefactError("no SMS consent is given on a form, so there is nothing to confirm")
    return _render_plain("confirmation-sms", variables)


def _render_call_script(variables: dict[str, Any]) -> Rendered:
    variables["calls"] = tuple(p for p in variables["purposes"] if p.channel == "phone")
    if not variables["calls"]:
        raise ArtefactError("the spec has no phone purpose, so there is no call script")
    return _render_html("call-script", variables)


def notice_context(spec: Spec, locale: str, collection: str | None = None) -> NoticeContext:
    """The template context of ``spec`` in ``locale`` (negotiated), built once per spec."""
    locale = negotiate(locale, spec.locales)
    memo = _memo_of(spec)
    context = memo.get(("context", locale, collection))
    if context is None:
        context = memo[("context", locale, collection)] = build_context(spec, locale, collection)
    return context


def render(
    spec: Spec,
    artefact: str,
    locale: str,
    *,
    first_contact: bool = False,
    collection: str | None = None,
) -> Rendered:
    """Render one artefact of a validated spec in a locale (``fr_CA`` falls back to ``fr``).

    ``collection`` says where the reader's data came from: ``"person"`` on a form where they
    type it (GDPR Art. 13: no word of a source), ``"source"`` at the first contact with data
    obtained elsewhere (Art. 14), None for a page everyone reads (both, each said of the
    purposes it concerns). ``first_contact`` (sms-footer only) adds the purposes, the right to
    object stated as a right, and, for source data, where the number comes from (Art. 14(3)(b),
    21(4)).
    """
    if artefact not in ARTEFACTS:
        raise ArtefactError(
            f"unknown artefact {artefact!r}; expected one of {', '.join(ARTEFACTS)}"
        )
    if first_contact and artefact != "sms-footer":
        raise ArtefactError("first_contact applies to the sms-footer artefact only")
    locale = negotiate(locale, spec.locales)
    key = (artefact, locale, first_contact, collection)
    memo = _memo_of(spec)
    if key in memo:
        return memo[key]  # type: ignore[no-any-return]
    variables = notice_context(spec, locale, collection).as_dict()
    if artefact == "checkbox":
        result = _render_checkbox(spec, variables, collection)
    elif artefact == "sms-footer":
        result = _render_sms_footer(variables, first_contact)
    elif artefact == "call-script":
        result = _render_call_script(variables)
    elif artefact == "confirmation-sms":
        result = _render_confirmation_sms(variables)
    else:
        result = _render_html(artefact, variables)
    memo[key] = result
    return result


def every_rendering(spec: Spec, locale: str) -> list[Rendered]:
    """Every artefact of ``spec`` in ``locale``, in every variant a reader can be shown (each
    collection, first SMS or not): what a recorded version may name."""
    out: list[Rendered] = []
    for artefact in ARTEFACTS:
        for collection in (None, *COLLECTIONS):
            for first in (False, True) if artefact == "sms-footer" else (False,):
                try:
                    out.append(
                        render(spec, artefact, locale, first_contact=first, collection=collection)
                    )
                except ArtefactError:
                    continue
    return out


__all__ = [
    "ARTEFACTS",
    "Artefact",
    "Rendered",
    "content_version",
    "every_rendering",
    "html_to_text",
    "render",
]
