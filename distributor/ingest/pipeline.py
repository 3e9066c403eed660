"""Ingestion: poll sources, store new and changed articles, plan their deliveries.

One source's failure is recorded and reported; the other sources go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError, SourceError
from distributor.ingest import sources
from distributor.routing import route
from distributor.store import Store, StoredArticle, utcnow

log = logging.getLogger(__name__)


@dataclass
class SourceReport:
    source: str
    new: list[StoredArticle] = field(default_factory=list)
    updated: list[StoredArticle] = field(default_factory=list)
    unchanged: int = 0
    item_errors: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed
    not_modified: bool = False
    # Folder files gone since the last poll whose unsent deliveries were cancelled.
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.not_modified:
            return "not modified since the last poll"
        parts = [f"{len(self.new)} new", f"{len(self.updated)} updated", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.item_errors:
            parts.append(f"{len(self.item_errors)} errors")
        return ", ".join(parts)


def ingest(settings: Settings, store: Store, *, source_name: str | None = None,
           now: dt.datetime | None = None,
           on_item: Callable[[str, str, str], None] | None = None) -> list[SourceReport]:
    """Poll the sources once (or the one named). `on_item(source, status, what)`
    is called as each item is handled, for progress output."""
    targets = [settings.source(source_name)] if source_name else list(settings.sources)
    return [ingest_source(settings, store, s, now=now, on_item=on_item) for s in targets]


def ingest_source(settings: Settings, store: Store, source: SourceConfig, *,
                  now: dt.datetime | None = None,
                  on_item: Callable[[str, str, str], None] | None = None) -> SourceReport:
    from distributor.ingest.parse import parse_raw

    now = now or utcnow()
    report = SourceReport(source.name)
    state = sources.FeedState()
    known = store.content_hashes(source.name)
    seen: set[str] = set()
    try:
        for item in _items(settings, store, source, state):
            seen.add(item.key)
            if item.error:
                report.item_errors.append(f"{item.key}: {item.error}")
                _notify(on_item, source.name, "error", f"{item.key}: {item.error}")
                continue
            assert item.raw is not None
            if known.get(item.key) == item.content_hash:
                # The same bytes as stored: unchanged, without parsing it again.
                report.unchanged += 1
                continue
            try:
                article = parse_raw(item.raw, default_language=source.language or None)
                stored, status = store.upsert_article(source=source.name, key=item.key,
                                                      content_hash=item.content_hash, article=article, now=now,
                                                      routing=route(article, settings, now=now))
            except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
                if not isinstance(exc, ParseError):
                    log.debug("source %s: item %s failed", source.name, item.key, exc_info=True)
                message = _named(item.key, exc)
                report.item_errors.append(message)
                _notify(on_item, source.name, "error", message)
                continue
            if status == "unchanged":
                report.unchanged += 1
            else:
                (report.new if status == "new" else report.updated).append(stored)
            _notify(on_item, source.name, status, f"#{stored.id} {stored.article.title}")
        if source.kind == "folder":
            # A file an editor removed is a retraction: what was not sent yet is
            # cancelled. (A feed item that scrolls out of the feed is not.)
            for key in sorted(set(known) - seen):
                cancelled = store.retract(source.name, key, now=now,
                                          reason="its file was removed from the folder before it went out")
                if cancelled:
                    report.removed.append(key)
                    _notify(on_item, source.name, "removed", f"{key}: {cancelled} unsent deliveries cancelled")
    except SourceError as exc:
        report.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad source never stops the others
        log.debug("source %s failed", source.name, exc_info=True)
        report.error = f"source {source.name!r}: {type(exc).__name__}: {exc}"
    report.not_modified = state.not_modified
    store.record_poll(source.name, ok=report.ok, summary=report.summary(), error=report.error,
                      etag=state.etag, last_modified=state.last_modified, now=now)
    return report


def _items(settings: Settings, store: Store, source: SourceConfig,
           state: sources.FeedState) -> Iterator[sources.Item]:
    if source.kind == "folder":
        yield from sources.folder_items(source, settings)
        return
    last = store.last_poll(source.name)
    if last and last.ok:
        state.etag, state.last_modified = last.etag, last.last_modified
    data = sources.fetch_feed_bytes(source, settings, state)
    if state.not_modified:
        return
    parsed = sources.parse_feed(source, data, charset=state.charset)
    yield from sources.feed_items(
        source, parsed, page_fetcher=lambda url: sources.fetch_page_article_html(url, source)
    )


def _named(key: str, exc: Exception) -> str:
    """The error naming its item once (parse errors already start with it)."""
    text = str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
    return text if text.startswith(key) else f"{key}: {text}"


def _notify(cb, source: str, status: str, what: str) -> None:
    if cb is not None:
        cb(source, status, what)
