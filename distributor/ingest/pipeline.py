"""Ingestion: poll sources, store new and changed articles, plan their deliveries.

One source's failure is recorded and reported; the other sources go on.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError, SourceError
from distributor.ingest import sources
from distributor.ingest.watch import FolderWatch
from distributor.routing import route
from distributor.store import ArticleRef, ArticleWrite, FileStat, Store, utcnow


# Articles are stored (with their plans) one transaction per chunk of this many.
CHUNK = 100
# A file modified this recently may change again within the same mtime tick
# without changing its size: it is read again at the next poll (as git does
# with "racily clean" entries), its hash deciding whether it changed.
RACY_SECONDS = 2.0
# With a folder watch (watch.py), an unchanged folder is still scanned this often.
FULL_SCAN_SECONDS = 30.0


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
    now = now or utcnow()
    report = SourceReport(source.name)
    batch = _Batch(settings, store, source, report, now, on_item)
    document_hash = None
    try:
        if source.kind == "folder":
            _ingest_folder(settings, store, source, report, batch, now, on_item)
        else:
            document_hash = _ingest_feed(settings, store, source, report, batch)
        batch.flush()
    except SourceError as exc:
        report.error = str(exc)
    store.record_poll(source.name, ok=report.ok, summary=report.summary(), error=report.error,
                      etag=batch.state.etag, last_modified=batch.state.last_modified, now=now,
                      document_hash=document_hash if report.ok else None)
    return report


class _Batch:
    """Parsed articles waiting to be stored, one transaction per CHUNK; the
    report and the folder cache learn of an article only once it is committed."""

    def __init__(self, settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                 now: dt.datetime, on_item) -> None:
        self.settings, self.store, self.source, self.report = settings, store, source, report
        self.now, self.on_item = now, on_item
        self.state = sources.FeedState()
        self.writes: list[ArticleWrite] = []
        self.files: dict[str, FileStat] = {}
        self.cache: _FolderCache | None = None  # the folder's, updated after each commit

    def add(self, item: sources.Item, stat: FileStat | None = None) -> None:
        from distributor.ingest.parse import parse_raw

        assert item.raw is not None
        try:
            article = parse_raw(item.raw, default_language=self.source.language or None)
        except ParseError as exc:
            self.error(item.key, str(exc), stat and replace(stat, error=str(exc)))
            return
        self.writes.append(ArticleWrite(item.key, item.content_hash, article,
                                        route(article, self.settings, now=self.now)))
        if stat is not None:
            self.files[item.key] = stat
        if len(self.writes) >= CHUNK:
            self.flush()

    def error(self, key: str, message: str, stat: FileStat | None = None) -> None:
        self.report.item_errors.append(f"{key}: {message}")
        _notify(self.on_item, self.source.name, "error", f"{key}: {message}")
        if stat is not None:
            self.file(key, stat)

    def file(self, key: str, stat: FileStat) -> None:
        """A folder file's new stat, with nothing to store for it."""
        self.files[key] = stat
        if len(self.files) >= CHUNK * 5:
            self.flush()

    def flush(self) -> None:
        if not self.writes and not self.files:
            return
        results = self.store.store_articles(self.source.name, self.writes, now=self.now, files=self.files)
        if self.cache is not None:
            self.cache.stats.update(self.files)
            self.cache.articles.update(ref.key for ref, _status in results)
        self.writes, self.files = [], {}
        for ref, status in results:
            if status == "unchanged":
                self.report.unchanged += 1
            else:
                (self.report.new if status == "new" else self.report.updated).append(ref)
            _notify(self.on_item, self.source.name, status, f"#{ref.id} {ref.title}")


def _ingest_feed(settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                 batch: _Batch) -> str | None:
    """Returns the feed document's hash when every item of it was handled."""
    state = batch.state
    last = store.last_poll(source.name)
    if last and last.ok:
        state.etag, state.last_modified = last.etag, last.last_modified
    data = sources.fetch_feed_bytes(source, settings, state)
    if state.not_modified:
        report.not_modified = True
        return last.document_hash if last else None
    document_hash = _document_hash(source, data)
    if last and last.ok and last.document_hash == document_hash:
        # Byte for byte the document ingested last time: nothing to parse.
        report.document_unchanged = True
        return document_hash
    parsed = sources.parse_feed(source, data)
    del data
    # The parsed feed is tens of thousands of long-lived objects: frozen, the
    # garbage collector does not walk them again at every collection while
    # the items are parsed (that made ingest time grow faster than the feed).
    # Collected first, so that feedparser's own garbage is not frozen with it.
    gc.collect()
    gc.freeze()
    try:
        return _ingest_entries(store, source, report, batch, parsed, document_hash)
    finally:
        gc.unfreeze()


def _ingest_entries(store: Store, source: SourceConfig, report: SourceReport, batch: _Batch,
                    parsed, document_hash: str) -> str | None:
    incomplete = False

    def fetch_page(url: str) -> str:
        nonlocal incomplete
        try:
            return sources.fetch_page_article_html(url, source)
        except SourceError:
            incomplete = True  # read it again next time, the page may answer then
            raise

    known = store.content_hashes(source.name)
    for item in sources.feed_items(source, parsed, page_fetcher=fetch_page):
        if item.error:
            batch.error(item.key, item.error)
            continue
        if known.get(item.key) == item.content_hash:
            # The same item as stored: unchanged, without parsing it again.
            report.unchanged += 1
            continue
        batch.add(item)
    if incomplete or report.item_errors:
        return None
    return document_hash


