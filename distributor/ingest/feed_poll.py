"""One poll of a feed source: fetch (conditional GET, or a local file), skip a
document byte for byte the one ingested last time, parse it, and hand each
new or changed item to the batch."""

from __future__ import annotations

import gc
import hashlib
from typing import Any

from distributor.config import Settings, SourceConfig
from distributor.errors import SourceError
from distributor.ingest import sources
from distributor.ingest.batch import SourceReport, _Batch
from distributor.store import Store


def ingest_feed(settings: Settings, store: Store, source: SourceConfig, report: SourceReport,
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
                    parsed: Any, document_hash: str) -> str | None:
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
