"""`distributor digest` and `distributor issues`: the weekly newsletter by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from distributor.cli.common import NEEDS_EDITOR, cli, echo_json, handle_errors, settings_of
from distributor.config import Settings
from distributor.errors import DistributorError


@cli.command()
@click.option("--preview", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the digest that would go out next to OUT (HTML; the plain-text part beside it, .txt).")
@click.option("--send", is_flag=True, help="Send the edition's next issue now (or resume an interrupted one).")
@click.option("--to", "address", default=None, is_flag=False, flag_value="",
              help="With --send: a test copy to this address only, recorded nowhere; "
                   "--to alone: to the edition's test_recipients.")
@click.option("--release", "release_id", type=int, default=None,
              help="Release a held issue (its batch of unknown outcome is sent again) and resume it.")
@click.option("--issue", "issue_id", type=int, default=None,
              help="A stored issue: with --preview, write it; with --send --to, resend it to that one address.")
@click.option("--edition", default=None, help="Edition (language code); default: every edition with a newsletter.")
@click.option("--since", default=None,
              help="With --preview: every newsletter article since this date (YYYY-MM-DD), sent or not.")
@click.option("--subject", default=None,
              help="With --send or --preview: this issue's own subject (one line) instead of the default.")
@click.option("--intro", default=None,
              help="With --send or --preview: a plain-text intro above the articles (blank lines: paragraphs).")
@click.pass_context
@handle_errors
def digest(ctx: click.Context, out: Path | None, send: bool, address: str | None, release_id: int | None,
           issue_id: int | None, edition: str | None, since: str | None, subject: str | None,
           intro: str | None) -> None:
    """Preview, send, test or release the weekly digest.

    An issue carries the edition's articles whose footer names the newsletter
    and that no issue carried yet; with none, nothing is sent.

    Exit status of --send and --release: 0 when the issue went out (or there
    was nothing to send); 1 when it did not finish (failed, held, or waiting
    for its paused channel); 2 on a usage or config error.
    """
    if sum(bool(x) for x in (out, send, release_id)) != 1:
        raise DistributorError("give one of --preview OUT, --send or --release ISSUE")
    if address is not None and not send:
        raise DistributorError("--to goes with --send")
    if issue_id is not None and send and address is None:
        raise DistributorError("a stored issue is resent only to one address: --issue ID --send --to ADDRESS")
    if (subject is not None or intro is not None) and (release_id or issue_id is not None):
        raise DistributorError("--subject and --intro make a new issue: they do not go with --release or --issue")
    from distributor.render.email import editor_intro, editor_subject

    subject, intro = editor_subject(subject) or None, editor_intro(intro) or None
    from distributor.app import open_app
    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    if out:
        with open_app(settings) as app:
            _preview(settings, app.store, out, edition, since, issue_id, subject=subject, intro=intro)
        return
    setup_logging()
    if not asyncio.run(_act(settings, release_id, address, issue_id, edition, subject, intro)):
        sys.exit(1)


async def _act(settings: Settings, release_id: int | None, address: str | None, issue_id: int | None,
               edition: str | None, subject: str | None, intro: str | None) -> bool:
    """--release, --send --to, or --send; False when the issue did not finish."""
    from distributor.actions import digest as actions
    from distributor.actions.common import cli_actor
    from distributor.app import open_app_async

    actor = cli_actor()
    async with open_app_async(settings) as app:
        if release_id:
            result = await actions.release_issue(app, release_id, actor=actor)
            click.echo(f"digest {result.edition}: issue #{release_id} {result.status} {result.detail}")
            return result.status == "sent"
        if address is not None:
            if issue_id is not None:
                copy = await actions.resend_issue(app, issue_id, address, actor=actor)
                click.echo(f"issue #{issue_id} resent to {address} (X-Message-Id {copy.message_id})")
                return True
            for ed in actions.newsletter_editions(settings, edition):
                for to in actions.copy_addresses(settings, ed, address):
                    copy = await actions.send_test(app, ed, to, actor=actor, subject=subject, intro=intro)
                    click.echo(f"digest {ed}: test copy sent to {to} (X-Message-Id {copy.message_id})")
            return True
        finished = True
        for ed in actions.newsletter_editions(settings, edition):
            result = await actions.send_digest(app, ed, actor=actor, subject=subject, intro=intro)
            ref = f" issue #{result.issue.id}" if result.issue else ""
            click.echo(f"digest {ed}:{ref} {result.status} {result.detail}")
            finished &= result.status not in NEEDS_EDITOR
        return finished


def _preview(settings: Settings, store, out: Path, edition: str | None, since: str | None,
             issue_id: int | None, *, subject: str | None = None, intro: str | None = None) -> None:
    from distributor.store.issues import Issues
    from distributor.render import render_edition_digest
    from distributor.store import utcnow

    if issue_id is not None:
        from distributor.newsletter.digest import issue_message

        issue = Issues(store.engine).get(issue_id)
        stored = issue_message(issue)
        html, text, subject, headers, count = (stored.html or "", stored.text, issue.subject, issue.headers,
                                               len(Issues(store.engine).article_ids(issue_id)))
        warnings: tuple[str, ...] = ()
    else:
        from distributor.actions.digest import newsletter_editions

        (ed,) = newsletter_editions(settings, edition)[:1]
        tz = ZoneInfo(settings.editions[ed].timezone)
        today = dt.datetime.now(tz).date()
        if since:
            try:
                start = dt.date.fromisoformat(since)
            except ValueError:
                raise DistributorError(f"--since {since!r} is not a date like 2025-03-14") from None
            articles = [s.article for s in store.list_articles(
                language=ed, since=dt.datetime.combine(start, dt.time(), tz), kind="newsletter")]
            what = f"since {start.isoformat()}"
        else:
            from distributor.newsletter.next_issue import next_issue

            nxt = next_issue(settings, store, ed, utcnow())  # the desk's draft: its articles, subject, intro
            from distributor.edits import digest_articles

            articles = digest_articles(store, store.get_articles([a for _, a in nxt.items]))
            subject, intro = nxt.subject(subject), nxt.intro(intro)
            what = "waiting for the next issue"
        if not articles:
            raise DistributorError(f"no newsletter articles for edition {ed!r} {what}")
        # No "view in browser" link: the issue has no id (no archive page) yet.
        msg = render_edition_digest(settings, ed, articles, today, subject=subject, intro=intro)
        html, text, subject, headers, count, warnings = (msg.html or "", msg.text, msg.subject, msg.headers,
                                                          len(articles), msg.warnings)
    out.write_text(html, encoding="utf-8")
    out.with_suffix(".txt").write_text(text, encoding="utf-8")
    click.echo(f"wrote {out} and {out.with_suffix('.txt')}: {count} article(s), subject {subject!r}")
    for k, v in headers.items():
        click.echo(f"{k}: {v}")
    for w in warnings:
        click.echo(f"warning: {w}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Every issue with its batches, as JSON.")
@click.option("--edition", default=None, help="Only this edition's issues.")
@click.pass_context
@handle_errors
def issues(ctx: click.Context, as_json: bool, edition: str | None) -> None:
    """The archive of digest issues: when, what, to how many, and how far sent."""
    from distributor.app import open_app
    from distributor.store.issues import Issues

    with open_app(settings_of(ctx)) as app:
        repo = Issues(app.store.engine)
        rows: list[dict[str, Any]] = []
        for i in repo.list(edition):
            batches = repo.batches(i.id)
            rows.append({
                "id": i.id, "edition": i.edition, "slot": i.slot, "status": i.status, "subject": i.subject,
                "articles": repo.article_ids(i.id), "recipients": i.recipient_count,
                "batches_sent": sum(b.status == "sent" for b in batches.values()), "batches": i.batch_count,
                "sent_at": i.sent_at, "reason": i.reason,
            })
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no issues yet")
    for r in rows:
        click.echo(f"#{r['id']} [{r['edition']}] {r['slot']:%Y-%m-%d %H:%M} UTC {r['status']:8} "
                   f"{r['batches_sent']}/{r['batches']} batches, {r['recipients']} recipients, "
                   f"{len(r['articles'])} article(s): {r['subject']}" + (f"  ({r['reason']})" if r["reason"] else ""))
