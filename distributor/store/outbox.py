"""The outbox's state machine, in the database.

Every external call is bracketed by two committed writes: `claim` (status
`sending`, who and since when, and an attempt row holding what is about to be
sent) before the call, and one of the `finish_*` after it. A row found in
`sending` whose claimer is gone had an unknown outcome; `sending()` lists
those for the dispatcher to resolve — never to resend blindly.

The claim is a conditional UPDATE, so of two processes racing for the same
delivery exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.store.schema import articles, channel_state, deliveries, delivery_attempts


@dataclass(frozen=True)
class ChannelState:
    channel: str
    paused: bool = False
    paused_reason: str | None = None
    consecutive_failures: int = 0
    not_before: dt.datetime | None = None
    chat_id: str | None = None


@dataclass(frozen=True)
class Attempt:
    id: int
    delivery_id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    error: str | None
    remote_id: str | None
    payload: str | None


class Outbox:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------ reading

    def due(self, now: dt.datetime, *, kinds: tuple[str, ...], limit: int = 100) -> list[int]:
        """Ids of pending deliveries of these kinds that may go now, oldest first,
        on channels that are neither paused nor told to wait."""
        blocked = sa.select(channel_state.c.channel).where(
            sa.or_(channel_state.c.paused.is_(True), channel_state.c.not_before > now)
        )
        q = (
            sa.select(deliveries.c.id)
            .join(articles, articles.c.id == deliveries.c.article_id)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.kind.in_(kinds),
                sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
                deliveries.c.channel.not_in(blocked),
            )
            # Oldest article first: a burst is spread out in publication order.
            .order_by(sa.func.coalesce(articles.c.published_at, articles.c.ingested_at), deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(q)]

    def next_due_at(self, now: dt.datetime, *, kinds: tuple[str, ...]) -> dt.datetime | None:
        """When a pending delivery of these kinds may go next: its own time or
        its channel's wait, whichever is later; paused channels never (None:
        nothing pending)."""
        states = {c.channel: c for c in self.channels()}
        q = sa.select(deliveries.c.channel, deliveries.c.next_attempt_at).where(
            deliveries.c.status == "pending", deliveries.c.kind.in_(kinds))
        best = None
        with self.engine.connect() as conn:
            for channel, next_attempt_at in conn.execute(q):
                state = states.get(channel)
                if state is not None and state.paused:
                    continue
                not_before = state.not_before if state is not None else None
                t = max(next_attempt_at or now, not_before or now)
                best = t if best is None or t < best else best
        return best

    def get(self, delivery_id: int):
        from distributor.store.records import DeliveryRow

        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
        if row is None:
            raise DistributorError(f"no delivery with id {delivery_id}")
        return DeliveryRow(**row._mapping)

    def outdated_sent(self, *, kinds: tuple[str, ...]):
        """(delivery, stored article) for posts made from an older version of
        their article: corrections to apply or record."""
        from distributor.store.records import DeliveryRow
        from distributor.store.records import stored_article as _stored
        from distributor.store.schema import articles

        q = (
            sa.select(deliveries, articles.c.version.label("current_version"))
            .join(articles, articles.c.id == deliveries.c.article_id)
            .where(deliveries.c.status == "sent", deliveries.c.kind.in_(kinds),
                   deliveries.c.article_version < articles.c.version)
            .order_by(deliveries.c.id)
        )
        with self.engine.connect() as conn:
            rows = [DeliveryRow(**{k: v for k, v in r._mapping.items() if k != "current_version"})
                    for r in conn.execute(q)]
            out = []
            for d in rows:
                art = conn.execute(sa.select(articles).where(articles.c.id == d.article_id)).one()
                out.append((d, _stored(art)))
        return out

    def defer(self, delivery_id: int, *, until: dt.datetime, now: dt.datetime, reason: str) -> None:
        """Not yet (a posting window): due again at `until`; no attempt made."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == "pending")
                .values(next_attempt_at=until, reason=reason, updated_at=now)
            )

    def attempts(self, delivery_id: int) -> list[Attempt]:
        q = sa.select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id).order_by(
            delivery_attempts.c.id
        )
        with self.engine.connect() as conn:
            return [Attempt(**r._mapping) for r in conn.execute(q)]

    # ------------------------------------------------------------ the send bracket

    def claim(self, delivery_id: int, *, worker: str, payload: str, now: dt.datetime) -> int | None:
        """Take a pending, due delivery for sending; returns the attempt id, or
        None when another worker (or an editor) got there first."""
        with self.engine.begin() as conn:
            won = conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == "pending",
                    sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
                )
                .values(status="sending", claimed_by=worker, claimed_at=now, updated_at=now)
            ).rowcount
            if not won:
                return None
            return conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery_id, started_at=now, outcome="started", payload=payload
                )
            ).inserted_primary_key[0]

    def finish_sent(self, delivery_id: int, attempt_id: int, *, remote_id: str | None,
                    article_version: int, now: dt.datetime, note: str | None = None,
                    channel: str | None = None, channel_not_before: dt.datetime | None = None) -> None:
        """Record the success; with `channel`, in the same transaction, reset
        its failure count and set when it may post next (its pacing)."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id).values(
                    status="sent", remote_id=remote_id, last_error=None, reason=note, claimed_by=None,
                    article_version=article_version, next_attempt_at=None, updated_at=now,
                )
            )
            self._close_attempt(conn, attempt_id, "sent", now, remote_id=remote_id)
            if channel is not None:
                self._update_channel(conn, channel, now=now, consecutive_failures=0, not_before=channel_not_before)

    def finish_retry(self, delivery_id: int, attempt_id: int, *, outcome: str, error: str,
                     next_attempt_at: dt.datetime, count_failure: bool, now: dt.datetime) -> None:
        """Back to pending, due again at next_attempt_at. A rate-limit wait does
        not count as a failed attempt."""
        with self.engine.begin() as conn:
            values = dict(status="pending", last_error=error, next_attempt_at=next_attempt_at,
                          claimed_by=None, updated_at=now)
            if count_failure:
                values["attempts"] = deliveries.c.attempts + 1
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))
            self._close_attempt(conn, attempt_id, outcome, now, error=error)

    def finish_failed(self, delivery_id: int, attempt_id: int | None, *, outcome: str, error: str,
                      now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id).values(
                    status="failed", last_error=error, attempts=deliveries.c.attempts + 1,
                    claimed_by=None, next_attempt_at=None, updated_at=now,
                )
            )
            if attempt_id is not None:
                self._close_attempt(conn, attempt_id, outcome, now, error=error)

    @staticmethod
    def _close_attempt(conn, attempt_id: int, outcome: str, now: dt.datetime, *,
                       error: str | None = None, remote_id: str | None = None) -> None:
        conn.execute(
            delivery_attempts.update().where(delivery_attempts.c.id == attempt_id).values(
                outcome=outcome, finished_at=now, error=error, remote_id=remote_id
            )
        )

    # ------------------------------------------------------------ crash recovery

    def sending(self) -> list[int]:
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(sa.select(deliveries.c.id).where(deliveries.c.status == "sending"))]

    def resolve_unknown(self, delivery_id: int, *, claimed_by: str, status: str, reason: str,
                        remote_id: str | None, now: dt.datetime) -> bool:
        """Settle a `sending` row whose claimer is gone: `held` for an editor, or
        `sent` when the post was found. Conditional on the same claim, so a
        live worker finishing meanwhile wins."""
        with self.engine.begin() as conn:
            done = conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.status == "sending",
                       deliveries.c.claimed_by == claimed_by)
                .values(status=status, reason=reason, remote_id=remote_id, claimed_by=None, updated_at=now)
            ).rowcount
            if done:
                conn.execute(
                    delivery_attempts.update()
                    .where(delivery_attempts.c.delivery_id == delivery_id, delivery_attempts.c.outcome == "started")
                    .values(outcome="found" if status == "sent" else "unknown", finished_at=now,
                            remote_id=remote_id, error=None if status == "sent" else reason)
                )
            return bool(done)

    def owner_of(self, channel: str, remote_id: str, *, besides: int) -> tuple[int, int] | None:
        """(delivery id, article id) of another delivery on the channel whose
        post this is, if any: a post belongs to one delivery only."""
        q = sa.select(deliveries.c.id, deliveries.c.article_id).where(
            deliveries.c.channel == channel, deliveries.c.remote_id == remote_id, deliveries.c.id != besides)
        with self.engine.connect() as conn:
            row = conn.execute(q.order_by(deliveries.c.id).limit(1)).first()
        return (row.id, row.article_id) if row else None

    # ------------------------------------------------------------ editors

    def set_status(self, delivery_id: int, *, from_states: tuple[str, ...], to: str, now: dt.datetime,
                   reason: str | None = None, reset_attempts: bool = False) -> None:
        """An editor's transition (hold, release, retry, cancel); refuses the
        ones that make no sense, naming the current state."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
            if row is None:
                raise DistributorError(f"no delivery with id {delivery_id}")
            if row.status not in from_states:
                raise DistributorError(
                    f"delivery {delivery_id} ({row.channel}) is {row.status}; "
                    f"only a delivery that is {' or '.join(from_states)} can become {to}"
                )
            values = dict(status=to, reason=reason, updated_at=now)
            if to == "pending":
                values["next_attempt_at"] = now
            if reset_attempts:
                values["attempts"] = 0
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

    def add_forced(self, article_id: int, *, channel: str, kind: str, article_version: int,
                   now: dt.datetime) -> int:
        """A new delivery to a channel already sent to (an editor's --force)."""
        with self.engine.begin() as conn:
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(deliveries.c.seq), -1)).where(
                    deliveries.c.article_id == article_id, deliveries.c.channel == channel
                )
            ).scalar() + 1
            return conn.execute(
                deliveries.insert().values(
                    article_id=article_id, channel=channel, kind=kind, seq=seq, status="pending",
                    reason="resent by an editor (--force)", article_version=article_version,
                    next_attempt_at=now, created_at=now, updated_at=now,
                )
            ).inserted_primary_key[0]

    def ensure(self, article_id: int, *, channel: str, kind: str, article_version: int,
               now: dt.datetime) -> int:
        """The seq-0 delivery of (article, channel), created pending if missing."""
        from distributor.store.db import insert_ignore as _insert_ignore

        with self.engine.begin() as conn:
            conn.execute(
                _insert_ignore(conn, deliveries).values(
                    article_id=article_id, channel=channel, kind=kind, seq=0, status="pending",
                    article_version=article_version, created_at=now, updated_at=now,
                )
            )
            return conn.execute(
                sa.select(deliveries.c.id).where(deliveries.c.article_id == article_id,
                                                 deliveries.c.channel == channel, deliveries.c.seq == 0)
            ).scalar_one()

    def mark_corrected(self, delivery_id: int, *, article_version: int, note: str, outcome: str,
                       now: dt.datetime, error: str | None = None, payload: str | None = None) -> None:
        """Record what happened to a sent post when its article changed."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id).values(
                    article_version=article_version, reason=note, updated_at=now
                )
            )
            conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery_id, started_at=now, finished_at=now, outcome=outcome,
                    error=error, payload=payload,
                )
            )

    # ------------------------------------------------------------ channels

    def channel(self, channel: str) -> ChannelState:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(channel_state).where(channel_state.c.channel == channel)).first()
        if row is None:
            return ChannelState(channel)
        return ChannelState(**{k: v for k, v in row._mapping.items() if k != "updated_at"})

    def channels(self) -> list[ChannelState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(channel_state).order_by(channel_state.c.channel))
            return [ChannelState(**{k: v for k, v in r._mapping.items() if k != "updated_at"}) for r in rows]

    def update_channel(self, channel: str, *, now: dt.datetime, **values) -> None:
        with self.engine.begin() as conn:
            self._update_channel(conn, channel, now=now, **values)

    @staticmethod
    def _update_channel(conn: sa.Connection, channel: str, *, now: dt.datetime, **values) -> None:
        from distributor.store.db import insert_ignore as _insert_ignore

        conn.execute(_insert_ignore(conn, channel_state).values(channel=channel, updated_at=now))
        conn.execute(channel_state.update().where(channel_state.c.channel == channel).values(updated_at=now, **values))

    def add_failure(self, channel: str, *, now: dt.datetime) -> int:
        """One more consecutive failure on the channel; returns the new count."""
        from distributor.store.db import insert_ignore as _insert_ignore

        with self.engine.begin() as conn:
            conn.execute(_insert_ignore(conn, channel_state).values(channel=channel, updated_at=now))
            conn.execute(
                channel_state.update().where(channel_state.c.channel == channel).values(
                    consecutive_failures=channel_state.c.consecutive_failures + 1, updated_at=now
                )
            )
            return conn.execute(
                sa.select(channel_state.c.consecutive_failures).where(channel_state.c.channel == channel)
            ).scalar_one()
