"""`distributor run`: the whole job, once or as the scheduler daemon."""

from __future__ import annotations

import asyncio
import sys

import click

from distributor.cli.common import (
    NEEDS_EDITOR,
    blocked_note,
    cli,
    drain_needs_editor,
    handle_errors,
    settings_of,
    sources_need_editor,
)


@cli.command()
@click.option("--once", is_flag=True,
              help="One full cycle (ingest, plan, deliver what is due, send a due digest), then exit.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (also DISTRIBUTOR_LOG_FORMAT=json).")
@click.pass_context
@handle_errors
def run(ctx: click.Context, once: bool, log_json: bool) -> None:
    """Run the job: poll sources, plan and deliver; with --once a single cycle.

    Starts the local sandbox in this process when a channel uses it and none
    is running yet ([sandbox] autostart).

    Exit status of --once: 0 when nothing needs an editor; 1 when this cycle
    could not read a source or an item, a delivery failed or was held (an
    interrupted send it settled included) or waits for a paused channel, or a
    digest issue failed, was held or waits for its paused channel; 2 on a
    config error.
    """
    from distributor.app import run_cycle, sandbox_if_needed, where_it_went
    from distributor.delivery import Dispatcher
    from distributor.store import Store

    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    setup_logging(json_format=log_json or None)
    if not once:
        from distributor.schedule import run_daemon

        run_daemon(settings)
        return

    async def cycle(store: Store):
        dispatcher = Dispatcher(settings, store)
        try:
            return await run_cycle(settings, store, dispatcher)
        finally:
            await dispatcher.aclose()

    with sandbox_if_needed(settings) as sandbox_url, Store.open(settings) as store:
        if sandbox_url:
            click.echo(f"sandbox: started at {sandbox_url} for this run "
                       "(`distributor sandbox` keeps one running, with its page at /_sandbox/)")
        report = asyncio.run(cycle(store))
        for r in report.sources:
            click.echo(f"ingest {r.source}: {r.summary()}")
            for e in r.item_errors + ([r.error] if r.error else []):
                click.echo(f"  error: {e}", err=True)
        d = report.delivery
        click.echo(f"deliver: {d.count('sent')} sent, {d.count('retry') + d.count('rate_limited')} to retry, "
                   f"{d.count('failed')} failed, {d.count('held')} held, {d.waiting} waiting" + blocked_note(d))
        for dg in report.digests:
            click.echo(f"digest {dg.edition}: {dg.status} {dg.detail}")
        click.echo("where it went:")
        for line in where_it_went(store, settings):
            click.echo(line)
    if (sources_need_editor(report.sources) or drain_needs_editor(d)
            or any(dg.status in NEEDS_EDITOR for dg in report.digests)):
        sys.exit(1)
