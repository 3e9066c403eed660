"""Which worker takes which due delivery: a short lease, then the claim.

Several delivery processes (`distributor worker`, `distributor run`) read one
outbox. Each asks `lease_due` for a few due deliveries at a time: in one
transaction it picks pending, due deliveries on channels that are neither
paused nor told to wait, that no other worker holds a lease on, and leases them
to itself for `seconds`. On PostgreSQL the pick is `SELECT … FOR UPDATE SKIP
LOCKED`, so concurrent workers get disjoint batches without waiting on each
other; on SQLite the writers queue (BEGIN IMMEDIATE) and the lease is a
conditional UPDATE. The pick walks `ix_deliveries_pending_order` (pending
deliveries by their article's time, `deliveries.article_at`) to the first few
due, instead of sorting every pending delivery with its article: a lease costs
the same at 600 queued as at 10,000 (bench/bench_lease.py).

The lease is only a courtesy: it saves the others from rendering a delivery
somebody is about to send. What decides who sends it is the claim
(Outbox.claim, a conditional UPDATE pending -> sending), so of two workers
exactly one sends, lease or not. A worker that dies leaves its leases to
expire (`seconds`, a few); its delivery in `sending` is recovery's
(delivery.py), never resent blindly. A worker's own leases are renewed each
time it asks again; `release_leases` gives them back when it stops. When
everything due is leased by the others, `next_due_at(worker=…)` says when the
first of their leases ends, so the worker sleeps until then instead of asking
again and again while they send.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa

from distributor.store.db import reading
from distributor.store.schema import UTCDateTime, articles, channel_state, deliveries

__all__ = ["Leases", "LEASE_SECONDS", "LEASE_BATCH", "article_time", "order_deliveries"]

# How long a lease holds, and how many deliveries a worker leases at a time.
LEASE_SECONDS = 5.0
LEASE_BATCH = 10


def article_time(article_id: Any) -> Any:
    """The time deliveries of an article are taken in (`deliveries.article_at`),
    as a scalar subquery: the article's publication, else its ingestion."""
    return (sa.select(sa.func.coalesce(articles.c.published_at, articles.c.ingested_at))
            .where(articles.c.id == article_id).scalar_subquery())


def order_deliveries(conn: sa.Connection, article_ids: list[int]) -> None:
    """Copy these articles' time onto their deliveries (`article_at`), as the
    store does whenever it writes an article."""
    for start in range(0, len(article_ids), 500):
        conn.execute(deliveries.update().where(deliveries.c.article_id.in_(article_ids[start:start + 500]))
                     .values(article_at=article_time(deliveries.c.article_id)))


def _due(now: Any, kinds: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    """Pending deliveries of these kinds that may go now, on channels neither paused nor told to wait."""
    if not isinstance(now, sa.ColumnElement):  # a time, not a bind: stored as the store stores times
        now = sa.literal(now, UTCDateTime())
    blocked = sa.select(channel_state.c.channel).where(
        sa.or_(channel_state.c.paused.is_(True), channel_state.c.not_before > now))
    # The status as a literal, not a bound value: the partial index ix_deliveries_pending_order is
    # for rows WHERE status = 'pending', which PostgreSQL proves only from the statement's text.
    return [deliveries.c.status == sa.literal_column("'pending'"), deliveries.c.kind.in_(kinds),
            # (as one expression: an index on next_attempt_at, which every pending row matches, is no
            # shortcut; walking ix_deliveries_pending_order in its order to the first few due ones is)
            sa.func.coalesce(deliveries.c.next_attempt_at, now) <= now,
            deliveries.c.channel.not_in(blocked)]


@functools.cache
def _lease_statements(kinds: tuple[str, ...], limit: int) -> tuple[sa.Select[tuple[int]], sa.Update]:
    """lease_due's pick and lease, built once (b_now, b_worker; b_ids, b_until):
    a worker asks every few deliveries, and building them cost more than running them."""
    now: sa.BindParameter[Any] = sa.bindparam("b_now", type_=UTCDateTime())
    worker: sa.BindParameter[Any] = sa.bindparam("b_worker")
    free = sa.or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until <= now,
                  deliveries.c.leased_by == worker)
    pick = (Leases._oldest_first(sa.select(deliveries.c.id).where(free), now, kinds, limit)
            .with_for_update(of=deliveries, skip_locked=True))
    lease = (deliveries.update().where(deliveries.c.id.in_(sa.bindparam("b_ids", expanding=True)), free)
             .values(leased_by=worker, leased_until=sa.bindparam("b_until")))
    return pick, lease


