"""The command line: thin commands that parse arguments and call the layers below.

Every command takes --config (default config/distributor.toml, or
DISTRIBUTOR_CONFIG). Errors a user can fix (config, input, a source) print one
clear line on stderr and exit 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from distributor.config import Settings, load_settings
from distributor.errors import ConfigurationError, DistributorError


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into one clear line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigurationError, DistributorError) as exc:
            _fail(str(exc))

    return wrapper


def settings_of(ctx: click.Context) -> Settings:
    """The loaded settings (read once, on first use by a command)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config_path"))
    return obj["settings"]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DISTRIBUTOR_CONFIG",
    default=None,
    help="Config file (default: config/distributor.toml, or $DISTRIBUTOR_CONFIG).",
)
@click.version_option(package_name="distributor")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """distributor: route each article by its own footer to the newsletter,
    Telegram and X, and never lose or duplicate a send."""
    ctx.ensure_object(dict)["config_path"] = config_path


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parsed structure as JSON.")
@click.option("--language", default=None, help="Language to assume when the file does not say (de, fr, …).")
@handle_errors
def parse(path: Path, as_json: bool, language: str | None) -> None:
    """Parse one article file (.txt, .md, .html); needs no database."""
    from distributor.ingest.parse import parse_file

    article = parse_file(path, default_language=language)
    if as_json:
        echo_json(article.to_json())
        return
    click.echo(f"title:      {article.title}")
    click.echo(f"language:   {article.language}")
    click.echo(f"url:        {article.url or '-'}")
    if article.author:
        role = f" ({article.author.role})" if article.author.role else ""
        click.echo(f"author:     {article.author.name}{role}")
    click.echo(f"translator: {article.translator or '-'}")
    click.echo(f"related:    {len(article.related)}")
    for r in article.related:
        click.echo(f"  - {r.title}" + (f" <{r.url}>" if r.url else ""))
    kinds = ", ".join(c.kind for c in article.channels) or "none (no footer)"
    click.echo(f"channels:   {kinds}")
    for w in article.warnings:
        click.echo(f"warning:    {w}")


# Commands added by other modules register below this line.


def main() -> None:
    cli(prog_name="distributor")


if __name__ == "__main__":
    main()
