"""The ``optin`` command: validate specs, render artefacts, print the spec's JSON Schema.

Exit codes: 0 success, 1 bad input (every problem on stderr as ``FILE: path: message``),
2 usage error.

Each command imports what it needs when it runs, never at the top of this module: ``optin
--version`` and ``optin --help`` import click alone, ``optin render`` no ledger (SQLAlchemy),
no PDF (WeasyPrint) and no signing (cryptography). tests/test_cli_startup.py checks it.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from . import __version__
from .artefacts import ARTEFACTS, COLLECTIONS

if TYPE_CHECKING:
    from .proof import Ledger
    from .rules import RuleBook
    from .sms import SmsAnalysis


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@contextmanager
def _exit_on_error(prefix: str) -> Iterator[None]:
    """Bad input ends the command with its message on stderr and status 1, never a traceback."""
    from .errors import SpecError, ToolkitError

    try:
        yield
    except SpecError as exc:
        _fail("\n".join(f"{exc.source or prefix}: {p}" for p in exc.problems))

    except ToolkitError as exc:
        _fail(f"{prefix}: {exc}")
    except OSError as exc:
        _fail(f"{prefix}: {exc.filename or ''}: {exc.strerror}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optin")
def main() -> None:
    """Render lawful consent checkboxes, notices and SMS footers from one spec file."""


def _keep_compiled_templates() -> None:
    """Commands that render keep the compiled templates for the next run, in the user's cache
    ($XDG_CACHE_HOME, or ~/.cache, then optin-toolkit/): compiling them would otherwise take
    most of a short command's time."""
    from .render import keep_compiled_templates

    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        cache = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    except RuntimeError:  # no home directory: compile every time
        return
    keep_compiled_templates(cache / "optin-toolkit")


def _day(value: str | None, option: str = "--at") -> date | None:
    """A date given on the command line (bad input: exit 1 naming the option)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: expected a date like 2026-08-10, got {value!r}")


def _moment(value: str | None, option: str = "--at") -> datetime | None:
    """A moment on the command line: an ISO date-time (UTC unless it says otherwise), or a
    date (its midday, UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(12), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(
            f"{option}: expected a date like 2026-08-10 or a time like 2026-08-10T14:30+02:00, "
            f"got {value!r}"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


RULES_OPTION = click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="an extra rule pack (TOML), joined with the shipped ones; repeat for several",
)
AT_OPTION = click.option(
    "--at", "at", metavar="DATE", help="apply the law of this day (default today)"
)


def _book(rule_files: tuple[str, ...]) -> RuleBook:
    from .rules import book

    with _exit_on_error("--rules"):
        return book(rule_files)


@main.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@AT_OPTION
@RULES_OPTION
def validate(specs: tuple[str, ...], at: str | None, rule_files: tuple[str, ...]) -> None:
    """Check spec files, the channel law of each market included; print every problem as
    FILE: path: message (and warnings, which do not fail)."""
    from .errors import SpecError
    from .spec import check_spec, load_spec

    day = _day(at)
    rule_book = _book(rule_files)
    failed = False
    for path in specs:
        try:
            spec = load_spec(path, at=day, book=rule_book)
        except SpecError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(f"{path}: {problem}", err=True)
        else:
            for warning in check_spec(spec, at=day, book=rule_book):
                click.echo(f"{path}: warning: {warning}", err=True)
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


@main.group("rules")
def rules_group() -> None:
    """The channel law the toolkit applies: rule packs per market, and what they say of a spec."""


@rules_group.command("explain")
@click.argument("spec_path", metavar="SPEC")
@AT_OPTION
@RULES_OPTION
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def rules_explain(
    spec_path: str, at: str | None, rule_files: tuple[str, ...], as_json: bool
) -> None:
    """Per purpose and market: what applies and why, with the sources (exit 1 if unlawful)."""
    from .explain import explain, report_lines
    from .spec import load_spec

    day = _day(at) or datetime.now(UTC).date()
    rule_book = _book(rule_files)
    with _exit_on_error(spec_path):
        # the report shows the unlawful purposes too: check the spec's shape, not its law
        spec = load_spec(spec_path, at=day, book=rule_book, law=False)
        reports = explain(spec, day, rule_book)
    unlawful = any(m.problems for r in reports for m in r.markets)
    if as_json:
        _echo_json(
            {
                "spec": spec_path,
                "date": day.isoformat(),
                "markets": list(spec.target_markets),
                "ok": not unlawful,
                "purposes": [r.as_json() for r in reports],
            }
        )
    else:
        for line in report_lines(reports, day):
            click.echo(line)
    sys.exit(1 if unlawful else 0)


@rules_group.command("list")
@click.option("--market", "-m", help="one market, e.g. FR (default: every pack)")
@AT_OPTION
@RULES_OPTION
def rules_list(market: str | None, at: str | None, rule_files: tuple[str, ...]) -> None:
    """Every rule of the packs (in force on --at, default all), with its source."""
    day = _day(at)
    rule_book = _book(rule_files)
    with _exit_on_error("--market"):
        packs = [rule_book.pack(market)] if market else list(rule_book.packs.values())
    for pack in packs:
        click.echo(f"{pack.market}: {pack.name}")
        for rule in pack.rules:
            if day is not None and not rule.in_force(day):
                continue
            dates = f"from {rule.from_}" + (f" until {rule.until}" if rule.until else "")
            click.echo(f"  {rule.id} [{', '.join(rule.channels)}; {', '.join(rule.audiences)}]")
            click.echo(f"    {rule.summary}")
            click.echo(f"    {rule.source.citation} ({dates}) {rule.source.url}")
        for registry in pack.registries:
            click.echo(f"  registry {registry.id}: {registry.name} ({registry.source.url})")
        for preset in pack.presets:
            click.echo(f"  preset {preset.id}: {preset.summary}")


@main.command("build")
@click.argument("spec_path", metavar="SPEC")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False))
def build_cmd(spec_path: str, outdir: str) -> None:
    """Write every artefact of SPEC in every locale (HTML fragment and text) and a
    manifest.json of their versions, for sites that are not written in Python."""
    from .build import build
    from .spec import load_spec

    _keep_compiled_templates()

    with _exit_on_error(spec_path):
        manifest = build(load_spec(spec_path), outdir)
    click.echo(
        f"{outdir}: {len(manifest['artefacts'])} artefacts in {len(manifest['locales'])} locales"
    )


