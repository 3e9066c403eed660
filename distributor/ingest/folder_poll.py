"""One poll of a folder source: stat every file, read only those whose size
or mtime changed, parse only those whose bytes changed; files at paths the
store does not know go through identity (`_NewPaths`, ingest/identity.py: a
stored article moved, or a second file of a live one); files gone are
retracted. In the daemon, the stats stay in memory between polls
(`_FolderCache`) and an inotify watch (watch.py) says whether anything
changed at all."""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from pathlib import Path
from typing import Literal

from distributor.config import Settings, SourceConfig
from distributor.ingest import sources
from distributor.ingest.batch import OnItem, SourceReport, _Batch, _notify
from distributor.ingest.identity import FolderIdentities, Match, facets
from distributor.ingest.watch import FolderWatch
from distributor.model import Article
from distributor.store import ArticleIdentity, ArticleRef, ArticleWrite, FileStat, Store, own_id

# A file modified this recently may change again within the same mtime tick
# without changing its size: it is read again at the next poll (as git does
# with "racily clean" entries), its hash deciding whether it changed.
RACY_SECONDS = 2.0
# With a folder watch (watch.py), an unchanged folder is still scanned this often.
FULL_SCAN_SECONDS = 30.0
# A poll that reads at least this many files freezes what lives for the garbage collector.
FREEZE_AT = 200


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


def ingest_folder(settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
                  batch: _Batch, now: dt.datetime, on_item: OnItem | None) -> None:
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
    # Many files to read (a first ingest): what lives already is frozen for the
    # garbage collector, whose full collections otherwise walk it again and
    # again while the files are parsed (as the feed poll does with its feed).
    frozen = len(to_read) >= FREEZE_AT
    if frozen:
        gc.freeze()
    try:
        unchanged = _read_files(source, batch, listing, cache, known, new_paths, seen, racy_after)
    finally:
        if frozen:
            gc.unfreeze()
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
    # (The errors, in path order: filtered first, so that a scan does not sort every file.)
    cache.errors = [f.error for _k, f in sorted(((k, f) for k, f in cache.stats.items() if f.error),
                                                key=lambda kv: kv[0].split("/")) if f.error is not None]
    cache.warnings = list(report.warnings)
    cache.racy = any(f.mtime_ns == -1 for f in cache.stats.values())


def _read_files(source: SourceConfig, batch: _Batch, listing: list[tuple[str, str, os.stat_result]],
                cache: _FolderCache, known: dict[str, str], new_paths: _NewPaths, seen: set[str],
                racy_after: float) -> int:
    """Read, parse and queue the files of the listing whose stat is not
    trusted; returns how many are unchanged."""
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
    return unchanged


def _read_file(source: SourceConfig, batch: _Batch, known: dict[str, str], key: str, path: Path,
               st: os.stat_result, racy_after: float) -> tuple[sources.Item, FileStat] | Literal[False] | None:
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
        return prev is not None and _same_stat(prev, st) and (prev.error is not None or key in self.articles)

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
