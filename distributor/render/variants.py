"""Rendering wired to the settings: which channel config, which templates.

`render_article(settings, article, channel)` is what `distributor preview`
and the delivery loop call; the per-channel modules stay pure and take
their configuration as arguments.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.model import Article
from distributor.render.email import ISSUE_SLOT, render_confirm, render_digest
from distributor.render.env import Templates
from distributor.render.message import TOKEN_SLOT, RenderedMessage
from distributor.render.telegram import render_telegram
from distributor.render.twitter import render_tweet

CHANNELS = ("telegram", "twitter", "newsletter")


def _channel_config(settings: Settings, language: str, kind: str):
    edition = settings.editions.get(language)
    if edition is None:
        return None, [f"no edition {language!r} is configured: rendering with default settings"]
    cfg = getattr(edition.channels, kind)
    if cfg is None:
        return None, [f"{kind} is not configured for edition {language!r}: rendering with default settings"]
    return cfg, []


def outlet_name(settings: Settings, language: str) -> str:
    edition = settings.editions.get(language)
    newsletter = edition.channels.newsletter if edition else None
    return (newsletter.from_name if newsletter and newsletter.from_name else "") or (edition.name if edition else "")


def render_article(
    settings: Settings, article: Article, channel: str, *, issue_date: dt.date | None = None
) -> RenderedMessage:
    """One article as `channel` would carry it ("newsletter": a digest of one)."""
    templates = Templates.from_settings(settings)
    utm = settings.render.utm
    if channel == "telegram":
        cfg, notes = _channel_config(settings, article.language, "telegram")
        msg = render_telegram(article, templates=templates, config=cfg, utm=utm)
    elif channel == "twitter":
        cfg, notes = _channel_config(settings, article.language, "twitter")
        msg = render_tweet(article, templates=templates, config=cfg, utm=utm)
    elif channel == "newsletter":
        return render_edition_digest(
            settings, article.language, [article],
            issue_date or (article.published.date() if article.published else dt.date.today()),
        )
    else:
        raise DistributorError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if notes:
        from dataclasses import replace

        msg = replace(msg, warnings=tuple(notes) + msg.warnings)
    return msg


def unsubscribe_url(settings: Settings) -> str:
    """The one-click unsubscribe address, with the per-recipient {token} slot."""
    return f"{settings.web.public_url}/unsubscribe/{TOKEN_SLOT}"


def archive_url(settings: Settings, language: str, issue_id: int | str = ISSUE_SLOT) -> str:
    """The public copy of an issue (the {issue} slot until it has an id)."""
    return f"{settings.web.public_url}/archive/{language}/{issue_id}"


def render_edition_digest(
    settings: Settings, language: str, articles: Sequence[Article], issue_date: dt.date, *,
    archive: bool = False, subject: str | None = None, intro: str | None = None,
) -> RenderedMessage:
    """The edition's digest; with `archive` (an issue about to be stored), a
    "view in browser" link whose {issue} slot the stored issue fills (a
    preview or a test copy of an issue not made yet has no link); `subject`
    and `intro`: an editor's own."""
    newsletter, notes = _channel_config(settings, language, "newsletter")
    msg = render_digest(
        articles,
        templates=Templates.from_settings(settings),
        language=language,
        name=outlet_name(settings, language),
        issue_date=issue_date,
        newsletter=newsletter,
        utm=settings.render.utm,
        unsubscribe_url=unsubscribe_url(settings),
        archive_url=archive_url(settings, language) if archive else "",
        subject=subject,
        intro=intro,
    )
    if notes:
        from dataclasses import replace

        msg = replace(msg, warnings=tuple(notes) + msg.warnings)
    return msg


def render_edition_confirm(settings: Settings, language: str, confirm_url: str) -> RenderedMessage:
    return render_confirm(
        templates=Templates.from_settings(settings),
        language=language,
        name=outlet_name(settings, language),
        confirm_url=confirm_url,
    )


__all__ = ["CHANNELS", "render_article", "render_edition_digest", "render_edition_confirm"]