@main.command("render")
@click.argument("spec_path", metavar="SPEC")
@click.option("--artefact", "-a", required=True, type=click.Choice(list(ARTEFACTS)))
@click.option("--locale", "-l", required=True, help="e.g. fr, en, de; fr_CA falls back to fr")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "json"]),
    default="html",
    show_default=True,
)
@click.option("--first-contact", is_flag=True, help="sms-footer: the first message's footer")
@click.option(
    "--collection",
    type=click.Choice(COLLECTIONS),
    default=None,
    help="where the reader's data came from: person (a form, Art. 13) or source (Art. 14);"
    " default both, each said of its purposes",
)
def render_cmd(
    spec_path: str,
    artefact: str,
    locale: str,
    fmt: str,
    first_contact: bool,
    collection: str | None,
) -> None:
    """Render one artefact of SPEC in one locale."""
    from .render import render
    from .spec import load_spec

    _keep_compiled_templates()
    if first_contact and artefact != "sms-footer":
        raise click.UsageError("--first-contact applies to --artefact sms-footer only")
    with _exit_on_error(spec_path):
        rendered = render(
            load_spec(spec_path),
            artefact,
            locale,
            first_contact=first_contact,
            collection=collection,
        )
    if fmt == "json":
        click.echo(json.dumps(rendered.as_json(), ensure_ascii=False, indent=2))
    elif fmt == "text" or rendered.html is None:
        click.echo(rendered.text)
    else:
        click.echo(rendered.html)


@main.command()
def schema() -> None:
    """Print the JSON Schema of a spec file."""
    from .spec import json_schema

    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))


# --- catalogs ----------------------------------------------------------------------------------


@main.group("i18n")
def i18n_group() -> None:
    """Check the translation catalogs."""


