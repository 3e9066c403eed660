"""`distributor subscribers import|export|list|delete`: the subscriber list.

Thin: the work is in newsletter/roster.py and store/subscribers.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from distributor.cli.common import cli, handle_errors, settings_of
from distributor.store.subscribers import STATUSES


@cli.group()
def subscribers() -> None:
    """The newsletter's readers: import a CSV, export, list, erase."""


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--edition", required=True, help="The edition whose newsletter they read (de, fr, en, …).")
@click.option("--consent", default=None, metavar="WORDING",
              help="The wording they agreed to: imported as active with this consent (source import:FILE, "
                   "time now). Without it they are pending and each gets the confirmation email.")
@click.pass_context
@handle_errors
def import_(ctx: click.Context, file: Path, edition: str, consent: str | None) -> None:
    """Import FILE.csv: a header row naming an `email` column (others are
    ignored). Invalid rows are reported with their line number and the valid
    ones imported; importing the same file again changes nothing. An address
    already listed is left as it is: unsubscribed, bounced or complained
    readers are never reactivated (each is reported)."""
    from distributor.app import open_app
    from distributor.newsletter import roster

    settings = settings_of(ctx)
    if consent is not None and not consent.strip():
        raise click.BadParameter("give the wording they agreed to", param_hint="--consent")
    problems = 0

    def problem(p: roster.Problem) -> None:
        nonlocal problems
        problems += 1
        click.echo(f"\n{file.name}, line {p.line}: {p.text}", err=True)

    with (open_app(settings, sandbox=consent is None) as app,
          click.progressbar(length=os.path.getsize(file), label=f"importing {file.name}", file=sys.stderr,
                            show_eta=True) as bar):
        report = roster.import_csv(settings, app.store, file, edition, consent=consent, now=app.clock(),
                                   progress=bar.update, problem=problem)
    click.echo(f"{report.rows} row(s) read: {report.added} added"
               + (f" as {'active' if consent else 'pending'}" if report.added else "")
               + f", {report.unchanged} already listed (unchanged), {report.suppressed} unsubscribed, bounced "
                 f"or complained (not reactivated), {report.invalid} invalid")
    if consent is None:
        click.echo(f"{report.confirmations} confirmation email(s) sent")
    if report.confirmation_error:
        click.echo(f"error: confirmation emails: {report.confirmation_error}", err=True)
        sys.exit(1)


@subscribers.command("export")
@click.option("--edition", default=None, help="Only this edition.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.pass_context
@handle_errors
def export(ctx: click.Context, edition: str | None, fmt: str) -> None:
    """Every subscriber (with status and consent) to standard output, streaming."""
    from distributor.app import open_app
    from distributor.newsletter import roster

    with open_app(settings_of(ctx)) as app:
        store = app.store
        roster.export(store, sys.stdout, edition=edition, fmt=fmt)


@subscribers.command("list")
@click.option("--edition", default=None, help="Only this edition.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
@handle_errors
def list_(ctx: click.Context, edition: str | None, status: str | None, as_json: bool) -> None:
    """Subscribers, oldest first: id, edition, address, status and since when."""
    from distributor.app import open_app
    from distributor.newsletter import roster
    from distributor.store.subscribers import Subscribers

    with open_app(settings_of(ctx)) as app:
        store = app.store
        if as_json:
            roster.export(store, sys.stdout, edition=edition, status=status, fmt="json")
            return
        shown = 0
        for s in Subscribers(store.engine).rows(edition, status):
            click.echo(f"{s.id:>8}  {s.edition:3} {s.status:12} {s.status_changed_at:%Y-%m-%d %H:%M}  {s.email}")
            shown += 1
        if not shown:
            click.echo("no subscribers" + (f" of {edition}" if edition else "") + (f" {status}" if status else ""))


@subscribers.command("delete")
@click.argument("email")
@click.option("--edition", default=None, help="Only this edition (default: every edition).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@handle_errors
def delete(ctx: click.Context, email: str, edition: str | None, yes: bool) -> None:
    """Erase EMAIL: the subscriber, and the address wherever the database
    still holds it (past issues' records, attempts and errors, webhook
    bookkeeping). Asks first unless --yes."""
    from distributor.app import open_app
    from distributor.newsletter import roster

    with open_app(settings_of(ctx)) as app:
        store = app.store
        if not yes:
            click.confirm(f"Erase {email}{f' from {edition}' if edition else ' from every edition'} and every "
                          f"record of the address?", abort=True, err=True)
        changed = roster.erase(store, email, edition=edition)
    if not any(changed.values()):
        click.echo(f"{email}: not found; nothing erased")
        return
    rest = ", ".join(f"{t}: {n}" for t, n in changed.items() if t != "subscribers" and n)
    click.echo(f"erased {email}: {changed.get('subscribers', 0)} subscriber row(s) deleted"
               + (f"; scrubbed from {rest}" if rest else ""))
