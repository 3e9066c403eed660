"""Read-only figures of the whole system, for /metrics (distributor/metrics.py).

Each is one query, read at scrape time, so every process (`run`, `worker`,
`serve`) reports the same numbers, correct whichever process did the work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.store.outbox import DeliveryStatus
from distributor.store.schema import channel_state, deliveries, issue_batches, issues


@dataclass(frozen=True)
class Queue:
    """A channel's due deliveries: how many, and since when the oldest is due."""

    channel: str
    depth: int
    oldest_due: dt.datetime


@dataclass(frozen=True)
class DigestProgress:
    """An edition's latest issue and how far it was sent."""

    edition: str
    issue_id: int
    status: str
    batches_expected: int
    batches: dict[str, int]
    recipients_sent: int


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


def deliveries_by_state(engine: sa.Engine) -> dict[tuple[str, str], int]:
    """(channel, state) -> how many deliveries."""
    q = sa.select(deliveries.c.channel, deliveries.c.status, sa.func.count()).group_by(
        deliveries.c.channel, deliveries.c.status)
    with engine.connect() as conn:
        return {(ch, st): n for ch, st, n in conn.execute(q)}


def queues(engine: sa.Engine, now: dt.datetime, *, kinds: tuple[str, ...]) -> list[Queue]:
    """Pending deliveries of these kinds whose own time has come, per channel
    (a paused or waiting channel's backlog included: that is what grows)."""
    due_at = sa.func.coalesce(deliveries.c.next_attempt_at, deliveries.c.created_at)
    q = (sa.select(deliveries.c.channel, sa.func.count(), sa.func.min(due_at))
         .where(deliveries.c.status == DeliveryStatus.PENDING, deliveries.c.kind.in_(kinds),
                sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now))
         .group_by(deliveries.c.channel))
    with engine.connect() as conn:
        return [Queue(ch, n, _utc(oldest)) for ch, n, oldest in conn.execute(q)]


def channel_waits(engine: sa.Engine, now: dt.datetime) -> dict[str, tuple[bool, float]]:
    """channel -> (paused, seconds it is still told to wait)."""
    q = sa.select(channel_state.c.channel, channel_state.c.paused, channel_state.c.not_before)
    with engine.connect() as conn:
        return {ch: (bool(paused), max(0.0, (_utc(nb) - now).total_seconds()) if nb else 0.0)
                for ch, paused, nb in conn.execute(q)}


def digest_progress(engine: sa.Engine) -> list[DigestProgress]:
    """Each edition's latest issue, with its batches by state."""
    latest = sa.select(sa.func.max(issues.c.id)).group_by(issues.c.edition)
    out = []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(issues.c.id, issues.c.edition, issues.c.status, issues.c.recipient_count,
                                      issues.c.batch_size).where(issues.c.id.in_(latest))
                            .order_by(issues.c.edition)).all()
        for r in rows:
            batches: dict[str, int] = {}
            sent = 0
            for status, n, recipients in conn.execute(
                    sa.select(issue_batches.c.status, sa.func.count(), sa.func.sum(issue_batches.c.recipients))
                    .where(issue_batches.c.issue_id == r.id).group_by(issue_batches.c.status)):
                batches[status] = n
                if status == "sent":
                    sent = int(recipients or 0)
            out.append(DigestProgress(r.edition, r.id, r.status, -(-r.recipient_count // max(1, r.batch_size)),
                                      batches, sent))
    return out
