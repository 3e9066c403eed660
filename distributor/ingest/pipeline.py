"""Ingestion: poll sources, store new and changed articles, plan their deliveries.

One source's failure is recorded and reported; the other sources go on. One
item's failure (read, decode, parse) is a clean error naming it; its source
goes on.

Every path through ingest ends in one place: parsed articles go to a `_Batch`
(parse_item() is the one parse call), which stores them with their plans one
transaction per CHUNK. A folder file at a path the store does not know first
goes through `_NewPaths` (ingest/identity.py: a stored article moved, or a
second file of a live one); what it decides is stored through the same batch.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError, SourceError
from distributor.ingest import sources
from distributor.ingest.identity import FolderIdentities, Match, facets
from distributor.ingest.watch import FolderWatch
from distributor.model import Article
from distributor.routing import route
from distributor.store import ArticleIdentity, ArticleRef, ArticleWrite, FileStat, Store, own_id, utcnow

log = logging.getLogger(__name__)

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
            document_hash = folder_fingerprint(source)
        else:
            document_hash = _ingest_feed(settings, store, source, report, batch)
        batch.flush()
    except SourceError as exc:
        report.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad source never stops the others
        log.debug("source %s failed", source.name, exc_info=True)
        report.error = f"source {source.name!r}: {type(exc).__name__}: {exc}"
    store.record_poll(source.name, ok=report.ok, summary=report.summary(), error=report.error,
                      etag=batch.state.etag, last_modified=batch.state.last_modified, now=now,
                      document_hash=document_hash if report.ok else None)
    return report


class _Batch:
    """Parsed articles waiting to be stored, one transaction per CHUNK; the
    report, the folder cache and the identity index learn of an article only
    once it is committed. Every item's error goes through here too."""

    def __init__(self, settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                 now: dt.datetime, on_item) -> None:
        self.settings, self.store, self.source, self.report = settings, store, source, report
        self.now, self.on_item = now, on_item
        self.state = sources.FeedState()
        self.writes: list[ArticleWrite] = []
        self.files: dict[str, FileStat] = {}
        # key -> the key it had, for the writes that move an article.
        self.moves: dict[str, str] = {}
        # The identity facets (id, url, hash) of the writes not committed yet.
        self.pending: set[tuple[str, str]] = set()
        self.cache: _FolderCache | None = None  # the folder's, updated after each commit
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


class _NewPaths:
    """Folder files at paths the store does not know: a new article, a stored
    one moved (its file gone, in this poll or earlier), or a second file of
    a live article (a warning; nothing is created). A file that shares an id,
    url or bytes with a stored article waits until every live path is known
    (finish(), after the whole listing and before any retraction); any other
    is queued as a new article at once (so a first ingest holds no texts)."""

    def __init__(self, store: Store, source: SourceConfig, batch: _Batch) -> None:
        self.store, self.source, self.batch = store, source, batch
        self.index: FolderIdentities | None = None  # read at the first unknown path
        self.waiting: list[tuple[sources.Item, Article, FileStat]] = []
        batch.on_stored = self.record

    def add(self, item: sources.Item, stat: FileStat) -> None:
        article = self.batch.parse(item, stat)
        if article is None:
            return
        if self.index is None:
            self.index = FolderIdentities(self.store.identities(self.source.name))
        if self._match(item, article, live=None) is None:
            self.batch.put(item, article, stat)
        else:
            self.waiting.append((item, article, stat))

    def record(self, ref: ArticleRef, write: ArticleWrite) -> None:
        """An article committed in this poll (by key or by identity)."""
        if self.index is not None:
            self.index.record(ArticleIdentity(ref.id, ref.key, write.content_hash,
                                              own_id(write.article, ref.key), write.article.url, False))

    def finish(self, live: set[str]) -> set[str]:
        """Decide the waiting files; returns the paths articles moved from."""
        moved_from: set[str] = set()
        if self.waiting:
            # Every article changed by its key in this poll committed first: the
            # index knows what they are now.
            self.batch.flush()
        for item, article, stat in self.waiting:
            match = self._match(item, article, live=live)
            if match and not match.moved:
                # No stat is recorded: the file is looked at again at every
                # poll, and becomes the article if the other file goes.
                self.batch.warn(f"{item.key} and {match.article.key} are one article (#{match.article.id}, "
                                f"the same {match.by}): {item.key} is not posted again; remove one of them")
                continue
            if match:
                moved_from.add(match.article.key)
            self.batch.put(item, article, stat, same_as=match.article if match else None)
        self.waiting = []
        return moved_from

    def _match(self, item: sources.Item, article: Article, live: set[str] | None) -> Match | None:
        assert self.index is not None
        ident = own_id(article, item.key)
        if facets(ident, article.url, item.content_hash) & self.batch.pending:
            # What it shares is with an article not committed yet: committed
            # first, so that the index knows it.
            self.batch.flush()
        return self.index.match(own_id=ident, url=article.url, content_hash=item.content_hash, live=live)