@i18n_group.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, exists=True),
    help="catalogs to check (default: the shipped ones); e.g. i18n/drafts",
)
@click.option(
    "--sources",
    type=click.Path(file_okay=False, exists=True),
    help="a checkout: also check every marked string is extracted (default: this one, if any)",
)
def i18n_check(directory: str | None, sources: str | None) -> None:
    """Every catalog complete (nothing untranslated or fuzzy, every plural form), the same
    placeholders as its source string, and every marked string extracted; exit 1 with the
    list otherwise."""
    from .i18n import LOCALES_DIR
    from .i18n_check import check, summary

    checkout = Path(__file__).resolve().parent.parent
    root = Path(sources) if sources else (checkout if (checkout / "babel.cfg").is_file() else None)
    where = Path(directory) if directory else LOCALES_DIR
    problems = check(where, root)
    for problem in problems:
        click.echo(str(problem))
    catalogs = sorted(p.parent.parent.name for p in where.glob("*/LC_MESSAGES/messages.po"))
    if problems:
        counts = summary(problems)
        raise click.ClickException(
            f"{len(problems)} problem(s) in {len(counts)} file(s) of {where}"
        )
    click.echo(f"ok: {len(catalogs)} catalogs complete ({', '.join(catalogs)})")


# --- SMS ---------------------------------------------------------------------------------------


@main.group()
def sms() -> None:
    """Analyse, preview and batch-check SMS; classify replies."""


def _ruler(text: str, analysis: SmsAnalysis) -> list[str]:
    from .sms import segment_texts

    width = len(str(max(analysis.per_segment, default=0)))
    return [
        f"[{i}] {units:>{width}} |{chunk.replace(chr(10), '⏎').replace(chr(13), '␍')}|"
        for i, (units, chunk) in enumerate(
            zip(analysis.per_segment, segment_texts(text, analysis), strict=True), start=1
        )
    ]


def _summary(analysis: SmsAnalysis) -> str:
    from .sms import GSM7

    unit = "septets" if analysis.encoding == GSM7 else "UTF-16 units"
    return (
        f"{analysis.encoding}, {analysis.units} {unit}, {analysis.segments} segment(s), "
        f"{analysis.remaining} left in the last"
    )


def _echo_json(payload: object) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


SMART_ENCODING_HELP = "count what a Twilio Messaging Service with Smart Encoding sends"


def _echo_replacements(analysis: SmsAnalysis) -> None:
    for r in analysis.replacements or ():
        click.echo(f"smart encoding at {r.position}: {r.original!r} -> {r.replacement!r}")


@sms.command("analyze")
@click.argument("text")
@click.option("--smart-encoding", is_flag=True, help=SMART_ENCODING_HELP)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sms_analyze(text: str, smart_encoding: bool, as_json: bool) -> None:
    """Encoding, units and segments of TEXT, with a segment ruler."""
    from .sms import analyze

    with _exit_on_error("error"):
        analysis = analyze(text, smart_encoding=smart_encoding)
    if as_json:
        _echo_json(analysis.as_json())
        return
    click.echo(_summary(analysis))
    for line in _ruler(analysis.sent if analysis.sent is not None else text, analysis):
        click.echo(line)
    _echo_replacements(analysis)
    for item in analysis.non_gsm:
        where = ", ".join(map(str, item.positions))
        click.echo(f"forces UCS-2: {item.char!r} {item.codepoint} at {where}")


@sms.command("preview")
@click.argument("spec_path", metavar="SPEC")
@click.argument("body")
@click.option("--locale", "-l", required=True)
@click.option("--first-contact", is_flag=True, help="footer of the first message")
@click.option("--gsm-safe", is_flag=True, help="rewrite typography (and footer, with warnings)")
@click.option("--transliterate", is_flag=True, help="with --gsm-safe: also ê -> e, ç -> c...")
@click.option("--smart-encoding", is_flag=True, help=SMART_ENCODING_HELP)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sms_preview(
    spec_path: str,
    body: str,
    locale: str,
    first_contact: bool,
    gsm_safe: bool,
    transliterate: bool,
    smart_encoding: bool,
    as_json: bool,
) -> None:
    """BODY plus the spec's footer, exactly as sent: segments and warnings."""
    from .sms import preview
    from .spec import load_spec

    _keep_compiled_templates()
    if transliterate and not gsm_safe:
        raise click.UsageError("--transliterate goes with --gsm-safe")
    with _exit_on_error(spec_path):
        result = preview(
            load_spec(spec_path),
            body,
            locale,
            first_contact,
            gsm_safe_rewrite=gsm_safe,
            transliterate=transliterate,
            smart_encoding=smart_encoding,
        )
    if as_json:
        _echo_json(result.as_json())
        return
    click.echo(result.message)
    click.echo()
    units, left = result.footer_budget
    click.echo(f"footer {units} · {left} left in one SMS")
    click.echo(_summary(result.analysis))
    sent = result.analysis.sent
    for line in _ruler(sent if sent is not None else result.message, result.analysis):
        click.echo(line)
    _echo_replacements(result.analysis)
    for change in result.changes:
        click.echo(
            f"changed at {change.position}: {change.original!r} -> "
            f"{change.replacement!r} ({change.kind})"
        )
    for warning in result.warnings:
        click.echo(f"warning [{warning.code}]: {warning.message}")
    if not result.warnings:
        click.echo("no warnings")