class Leases:
    engine: sa.Engine

    def due(self, now: dt.datetime, *, kinds: tuple[str, ...], limit: int = 100) -> list[int]:
        """Ids of the deliveries that may go now, oldest article first (leases aside)."""
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(self._oldest_first(sa.select(deliveries.c.id), now, kinds, limit))]

    def lease_due(self, now: dt.datetime, *, kinds: tuple[str, ...], worker: str,
                  seconds: float = LEASE_SECONDS, limit: int = LEASE_BATCH) -> list[int]:
        """Lease up to `limit` due deliveries no other worker holds a lease
        on, oldest article first (a burst is spread out in publication
        order); their ids. Renews this worker's own."""
        pick, lease = _lease_statements(tuple(kinds), limit)
        params = {"b_now": now, "b_worker": worker}
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(pick, params)]
            if ids:
                conn.execute(lease, {**params, "b_ids": ids, "b_until": now + dt.timedelta(seconds=seconds)})
        return ids

    def take_lease(self, delivery_id: int, *, worker: str, now: dt.datetime, seconds: float = 60.0) -> bool:
        """Lease one delivery, whatever its state, if no other worker holds it
        (a sent post's correction: one worker edits it); whether it did."""
        free = sa.or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until <= now,
                      deliveries.c.leased_by == worker)
        with self.engine.begin() as conn:
            return bool(conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, free).values(
                leased_by=worker, leased_until=now + dt.timedelta(seconds=seconds))).rowcount)

    def release_leases(self, worker: str) -> int:
        """Give back this worker's leases (it stops): how many."""
        with self.engine.begin() as conn:
            return conn.execute(deliveries.update().where(deliveries.c.leased_by == worker)
                                .values(leased_by=None, leased_until=None)).rowcount

    def next_due_at(self, now: dt.datetime, *, kinds: tuple[str, ...], worker: str | None = None) -> dt.datetime | None:
        """When a pending delivery of these kinds may go next: its own time,
        its channel's wait or, with `worker`, the end of another worker's
        lease on it (that worker is sending it), whichever is latest; paused
        channels never (None: nothing pending). One aggregate per channel,
        not a row per delivery: a worker that finds everything due leased by
        the others sleeps until a lease ends instead of asking again at once."""
        at = sa.literal(now, UTCDateTime())
        d = deliveries.c
        ready = sa.case((sa.and_(d.next_attempt_at.is_not(None), d.next_attempt_at > at), d.next_attempt_at),
                        else_=at)
        if worker is not None:
            leased = sa.and_(d.leased_until.is_not(None), d.leased_until > ready,
                             sa.or_(d.leased_by.is_(None), d.leased_by != worker))
            ready = sa.case((leased, d.leased_until), else_=ready)
        q = (sa.select(d.channel, sa.func.min(ready).label("at"))
             .where(d.status == "pending", d.kind.in_(kinds)).group_by(d.channel))
        c = channel_state.c
        with reading(self.engine) as conn:
            soonest = {r.channel: r.at for r in conn.execute(q)}
            if not soonest:
                return None
            states = {r.channel: r for r in conn.execute(sa.select(c.channel, c.paused, c.not_before))}
        best = None
        for channel, t in soonest.items():
            state = states.get(channel)
            if state is not None and state.paused:
                continue
            t = max(t, state.not_before or now) if state is not None else t
            best = t if best is None or t < best else best
        return best

    def waiting(self, *, kinds: tuple[str, ...]) -> tuple[int, int, int]:
        """Of these kinds: how many are pending, how many of those on a paused
        channel, how many await approval (a drain's closing counts)."""
        d = deliveries.c
        paused = sa.select(channel_state.c.channel).where(channel_state.c.paused.is_(True))
        q = sa.select(
            sa.func.count().filter(d.status == "pending"),
            sa.func.count().filter(sa.and_(d.status == "pending", d.channel.in_(paused))),
            sa.func.count().filter(d.status == "awaiting_approval"),
        ).where(d.kind.in_(kinds), d.status.in_(("pending", "awaiting_approval")))
        with reading(self.engine) as conn:
            pending, blocked, awaiting = conn.execute(q).one()
        return int(pending), int(blocked), int(awaiting)

    @staticmethod
    def _oldest_first(q: sa.Select[tuple[int]], now: Any, kinds: tuple[str, ...],
                      limit: int) -> sa.Select[tuple[int]]:
        # Read from ix_deliveries_pending_order in its order: the first few due, not every pending one sorted.
        return q.where(*_due(now, kinds)).order_by(deliveries.c.article_at, deliveries.c.id).limit(limit)
