"""`distributor serve`: the reader pages and the SendGrid Event Webhook."""

from __future__ import annotations

import click

from distributor.cli.common import cli, handle_errors, settings_of


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port, 8080).")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the reader pages (signup, confirm, one-click unsubscribe) and the
    SendGrid Event Webhook. `distributor run` serves them too when [web] enabled.

    Starts the local sandbox in this process when a channel uses it and none
    is running yet ([sandbox] autostart): confirmation emails go there.
    """
    from distributor.app import open_app
    from distributor.logs import setup_logging
    from distributor.newsletter.tokens import web_secret
    from distributor.web.server import run_web

    settings = settings_of(ctx)
    setup_logging()
    web_secret(settings)  # a live newsletter without its signing secret is a clear error, not a traceback
    h, p = host or settings.web.host, settings.web.port if port is None else port
    with open_app(settings, sandbox=True) as app:
        if app.sandbox_url:
            click.echo(f"sandbox: started at {app.sandbox_url} (its page at {app.sandbox_url}/_sandbox/)")
        click.echo(f"serving http://{h}:{p} (public address {settings.web.public_url}); "
                   f"signup form at {settings.web.public_url}/subscribe/<edition>")
        run_web(settings, host=h, port=p, store=app.store)