@sms.command("reply")
@click.argument("text")
@click.option("--spec", "spec_path", help="add the spec's own [sms.keywords]")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sms_reply(text: str, spec_path: str | None, as_json: bool) -> None:
    """Classify an inbound SMS: opt-out, opt-in, help or other."""
    from .sms import parse_reply, spec_keywords
    from .spec import load_spec

    keywords = None
    if spec_path:
        with _exit_on_error(spec_path):
            spec = load_spec(spec_path)
        keywords = spec_keywords(spec)
    reply = parse_reply(text, keywords)
    if as_json:
        _echo_json(reply._asdict())
    else:
        click.echo(reply.kind if reply.keyword is None else f"{reply.kind} ({reply.keyword})")


@sms.command("batch")
@click.argument("spec_path", metavar="SPEC")
@click.argument("campaign", type=click.Path(dir_okay=False))
@click.option("--template", "-t", required=True, help="body, with {column} placeholders")
@click.option("--locale", "-l", required=True)
@click.option("--first-contact", is_flag=True, help="footer of the first message")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="report CSV (default stdout)")
def sms_batch(
    spec_path: str,
    campaign: str,
    template: str,
    locale: str,
    first_contact: bool,
    output: str | None,
) -> None:
    """One report row per recipient of CAMPAIGN.csv, then the campaign's totals on stderr."""
    from .csvio import SafeWriter, read_csv
    from .sms.batch import REPORT_COLUMNS, run_batch
    from .spec import load_spec

    _keep_compiled_templates()
    with _exit_on_error("error"):
        spec = load_spec(spec_path)
        with (
            open(campaign, "rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle,
        ):
            columns, rows = read_csv(handle, campaign)
            # "-" is stdout; a file is written aside and put in place only once the whole
            # campaign went through: a bad template or row leaves nothing behind. What is not
            # a file (/dev/null, a pipe) is written to directly: replacing it would put a
            # file where the device or the pipe was.
            to_stdout = output is None or output == "-"
            target = None if to_stdout else Path(str(output))
            out: TextIO = sys.stdout
            if target is not None and target.exists() and not target.is_file():
                out = open(target, "w", encoding="utf-8", newline="")
                target = None
            partial = None if target is None else target.with_name(f".{target.name}.part")
            if partial is not None:
                out = open(partial, "w", encoding="utf-8", newline="")
            done = False
            try:
                writer = SafeWriter(out)  # a report opened in a spreadsheet runs no formula
                writer.writerow([*columns, *REPORT_COLUMNS])
                size = os.fstat(raw.fileno()).st_size
                with click.progressbar(
                    length=size,
                    label="messages",
                    file=sys.stderr,
                    hidden=size < 1_000_000 or not sys.stderr.isatty(),
                ) as bar:

                    def progress(_done: int) -> None:
                        bar.update(raw.tell() - bar.pos)

                    totals = run_batch(
                        spec,
                        rows,
                        columns,
                        template,
                        locale,
                        writer.writerow,
                        first_contact=first_contact,
                        progress=progress,
                    )
                done = True
            finally:
                if partial is not None and target is not None:
                    out.close()
                    if done:
                        os.replace(partial, target)
                    else:
                        partial.unlink(missing_ok=True)
                elif out is not sys.stdout:
                    out.close()
    summary = totals.as_json()
    click.echo(
        f"{summary['messages']} messages, {summary['segments']} segments, "
        f"{summary['ucs2_messages']} sent as UCS-2",
        err=True,
    )
    for char, count in totals.ucs2_chars.most_common(10):
        click.echo(
            f"  UCS-2 because of {char!r} (U+{ord(char):04X}) in {count} message(s)", err=True
        )


# --- PDF ---------------------------------------------------------------------------------------


@main.command("pdf")
@click.argument("spec_path", metavar="SPEC")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="OUT.pdf")
@click.option("--locale", "-l", "locales", multiple=True, help="repeat for several; default all")
@click.option("--compare", metavar="L1,L2", help="add a side-by-side view of two locales")
@click.option("--previous", "previous_path", metavar="OLD_SPEC", help="redline against OLD_SPEC")
@click.option(
    "--public", is_flag=True, help="the person's full notice in one locale, not the review pack"
)
def pdf_cmd(
    spec_path: str,
    output: str,
    locales: tuple[str, ...],
    compare: str | None,
    previous_path: str | None,
    public: bool,
) -> None:
    """Export the notice pack of SPEC as a PDF for legal review, or (--public) the notice."""
    if public and (len(locales) > 1 or compare or previous_path):
        raise click.UsageError("--public takes one --locale, without --compare or --previous")
    pair: tuple[str, str] | None = None
    if compare is not None:
        parts = [p.strip() for p in compare.split(",")]
        if len(parts) != 2 or not all(parts):
            raise click.UsageError("--compare takes two locales, like --compare fr,en")
        pair = (parts[0], parts[1])
    from .pdf import export_pdf, notice_pdf
    from .spec import load_spec

    _keep_compiled_templates()

    with _exit_on_error(spec_path):
        spec = load_spec(spec_path)
        previous = load_spec(previous_path) if previous_path else None
        if public:
            data = notice_pdf(spec, locales[0] if locales else None)
        else:
            data = export_pdf(
                spec, locales or None, compare=pair, previous=previous, source=spec_path
            )
    target = Path(output)
    temporary = target.with_name(f".{target.name}.part")
    try:
        temporary.write_bytes(data)  # whole file first: no half-written PDF under the real name
        temporary.replace(target)
    except OSError as exc:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
        _fail(f"error: cannot write {output}: {exc.strerror}")
    click.echo(f"{output}: {len(data):,} bytes", err=True)


