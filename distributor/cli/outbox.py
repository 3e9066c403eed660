"""Commands on the outbox: deliver, send, outbox, approve, retry, hold,
release, cancel, resume. Thin: they parse, open the App (app.py), call the dispatcher or an
editor action (actions/deliveries.py), and print."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from distributor.cli.common import (
    awaiting_note,
    blocked_note,
    cli,
    drain_needs_editor,
    echo_json,
    handle_errors,
    settings_of,
)
from distributor.errors import DistributorError

if TYPE_CHECKING:
    from distributor.actions.common import ApprovalResult, DeliveryResult
    from distributor.delivery import DrainReport


def _summary(report: DrainReport) -> list[str]:
    lines = []
    for title, outcomes in (("recovered", report.recovered), ("corrected", report.corrected),
                            ("delivered", report.outcomes)):
        for o in outcomes:
            lines.append(f"  {title:9} #{o.delivery_id} {o.channel:14} {o.status:12} {o.detail}")
    counts = {s: report.count(s) for s in ("sent", "retry", "rate_limited", "failed", "held", "paused")}
    lines.append("deliver: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "sent")
                 + f"; {report.waiting} waiting" + blocked_note(report) + awaiting_note(report))
    return lines


def _echo_outcomes(report: DrainReport) -> None:
    for line in _summary(report)[:-1]:
        click.echo(line)


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
    from distributor.app import drain_until_stopped, open_app_async
    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    setup_logging()

    async def main() -> bool:
        async with open_app_async(settings) as app:
            if once:
                report = await app.dispatcher.drain()
                if as_json:
                    echo_json({k: [o.__dict__ for o in getattr(report, k)]
                               for k in ("outcomes", "recovered", "corrected")}
                              | {"waiting": report.waiting, "awaiting_approval": report.awaiting_approval})
                else:
                    for line in _summary(report):
                        click.echo(line)
                return drain_needs_editor(report)
            await drain_until_stopped(app, poll_seconds=1.0, on_report=_echo_outcomes)
            return False

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
    from distributor.actions.common import cli_actor
    from distributor.actions.deliveries import resend, send_now
    from distributor.app import open_app_async

    settings = settings_of(ctx)
    if not ref.isdigit():
        raise DistributorError(f"REF must be a stored article's id (see `distributor articles`), not {ref!r}")

    def waiting(channel: str, seconds: float) -> None:
        click.echo(f"{channel}: waiting {seconds:.1f}s for the channel's pacing")

    async def main() -> None:
        async with open_app_async(settings) as app:
            action = resend if force else send_now
            result = await action(app, int(ref), kind, actor=cli_actor(), on_wait=waiting)
        click.echo(f"#{result.delivery_id} {result.channel}: {result.outcome} {result.detail}")
        if result.outcome != "sent":
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
    from distributor.app import open_app

    with open_app(settings_of(ctx)) as app:
        store = app.store
        rows = store.deliveries(article_id=article_id, status=status)
        titles = {a.id: a.article.label for a in store.list_articles()}
        channels = store.outbox.channels()
        items: list[dict[str, Any]] = []
        for d in rows:
            item: dict[str, Any] = {
                "id": d.id, "article_id": d.article_id, "title": titles.get(d.article_id), "channel": d.channel,
                "kind": d.kind, "seq": d.seq, "status": d.status, "reason": d.reason, "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at, "remote_id": d.remote_id, "last_error": d.last_error,
                "article_version": d.article_version, "approved_version": d.approved_version,
                "updated_at": d.updated_at,
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


@cli.command()
@click.argument("delivery_id", type=int, required=False)
@click.option("--article", "article_id", type=int, default=None,
              help="Approve all of this article's deliveries awaiting approval (with --channel: those).")
@click.option("--channel", "kinds", multiple=True, type=click.Choice(["telegram", "twitter", "newsletter"]),
              help="With --article: only this channel of the article's edition (repeatable).")
@click.pass_context
@handle_errors
def approve(ctx: click.Context, delivery_id: int | None, article_id: int | None, kinds: tuple[str, ...]) -> None:
    """Approve a delivery awaiting approval (a channel with approval = "required"),
    or with --article all of an article's: each goes out when due, its posting
    window and spacing applying from now on. On a sent post whose article
    changed, approves the correction (the post is edited at the next run).

    Exit status: 0 when approved (or approved already, by whoever did);
    2 when there is nothing to approve, or on a config error.
    """
    from distributor.actions.common import cli_actor
    from distributor.actions.deliveries import approve as approve_one
    from distributor.actions.deliveries import approve_article
    from distributor.app import open_app

    if (delivery_id is None) == (article_id is None):
        raise DistributorError("name one delivery (DELIVERY_ID) or one article (--article ID)")
    if kinds and article_id is None:
        raise DistributorError("--channel goes with --article (a delivery is one channel already)")
    with open_app(settings_of(ctx)) as app:
        if delivery_id is not None:
            results: tuple[ApprovalResult, ...] = (approve_one(app, delivery_id, actor=cli_actor()),)
            refused: tuple[tuple[int, str], ...] = ()
        else:
            assert article_id is not None
            done = approve_article(app, article_id, actor=cli_actor(), channels=kinds or None)
            results, refused = done.results, done.refused
    for r in results:
        click.echo(f"#{r.delivery_id} {r.channel}: {r.detail}")
    for rid, why in refused:
        click.echo(f"error: #{rid}: {why}", err=True)
    if refused:
        sys.exit(2)


def _move(ctx: click.Context, action: Callable[..., DeliveryResult], delivery_id: int) -> None:
    from distributor.actions.common import cli_actor
    from distributor.app import open_app

    with open_app(settings_of(ctx)) as app:
        result = action(app, delivery_id, actor=cli_actor())
    click.echo(f"#{result.delivery_id} {result.channel}: {result.status}")


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def retry(ctx: click.Context, delivery_id: int) -> None:
    """Try a failed delivery again (its attempt count starts over)."""
    from distributor.actions.deliveries import retry as action

    _move(ctx, action, delivery_id)


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def hold(ctx: click.Context, delivery_id: int) -> None:
    """Hold a pending or failed delivery: it will not go out until released."""
    from distributor.actions.deliveries import hold as action

    _move(ctx, action, delivery_id)


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def release(ctx: click.Context, delivery_id: int) -> None:
    """Release a held delivery: it goes out at the next `deliver`."""
    from distributor.actions.deliveries import release as action

    _move(ctx, action, delivery_id)


@cli.command()
@click.argument("delivery_id", type=int)
@click.pass_context
@handle_errors
def cancel(ctx: click.Context, delivery_id: int) -> None:
    """Cancel a delivery that must not go out (or that is already on the channel)."""
    from distributor.actions.deliveries import skip

    _move(ctx, skip, delivery_id)


@cli.command()
@click.argument("channel")
@click.pass_context
@handle_errors
def resume(ctx: click.Context, channel: str) -> None:
    """Resume a paused channel (e.g. de.telegram) once its problem is fixed."""
    from distributor.actions.common import cli_actor
    from distributor.actions.deliveries import resume as action
    from distributor.app import open_app

    with open_app(settings_of(ctx)) as app:
        result = action(app, channel, actor=cli_actor())
    click.echo(f"{result.channel}: resumed")
