"""`distributor digest` and `distributor issues`: the weekly newsletter by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from distributor.cli.common import NEEDS_EDITOR, cli, echo_json, handle_errors, settings_of
from distributor.config import Settings
from distributor.errors import ConfigurationError, DistributorError


def _editions(settings: Settings, edition: str | None) -> list[str]:
    with_newsletter = [code for code, e in settings.editions.items() if e.channels.newsletter]
    if edition is None:
        if not with_newsletter:
            raise ConfigurationError(f"{settings.path}: no edition has a newsletter channel")
        return with_newsletter
    if edition not in with_newsletter:
        raise ConfigurationError(f"{settings.path}: edition {edition!r} has no newsletter channel "
                                 f"(editions with one: {', '.join(with_newsletter) or 'none'})")
    return [edition]


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
    from distributor.store import Store, utcnow

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
    from distributor.app import sandbox_if_needed
    from distributor.logs import setup_logging

    settings = settings_of(ctx)
    if not out:
        setup_logging()
    with sandbox_if_needed(settings if not out else None), Store.open(settings) as store:
        if out:
            _preview(settings, store, out, edition, since, issue_id, subject=subject, intro=intro)
        elif release_id:
            asyncio.run(_release(settings, store, release_id))
        elif address is not None:
            from distributor.newsletter.digest import send_test_copy

            if issue_id is not None:
                if not address:
                    raise DistributorError("--issue ID --send --to ADDRESS: name the one address to resend it to")
                msg_id = asyncio.run(send_test_copy(settings, store, "", address, now=utcnow(), issue_id=issue_id))
                click.echo(f"issue #{issue_id} resent to {address} (X-Message-Id {msg_id})")
                return
            for ed in _editions(settings, edition):
                targets = [address] if address else list(settings.editions[ed].channels.newsletter.test_recipients)
                if not targets:
                    raise DistributorError(f"--to without an address: edition {ed} has no test_recipients "
                                           f"in [editions.{ed}.channels.newsletter]")
                for to in targets:
                    msg_id = asyncio.run(send_test_copy(settings, store, ed, to, now=utcnow(), subject=subject,
                                                        intro=intro))
                    click.echo(f"digest {ed}: test copy sent to {to} (X-Message-Id {msg_id})")
        else:
            from distributor.newsletter.digest import run_digest

            failed = False
            for ed in _editions(settings, edition):
                result = asyncio.run(run_digest(settings, store, ed, clock=utcnow, resume_failed=True,
                                                subject=subject, intro=intro))
                ref = f" issue #{result.issue.id}" if result.issue else ""
                click.echo(f"digest {ed}:{ref} {result.status} {result.detail}")
                failed |= result.status in NEEDS_EDITOR
            if failed:
                sys.exit(1)


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
        (ed,) = _editions(settings, edition)[:1]
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
            waiting = Issues(store.engine).waiting_deliveries(ed, utcnow())
            articles = [store.get_article(a).article for _, a in waiting]
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


async def _release(settings: Settings, store, issue_id: int) -> None:
    from distributor.newsletter.digest import send_issue
    from distributor.store.issues import Issues
    from distributor.store import utcnow

    issues = Issues(store.engine)
    issues.release(issue_id, now=utcnow())
    result = await send_issue(settings, store, issues.get(issue_id), clock=utcnow)
    click.echo(f"digest {result.edition}: issue #{issue_id} {result.status} {result.detail}")
    if result.status != "sent":
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Every issue with its batches, as JSON.")
@click.option("--edition", default=None, help="Only this edition's issues.")
@click.pass_context
@handle_errors
def issues(ctx: click.Context, as_json: bool, edition: str | None) -> None:
    """The archive of digest issues: when, what, to how many, and how far sent."""
    from distributor.store.issues import Issues
    from distributor.store import Store

    settings = settings_of(ctx)
    with Store.open(settings) as store:
        repo = Issues(store.engine)
        rows = []
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
