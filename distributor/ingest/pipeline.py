"""Ingestion: poll sources, store new and changed articles, plan their deliveries.

One source's failure is recorded and reported; the other sources go on. One
item's failure (read, decode, parse) is a clean error naming it; its source
goes on.

Every path through ingest ends in one place: parsed articles go to a `_Batch`
(batch.py; parse_item() is the one parse call), which stores them with their
plans one transaction per CHUNK. A feed is polled by feed_poll.py, a folder by
folder_poll.py, where a file at a path the store does not know first goes
through `_NewPaths` (ingest/identity.py: a stored article moved, or a second
file of a live one); what it decides is stored through the same batch.
"""

from __future__ import annotations

import datetime as dt
import logging

from distributor.config import Settings, SourceConfig
from distributor.errors import SourceError
from distributor.ingest.batch import CHUNK, OnItem, SourceReport, _Batch, parse_item
from distributor.ingest.feed_poll import ingest_feed
from distributor.ingest.folder_poll import FULL_SCAN_SECONDS, RACY_SECONDS, folder_fingerprint, ingest_folder
from distributor.store import Store, utcnow

log = logging.getLogger(__name__)

__all__ = ["CHUNK", "FULL_SCAN_SECONDS", "RACY_SECONDS", "SourceReport", "folder_fingerprint", "ingest",
           "ingest_source", "parse_item"]


def ingest(settings: Settings, store: Store, *, source_name: str | None = None,
           now: dt.datetime | None = None,
           on_item: OnItem | None = None) -> list[SourceReport]:
    """Poll the sources once (or the one named). `on_item(source, status, what)`
    is called as each item is handled, for progress output."""
    targets = [settings.source(source_name)] if source_name else list(settings.sources)
    return [ingest_source(settings, store, s, now=now, on_item=on_item) for s in targets]


def ingest_source(settings: Settings, store: Store, source: SourceConfig, *,
                  now: dt.datetime | None = None,
                  on_item: OnItem | None = None) -> SourceReport:
    now = now or utcnow()
    report = SourceReport(source.name)
    batch = _Batch(settings, store, source, report, now, on_item)
    document_hash = None
    try:
        if source.kind == "folder":
            ingest_folder(settings, store, source, report, batch, now, on_item)
            document_hash = folder_fingerprint(source)
        else:
            document_hash = ingest_feed(settings, store, source, report, batch)
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