# --- Ledger ------------------------------------------------------------------------------------

DB_OPTION = click.option(
    "--db",
    "db",
    required=True,
    envvar="OPTIN_DATABASE_URL",
    help="ledger: a SQLite file path, sqlite:///..., or postgresql://... (env OPTIN_DATABASE_URL)",
)


def _ledger(db: str, spec_path: str | None = None, *, create: bool = False) -> Ledger:
    """The ledger at ``db``; only a command that writes may create it (D8: a typo in a path
    must fail, never report an empty new ledger as intact)."""
    from .proof import Ledger  # SQLAlchemy only for the commands that use the ledger
    from .spec import load_spec

    spec = load_spec(spec_path) if spec_path else None
    return Ledger(db, spec=spec, create=create)


def spec_option(help: str, required: bool = False) -> Callable[[Any], Any]:
    """``--spec``, also read from ``OPTIN_SPEC`` (as the demo reads it)."""
    return click.option(
        "--spec",
        "spec_path",
        envvar="OPTIN_SPEC",
        required=required,
        help=f"{help} (env OPTIN_SPEC)",
    )


@main.group()
def ledger() -> None:
    """Verify, export, query and import the consent ledger."""


KEY_OPTION = click.option(
    "--key",
    "key_path",
    envvar="OPTIN_SIGNING_KEY",
    default="instance/optin-signing.key",
    show_default=True,
    help="the Ed25519 signing key (PEM; created there if missing); keep it away from the database",
)


@ledger.command("checkpoint")
@DB_OPTION
@KEY_OPTION
def ledger_checkpoint(db: str, key_path: str) -> None:
    """Print a signed checkpoint of the chain head: keep it outside the database (a file, an
    e-mail); `verify --checkpoint` later proves the chain still extends it."""
    from .proof.checkpoint import load_key

    with _exit_on_error(db):
        data = _ledger(db).checkpoint(load_key(key_path))
    _echo_json(data)


