"""`distributor check`: validate the config, sources, templates and credentials."""

from __future__ import annotations

import sys

import click

from distributor.cli.common import cli, settings_of
from distributor.errors import ConfigurationError


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config, sources, templates and credentials; exit 1 on any problem.

    Every problem in the config file is reported at once (unknown keys, wrong
    types, values out of their range, unknown time zones), each naming the
    file, the [section], the key and what is allowed."""
    from distributor.checks import article_warnings, config_warnings, run_checks
    from distributor.config import ConfigErrors

    try:
        settings = settings_of(ctx)
    except ConfigurationError as exc:
        problems = exc.problems if isinstance(exc, ConfigErrors) else [str(exc)]
        for p in problems:
            click.echo(f"FAIL config: {p}")
        click.echo(f"{len(problems)} problem(s) found")
        sys.exit(1)
    problems, notes = run_checks(settings)
    for n in notes:
        click.echo(f"ok   {n}")
    for w in config_warnings(settings) + article_warnings(settings):
        click.echo(f"WARN {w}")
    for p in problems:
        click.echo(f"FAIL {p}")
    if problems:
        click.echo(f"{len(problems)} problem(s) found")
        sys.exit(1)
    click.echo("all checks passed")
