"""The ``optin`` command: validate specs, render artefacts, print the spec's JSON Schema.

Exit codes: 0 success, 1 bad input (every problem on stderr as ``FILE: path: message``),
2 usage error.
"""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .errors import SpecError, ToolkitError
from .render import ARTEFACTS, render
from .spec import json_schema, load_spec


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optin")
def main() -> None:
    """Render lawful consent checkboxes, notices and SMS footers from one spec file."""


@main.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
def validate(specs: tuple[str, ...]) -> None:
    """Check spec files; print every problem as FILE: path: message."""
    failed = False
    for path in specs:
        try:
            load_spec(path)
        except SpecError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(f"{path}: {problem}", err=True)
        else:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


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
def render_cmd(spec_path: str, artefact: str, locale: str, fmt: str, first_contact: bool) -> None:
    """Render one artefact of SPEC in one locale."""
    if first_contact and artefact != "sms-footer":
        raise click.UsageError("--first-contact applies to --artefact sms-footer only")
    try:
        spec = load_spec(spec_path)
        rendered = render(spec, artefact, locale, first_contact=first_contact)
    except SpecError as exc:
        _fail("\n".join(f"{spec_path}: {p}" for p in exc.problems))
        return
    except ToolkitError as exc:
        _fail(f"{spec_path}: {exc}")
        return
    if fmt == "json":
        click.echo(json.dumps(rendered.as_json(), ensure_ascii=False, indent=2))
    elif fmt == "text" or rendered.html is None:
        click.echo(rendered.text)
    else:
        click.echo(rendered.html)


@main.command()
def schema() -> None:
    """Print the JSON Schema of a spec file."""
    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))
