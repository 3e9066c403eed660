"""`distributor worker`: a delivery-only process, one of several.

It sends due Telegram and X deliveries until SIGTERM or SIGINT, and nothing
else: no polling, no planning, no digest, no web. Start as many as the load
needs, on one machine or several, against one PostgreSQL database (SQLite
works for workers on one machine). They share the outbox and the channels'
limits through the database (store/leases.py, store/channel_state.py); each
delivery is sent by one of them. `distributor run` delivers too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import click

from distributor.cli.common import cli, handle_errors, settings_of

if TYPE_CHECKING:
    from distributor.app import App
    from distributor.delivery import DrainReport

log = logging.getLogger("distributor.worker")


@cli.command()
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="How often to look for due deliveries when there is nothing to send.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (also DISTRIBUTOR_LOG_FORMAT=json).")
@click.pass_context
@handle_errors
def worker(ctx: click.Context, poll_seconds: float, log_json: bool) -> None:
    """Deliver only: send due Telegram and X deliveries, alongside other workers.

    Registers itself for `distributor status` (host, pid, heartbeat) while it
    runs; SIGTERM or SIGINT stops it after the send in flight. A worker killed
    mid-send leaves that delivery to the unknown-outcome path (held, or found
    on X by another worker's recovery), never resent blindly. It starts no
    sandbox: run `distributor sandbox` (or `distributor run`) for one.

    Exit status: 0 when stopped; 2 on a config or database error.
    """
    from distributor.app import drain_until_stopped, open_app_async
    from distributor.logs import setup_logging
    from distributor.web.server import ops_if_enabled
    from distributor.workers import presence

    settings = settings_of(ctx)
    setup_logging(json_format=log_json or None)

    def logged(report: DrainReport) -> None:
        for o in report.recovered + report.corrected + report.outcomes:
            log.info("delivery %s %s: %s %s", o.delivery_id, o.channel, o.status, o.detail)

    async def main() -> None:
        async with open_app_async(settings, sandbox=False) as app:
            worker_id = app.dispatcher.worker
            # /metrics, /healthz, /readyz on [metrics] port (compose.yaml's health check asks /readyz).
            with ops_if_enabled(settings, role="worker"):
                await _deliver(app, worker_id)
        log.info("worker %s stopped", worker_id)

    async def _deliver(app: App, worker_id: str) -> None:
        app.dispatcher.warm()  # ready to send before it says it is (registered)
        async with presence(app.store, worker_id, role="worker", clock=app.clock):
            log.info("worker %s delivering; SIGTERM or Ctrl-C stops it", worker_id)
            await drain_until_stopped(app, poll_seconds=poll_seconds, on_report=logged, max_wait=poll_seconds)

    asyncio.run(main())