# ------------------------------------------------------------------ feed


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
    document_hash = _document_hash(source, data, state.charset)
    if last and last.ok and last.document_hash == document_hash:
        # Byte for byte the document ingested last time: nothing to parse.
        report.document_unchanged = True
        return document_hash
    # Handed over: parse_feed lets go of the bytes once they are decoded (peak memory).
    handed = [data]
    del data
    parsed = sources.parse_feed(source, handed.pop(), charset=state.charset)
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


def _document_hash(source: SourceConfig, data: bytes, charset: str | None) -> str:
    # What else decides how the same bytes are read is part of the hash.
    h = hashlib.sha256(f"{source.language}|{source.fetch_full_page}|{source.url_template}|{charset}|".encode())
    h.update(data)
    return h.hexdigest()


# ---------------------------------------------------------------- folder


def _ingest_folder(settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                   batch: _Batch, now: dt.datetime, on_item) -> None:
    """Stat every file; read only those whose size or mtime changed since they
    were last read (or that were never read); parse only those whose bytes
    changed. Files at unknown paths go through identity (_NewPaths); moves
    are decided after the whole listing, before removed files are retracted."""
    cache = _folder_cache(store, source)
    batch.cache = cache
    watch = cache.watch
    clock = time.monotonic()
    if watch is not None:
        changed = watch.changed()  # before the scan: a change during it is seen at the next poll
        if not changed and cache.scanned_at is not None and clock - cache.scanned_at < FULL_SCAN_SECONDS \
                and not cache.racy:
            # Nothing in the folder changed since the last scan: the same report, without one.
            report.unchanged += cache.unchanged
            for line in cache.errors:
                batch.error_line(line)
            for warning in cache.warnings:
                batch.warn(warning)
            return
    cache.scanned_at = None  # until this scan is complete
    listing = sources.scan_folder(source, settings, on_folder=watch.add if watch is not None else None)
    listing.sort(key=lambda f: f[0].split("/"))  # path order, as the report lists them
    seen: set[str] = set()
    racy_after = now.timestamp() - RACY_SECONDS
    # Stored hashes only for the files that must be read.
    to_read = [key for key, _name, st in listing if not cache.trusted(key, st)]
    known = store.content_hashes(source.name, keys=to_read) if to_read else {}
    new_paths = _NewPaths(store, source, batch)
    unchanged = 0
    for key, name, st in listing:
        seen.add(key)
        if cache.trusted(key, st):
            error = cache.stats[key].error
            if error:
                batch.error_line(error)
            else:
                unchanged += 1
            continue
        try:
            read = _read_file(source, batch, known, key, Path(name), st, racy_after)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops its source
            batch.failed(key, exc)
            read = False
        # Outside the file's guard: a failure to store is the source's
        # (parsing is guarded in the batch).
        batch.due()
        if read is None:
            unchanged += 1
        elif read is not False:
            item, stat = read
            if key in known:  # a stored article (live, or removed and back): by its key
                batch.add(item, stat)
            else:
                new_paths.add(item, stat)  # maybe a stored article under another path
    report.unchanged += unchanged
    # Moves first: a file gone from A and found at B is not a retraction.
    moved_from = new_paths.finish(live=seen)
    batch.flush()
    # A file an editor removed is a retraction: what was not sent yet is
    # cancelled. (A feed item that scrolls out of the feed is not.)
    for key in sorted(cache.articles - seen - moved_from, key=lambda k: k.split("/")):
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
    cache.unchanged = sum(1 for k, f in cache.stats.items() if not f.error and k in cache.articles)
    cache.errors = [f.error for k, f in sorted(cache.stats.items(), key=lambda kv: kv[0].split("/")) if f.error]
    cache.warnings = list(report.warnings)
    cache.racy = any(f.mtime_ns == -1 for f in cache.stats.values())


