"""`distributor run`: the whole job, once or as the scheduler daemon."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from distributor.cli.common import (
    NEEDS_EDITOR,
    awaiting_note,
    blocked_note,
    cli,
    drain_needs_editor,
    handle_errors,
    settings_of,
    sources_need_editor,
)

if TYPE_CHECKING:
    from distributor.app import CycleReport


@cli.command()
@click.option("--once", is_flag=True,
              help="One full cycle (ingest, plan, deliver what is due, send a due digest), then exit.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (also DISTRIBUTOR_LOG_FORMAT=json).")
@click.pass_context
@handle_errors
def run(ctx: click.Context, once: bool, log_json: bool) -> None:
    """Run the job: poll sources, plan and deliver; with --once a single cycle.

    Several `run`s (on one database) elect one leader, which runs the
    schedule; the others stand by, deliver only, and take over within 10 s
    when it is gone (`distributor status` names the leader). With [metrics]
    port set, serves /metrics, /healthz and /readyz there.

    Starts the local sandbox in this process when a channel uses it and none
    is running yet ([sandbox] autostart). With [desk.telegram] the editors'
    bot runs in the daemon too (`distributor editor-bot` runs it alone).

    Exit status of --once: 0 when nothing needs an editor; 1 when this cycle
    could not read a source or an item, a delivery failed or was held (an
    interrupted send it settled included) or waits for a paused channel, or a
    digest issue failed, was held or waits for its paused channel; 2 on a
    config error.
    """
    from distributor.app import CycleReport, open_app_async, run_cycle, where_it_went
    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    setup_logging(json_format=log_json or None)
    if not once:
        from distributor.editorbot.bot import start_in_daemon
        from distributor.schedule import run_daemon

        run_daemon(settings, editor_bot=start_in_daemon)
        return

    async def cycle() -> CycleReport:
        async with open_app_async(settings) as app:
            if app.sandbox_url:
                click.echo(f"sandbox: started at {app.sandbox_url} for this run "
                           "(`distributor sandbox` keeps one running, with its page at /_sandbox/)")
            report = await run_cycle(settings, app.store, app.dispatcher)
            _print(report, where_it_went(app.store, settings))
            return report

    report = asyncio.run(cycle())
    d = report.delivery
    if (sources_need_editor(report.sources) or (d is not None and drain_needs_editor(d))
            or any(dg.status in NEEDS_EDITOR for dg in report.digests)):
        sys.exit(1)


def _print(report: CycleReport, where: list[str]) -> None:
    for r in report.sources:
        click.echo(f"ingest {r.source}: {r.summary()}")
        for e in r.item_errors + ([r.error] if r.error else []):
            click.echo(f"  error: {e}", err=True)
    d = report.delivery
    if d is not None:
        click.echo(f"deliver: {d.count('sent')} sent, {d.count('retry') + d.count('rate_limited')} to retry, "
                   f"{d.count('failed')} failed, {d.count('held')} held, {d.waiting} waiting" + blocked_note(d)
                   + awaiting_note(d))
    for dg in report.digests:
        click.echo(f"digest {dg.edition}: {dg.status} {dg.detail}")
    click.echo("where it went:")
    for line in where:
        click.echo(line)