def _document_hash(source: SourceConfig, data: bytes) -> str:
    # What else decides how the same bytes are read is part of the hash.
    h = hashlib.sha256(f"{source.language}|{source.fetch_full_page}|".encode())
    h.update(data)
    return h.hexdigest()


def _ingest_folder(settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                   batch: _Batch, now: dt.datetime, on_item) -> None:
    """Stat every file; read only those whose size or mtime changed since they
    were last read (or that were never read); parse only those whose bytes changed."""
    cache = _folder_cache(store, source.name)
    batch.cache = cache
    cache_stats = cache.stats
    watch = cache.watch
    clock = time.monotonic()
    if watch is not None:
        changed = watch.changed()  # before the scan: a change during it is seen at the next poll
        if not changed and cache.scanned_at is not None and clock - cache.scanned_at < FULL_SCAN_SECONDS \
                and not cache.racy:
            # Nothing in the folder changed since the last scan: the same report, without one.
            report.unchanged += cache.unchanged
            for key, error in cache.errors:
                report.item_errors.append(f"{key}: {error}")
                _notify(on_item, source.name, "error", f"{key}: {error}")
            return
    listing = sources.scan_folder(source, settings, on_folder=watch.add if watch is not None else None)
    listing.sort(key=lambda f: f[0].split("/"))  # path order, as the report lists them
    seen: set[str] = set()
    racy_after = now.timestamp() - RACY_SECONDS
    # Stored hashes only for the files that must be read.
    unknown = [key for key, _name, st in listing if not _same_stat(cache_stats.get(key), st)]
    known = store.content_hashes(source.name, keys=unknown) if unknown else {}
    unchanged = 0
    for key, name, st in listing:
        seen.add(key)
        prev = cache_stats.get(key)
        if _same_stat(prev, st):
            if prev.error:
                batch.error(key, prev.error)
            else:
                unchanged += 1
            continue
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            batch.error(key, f"cannot read {path}: {exc.strerror}")
            continue
        digest = sources.sha256(data)
        # A file written in the last moments may change again within the
        # same mtime tick: not trusted by its stat next time.
        mtime_ns = st.st_mtime_ns if st.st_mtime < racy_after else -1
        stat = FileStat(len(data), mtime_ns, digest)
        if (prev is not None and prev.content_hash == digest and not prev.error) or known.get(key) == digest:
            # Touched, not changed: the same bytes are not a new version.
            unchanged += 1
            batch.file(key, stat)
            continue
        item = sources.folder_item(key, path, sources.FORMATS[path.suffix.lower()], data, digest)
        if item.error:
            batch.error(key, item.error, replace(stat, error=item.error))
            continue
        batch.add(item, stat)
    report.unchanged += unchanged
    batch.flush()
    # A file an editor removed is a retraction: what was not sent yet is
    # cancelled. (A feed item that scrolls out of the feed is not.)
    for key in sorted(cache.articles - seen):
        cancelled = store.retract(source.name, key, now=now,
                                  reason="its file was removed from the folder before it went out")
        cache.articles.discard(key)
        if cancelled:
            report.removed.append(key)
            _notify(on_item, source.name, "removed", f"{key}: {cancelled} unsent deliveries cancelled")
    gone = [key for key in cache.stats if key not in seen]
    if gone:
        store.save_file_stats(source.name, {}, removed=gone)
        for key in gone:
            del cache.stats[key]
    cache.scanned_at = clock
    cache.unchanged = sum(1 for f in cache.stats.values() if not f.error)
    cache.errors = [(k, f.error) for k, f in sorted(cache.stats.items(), key=lambda kv: kv[0].split("/")) if f.error]
    cache.racy = any(f.mtime_ns == -1 for f in cache.stats.values())


def _same_stat(prev: FileStat | None, st: os.stat_result) -> bool:
    return prev is not None and prev.mtime_ns == st.st_mtime_ns and prev.size == st.st_size


class _FolderCache:
    """What this process knows of a folder source between polls, so that a
    poll of an unchanged folder is a stat per file and no query: the files'
    stats as last read, and the keys that have a stored article (to retract
    when their file goes). Loaded from the database at the first poll, kept
    in step with every commit after it."""

    def __init__(self, store: Store, source: str) -> None:
        self.stats: dict[str, FileStat] = store.file_stats(source)
        self.articles: set[str] = set(store.content_hashes(source))
        # After a scan: when it was, and what an unchanged folder reports.
        self.scanned_at: float | None = None
        self.unchanged = 0
        self.errors: list[tuple[str, str]] = []
        self.racy = False
        self.watch = FolderWatch.open()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None


def _folder_cache(store: Store, source: str) -> _FolderCache:
    cache = store.ingest_cache.get(("folder", source))
    if cache is None:
        cache = store.ingest_cache[("folder", source)] = _FolderCache(store, source)
    return cache


def _notify(cb, source: str, status: str, what: str) -> None:
    if cb is not None:
        cb(source, status, what)
