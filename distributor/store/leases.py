"""Which worker takes which due delivery: a short lease, then the claim.

Several delivery processes (`distributor worker`, `distributor run`) read one
outbox. Each asks `lease_due` for a few due deliveries at a time: in one
transaction it picks pending, due deliveries on channels that are neither
paused nor told to wait, that no other worker holds a lease on, and leases them
to itself for `seconds`. On PostgreSQL the pick is `SELECT … FOR UPDATE SKIP
LOCKED`, so concurrent workers get disjoint batches without waiting on each
other; on SQLite the writers queue (BEGIN IMMEDIATE) and the lease is a
conditional UPDATE.

The lease is only a courtesy: it saves the others from rendering a delivery
somebody is about to send. What decides who sends it is the claim
(Outbox.claim, a conditional UPDATE pending -> sending), so of two workers
exactly one sends, lease or not. A worker that dies leaves its leases to
expire (`seconds`, a few); its delivery in `sending` is recovery's
(delivery.py), never resent blindly. A worker's own leases are renewed each
time it asks again; `release_leases` gives them back when it stops.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from distributor.store.schema import articles, channel_state, deliveries

__all__ = ["Leases", "LEASE_SECONDS", "LEASE_BATCH"]

# How long a lease holds, and how many deliveries a worker leases at a time.
LEASE_SECONDS = 5.0
LEASE_BATCH = 10


def _due(now: dt.datetime, kinds: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    """Pending deliveries of these kinds that may go now, on channels neither paused nor told to wait."""
    blocked = sa.select(channel_state.c.channel).where(
        sa.or_(channel_state.c.paused.is_(True), channel_state.c.not_before > now))
    return [deliveries.c.status == "pending", deliveries.c.kind.in_(kinds),
            sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
            deliveries.c.channel.not_in(blocked)]


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
        free = sa.or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until <= now,
                      deliveries.c.leased_by == worker)
        pick = (self._oldest_first(sa.select(deliveries.c.id).where(free), now, kinds, limit)
                .with_for_update(of=deliveries, skip_locked=True))
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(pick)]
            if ids:
                conn.execute(deliveries.update().where(deliveries.c.id.in_(ids), free).values(
                    leased_by=worker, leased_until=now + dt.timedelta(seconds=seconds)))
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

    @staticmethod
    def _oldest_first(q: sa.Select[tuple[int]], now: dt.datetime, kinds: tuple[str, ...],
                      limit: int) -> sa.Select[tuple[int]]:
        return (q.join(articles, articles.c.id == deliveries.c.article_id).where(*_due(now, kinds))
                .order_by(sa.func.coalesce(articles.c.published_at, articles.c.ingested_at), deliveries.c.id)
                .limit(limit))