@ledger.command("verify")
@DB_OPTION
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="a checkpoint file (from `ledger checkpoint`) the chain must still extend; repeatable",
)
@click.option(
    "--public-key",
    help="the signer's public key (base64, as the checkpoint prints it) to trust; without it,"
    " the key named in the checkpoint is used and printed for you to compare",
)
def ledger_verify(db: str, checkpoint_files: tuple[str, ...], public_key: str | None) -> None:
    """Recompute the chain, every version against its stored text, and that the chain still
    extends each checkpoint; exit 1 naming the first broken record."""
    from .errors import ToolkitError
    from .proof.checkpoint import read_checkpoint

    with _exit_on_error(db):
        marks = []
        for name in checkpoint_files:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(f"{name}: {exc.strerror}") from None
            try:
                marks.append(read_checkpoint(text, public_key))
            except ToolkitError as exc:
                raise click.ClickException(f"{name}: {exc}") from None
        result = _ledger(db).verify(marks)
    for mark in marks:
        if public_key is None:
            click.echo(f"checkpoint #{mark.seq} of {mark.at} signed by key {mark.public_key}")
    if result.ok:
        click.echo(f"ok: {result.count} records, chain intact")
        return
    _fail(
        f"BROKEN at record {result.broken_id or '(end of chain)'} (#{result.count}): "
        f"{result.reason}"
    )


@ledger.command("export")
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "dpv"]), default="jsonl")
@click.option("--with-texts", is_flag=True, help="jsonl: emit the stored texts first")
@spec_option("dpv: the spec, for the purposes and the controller")
def ledger_export(db: str, fmt: str, with_texts: bool, spec_path: str | None) -> None:
    """Every record, in chain order, on stdout (dpv: ISO/IEC TS 27560 records in JSON-LD)."""
    with _exit_on_error(db):
        book = _ledger(db, spec_path)
        if fmt == "dpv":
            from .proof.dpv import document

            _echo_json(document(book.events(), book.spec))
            return
        for line in book.export(fmt, texts=with_texts):
            click.echo(line)


