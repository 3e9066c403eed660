"""`distributor editors add|list|remove`: who may log in to the desk (/desk/).

Thin: the rules (names, passwords, argon2) are in store/editors.py.
"""

from __future__ import annotations

import sys

import click

from distributor.cli.common import cli, echo_json, handle_errors, settings_of


@cli.group()
def editors() -> None:
    """The editors who may log in to the desk (/desk/ of `distributor serve`)."""


@editors.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of asking for it.")
@click.pass_context
@handle_errors
def add(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Add the editor NAME (2 to 32 characters: a-z, 0-9, '.', '_', '-'; stored
    in lower case). The password is asked for twice, hidden, or read from
    standard input with --password-stdin; it needs at least 10 characters.
    Only its argon2 hash is stored."""
    from distributor.store import Store, utcnow
    from distributor.store.editors import DuplicateEditor, Editors, check_password, normalize_name

    settings = settings_of(ctx)
    key = normalize_name(name)
    with Store.open(settings) as store:
        accounts = Editors(store.engine)
        if accounts.find(key) is not None:  # before asking for a password that cannot be used
            raise DuplicateEditor(f"an editor named {key!r} exists already")
        if password_stdin:
            password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        else:
            password = click.prompt(f"Password for {key}", hide_input=True, confirmation_prompt=True,
                                    default="", show_default=False, err=True)
        check_password(password, key)
        accounts.add(key, password, now=utcnow())
    click.echo(f"added editor {key}: they may log in at {settings.web.public_url}/desk/login")


@editors.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
@handle_errors
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every editor: name, since when, last login, live sessions."""
    from distributor.store import Store, utcnow
    from distributor.store.editors import Editors

    with Store.open(settings_of(ctx)) as store:
        accounts = Editors(store.engine)
        rows = accounts.all()
        live = accounts.live_sessions(now=utcnow())
    if as_json:
        echo_json([{"name": e.name, "created_at": e.created_at.isoformat(),
                    "last_login_at": e.last_login_at.isoformat() if e.last_login_at else None,
                    "sessions": live.get(e.id, 0)} for e in rows])
        return
    if not rows:
        click.echo("no editors (add one with `distributor editors add NAME`)")
        return
    for e in rows:
        last = f"{e.last_login_at:%Y-%m-%d %H:%M} UTC" if e.last_login_at else "never"
        click.echo(f"{e.name:32}  added {e.created_at:%Y-%m-%d %H:%M} UTC  last login {last}  "
                   f"{live.get(e.id, 0)} session(s)")


@editors.command("remove")
@click.argument("name")
@click.pass_context
@handle_errors
def remove(ctx: click.Context, name: str) -> None:
    """Remove the editor NAME: they can no longer log in, and every session
    they have open ends at once."""
    from distributor.store import Store
    from distributor.store.editors import Editors, normalize_name

    settings = settings_of(ctx)
    key = normalize_name(name)
    with Store.open(settings) as store:
        ended = Editors(store.engine).remove(key)
    click.echo(f"removed editor {key}" + (f"; {ended} session(s) ended" if ended else ""))
