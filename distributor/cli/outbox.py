"""Commands on the outbox: deliver, send, outbox, retry, hold, release, cancel,
resume. Thin: they parse, call the dispatcher or the outbox, and print."""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from distributor.cli.common import blocked_note, cli, drain_needs_editor, echo_json, handle_errors, settings_of
from distributor.errors import DistributorError


def _summary(report) -> list[str]:
    lines = []
    for title, outcomes in (("recovered", report.recovered), ("corrected", report.corrected),
                            ("delivered", report.outcomes)):
        for o in outcomes:
            lines.append(f"  {title:9} #{o.delivery_id} {o.channel:14} {o.status:12} {o.detail}")
    counts = {s: report.count(s) for s in ("sent", "retry", "rate_limited", "failed", "held", "paused")}
    lines.append("deliver: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "sent")
                 + f"; {report.waiting} waiting" + blocked_note(report))
    return lines


async def _drain_forever(dispatcher, poll_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(dispatcher, "stopping", True))
    while not dispatcher.stopping:
        report = await dispatcher.drain(max_wait=0)
        for line in _summary(report)[:-1]:
            click.echo(line)
        waited = 0.0
        while waited < poll_seconds and not dispatcher.stopping:
            await asyncio.sleep(0.2)
            waited += 0.2