@ledger.command("status")
@click.argument("subject")
@click.option("--purpose", "-p", required=True)
@DB_OPTION
@click.option("--region", help="read national numbers, e.g. FR")
@spec_option("the spec: its purposes, markets and channel law")
@click.option("--at", "at", metavar="TIME", help="decide as of then (default now), e.g. 2026-08-10")
@RULES_OPTION
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def ledger_status(
    subject: str,
    purpose: str,
    db: str,
    region: str | None,
    spec_path: str | None,
    at: str | None,
    rule_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """May SUBJECT be contacted for a purpose? Every reason; exit 0 if so, 3 if not."""
    moment = _moment(at)
    rule_book = _book(rule_files)
    with _exit_on_error(db):
        decision = _ledger(db, spec_path).can_send(
            subject, purpose, region, at=moment, book=rule_book
        )
    if as_json:
        _echo_json({"subject": subject, "purpose": purpose, **decision.as_json()})
    else:
        click.echo(f"{'allowed' if decision.allowed else 'blocked'}: {decision.reason}")
        for reason in decision.reasons:
            click.echo(f"  [{reason.code}] {reason.message}")
        if decision.record is not None:
            click.echo(f"latest record: {decision.record.id} {decision.record.hash}")
    sys.exit(0 if decision.allowed else 3)


@ledger.command("record")
@click.argument("subject")
@click.option(
    "--purpose", "-p", "purposes", required=True, multiple=True, help="repeat for several"
)
@click.option(
    "--action",
    type=click.Choice(["opposition", "withdraw", "contact"]),
    default="opposition",
    show_default=True,
)
@click.option(
    "--method",
    type=click.Choice(["email", "phone", "post", "api"]),
    required=True,
    help="how it reached you: an objection by e-mail, on the phone, by post",
)
@DB_OPTION
@spec_option("the spec (checks the purposes and the locale)")
@click.option("--locale", "-l", help="the person's language (default: the spec's first)")
@click.option("--region", help="read national numbers, e.g. FR")
@click.option("--note", help="where the request is (a ticket, a letter's date): kept as evidence")
def ledger_record(
    subject: str,
    purposes: tuple[str, ...],
    action: str,
    method: str,
    db: str,
    spec_path: str | None,
    locale: str | None,
    region: str | None,
    note: str | None,
) -> None:
    """Record an objection, a withdrawal or a contact for SUBJECT: one event per purpose, in one
    transaction (a grant needs the texts shown: the web form and the API record those)."""
    with _exit_on_error(db):
        book = _ledger(db, spec_path, create=True)
        chosen = locale or (book.spec.locales[0] if book.spec else None)
        if chosen is None:
            raise click.UsageError("--locale is required without --spec")
        events = book.append(
            [
                book.prepare(
                    subject,
                    purpose,
                    action,
                    method=method,
                    locale=chosen,
                    region=region,
                    evidence={"message": note} if note else None,
                )
                for purpose in purposes
            ]
        )
    for event in events:
        click.echo(f"{event.action} {event.purpose} {event.subject}: {event.id} {event.hash}")


@ledger.command("redact")
@click.argument("subjects", nargs=-1)
@DB_OPTION
@spec_option("the spec whose [proof] retention applies", required=True)
@click.option("--region", help="read national numbers, e.g. FR")
@click.option("--expired", is_flag=True, help="every person whose proof's retention has ended")
@click.option(
    "--request",
    is_flag=True,
    help="an erasure request honoured before the retention has ended (recorded as such)",
)
def ledger_redact(
    subjects: tuple[str, ...],
    db: str,
    spec_path: str,
    region: str | None,
    expired: bool,
    request: bool,
) -> None:
    """Erase SUBJECTS' numbers or addresses from the ledger, keeping a keyed digest: the chain
    still verifies and their objections still hold (GDPR Art. 17(3)(b), (e))."""
    if bool(subjects) == expired:
        raise click.UsageError("name the SUBJECTS to redact, or --expired (not both)")
    if expired and request:
        raise click.UsageError("--request is for named subjects")
    with _exit_on_error(db):
        book = _ledger(db, spec_path, create=True)
        chosen = list(book.expired()) if expired else list(subjects)
        if not chosen:
            click.echo("nothing to redact: no proof has outlived its retention")
        for subject in chosen:
            event, count = book.redact(subject, region=region, request=request)
            click.echo(f"redacted {subject}: {count} record(s), now {event.subject} ({event.id})")


@ledger.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@DB_OPTION
@spec_option("spec whose texts the imported versions may name")
def ledger_import(source: str, db: str, spec_path: str | None) -> None:
    """Append records from a JSONL export elsewhere: verified, re-chained, all or nothing."""
    with _exit_on_error(source), open(source, encoding="utf-8") as handle:
        count = _ledger(db, spec_path, create=True).import_jsonl(handle)
    click.echo(f"imported {count} records")


@main.command("audit")
@click.argument("contacts", type=click.Path(dir_okay=False))
@click.option("--purpose", "-p", required=True)
@DB_OPTION
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False))
@click.option("--region", help="default region for national numbers, e.g. FR")
@click.option("--column", help="the phone column (default: phone, mobile, msisdn...)")
@click.option(
    "--obtained-column",
    help="when each row's data was obtained (default: a column named obtained_at, if any):"
    " source data never contacted within a month is blocked (GDPR Art. 14(3)(a))",
)
@spec_option("the spec: its purposes, markets and channel law")
@click.option("--at", "at", metavar="TIME", help="decide as of then (default now)")
@RULES_OPTION
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="processes deciding in parallel (default: one per core for files over 1 MB)",
)
def audit_cmd(
    contacts: str,
    purpose: str,
    db: str,
    outdir: str,
    region: str | None,
    column: str | None,
    obtained_column: str | None,
    spec_path: str | None,
    at: str | None,
    rule_files: tuple[str, ...],
    workers: int | None,
) -> None:
    """Split CONTACTS.csv into sendable.csv and blocked.csv (with reasons) and a summary."""
    from .csvio import read_csv
    from .proof.audit import csv_writer, phone_column, run_audit

    moment = _moment(at)
    rule_book = _book(rule_files)
    with _exit_on_error(contacts):
        book = _ledger(db, spec_path)
        with (
            open(contacts, "rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle,
        ):
            columns, rows = read_csv(handle, contacts)
            phone = columns.index(phone_column(columns, column))
            if obtained_column is not None and obtained_column not in columns:
                raise click.ClickException(
                    f"{contacts}: no column {obtained_column!r} (columns: {', '.join(columns)})"
                )
            dated = obtained_column or ("obtained_at" if "obtained_at" in columns else None)
            out = Path(outdir)
            out.mkdir(parents=True, exist_ok=True)
            size = os.fstat(raw.fileno()).st_size
            with (
                (out / "sendable.csv").open("w", encoding="utf-8", newline="") as ok_file,
                (out / "blocked.csv").open("w", encoding="utf-8", newline="") as no_file,
                click.progressbar(
                    length=size,
                    label="contacts",
                    file=sys.stderr,
                    hidden=size < 1_000_000 or not sys.stderr.isatty(),
                ) as bar,
            ):
                summary = run_audit(
                    book,
                    purpose,
                    rows,
                    phone,
                    csv_writer(ok_file, columns),
                    csv_writer(no_file, columns),
                    obtained_column=None if dated is None else columns.index(dated),
                    region=region,
                    at=moment,
                    book=rule_book,
                    progress=lambda _n: bar.update(raw.tell() - bar.pos),
                    workers=workers or ((os.cpu_count() or 1) if size > 1_000_000 else 1),
                )
        lines = summary.lines()
        (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        click.echo(line)


# --- Suppression lists -------------------------------------------------------------------------


@main.group("suppress")
def suppress_group() -> None:
    """Suppression lists: national registries (Bloctel, Lista Robinson...) and your own."""


@suppress_group.command("import")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "--list",
    "name",
    required=True,
    help="the list's name: a registry id (bloctel,"
    " robinson-es, rpo-it, dncm-be, ndd-ie) or your own (e.g. own)",
)
@DB_OPTION
@click.option("--channel", help="the channel it covers: sms, email, phone or post (default all)")
@click.option("--until", help="the last day this copy is valid, e.g. 2026-12-31")
@click.option("--column", help="the column of numbers (or of hashes, with --hashed)")
@click.option("--hashed", is_flag=True, help="the file holds the SHA-256 of each E.164 number")
@click.option("--region", help="read national numbers, e.g. FR")
def suppress_import(
    source: str,
    name: str,
    db: str,
    channel: str | None,
    until: str | None,
    column: str | None,
    hashed: bool,
    region: str | None,
) -> None:
    """Import a new copy of a list from SOURCE (CSV, or one number per line): all or nothing."""
    from .proof.suppress import import_list

    day = _day(until, "--until")
    with _exit_on_error("error"):
        book = _ledger(db, create=True)
        with (
            open(source, "rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle,
        ):
            size = os.fstat(raw.fileno()).st_size
            with click.progressbar(
                length=size,
                label=f"{name}",
                file=sys.stderr,
                hidden=size < 1_000_000 or not sys.stderr.isatty(),
            ) as bar:
                copy = import_list(
                    book,
                    handle,
                    source,
                    name,
                    channel=channel,
                    until=day,
                    column=column,
                    hashed=hashed,
                    region=region,
                    progress=lambda _n: bar.update(raw.tell() - bar.pos),
                )
    scope = copy.channel or "every channel"
    valid = f", valid until {copy.until}" if copy.until else ""
    click.echo(
        f"{copy.name}: {copy.entries:,} entries ({scope}{valid}), imported {copy.imported_at}"
    )


@suppress_group.command("check")
@click.argument("subject")
@DB_OPTION
@click.option("--region", help="read national numbers, e.g. FR")
def suppress_check(subject: str, db: str, region: str | None) -> None:
    """Which lists hold SUBJECT? Exit 0 if none, 3 if some."""
    with _exit_on_error(db):
        found = _ledger(db).suppressed_by(subject, region)
    if not found:
        click.echo(f"{subject}: on no suppression list")
        sys.exit(0)
    for item in found:
        scope = item.channel or "every channel"
        click.echo(f"{subject}: on {item.name} ({scope}; imported {item.imported_at[:10]})")
    sys.exit(3)


@suppress_group.command("list")
@DB_OPTION
def suppress_list(db: str) -> None:
    """The current copy of every list."""
    with _exit_on_error(db):
        lists = _ledger(db).suppression_lists()
    if not lists:
        click.echo("no suppression list")
    for item in lists:
        scope = item.channel or "every channel"
        valid = f", valid until {item.until}" if item.until else ""
        click.echo(
            f"{item.name}: {item.entries:,} entries ({scope}{valid}), imported "
            f"{item.imported_at} from {item.source}"
        )


def entry() -> None:
    """The ``optin`` command. Like Unix tools, it stops quietly when whoever reads its output
    goes away (``optin ledger export ... | head``): no ``BrokenPipeError`` trace."""
    import signal

    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
