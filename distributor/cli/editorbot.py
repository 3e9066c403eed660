"""`distributor editor-bot`: the editors' Telegram bot alone (it also runs
inside `distributor run`). Thin: it opens the store, starts the bot
(distributor/editorbot) and waits for SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import click

from distributor.cli.common import cli, handle_errors, settings_of
from distributor.errors import ConfigurationError


@cli.command("editor-bot")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (also DISTRIBUTOR_LOG_FORMAT=json).")
@click.pass_context
@handle_errors
def editor_bot(ctx: click.Context, log_json: bool) -> None:
    """Run the editors' Telegram bot of [desk.telegram] until SIGINT or SIGTERM.

    Editors (the user ids in `editors`) use the commands /latest, /preview,
    /send, /skip, /hold, /release, /resume, /status and /digest; articles
    awaiting approval are posted to the group with their buttons; alerts
    arrive once per event. `distributor run` runs the same bot: run this
    only where the daemon does not (one bot polls at a time).

    Starts the local sandbox in this process when the bot or a channel is in
    sandbox mode and none is running yet ([sandbox] autostart).

    Exit status: 0 when stopped by a signal; 2 on a config error (no
    [desk.telegram], its token unset or rejected).
    """
    from distributor.app import open_app
    from distributor.editorbot.bot import start_bot
    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    setup_logging(json_format=log_json or None)
    if settings.desk.telegram is None:
        raise ConfigurationError(f"{settings.path}: no [desk.telegram] section: the editors' bot is not configured")

    async def main() -> None:
        with open_app(settings, sandbox=True) as app:
            if app.sandbox_url:
                click.echo(f"sandbox: started at {app.sandbox_url} for the editors' bot")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                bot = await start_bot(settings, app.store)
                click.echo(f"editors' bot @{bot.bot.username} running; SIGTERM or Ctrl-C stops it")
                try:
                    await stop.wait()
                finally:
                    await bot.stop()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    asyncio.run(main())
