"""The store: articles, their routing and the deliveries outbox.

`Store.open(settings)` opens the configured database at the schema's head.
Every method is one short transaction; nothing here talks to the network.
The rows it hands out are in records.py; the outbox's state machine in
outbox.py, the subscribers in subscribers.py, the digest issues in issues.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.model import Article
from distributor.store.db import create_engine, insert_ignore, inserted_id, migrate
from distributor.store.records import (
    ArticleIdentity,
    ArticleRef,
    ArticleWrite,
    FileStat,
    SourcePoll,
    StoredArticle,
    UpsertStatus,
    own_id,
    utcnow,
)
from distributor.store.records import aware as _aware
from distributor.store.records import stored_article as _stored
from distributor.store.approval import AWAITS, changed_since_approval
from distributor.store.outbox import DeliveryRow, DeliveryStatus, group_by_article, sources
from distributor.store.leases import order_deliveries as _order_deliveries
from distributor.store.schema import UTCDateTime, articles, deliveries, issue_items, source_files, source_polls

if TYPE_CHECKING:
    from distributor.config import Settings
    from distributor.routing import Planned, Routing, Skipped

__all__ = ["Store", "StoredArticle", "ArticleIdentity", "ArticleRef", "ArticleWrite", "FileStat", "DeliveryRow",
           "SourcePoll", "UpsertStatus", "group_by_article", "insert_ignore", "own_id", "utcnow"]

# Store's methods below say _insert_ignore, as code written before it moved to db.py does.
_insert_ignore = insert_ignore


class Store:
    def __init__(self, engine: sa.Engine):
        from distributor.store.outbox import Outbox

        self.engine = engine
        self.outbox = Outbox(engine)
        # What ingestion keeps between polls in this process (ingest.pipeline).
        self.ingest_cache: dict = {}

    @classmethod
    def open(cls, settings: Settings) -> Store:
        from distributor import redact

        redact.register(settings)  # the secrets the store must never write
        return cls.open_url(settings.database_url)

    @classmethod
    def open_url(cls, url: str) -> Store:
        engine = create_engine(url)
        try:
            migrate(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise DistributorError(f"cannot open the database: {exc.orig}") from None
        return cls(engine)

    def close(self) -> None:
        for cached in self.ingest_cache.values():
            if hasattr(cached, "close"):
                cached.close()
        self.ingest_cache.clear()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ articles

    def upsert_article(
        self, *, source: str, key: str, content_hash: str, article: Article, now: dt.datetime | None = None,
        routing: Routing | None = None, same_as: int | None = None,
    ) -> tuple[StoredArticle, UpsertStatus]:
        """Store a parsed article. Same (source, key) and same hash: unchanged;
        another hash: the next version of the same article. `same_as` is the
        stored article this item was recognised as under another key (by its
        id, url or content: ingest/identity.py); it moves to `key`, "moved"
        when nothing else changed. An article whose file had been removed
        comes back "updated": what was cancelled is planned again, what was
        sent stays sent. With `routing`, a new or changed article's deliveries
        are planned in the same transaction: an article is never stored
        without its plan."""
        now = now or utcnow()
        values = _article_values(article, content_hash, now, key)
        with self.engine.begin() as conn:
            where = (articles.c.id == same_as if same_as is not None else articles.c.source_key == key)
            row = conn.execute(sa.select(articles).where(articles.c.source == source, where)).first()
            if row is None and same_as is not None:
                raise DistributorError(f"no article #{same_as} in source {source!r} to move to {key}")
            if row is None:
                new_id = inserted_id(conn.execute(
                    articles.insert().values(source=source, source_key=key, version=1, ingested_at=now, **values)
                ))
                status: UpsertStatus = "new"
            else:
                changed = row.content_hash != content_hash
                if not changed and row.source_key == key and row.removed_at is None:
                    return _stored(row), "unchanged"
                new_id = row.id
                conn.execute(
                    articles.update().where(articles.c.id == row.id)
                    .values(source_key=key, version=row.version + changed, **values)
                )
                status = "updated" if changed or row.removed_at is not None else "moved"
            stored = _stored(conn.execute(sa.select(articles).where(articles.c.id == new_id)).one())
            if routing is not None and status != "moved":
                self._apply_routing(conn, stored, routing, now)
            _order_deliveries(conn, [new_id])
        return stored, status

    def store_articles(
        self, source: str, writes: list[ArticleWrite], *, now: dt.datetime | None = None,
        files: dict[str, FileStat] | None = None,
    ) -> list[tuple[ArticleRef, UpsertStatus]]:
        """upsert_article for a chunk of articles in ONE transaction: every
        article of the chunk is stored with its planned deliveries (and the
        folder files' new stats with them), or none is. One transaction per
        chunk instead of per article is what makes a 10,000-item first ingest
        cheap; the guarantee "an article is never stored without its plan"
        holds per chunk. The statuses are upsert_article's (a write with
        `same_as` moves that article to its key; a removed article comes
        back "updated"), one per write, in the order of `writes`."""
        now = now or utcnow()
        if not writes and not files:
            return []
        out: list[tuple[ArticleRef, UpsertStatus] | None] = [None] * len(writes)
        cols = (articles.c.id, articles.c.source_key, articles.c.content_hash, articles.c.version,
                articles.c.removed_at)
        with self.engine.begin() as conn:
            by_key, by_id = {}, {}
            keys = [w.key for w in writes if w.same_as is None]
            for start in range(0, len(keys), 500):
                for r in conn.execute(sa.select(*cols).where(
                        articles.c.source == source, articles.c.source_key.in_(keys[start:start + 500]))):
                    by_key[r.source_key] = r
            ids = [w.same_as for w in writes if w.same_as is not None]
            for start in range(0, len(ids), 500):
                for r in conn.execute(sa.select(*cols).where(
                        articles.c.source == source, articles.c.id.in_(ids[start:start + 500]))):
                    by_id[r.id] = r
            fresh: list[tuple[int, ArticleWrite, dict]] = []
            touched: list[int] = []  # articles rewritten: their deliveries' order follows (_order_deliveries)
            for i, w in enumerate(writes):
                values = _article_values(w.article, w.content_hash, now, w.key)
                row = by_key.get(w.key) if w.same_as is None else by_id.get(w.same_as)
                if row is None and w.same_as is not None:
                    raise DistributorError(f"no article #{w.same_as} in source {source!r} to move to {w.key}")
                if row is None:
                    fresh.append((i, w, values))
                    continue
                changed = row.content_hash != w.content_hash
                removed = row.removed_at is not None
                if not changed and row.source_key == w.key and not removed:
                    ref = ArticleRef(row.id, source, w.key, row.version, w.article.title, w.article.label, self)
                    out[i] = (ref, "unchanged")
                    continue
                conn.execute(articles.update().where(articles.c.id == row.id)
                             .values(source_key=w.key, version=row.version + changed, **values))
                touched.append(row.id)
                ref = ArticleRef(row.id, source, w.key, row.version + changed, w.article.title, w.article.label, self)
                status: UpsertStatus = "updated" if changed or removed else "moved"
                if w.routing is not None and status != "moved":
                    self._apply_routing(conn, ref, w.routing, now)
                out[i] = (ref, status)
            if fresh:
                new_ids = self._insert_articles(conn, source, [(w, values) for _i, w, values in fresh], now)
                plans = []
                for (i, w, _values), new_id in zip(fresh, new_ids):
                    ref = ArticleRef(new_id, source, w.key, 1, w.article.title, w.article.label, self)
                    if w.routing is not None:
                        plans.extend(_new_deliveries(ref, w.routing, now, _aware(w.article.published) or now))
                    out[i] = (ref, "new")
                if plans:
                    conn.execute(_insert_ignore(conn, deliveries), plans)
            _order_deliveries(conn, touched)  # the new ones' deliveries have it already
            if files:
                self._save_file_stats(conn, source, files)
        return out  # type: ignore[return-value]

    @staticmethod
    def _insert_articles(conn: sa.Connection, source: str, fresh: list, now: dt.datetime) -> list[int]:
        rows = [dict(source=source, source_key=w.key, version=1, ingested_at=now, **values) for w, values in fresh]
        # One INSERT … RETURNING for the chunk (SQLAlchemy's insertmanyvalues),
        # ids in the order of the rows.
        result = conn.execute(articles.insert().returning(articles.c.id, sort_by_parameter_order=True), rows)
        return [r.id for r in result]

    def file_stats(self, source: str) -> dict[str, FileStat]:
        """path -> FileStat of a folder source's files as last read."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(source_files).where(source_files.c.source == source))
            return {r.path: FileStat(r.size, r.mtime_ns, r.content_hash, r.error) for r in rows}

    def save_file_stats(self, source: str, files: dict[str, FileStat], *, removed: Iterable[str] = ()) -> None:
        removed = list(removed)
        if not files and not removed:
            return
        with self.engine.begin() as conn:
            self._save_file_stats(conn, source, files)
            for start in range(0, len(removed), 500):
                conn.execute(source_files.delete().where(source_files.c.source == source,
                                                         source_files.c.path.in_(removed[start:start + 500])))

    @staticmethod
    def _save_file_stats(conn: sa.Connection, source: str, files: dict[str, FileStat]) -> None:
        if not files:
            return
        paths = list(files)
        for start in range(0, len(paths), 500):
            conn.execute(source_files.delete().where(source_files.c.source == source,
                                                     source_files.c.path.in_(paths[start:start + 500])))
        conn.execute(source_files.insert(), [
            dict(source=source, path=p, size=f.size, mtime_ns=f.mtime_ns, content_hash=f.content_hash, error=f.error)
            for p, f in files.items()
        ])

    def content_hashes(self, source: str, *, keys: list[str] | None = None) -> dict[str, str]:
        """key -> content hash of every stored article of a source (one query
        per poll, so unchanged items are recognised without parsing them),
        or of those among `keys`. A removed article's is "": its file, back,
        is read again."""
        live_hash = sa.case((articles.c.removed_at.is_(None), articles.c.content_hash), else_="")
        q = sa.select(articles.c.source_key, live_hash.label("content_hash")).where(articles.c.source == source)
        with self.engine.connect() as conn:
            if keys is None:
                return {r.source_key: r.content_hash for r in conn.execute(q)}
            out = {}
            for start in range(0, len(keys), 500):
                rows = conn.execute(q.where(articles.c.source_key.in_(keys[start:start + 500])))
                out.update({r.source_key: r.content_hash for r in rows})
            return out

    def identities(self, source: str) -> list[ArticleIdentity]:
        """What recognises each stored article of a source under another key."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(articles.c.id, articles.c.source_key, articles.c.content_hash,
                                          articles.c.identity, articles.c.url, articles.c.removed_at)
                                .where(articles.c.source == source).order_by(articles.c.id))
            return [ArticleIdentity(r.id, r.source_key, r.content_hash, r.identity, r.url, r.removed_at is not None)
                    for r in rows]

    def retract(self, source: str, key: str, *, now: dt.datetime, reason: str) -> int:
        """Cancel an article's deliveries that have not gone out (pending,
        awaiting approval, held, failed); returns how many. The article is marked removed (its hash is
        kept, to recognise it under another name), so it is planned again if
        it comes back."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(articles.c.id, articles.c.removed_at)
                               .where(articles.c.source == source, articles.c.source_key == key)).first()
            if row is None:
                return 0
            cancelled = conn.execute(
                deliveries.update()
                .where(deliveries.c.article_id == row.id,
                       deliveries.c.id.not_in(sa.select(issue_items.c.delivery_id)),  # it goes with its issue
                       deliveries.c.status.in_(sources(DeliveryStatus.CANCELLED, (
                           DeliveryStatus.PENDING, DeliveryStatus.AWAITING_APPROVAL, DeliveryStatus.HELD,
                           DeliveryStatus.FAILED))))
                .values(status=DeliveryStatus.CANCELLED, reason=reason, updated_at=now)
            ).rowcount
            if row.removed_at is None:
                conn.execute(articles.update().where(articles.c.id == row.id).values(removed_at=now, updated_at=now))
            return cancelled

    def get_article(self, article_id: int) -> StoredArticle:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(articles).where(articles.c.id == article_id)).first()
        if row is None:
            raise DistributorError(f"no article with id {article_id}")
        return _stored(row)

    def get_articles(self, article_ids: Sequence[int]) -> list[StoredArticle]:
        """`get_article` for each id, in the order given, in one query."""
        with self.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(articles).where(articles.c.id.in_(list(article_ids))))}
        missing = [a for a in article_ids if a not in rows]
        if missing:
            raise DistributorError(f"no article with id {missing[0]}")
        return [_stored(rows[a]) for a in article_ids]

    def list_articles(
        self, *, language: str | None = None, since: dt.datetime | None = None, kind: str | None = None
    ) -> list[StoredArticle]:
        """Articles oldest first. `since` compares the publication date (or the
        ingestion time when there is none); `kind` keeps the articles whose
        routing plans a delivery of that kind."""
        q = sa.select(articles).order_by(
            sa.func.coalesce(articles.c.published_at, articles.c.ingested_at), articles.c.id
        )
        if language:
            q = q.where(articles.c.language == language)
        if since is not None:
            q = q.where(sa.func.coalesce(articles.c.published_at, articles.c.ingested_at) >= _aware(since))
        if kind:
            planned = sa.select(deliveries.c.article_id).where(
                deliveries.c.kind == kind,
                deliveries.c.status.not_in((DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED))
            )
            q = q.where(articles.c.id.in_(planned))
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(q)]

    # ------------------------------------------------------------ routing

    def apply_routing(
        self, stored: StoredArticle, routing: Routing, *, now: dt.datetime | None = None
    ) -> list[DeliveryRow]:
        """Make the outbox match the routing. Idempotent: planning twice adds
        nothing. A planned delivery the footer no longer names, and not yet
        sent, is cancelled with the reason; nothing is ever deleted."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            self._apply_routing(conn, stored, routing, now)
            _order_deliveries(conn, [stored.id])
        return self.deliveries(article_id=stored.id)

    @staticmethod
    def _apply_routing(conn: sa.Connection, stored: StoredArticle | ArticleRef, routing: Routing,
                       now: dt.datetime) -> None:
        wanted = {p.channel: p for p in routing.planned}
        skipped = {s.channel: s for s in routing.skipped}
        existing = {
            r.channel: r
            for r in conn.execute(
                sa.select(deliveries).where(deliveries.c.article_id == stored.id, deliveries.c.seq == 0)
            )
        }
        plans: dict[str, Planned | Skipped] = {**skipped, **wanted}
        for channel, plan in plans.items():
            row = existing.get(channel)
            is_skip = channel in skipped and channel not in wanted
            approval = not is_skip and wanted[channel].needs_approval
            status = _planned_status(is_skip, approval)
            reason = skipped[channel].reason if is_skip else (AWAITS if approval else None)
            not_before = None if is_skip else _aware(routing.not_before)
            if row is None:
                conn.execute(
                    _insert_ignore(conn, deliveries).values(
                        article_id=stored.id, channel=channel, kind=plan.kind, seq=0, status=status,
                        reason=reason, article_version=stored.version, next_attempt_at=not_before,
                        created_at=now, updated_at=now,
                    )
                )
            elif not is_skip and row.status in sources(status, _NOT_PLANNED):
                conn.execute(
                    deliveries.update().where(deliveries.c.id == row.id, deliveries.c.status == row.status).values(
                        status=status, reason=reason, article_version=stored.version, approved_version=None,
                        next_attempt_at=not_before, updated_at=now,
                    )
                )
            elif approval and row.status in (DeliveryStatus.PENDING, DeliveryStatus.AWAITING_APPROVAL):
                _await_approval(conn, row, stored.version, not_before, now)
            elif row.status == DeliveryStatus.SKIPPED and is_skip and row.reason != reason:
                conn.execute(
                    deliveries.update().where(deliveries.c.id == row.id).values(reason=reason, updated_at=now)
                )
        for channel, row in existing.items():
            if (channel not in wanted and channel not in skipped
                    and row.status in sources(DeliveryStatus.CANCELLED, _NOT_SENT_YET)):
                conn.execute(
                    deliveries.update().where(deliveries.c.id == row.id, deliveries.c.status == row.status).values(
                        status=DeliveryStatus.CANCELLED,
                        reason=f"no longer named by the article (version {stored.version})",
                        updated_at=now,
                    )
                )

    def deliveries(self, *, article_id: int | None = None, status: str | None = None) -> list[DeliveryRow]:
        q = sa.select(deliveries).order_by(deliveries.c.article_id, deliveries.c.id)
        if article_id is not None:
            q = q.where(deliveries.c.article_id == article_id)
        if status is not None:
            q = q.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [DeliveryRow(**r._mapping) for r in conn.execute(q)]

    # ------------------------------------------------------------ sources

    def record_poll(
        self, source: str, *, ok: bool, summary: str | None = None, error: str | None = None,
        etag: str | None = None, last_modified: str | None = None, now: dt.datetime | None = None,
        document_hash: str | None = None,
    ) -> None:
        at = now or utcnow()
        values = dict(polled_at=at, ok=ok, summary=summary, error=error,
                      etag=etag, last_modified=last_modified, document_hash=document_hash)
        # A failure keeps the time of the first failure in a row (the editors' bot alerts on it).
        since = None if ok else sa.func.coalesce(source_polls.c.failing_since, sa.literal(at, UTCDateTime()))
        with self.engine.begin() as conn:
            updated = conn.execute(
                source_polls.update().where(source_polls.c.source == source).values(**values, failing_since=since)
            ).rowcount
            if not updated:
                conn.execute(_insert_ignore(conn, source_polls).values(source=source, **values,
                                                                       failing_since=None if ok else at))

    def last_poll(self, source: str) -> SourcePoll | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(source_polls).where(source_polls.c.source == source)).first()
        return SourcePoll(**row._mapping) if row else None

    def last_polls(self) -> list[SourcePoll]:
        with self.engine.connect() as conn:
            return [SourcePoll(**r._mapping) for r in conn.execute(sa.select(source_polls).order_by("source"))]


def _article_values(article: Article, content_hash: str, now: dt.datetime, key: str) -> dict:
    return {
        "title": article.title,
        "language": article.language,
        "url": article.url,
        "published_at": _aware(article.published),
        "publish_at": _aware(article.publish_at),
        "data": json.dumps(article.to_json(), ensure_ascii=False),
        "content_hash": content_hash,
        "identity": own_id(article, key),
        "removed_at": None,
        "updated_at": now,
    }


def _new_deliveries(stored: ArticleRef, routing: Routing, now: dt.datetime,
                    article_at: dt.datetime) -> list[dict]:
    """The outbox rows of a NEW article: what Store._apply_routing inserts
    when the article has no deliveries yet (kept in step with it), with the
    article's time (published, else ingested) already in them."""
    wanted = {p.channel: p for p in routing.planned}
    skipped = {s.channel: s for s in routing.skipped}
    rows = []
    plans: dict[str, Planned | Skipped] = {**skipped, **wanted}
    for channel, plan in plans.items():
        is_skip = channel in skipped and channel not in wanted
        approval = not is_skip and wanted[channel].needs_approval
        rows.append(dict(
            article_id=stored.id, channel=channel, kind=plan.kind, seq=0,
            status=_planned_status(is_skip, approval),
            reason=skipped[channel].reason if is_skip else (AWAITS if approval else None),
            article_version=stored.version,
            next_attempt_at=None if is_skip else _aware(routing.not_before),
            created_at=now, updated_at=now, article_at=article_at,
        ))
    return rows


