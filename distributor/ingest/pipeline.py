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
from distributor.ingest.identity import FolderIdentities, Match
from distributor.model import Article
from distributor.routing import route
from distributor.store import ArticleIdentity, Store, StoredArticle, own_id, utcnow

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
    # Folder articles found under another path: (article, the path it had).
    moved: list[tuple[StoredArticle, str]] = field(default_factory=list)
    # Not errors, but an editor should look (a second file of the same article).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.not_modified:
            return "not modified since the last poll"
        parts = [f"{len(self.new)} new", f"{len(self.updated)} updated", f"{self.unchanged} unchanged"]
        if self.moved:
            parts.append(f"{len(self.moved)} moved")
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warnings")
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

    now = now or utcnow()
    report = SourceReport(source.name)
    state = sources.FeedState()
    known = store.content_hashes(source.name)
    seen: set[str] = set()
    new_paths = _NewPaths(settings, store, source, report, now, on_item)
    try:
        for item in _items(settings, store, source, state):
            seen.add(item.key)
            if item.error:
                report.item_errors.append(f"{item.key}: {item.error}")
                _notify(on_item, source.name, "error", f"{item.key}: {item.error}")
                continue
            assert item.raw is not None
            if source.kind == "folder" and item.key not in known:
                new_paths.add(item)  # maybe a stored article under another path
                continue
            if known.get(item.key) == item.content_hash:
                # The same bytes as stored: unchanged, without parsing it again.
                report.unchanged += 1
                continue
            try:
                article = parse_item(source, item.raw)
                stored, status = store.upsert_article(source=source.name, key=item.key,
                                                      content_hash=item.content_hash, article=article, now=now,
                                                      routing=route(article, settings, now=now))
            except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
                _item_failed(report, on_item, source, item.key, exc)
                continue
            if status == "unchanged":
                report.unchanged += 1
            else:
                (report.new if status == "new" else report.updated).append(stored)
                new_paths.record(stored)
            _notify(on_item, source.name, status, f"#{stored.id} {stored.article.label}")
        if source.kind == "folder":
            # Moves first: a file gone from A and found at B is not a retraction.
            moved_from = new_paths.finish(live=seen)
            # A file an editor removed is a retraction: what was not sent yet is
            # cancelled. (A feed item that scrolls out of the feed is not.)
            for key in sorted(set(known) - seen - moved_from):
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


class _NewPaths:
    """Folder files at paths the store does not know: a new article, a stored
    one moved (its file gone, in this poll or earlier), or a second file of
    a live article (a warning; nothing is created). A file that shares an id,
    url or bytes with a stored article waits until every live path is known;
    any other is a new article at once (so a first ingest holds no texts)."""

    def __init__(self, settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                 now: dt.datetime, on_item) -> None:
        self.settings, self.store, self.source, self.report, self.now = settings, store, source, report, now
        self.on_item = on_item
        self.index: FolderIdentities | None = None  # read at the first unknown path
        self.waiting: list[tuple[sources.Item, Article]] = []

    def add(self, item: sources.Item) -> None:
        assert item.raw is not None
        try:
            article = parse_item(self.source, item.raw)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
            _item_failed(self.report, self.on_item, self.source, item.key, exc)
            return
        if self.index is None:
            self.index = FolderIdentities(self.store.identities(self.source.name))
        if self._match(item, article, live=None) is None:
            self._store(item, article, None)
        else:
            self.waiting.append((item, article))

    def record(self, stored: StoredArticle) -> None:
        """An article stored or changed by path in this poll."""
        if self.index is not None:
            self.index.record(ArticleIdentity(stored.id, stored.key, stored.content_hash,
                                              own_id(stored.article, stored.key), stored.article.url, False))

    def finish(self, live: set[str]) -> set[str]:
        """Decide the waiting files; returns the paths articles moved from."""
        moved_from: set[str] = set()
        for item, article in self.waiting:
            match = self._match(item, article, live=live)
            if match and not match.moved:
                warning = (f"{item.key} and {match.article.key} are one article (#{match.article.id}, "
                           f"the same {match.by}): {item.key} is not posted again; remove one of them")
                self.report.warnings.append(warning)
                _notify(self.on_item, self.source.name, "duplicate", warning)
                continue
            if match:
                moved_from.add(match.article.key)
            self._store(item, article, match)
        return moved_from

    def _match(self, item: sources.Item, article: Article, live: set[str] | None) -> Match | None:
        assert self.index is not None
        return self.index.match(own_id=own_id(article, item.key), url=article.url,
                                content_hash=item.content_hash, live=live)

    def _store(self, item: sources.Item, article: Article, match: Match | None) -> None:
        try:
            stored, status = self.store.upsert_article(
                source=self.source.name, key=item.key, content_hash=item.content_hash, article=article,
                now=self.now, routing=route(article, self.settings, now=self.now),
                same_as=match.article.id if match else None)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
            _item_failed(self.report, self.on_item, self.source, item.key, exc)
            return
        self.record(stored)
        if match:
            self.report.moved.append((stored, match.article.key))
            _notify(self.on_item, self.source.name, "moved",
                    f"#{stored.id} {stored.article.label}: moved from {match.article.key} to {item.key}")
        if status in ("new", "updated"):
            (self.report.new if status == "new" else self.report.updated).append(stored)
            _notify(self.on_item, self.source.name, status, f"#{stored.id} {stored.article.label}")


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


def parse_item(source: SourceConfig, raw) -> Article:
    """An item of a source parsed with the source's defaults (language, url_template):
    the one call every path through ingest makes."""
    from distributor.ingest.parse import parse_raw  # BeautifulSoup & co. only when something is parsed

    return parse_raw(raw, default_language=source.language or None, url_template=source.url_template or None)


def _item_failed(report: SourceReport, on_item, source: SourceConfig, key: str, exc: Exception) -> None:
    """One item that could not be read, parsed or stored: a clean error naming it
    (the traceback only at debug level), and its source goes on."""
    if not isinstance(exc, ParseError):
        log.debug("source %s: item %s failed", source.name, key, exc_info=True)
    message = _named(key, exc)
    report.item_errors.append(message)
    _notify(on_item, source.name, "error", message)


def _named(key: str, exc: Exception) -> str:
    """The error naming its item once (parse errors already start with it)."""
    text = str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
    return text if text.startswith(key) else f"{key}: {text}"


def _notify(cb, source: str, status: str, what: str) -> None:
    if cb is not None:
        cb(source, status, what)
