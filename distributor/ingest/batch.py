"""What one poll of a source produces: its report, and the batch its parsed
articles go through to the store.

Every path through ingest ends here: parsed articles go to a `_Batch`
(parse_item() is the one parse call), which stores them with their plans one
transaction per CHUNK; every item's error goes through it too, as a clean
error naming the item.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError
from distributor.ingest import sources
from distributor.ingest.identity import facets
from distributor.model import Article, RawArticle
from distributor.routing import route
from distributor.store import ArticleIdentity, ArticleRef, ArticleWrite, FileStat, Store, own_id

log = logging.getLogger(__name__)

# Articles are stored (with their plans) one transaction per chunk of this many.
CHUNK = 100

# on_item(source, status, what): told of each item as it is handled.
OnItem = Callable[[str, str, str], None]


class StatCache(Protocol):
    """What a batch keeps in step with its commits: a folder poll's cache
    (folder_poll._FolderCache)."""

    stats: dict[str, FileStat]
    articles: set[str]


@dataclass
class SourceReport:
    source: str
    # What was stored, as small references (the parsed articles are not kept:
    # a report of a 10,000-item first ingest stays small).
    new: list[ArticleRef] = field(default_factory=list)
    updated: list[ArticleRef] = field(default_factory=list)
    unchanged: int = 0
    item_errors: list[str] = field(default_factory=list)
    error: str | None = None  # the whole source failed
    not_modified: bool = False
    # The feed document is byte for byte the one ingested last time: not parsed.
    document_unchanged: bool = False
    # Folder files gone since the last poll whose unsent deliveries were cancelled.
    removed: list[str] = field(default_factory=list)
    # Folder articles found under another path: (article, the path it had).
    moved: list[tuple[ArticleRef, str]] = field(default_factory=list)
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
        if self.document_unchanged:
            return "unchanged since the last poll (the same feed document, not parsed again)"
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


class _Batch:
    """Parsed articles waiting to be stored, one transaction per CHUNK; the
    report, the folder cache and the identity index learn of an article only
    once it is committed. Every item's error goes through here too."""

    def __init__(self, settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                 now: dt.datetime, on_item: OnItem | None) -> None:
        self.settings, self.store, self.source, self.report = settings, store, source, report
        self.now, self.on_item = now, on_item
        self.state = sources.FeedState()
        self.writes: list[ArticleWrite] = []
        self.files: dict[str, FileStat] = {}
        # key -> the key it had, for the writes that move an article.
        self.moves: dict[str, str] = {}
        # The identity facets (id, url, hash) of the writes not committed yet.
        self.pending: set[tuple[str, str]] = set()
        self.cache: StatCache | None = None  # the folder's, updated after each commit
        self.on_stored: Callable[[ArticleRef, ArticleWrite], None] | None = None

    def add(self, item: sources.Item, stat: FileStat | None = None) -> None:
        """Parse an item and queue it (stored by its key)."""
        article = self.parse(item, stat)
        if article is not None:
            self.put(item, article, stat)

    def parse(self, item: sources.Item, stat: FileStat | None = None) -> Article | None:
        """The item's article, or None when it failed (a clean error, its file's
        stat recorded with it so that an unchanged bad file is not parsed again)."""
        assert item.raw is not None
        try:
            return parse_item(self.source, item.raw)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
            self.failed(item.key, exc, stat)
            return None

    def put(self, item: sources.Item, article: Article, stat: FileStat | None = None, *,
            same_as: ArticleIdentity | None = None) -> None:
        """Queue a parsed article; `same_as`: the stored article it moves."""
        try:
            routing = route(article, self.settings, now=self.now)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops its source
            self.failed(item.key, exc, stat)
            return
        self.writes.append(ArticleWrite(item.key, item.content_hash, article, routing,
                                        same_as=same_as.id if same_as is not None else None))
        self.pending |= facets(own_id(article, item.key), article.url, item.content_hash)
        if same_as is not None:
            self.moves[item.key] = same_as.key
        if stat is not None:
            self.files[item.key] = stat
        if len(self.writes) >= CHUNK:
            self.flush()

    def failed(self, key: str, exc: Exception, stat: FileStat | None = None) -> None:
        """An item that failed unexpectedly or could not be parsed."""
        self.error_line(_item_failed(self.source, key, exc), key, stat)

    def error(self, key: str, message: str, stat: FileStat | None = None) -> None:
        """An item's own error (read, decode, size)."""
        self.error_line(f"{key}: {message}", key, stat)

    def error_line(self, line: str, key: str | None = None, stat: FileStat | None = None) -> None:
        """Report an error line; with a folder file's stat, the error is
        remembered with it: the unchanged file is not read again, the error
        is reported again at every poll."""
        self.report.item_errors.append(line)
        _notify(self.on_item, self.source.name, "error", line)
        if key is not None and stat is not None:
            self.file(key, replace(stat, error=line))

    def file(self, key: str, stat: FileStat) -> None:
        """A folder file's new stat, with nothing to store for it."""
        self.files[key] = stat

    def due(self) -> None:
        """Commit when many file stats wait (articles commit per CHUNK as queued)."""
        if len(self.files) >= CHUNK * 5:
            self.flush()

    def warn(self, warning: str) -> None:
        self.report.warnings.append(warning)
        _notify(self.on_item, self.source.name, "duplicate", warning)

    def flush(self) -> None:
        if not self.writes and not self.files:
            return
        results = self.store.store_articles(self.source.name, self.writes, now=self.now, files=self.files)
        writes, moves = self.writes, self.moves
        if self.cache is not None:
            self.cache.stats.update(self.files)
        self.writes, self.files, self.moves, self.pending = [], {}, {}, set()
        for (ref, status), write in zip(results, writes):
            moved_from = moves.get(ref.key)
            if self.cache is not None:
                self.cache.articles.add(ref.key)
                if moved_from is not None:
                    self.cache.articles.discard(moved_from)
            if self.on_stored is not None:
                self.on_stored(ref, write)
            if moved_from is not None:
                self.report.moved.append((ref, moved_from))
                _notify(self.on_item, self.source.name, "moved",
                        f"#{ref.id} {ref.label}: moved from {moved_from} to {ref.key}")
                if status == "moved":
                    continue
            if status == "unchanged":
                self.report.unchanged += 1
            else:
                (self.report.new if status == "new" else self.report.updated).append(ref)
            _notify(self.on_item, self.source.name, status, f"#{ref.id} {ref.label}")


# ----------------------------------------------------------------- items


def parse_item(source: SourceConfig, raw: RawArticle) -> Article:
    """An item of a source parsed with the source's defaults (language, url_template):
    the one call every path through ingest makes."""
    from distributor.ingest.parse import parse_raw  # BeautifulSoup & co. only when something is parsed

    return parse_raw(raw, default_language=source.language or None, url_template=source.url_template or None)


def _item_failed(source: SourceConfig, key: str, exc: Exception) -> str:
    """One item that could not be read, parsed or stored: a clean error naming it
    (the traceback only at debug level); its source goes on."""
    if not isinstance(exc, ParseError):
        log.debug("source %s: item %s failed", source.name, key, exc_info=True)
    return _named(key, exc)


def _named(key: str, exc: Exception) -> str:
    """The error naming its item once (parse errors already start with it)."""
    text = str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
    return text if text.startswith(key) else f"{key}: {text}"


def _notify(cb: OnItem | None, source: str, status: str, what: str) -> None:
    if cb is not None:
        cb(source, status, what)
