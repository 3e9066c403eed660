"""What the desk's article list shows, read through the store's API only
(Store.list_articles, Store.deliveries): each article with its channels,
the state of each delivery and when it got there, and for what went out a
link to it as followers and readers see it:

    telegram    https://t.me/<chat username>/<message id>   (a public channel)
                https://t.me/c/<internal id>/<message id>     (a private one, -100…)
    twitter     https://x.com/<username>/status/<id>          ([…twitter] username;
                the sandbox's accounts are sandbox_<edition>; else x.com/i/status/<id>)
    newsletter  <base_url>/archive/<edition>/<issue id>       (the public archive page)

Telegram's remote ids are "<chat>/<message id>" (channels/telegram.py), a
bare message id (older rows) is in the channel's configured chat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from distributor.config import Settings
from distributor.links import link_problem
from distributor.store.records import StoredArticle
from distributor.store.outbox import DeliveryRow
from distributor.store.outbox import DeliveryStatus as S

PER_PAGE = 50
# The planned kinds first, in the order editors think of them; then the rest.
KIND_ORDER = {"telegram": 0, "twitter": 1, "newsletter": 2}


class ReadsArticles(Protocol):
    """The part of the Store the list reads."""

    def list_articles(self, *, language: str | None = None, since: dt.datetime | None = None,
                      kind: str | None = None) -> list[StoredArticle]: ...

    def deliveries(self, *, article_id: int | None = None, status: str | None = None) -> list[DeliveryRow]: ...


@dataclass(frozen=True)
class DeliveryView:
    id: int
    channel: str
    kind: str
    seq: int
    status: str
    at: str  # when it got to this state, in the edition's time zone
    at_iso: str
    due: str | None  # a pending delivery's next attempt, when it has one
    reason: str | None
    error: str | None
    link: str | None


@dataclass(frozen=True)
class ArticleView:
    id: int
    title: str  # "" when the article has none
    label: str  # the title, or the start of the lede
    language: str
    source: str
    url: str | None
    warnings: tuple[str, ...]
    deliveries: tuple[DeliveryView, ...]


@dataclass(frozen=True)
class ArticlePage:
    articles: tuple[ArticleView, ...]
    page: int
    has_older: bool
    has_newer: bool
    total: int


def article_page(settings: Settings, store: ReadsArticles, page: int = 1, per_page: int | None = None
                 ) -> ArticlePage:
    """One page of the articles, newest first (PER_PAGE to a page)."""
    per_page = per_page or PER_PAGE
    stored = store.list_articles()  # oldest first
    total = len(stored)
    page = max(1, page)
    end = total - (page - 1) * per_page
    chosen = list(reversed(stored[max(0, end - per_page):max(0, end)]))
    views = tuple(article_view(settings, a, store.deliveries(article_id=a.id)) for a in chosen)
    return ArticlePage(views, page, has_older=end - per_page > 0, has_newer=page > 1 and total > 0, total=total)


def article_view(settings: Settings, stored: StoredArticle, deliveries: list[DeliveryRow]) -> ArticleView:
    a = stored.article
    rows = sorted(deliveries, key=lambda d: (KIND_ORDER.get(d.kind, 9), d.channel, d.seq))
    return ArticleView(
        id=stored.id, title=a.title, label=a.label, language=a.language, source=stored.source,
        url=a.url if a.url and link_problem(a.url) is None else None,
        warnings=tuple(a.warnings), deliveries=tuple(delivery_view(settings, d) for d in rows))


def delivery_view(settings: Settings, d: DeliveryRow) -> DeliveryView:
    zone = edition_zone(settings, d.edition)
    due = None
    if d.status == S.PENDING and d.next_attempt_at is not None:
        due = local_time(d.next_attempt_at, zone)
    error = d.last_error if d.status in (S.FAILED, S.HELD) else None
    if error and len(error) > 300:
        error = error[:299] + "…"
    return DeliveryView(
        id=d.id, channel=d.channel, kind=d.kind, seq=d.seq, status=d.status,
        at=local_time(d.updated_at, zone), at_iso=d.updated_at.isoformat(), due=due,
        reason=d.reason if d.status in (S.SKIPPED, S.CANCELLED, S.HELD, S.PENDING) else None,
        error=error, link=post_link(settings, d) if d.status == S.SENT else None)


def edition_zone(settings: Settings, edition: str) -> dt.tzinfo:
    ed = settings.editions.get(edition)
    try:
        return ZoneInfo(ed.timezone) if ed is not None else dt.timezone.utc
    except (KeyError, ValueError):  # the loader checks time zones; an edition gone from the config is UTC
        return dt.timezone.utc


def local_time(value: dt.datetime, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def post_link(settings: Settings, d: DeliveryRow) -> str | None:
    """The public address of a sent delivery's post or issue, or None."""
    remote = (d.remote_id or "").strip()
    if not remote:
        return None
    ed = settings.editions.get(d.edition)
    if d.kind == "telegram":
        chat, _, message_id = remote.rpartition("/")
        if not chat and ed is not None and ed.channels.telegram is not None:
            chat = ed.channels.telegram.chat_id
        return telegram_link(chat, message_id)
    if d.kind == "twitter":
        if not remote.isdigit():
            return None
        cfg = ed.channels.twitter if ed is not None else None
        if cfg is not None and cfg.username:
            user = cfg.username.lstrip("@")
        elif cfg is not None and cfg.mode == "sandbox":
            user = f"sandbox_{d.edition}"
        else:
            user = "i"
        return f"https://x.com/{user}/status/{remote}"
    if d.kind == "newsletter":
        issue = remote.removeprefix("issue:")
        if remote.startswith("issue:") and issue.isdigit():
            return archive_link(settings, d.edition, int(issue))
    return None


def archive_link(settings: Settings, edition: str, issue_id: int) -> str:
    """The public archive page of a digest issue."""
    return f"{settings.web.public_url}/archive/{edition}/{issue_id}"


def telegram_link(chat: str, message_id: str) -> str | None:
    if not message_id.isdigit():
        return None
    chat = chat.strip()
    if chat.startswith("@") and len(chat) > 1 and all(c.isalnum() or c == "_" for c in chat[1:]):
        return f"https://t.me/{chat[1:]}/{message_id}"
    if chat.startswith("-100") and chat[4:].isdigit():
        return f"https://t.me/c/{chat[4:]}/{message_id}"
    return None  # a group or private chat by number: no public address
