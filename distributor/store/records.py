"""The rows the store hands out: plain frozen dataclasses, and the small pure
helpers that make them (no database access here)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal, Protocol

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.model import Article

if TYPE_CHECKING:
    from distributor.routing import Routing


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ReadsArticles(Protocol):
    """What an ArticleRef reads its article back from (the Store)."""

    def get_article(self, article_id: int) -> StoredArticle: ...


@dataclass(frozen=True)
class StoredArticle:
    id: int
    source: str
    key: str
    version: int
    content_hash: str
    article: Article
    ingested_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class SourcePoll:
    source: str
    polled_at: dt.datetime
    ok: bool
    summary: str | None
    error: str | None
    etag: str | None
    last_modified: str | None
    document_hash: str | None = None
    # Since when its polls fail, no success between (None: the last poll was ok).
    failing_since: dt.datetime | None = None


@dataclass(frozen=True)
class ArticleRef:
    """What an ingest report keeps of a stored article: small, so a report of
    10,000 articles does not hold 10,000 parsed bodies."""

    id: int
    source: str
    key: str
    version: int
    title: str
    # The article's label (its title, or the start of its lede when untitled).
    label: str
    # Reads the stored article back, for callers that want it whole (`.article`).
    store: ReadsArticles | None = field(default=None, repr=False, compare=False)

    @property
    def article(self) -> Article:
        if self.store is None:
            raise DistributorError(f"article #{self.id}: no store to read it from")
        return self.store.get_article(self.id).article


@dataclass(frozen=True)
class FileStat:
    """A folder file as last read (see schema.source_files)."""

    size: int
    mtime_ns: int
    content_hash: str
    error: str | None = None


@dataclass(frozen=True)
class ArticleWrite:
    """One parsed article to store with store_articles()."""

    key: str
    content_hash: str
    article: Article
    routing: Routing | None = None
    # The stored article this one was recognised as under another key (see
    # upsert_article): it moves to `key`.
    same_as: int | None = None


UpsertStatus = Literal["new", "updated", "unchanged", "moved"]


@dataclass(frozen=True)
class ArticleIdentity:
    """A stored article as ingest recognises it: its key, content hash, own
    id (front matter `id`), url, and whether its file was removed."""

    id: int
    key: str
    content_hash: str
    identity: str | None
    url: str | None
    removed: bool


def own_id(article: Article, key: str) -> str | None:
    """The article's own id (front matter `id`), when it names one besides its key."""
    return article.guid if article.guid and article.guid != key else None


def stored_article(row: Any) -> StoredArticle:  # an articles row, or anything with its columns
    return StoredArticle(
        id=row.id, source=row.source, key=row.source_key, version=row.version, content_hash=row.content_hash,
        article=Article.from_json(json.loads(row.data)), ingested_at=row.ingested_at, updated_at=row.updated_at,
    )


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


@dataclass(frozen=True)
class Edit:
    """An editor's own text for one variant of an article (store/edits.py)."""

    id: int
    article_id: int
    kind: str
    article_version: int
    text: str
    actor: str
    created_at: dt.datetime

    def current(self, version: int) -> bool:
        """Whether it was written for the article's `version` (else out of date)."""
        return self.article_version == version


@dataclass(frozen=True)
class SentAnswer:
    """A delivery's success, `finish_sent`'s arguments: written on its own,
    or with the next claim (`claim(answer=…)`)."""
    delivery_id: int
    attempt_id: int
    remote_id: str | None
    article_version: int
    now: dt.datetime
    note: str | None = None
    channel: str | None = None
    channel_not_before: dt.datetime | None = None  # its pacing: the next post waits until then

    def joins(self) -> bool:
        """Whether it can be one statement with a claim: its channel unpaced (no wait to set)."""
        return self.channel is not None and self.channel_not_before is None

    def fields(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "attempt_id": self.attempt_id, "remote_id": self.remote_id,
                "article_version": self.article_version, "now": self.now, "note": self.note,
                "channel": self.channel, "channel_not_before": self.channel_not_before}
