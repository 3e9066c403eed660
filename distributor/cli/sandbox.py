"""`distributor sandbox`: serve the local emulators."""

from __future__ import annotations

import click

from distributor.cli.common import cli, handle_errors, settings_of


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default: [sandbox] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [sandbox] port).")
@click.pass_context
@handle_errors
def sandbox(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the local emulators of the Telegram Bot API, X API v2 and SendGrid v3."""
    from distributor.sandbox.server import run_sandbox

    settings = settings_of(ctx)
    host = host or settings.sandbox.host
    port = settings.sandbox.port if port is None else port
    click.echo(f"sandbox: http://{host}:{port}/_sandbox/  (Telegram /telegram/bot<TOKEN>/, X /x/, SendGrid /sendgrid/)")
    run_sandbox(settings, host=host, port=port, log_level="warning")
