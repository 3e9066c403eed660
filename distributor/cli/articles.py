"""`distributor parse|ingest|articles|preview`: the articles, read, stored and rendered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from distributor.cli.common import cli, echo_json, handle_errors, settings_of, sources_need_editor
from distributor.config import Settings
from distributor.errors import DistributorError


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parsed structure as JSON.")
@click.option("--language", default=None, help="Language to assume when the file does not say (de, fr, …).")
@click.option("--url-template", default=None, metavar="TEMPLATE",
              help='A folder source\'s url_template to apply, e.g. "https://novastan.org/de/{slug}/".')
@handle_errors
def parse(path: Path, as_json: bool, language: str | None, url_template: str | None) -> None:
    """Parse one article file (.txt, .md, .html); needs no database.

    It reads no config either: the url_template of the folder source the file
    may sit in is not applied (pass --url-template, or use `preview PATH`,
    which applies its source's), so a file without its own url shows no link."""
    from distributor.ingest.parse import parse_file

    article = parse_file(path, default_language=language, url_template=url_template)
    if as_json:
        echo_json(article.to_json())
        return
    click.echo(f"title:      {article.title or '(none: the posts lead with the lede)'}")
    click.echo(f"language:   {article.language}")
    click.echo(f"url:        {article.url or '-'}")
    if article.author:
        role = f" ({article.author.role})" if article.author.role else ""
        click.echo(f"author:     {article.author.name}{role}")
    click.echo(f"translator: {article.translator or '-'}")
    click.echo(f"related:    {len(article.related)}")
    for r in article.related:
        click.echo(f"  - {r.title}" + (f" <{r.url}>" if r.url else ""))
    kinds = ", ".join(c.kind for c in article.channels) or "none (no footer)"
    click.echo(f"channels:   {kinds}")
    for w in article.warnings:
        click.echo(f"warning:    {w}")


@cli.command()
@click.option("--source", "source_name", default=None, help="Poll only this source (its name in the config).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@handle_errors
def ingest(ctx: click.Context, source_name: str | None, as_json: bool) -> None:
    """Poll sources once: store new and changed articles and plan their deliveries.

    Exit status: 0 when every source was read; 1 when a source or an item
    could not be read (the others are still ingested); 2 on a config error.
    """
    from distributor.app import open_app
    from distributor.ingest.pipeline import ingest as run_ingest

    settings = settings_of(ctx)

    def progress(source: str, status: str, what: str) -> None:
        if not as_json and status != "unchanged":
            click.echo(f"  [{source}] {status:9} {what}")

    with open_app(settings) as app:
        reports = run_ingest(settings, app.store, source_name=source_name, on_item=progress)
        if as_json:
            echo_json([
                {"source": r.source, "ok": r.ok, "error": r.error, "not_modified": r.not_modified,
                 "new": [a.id for a in r.new], "updated": [a.id for a in r.updated],
                 "unchanged": r.unchanged, "removed": r.removed,
                 "moved": [{"id": a.id, "from": old, "to": a.key} for a, old in r.moved],
                 "warnings": r.warnings, "item_errors": r.item_errors}
                for r in reports
            ])
        else:
            for r in reports:
                click.echo(f"{r.source}: {r.summary()}")
                for w in r.warnings:
                    click.echo(f"  warning: {w}", err=True)
                for e in r.item_errors:
                    click.echo(f"  error: {e}", err=True)
                if r.error:
                    click.echo(f"  error: {r.error}", err=True)
    if sources_need_editor(reports):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print articles with routing and deliveries as JSON.")
@click.option("--language", default=None, help="Only articles in this language.")
@click.pass_context
@handle_errors
def articles(ctx: click.Context, as_json: bool, language: str | None) -> None:
    """Stored articles with the channels they name, planned deliveries and skips."""
    from distributor.app import open_app
    from distributor.store import group_by_article
    from distributor.store.outbox import DeliveryStatus as S

    settings = settings_of(ctx)
    with open_app(settings) as app:
        stored = app.store.list_articles(language=language)
        by_article = group_by_article(app.store.deliveries())
    rows: list[dict[str, Any]] = []
    for s in stored:
        dels = by_article.get(s.id, [])
        rows.append({
            "id": s.id, "title": s.article.title, "label": s.article.label, "language": s.article.language,
            "source": s.source, "key": s.key, "version": s.version, "url": s.article.url,
            "untitled": not s.article.title, "without_link": not s.article.url,
            "channels_named": list(s.article.named_kinds),
            "planned": [{"id": d.id, "channel": d.channel, "status": d.status, "seq": d.seq}
                        for d in dels if d.status not in (S.SKIPPED, S.CANCELLED)],
            "skipped": [{"channel": d.channel, "reason": d.reason} for d in dels if d.status == S.SKIPPED],
            "cancelled": [{"channel": d.channel, "reason": d.reason} for d in dels if d.status == S.CANCELLED],
            "warnings": list(s.article.warnings),
        })
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no articles stored yet; run `distributor ingest`")
        return
    for r in rows:
        click.echo(f"#{r['id']} [{r['language']}] {r['label']}  ({r['source']}: {r['key']}, v{r['version']})")
        click.echo(f"    link:    {r['url'] or 'NONE: its posts go out without a link'}")
        click.echo(f"    named:   {', '.join(r['channels_named']) or 'nothing (no footer)'}")
        planned = ", ".join(f"{p['channel']} ({p['status']})" for p in r["planned"]) or "-"
        click.echo(f"    planned: {planned}")
        for sk in r["skipped"]:
            click.echo(f"    skipped: {sk['channel']}: {sk['reason']}")
        for c in r["cancelled"]:
            click.echo(f"    cancelled: {c['channel']}: {c['reason']}")
        for w in r["warnings"]:
            click.echo(f"    warning: {w}")




def _load_article(settings: Settings, ref: str):
    """REF: an article file's path (no database) or a stored article's id."""
    path = Path(ref)
    if path.is_file():
        from distributor.ingest.parse import parse_file

        # A file inside a folder source is read as ingest reads it (its
        # language default and url_template).
        for source in settings.sources:
            if source.kind == "folder" and path.resolve().is_relative_to(settings.resolve(source.path)):
                return parse_file(path, default_language=source.language or None,
                                  url_template=source.url_template or None)
        return parse_file(path)
    if not ref.isdigit():
        raise DistributorError(f"{ref!r} is neither an article file nor a stored article id")
    from distributor.app import open_app

    with open_app(settings) as app:
        return app.store.get_article(int(ref)).article


@cli.command()
@click.argument("ref")
@click.option("--channel", "-c", required=True, type=click.Choice(["telegram", "twitter", "newsletter", "email"]),
              help="Which variant to render (email: the newsletter's, by its former name).")
@click.option("--json", "as_json", is_flag=True, help="Print the rendered message and its counts as JSON.")
@click.pass_context
@handle_errors
def preview(ctx: click.Context, ref: str, channel: str, as_json: bool) -> None:
    """Render an article as CHANNEL would carry it. REF: a stored article's id or an article file."""
    from distributor.render import render_article

    settings = settings_of(ctx)
    channel = "newsletter" if channel == "email" else channel
    msg = render_article(settings, _load_article(settings, ref), channel)
    if as_json:
        echo_json(msg.to_json())
        return
    if msg.subject:
        click.echo(f"Subject: {msg.subject}")
        for k, v in msg.headers.items():
            click.echo(f"{k}: {v}")
        click.echo("")
    if msg.photo:
        click.echo(f"[photo {msg.photo}]")
    for i, part in enumerate(msg.parts or (msg.text,)):
        if i:
            click.echo("--- next post ---")
        click.echo(part)
    click.echo("")
    cut = ", truncated" if msg.truncated else ""
    click.echo(f"[{channel}: {msg.length}/{msg.limit}{cut}]")
    for w in msg.warnings:
        click.echo(f"warning: {w}")