# Not planned to go out (yet): routing may plan them again.
_NOT_PLANNED = (DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED)
# Planned, not gone out: a channel the article no longer names cancels them.
_NOT_SENT_YET = (DeliveryStatus.PENDING, DeliveryStatus.AWAITING_APPROVAL, DeliveryStatus.SKIPPED)


def _planned_status(is_skip: bool, approval: bool) -> DeliveryStatus:
    if is_skip:
        return DeliveryStatus.SKIPPED
    return DeliveryStatus.AWAITING_APPROVAL if approval else DeliveryStatus.PENDING


def _await_approval(conn: sa.Connection, row: Any, version: int, not_before: dt.datetime | None,
                    now: dt.datetime) -> None:
    """A new version of an article whose channel requires approval: a pending
    delivery not approved at it (one in a digest issue goes out with it) awaits
    approval again; one awaiting approval now awaits it for this version."""
    if row.status == DeliveryStatus.PENDING:
        if row.approved_version == version or conn.execute(
                sa.select(issue_items.c.delivery_id).where(issue_items.c.delivery_id == row.id)).first():
            return
        reason = changed_since_approval(version) if row.approved_version is not None else AWAITS
    elif row.article_version == version and row.next_attempt_at == not_before:
        return
    else:
        reason = row.reason
    conn.execute(deliveries.update().where(deliveries.c.id == row.id, deliveries.c.status == row.status).values(
        status=DeliveryStatus.AWAITING_APPROVAL, reason=reason, article_version=version,
        next_attempt_at=not_before, updated_at=now))