@cli.command()
@click.option("--once", is_flag=True, help="Drain what is due now (waiting briefly for rate limits), then exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the outcomes as JSON.")
@click.pass_context
@handle_errors
def deliver(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Send due Telegram and X deliveries (newsletter ones wait for the digest).

    Without --once, keeps draining until SIGINT or SIGTERM; an interrupted send
    is left for the next start to settle, never resent blindly.

    Exit status of --once: 0 when nothing needs an editor; 1 when a delivery
    of this run failed or was held (an interrupted send it settled included),
    or waits for a paused channel; 2 on a config error.
    """
    from distributor.app import sandbox_if_needed
    from distributor.delivery import Dispatcher
    from distributor.logs import setup_logging
    from distributor.store import Store

    settings = settings_of(ctx)
    setup_logging()

    async def main() -> bool:
        with sandbox_if_needed(settings), Store.open(settings) as store:
            dispatcher = Dispatcher(settings, store)
            try:
                if once:
                    report = await dispatcher.drain()
                    needs_editor = drain_needs_editor(report)
                    if as_json:
                        echo_json({k: [o.__dict__ for o in getattr(report, k)]
                                   for k in ("outcomes", "recovered", "corrected")} | {"waiting": report.waiting})
                    else:
                        for line in _summary(report):
                            click.echo(line)
                    return needs_editor
                await _drain_forever(dispatcher, poll_seconds=1.0)
                return False
            finally:
                await dispatcher.aclose()

    if asyncio.run(main()):
        sys.exit(1)


@cli.command()
@click.argument("ref")
@click.option("--channel", "kind", required=True, type=click.Choice(["telegram", "twitter"]),
              help="The channel of the article's edition to send to.")
@click.option("--force", is_flag=True, help="Send again although it was sent (a new, recorded delivery).")
@click.pass_context
@handle_errors
def send(ctx: click.Context, ref: str, kind: str, force: bool) -> None:
    """Send a stored article (REF: its id) to a channel now, by hand.

    Sends what is planned but not yet due, what failed, or what was held.
    An article already sent there is refused unless --force.
    """
    from distributor.delivery import Dispatcher
    from distributor.store import Store, utcnow

    settings = settings_of(ctx)
    if not ref.isdigit():
        raise DistributorError(f"REF must be a stored article's id (see `distributor articles`), not {ref!r}")

    from distributor.app import sandbox_if_needed

    async def main() -> None:
        with sandbox_if_needed(settings), Store.open(settings) as store:
            stored = store.get_article(int(ref))
            edition = stored.article.language
            channel = f"{edition}.{kind}"
            cfg = settings.editions.get(edition)
            if cfg is None or getattr(cfg.channels, kind) is None:
                raise DistributorError(f"no {kind} channel configured for {edition}")
            now = utcnow()
            outbox = store.outbox
            if outbox.channel(channel).paused:  # refuse before changing anything
                raise DistributorError(f"{channel} is paused ({outbox.channel(channel).paused_reason}); "
                                       f"`distributor resume {channel}` first")
            delivery_id = outbox.ensure(stored.id, channel=channel, kind=kind, article_version=stored.version,
                                        now=now)
            row = outbox.get(delivery_id)
            if row.status == "sent" or row.status == "sending":
                sent = [d for d in store.deliveries(article_id=stored.id) if d.channel == channel
                        and d.status in ("sent", "sending")]
                if not force:
                    last = sent[-1]
                    raise DistributorError(
                        f"article {stored.id} is already {last.status} to {channel} (delivery {last.id}, "
                        f"remote id {last.remote_id or '-'}); use --force to send it again")
                delivery_id = outbox.add_forced(stored.id, channel=channel, kind=kind,
                                                article_version=stored.version, now=now)
            elif row.status != "pending" or (row.next_attempt_at and row.next_attempt_at > now):
                outbox.set_status(delivery_id, from_states=("pending", "failed", "held", "skipped", "cancelled"),
                                  to="pending", now=now, reason="sent by hand by an editor",
                                  reset_attempts=row.status == "failed")
            state = outbox.channel(channel)
            if state.not_before and state.not_before > utcnow():
                # The channel's pacing or a flood wait: wait it out rather than risk a 429.
                wait = (state.not_before - utcnow()).total_seconds()
                if wait > 120:
                    raise DistributorError(f"{channel} must wait until {state.not_before:%H:%M:%S} UTC "
                                           "(a rate limit); try again then")
                click.echo(f"{channel}: waiting {wait:.1f}s for the channel's pacing")
                await asyncio.sleep(wait)
            dispatcher = Dispatcher(settings, store)
            try:
                outcome = await dispatcher.deliver(delivery_id)
            finally:
                await dispatcher.aclose()
            click.echo(f"#{outcome.delivery_id} {outcome.channel}: {outcome.status} {outcome.detail}")
            if outcome.status != "sent":
                sys.exit(1)

    asyncio.run(main())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Every delivery with its state, attempts and errors.")
@click.option("--status", default=None, help="Only deliveries in this state.")
@click.option("--article", "article_id", type=int, default=None, help="Only this article's deliveries.")
@click.option("--attempts", "with_attempts", is_flag=True, help="With --json: include every attempt.")
@click.pass_context
@handle_errors
def outbox(ctx: click.Context, as_json: bool, status: str | None, article_id: int | None,
           with_attempts: bool) -> None:
    """The outbox: every delivery, its state, attempts, remote id and last error."""
    from distributor.store import Store

    settings = settings_of(ctx)
    with Store.open(settings) as store:
        rows = store.deliveries(article_id=article_id, status=status)
        titles = {a.id: a.article.label for a in store.list_articles()}
        channels = store.outbox.channels()
        items = []
        for d in rows:
            item = {
                "id": d.id, "article_id": d.article_id, "title": titles.get(d.article_id), "channel": d.channel,
                "kind": d.kind, "seq": d.seq, "status": d.status, "reason": d.reason, "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at, "remote_id": d.remote_id, "last_error": d.last_error,
                "article_version": d.article_version, "updated_at": d.updated_at,
            }
            if with_attempts:
                item["attempt_log"] = [a.__dict__ for a in store.outbox.attempts(d.id)]
            items.append(item)
    if as_json:
        echo_json({"deliveries": items, "channels": [c.__dict__ for c in channels]})
        return
    for c in channels:
        if c.paused:
            click.echo(f"PAUSED {c.channel}: {c.paused_reason}  (`distributor resume {c.channel}`)")
    for i in items:
        extra = i["last_error"] or i["reason"] or ""
        remote = f" -> {i['remote_id']}" if i["remote_id"] else ""
        click.echo(f"#{i['id']:<4} {i['status']:9} {i['channel']:14} a#{i['article_id']} "
                   f"{(i['title'] or '')[:40]:40}{remote} {extra}".rstrip())
    if not items:
        click.echo("the outbox is empty")


def _transition(ctx: click.Context, delivery_id: int, *, from_states: tuple[str, ...], to: str,
                reason: str | None, reset_attempts: bool = False) -> None:
    from distributor.store import Store, utcnow

    settings = settings_of(ctx)
    with Store.open(settings) as store:
        store.outbox.set_status(delivery_id, from_states=from_states, to=to, now=utcnow(), reason=reason,
                                reset_attempts=reset_attempts)
        row = store.outbox.get(delivery_id)
    click.echo(f"#{row.id} {row.channel}: {row.status}")


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def retry(ctx: click.Context, delivery_id: int) -> None:
    """Try a failed delivery again (its attempt count starts over)."""
    _transition(ctx, delivery_id, from_states=("failed",), to="pending", reason="retried by an editor",
                reset_attempts=True)


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def hold(ctx: click.Context, delivery_id: int) -> None:
    """Hold a pending or failed delivery: it will not go out until released."""
    _transition(ctx, delivery_id, from_states=("pending", "failed"), to="held", reason="held by an editor")


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def release(ctx: click.Context, delivery_id: int) -> None:
    """Release a held delivery: it goes out at the next `deliver`."""
    _transition(ctx, delivery_id, from_states=("held",), to="pending", reason="released by an editor")


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def cancel(ctx: click.Context, delivery_id: int) -> None:
    """Cancel a delivery that must not go out (or that is already on the channel)."""
    _transition(ctx, delivery_id, from_states=("pending", "held", "failed"), to="cancelled",
                reason="cancelled by an editor")


@cli.command()
@click.argument("channel")
@click.pass_context
@handle_errors
def resume(ctx: click.Context, channel: str) -> None:
    """Resume a paused channel (e.g. de.telegram) once its problem is fixed."""
    from distributor.channels import channel_config
    from distributor.store import Store, utcnow

    settings = settings_of(ctx)
    channel_config(settings, channel)  # a ConfigurationError for an unknown channel
    with Store.open(settings) as store:
        store.outbox.update_channel(channel, paused=False, paused_reason=None, consecutive_failures=0,
                                    not_before=None, now=utcnow())
    click.echo(f"{channel}: resumed")