def _read_file(source: SourceConfig, batch: _Batch, known: dict[str, str], key: str, path: Path,
               st: os.stat_result, racy_after: float) -> tuple[sources.Item, FileStat] | bool | None:
    """Read one folder file whose stat is not trusted: its item and stat to
    parse, None if its bytes are the stored article's, False if it failed
    (reported, with its stat when it has one)."""
    # A file written in the last moments may change again within the same
    # mtime tick: not trusted by its stat next time.
    mtime_ns = st.st_mtime_ns if st.st_mtime < racy_after else -1
    if st.st_size > source.max_bytes:  # refused before it is read
        batch.error(key, sources.too_big(path, st.st_size, source), FileStat(st.st_size, mtime_ns, ""))
        return False
    try:
        data = path.read_bytes()
    except OSError as exc:
        batch.error(key, f"cannot read {path}: {exc.strerror}")
        return False
    digest = sources.folder_hash(data, source)
    stat = FileStat(len(data), mtime_ns, digest)
    if len(data) > source.max_bytes:  # grew since the scan
        batch.error(key, sources.too_big(path, len(data), source), stat)
        return False
    if known.get(key) == digest:
        # Touched, not changed: the same bytes as the stored (live) article.
        batch.file(key, stat)
        return None
    item = sources.folder_item(key, path, sources.FORMATS[path.suffix.lower()], data, source, digest)
    if item.error:
        batch.error(key, item.error, stat)
        return False
    return item, stat


def _same_stat(prev: FileStat | None, st: os.stat_result) -> bool:
    return prev is not None and prev.mtime_ns == st.st_mtime_ns and prev.size == st.st_size


class _FolderCache:
    """What this process knows of a folder source between polls, so that a
    poll of an unchanged folder is a stat per file and no query: the files'
    stats as last read, and the keys that have a live stored article (to
    retract when their file goes). Loaded from the database at the first
    poll, kept in step with every commit after it."""

    def __init__(self, store: Store, source: str) -> None:
        self.stats: dict[str, FileStat] = store.file_stats(source)
        # A removed article's hash is "" (content_hashes): not live.
        self.articles: set[str] = {k for k, h in store.content_hashes(source).items() if h}
        # After a scan: when it was, and what an unchanged folder reports.
        self.scanned_at: float | None = None
        self.unchanged = 0
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.racy = False
        self.watch = FolderWatch.open()

    def trusted(self, key: str, st: os.stat_result) -> bool:
        """The file is as last read, by its size and mtime: an error again, or
        the live article it was (any other file is read: a stat alone never
        hides a file from identity)."""
        prev = self.stats.get(key)
        return _same_stat(prev, st) and (prev.error is not None or key in self.articles)

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None


def _folder_cache(store: Store, source: SourceConfig) -> _FolderCache:
    """The folder's cache. Its file stats vouch for hashes made the way the
    source reads now (folder_hash: the url_template is part of it): after a
    change of how, every file is read again once, so stored articles are
    re-linked rather than trusted by their unchanged size and mtime."""
    key = ("folder", source.name, folder_fingerprint(source))
    cache = store.ingest_cache.get(key)
    if cache is None:
        cache = store.ingest_cache[key] = _FolderCache(store, source.name)
        last = store.last_poll(source.name)
        if last is None or last.document_hash != key[2]:
            cache.stats = {}
    return cache


def folder_fingerprint(source: SourceConfig) -> str:
    """How a folder's files are read into content hashes (recorded with each
    poll as its document_hash)."""
    return sources.folder_hash(b"", source)


# ----------------------------------------------------------------- items


def parse_item(source: SourceConfig, raw) -> Article:
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


def _notify(cb, source: str, status: str, what: str) -> None:
    if cb is not None:
        cb(source, status, what)
