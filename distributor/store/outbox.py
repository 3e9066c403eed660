"""The outbox's state machine, in the database.

Every external call is bracketed by two committed writes: `claim` (status
`sending`, who and since when, and an attempt row holding what is about to be
sent) before the call, and one of the `finish_*` after it. A row found in
`sending` whose claimer is gone had an unknown outcome; `sending()` lists
those for the dispatcher to resolve — never to resend blindly.

The claim is a conditional UPDATE, so of two processes racing for the same
delivery exactly one wins, on SQLite and PostgreSQL alike.

Every state a delivery can be in is a DeliveryStatus, and every change of it,
by the system or an editor, is one of TRANSITIONS (from-state -> the states it
may become); each write here is conditional on its from-state, so a change the
table does not allow is never made: an editor's is an InvalidTransition
naming the delivery, its state, the state asked for and what allows it.

A channel in `approval = "required"` mode plans its deliveries in
`awaiting_approval`; what an editor approves, and the rule that only an
approved article version goes out there, are in store/approval.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.store import bracket
from distributor.store.audit import Audit, AuditNote
from distributor.store.channel_state import ChannelBusy, ChannelState, ChannelStates
from distributor.store.db import insert_ignore, inserted_id, reading
from distributor.store.leases import Leases, article_time
from distributor.store.records import Edit, SentAnswer, StoredArticle, stored_article
from distributor.store.schema import articles, channel_state, deliveries, delivery_attempts, variant_edits
from distributor.store.states import InvalidTransition

__all__ = ["DeliveryStatus", "TRANSITIONS", "INITIAL", "InvalidTransition", "allowed", "sources",
           "check_transition", "Outbox", "ChannelState", "ChannelBusy", "Attempt", "SentAnswer"]


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # planned: goes out when due (newsletter ones wait for the digest)
    # planned for a channel in `approval = "required"` mode: waits for an editor's approval
    AWAITING_APPROVAL = "awaiting_approval"
    SENDING = "sending"  # claimed: the request is (or was) in flight
    SENT = "sent"  # on the channel (remote_id), or carried by a digest issue that went out
    FAILED = "failed"  # gave up: an editor may retry it
    HELD = "held"  # waits for an editor: an unknown outcome, a surprise, or an editor's hold
    SKIPPED = "skipped"  # named by the footer but not configured: never sent, the reason kept
    CANCELLED = "cancelled"  # must not go out: an editor's skip, a retraction, no longer named


S = DeliveryStatus
# from-state -> the states it may become, by whom:
TRANSITIONS: Mapping[DeliveryStatus, frozenset[DeliveryStatus]] = {
    S.AWAITING_APPROVAL: frozenset({
        S.PENDING,  # approved (or sent by hand) by an editor; the channel's approval became "auto"
        S.CANCELLED,  # an editor's skip; the article retracted or no longer naming the channel
    }),
    S.PENDING: frozenset({
        # "required" mode: the article changed since its approval (or was never approved: the
        # channel's approval became "required"); an approved delivery is sent as approved or not at all
        S.AWAITING_APPROVAL,
        S.SENDING,  # claimed by a worker (or an editor's send now)
        S.HELD,  # an editor's hold; a surprise before the claim (nothing was sent)
        S.CANCELLED,  # an editor's skip; the article retracted or no longer naming the channel
        S.FAILED,  # it cannot be rendered (no attempt was made)
        S.SENT,  # a newsletter delivery: its digest issue went out
    }),
    S.SENDING: frozenset({
        S.SENT,  # the channel took it; or, after an unknown outcome, the post was found
        S.PENDING,  # a retry later: backoff, a rate limit, a paused or migrated channel
        S.FAILED,  # a permanent error, or retries given up
        S.HELD,  # the outcome is unknown: an editor decides
    }),
    S.SENT: frozenset(),  # final: a resend is a new delivery, a correction keeps it sent (and, in
    # "required" mode, waits for an approval of the new version: store/approval.py)
    S.FAILED: frozenset({S.PENDING, S.HELD, S.CANCELLED}),  # retry or send now; hold; skip or retraction
    S.HELD: frozenset({S.PENDING, S.CANCELLED}),  # release or send now; skip or retraction
    S.SKIPPED: frozenset({  # named again or sent by hand; no longer named
        S.PENDING, S.CANCELLED,
        S.AWAITING_APPROVAL,  # named again, in "required" mode
    }),
    S.CANCELLED: frozenset({  # named again, or sent by hand by an editor
        S.PENDING,
        S.AWAITING_APPROVAL,  # named again (or the retracted article back), in "required" mode
    }),
}
# The states a delivery is planned in (routing, an editor's send or resend):
# awaiting_approval for a channel in "required" mode.
INITIAL: frozenset[DeliveryStatus] = frozenset({S.PENDING, S.SKIPPED, S.AWAITING_APPROVAL})


def allowed(current: str, to: str) -> bool:
    """Whether the table lets a delivery go from `current` to `to`."""
    return DeliveryStatus(to) in TRANSITIONS[DeliveryStatus(current)]


def sources(to: str, among: Iterable[str] | None = None) -> tuple[DeliveryStatus, ...]:
    """The states `to` may be reached from, for a conditional UPDATE
    (`status IN sources(...)`); with `among`, those of them, each of which the
    table must allow (asking for one it forbids is a bug, a ValueError)."""
    target = DeliveryStatus(to)
    if among is None:
        return tuple(s for s in DeliveryStatus if target in TRANSITIONS[s])
    chosen = tuple(DeliveryStatus(s) for s in among)
    bad = [s for s in chosen if target not in TRANSITIONS[s]]
    if bad:
        raise ValueError(f"the outbox's transition table has no {' or '.join(bad)} -> {target}")
    return chosen


def check_transition(delivery_id: int, channel: str, current: str, to: str,
                     only_from: Iterable[str] | None = None) -> None:
    """Raise InvalidTransition unless delivery `delivery_id` may go from
    `current` to `to`: the table allows it and, with `only_from` (what an
    editor's action applies to), `current` is one of those. Staying in
    `current` is no transition: allowed when `only_from` names it."""
    cur, target = DeliveryStatus(current), DeliveryStatus(to)
    if only_from is None:
        starts = sources(target)
    else:
        starts = tuple(DeliveryStatus(s) for s in only_from)
        sources(target, [s for s in starts if s != target])  # each one the table allows
    if cur in starts:
        return
    raise InvalidTransition(
        f"delivery {delivery_id} ({channel}) is {cur}; only a delivery that is "
        f"{' or '.join(starts) or 'nothing'} can become {target}",
        what="delivery", row_id=delivery_id, current=cur, requested=target, allowed=starts)


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


def _is(*states: DeliveryStatus) -> sa.ColumnElement[bool]:
    return deliveries.c.status.in_(states) if len(states) > 1 else deliveries.c.status == states[0]


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the outbox stores it."""

    id: int
    article_id: int
    channel: str
    kind: str
    seq: int
    status: DeliveryStatus
    reason: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    remote_id: str | None
    last_error: str | None
    article_version: int
    claimed_by: str | None
    claimed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    approved_version: int | None = None  # the article version an editor approved (store/approval.py)
    leased_by: str | None = None  # a worker's lease while it renders it (store/leases.py)
    leased_until: dt.datetime | None = None
    article_at: dt.datetime | None = None  # its article's time: the order workers take it in

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DeliveryStatus(self.status))  # the column holds its value

    @property
    def edition(self) -> str:
        return self.channel.split(".", 1)[0]


def group_by_article(rows: Iterable[DeliveryRow]) -> dict[int, list[DeliveryRow]]:
    out: dict[int, list[DeliveryRow]] = {}
    for r in rows:
        out.setdefault(r.article_id, []).append(r)
    return out


class Outbox(ChannelStates, Leases):
    """The deliveries and their attempts (and, from ChannelStates, the channels' state; from Leases,
    which worker takes which due delivery)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------ reading

    def get(self, delivery_id: int) -> DeliveryRow:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
        if row is None:
            raise DistributorError(f"no delivery with id {delivery_id}")
        return DeliveryRow(**row._mapping)

    def for_sending(self, delivery_id: int) -> Sending:
        """The delivery, its channel's state, its article and an editor's edit
        of its variant (current or not), read in one query: what the
        dispatcher needs before it renders and claims."""
        with reading(self.engine) as conn:
            row = conn.execute(bracket.for_sending(), {"b_id": delivery_id}).first()
        if row is None:
            raise DistributorError(f"no delivery with id {delivery_id}")
        return _sending(row._mapping)

    def for_sending_many(self, ids: Iterable[int]) -> dict[int, Sending]:
        """`for_sending` of several deliveries in one query (a worker's leased
        batch), by id; a delivery gone since is left out."""
        with reading(self.engine) as conn:
            rows = conn.execute(bracket.for_sending_many(), {"b_ids": list(ids)}).all()
        return {r.id: _sending(r._mapping) for r in rows}

    def defer(self, delivery_id: int, *, until: dt.datetime, now: dt.datetime, reason: str) -> None:
        """Not yet (a posting window): due again at `until`, still pending; no attempt made."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, _is(S.PENDING))
                .values(next_attempt_at=until, reason=reason, updated_at=now)
            )

    def attempts(self, delivery_id: int) -> list[Attempt]:
        q = sa.select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id).order_by(
            delivery_attempts.c.id
        )
        with self.engine.connect() as conn:
            return [Attempt(**r._mapping) for r in conn.execute(q)]

    # ------------------------------------------------------------ the send bracket

    def claim(self, delivery_id: int, *, worker: str, payload: str, now: dt.datetime,
              approved_version: int | None = None, channel: str | None = None,
              interval: float = 0.0, answer: SentAnswer | None = None) -> int | None:
        """Take a pending, due delivery for sending; returns the attempt id, or
        None when another worker (or an editor) got there first. With
        `approved_version` (a channel in "required" mode: the article version
        rendered), only if that is the version an editor approved. With
        `channel`, in the same transaction, its slot (ChannelState.reserve:
        ChannelBusy when it is paused or must wait; `interval`, its pacing).

        With `answer`, the previous delivery's success is recorded first
        (`finish_sent`): on PostgreSQL, where both channels are unpaced, in the
        claim's own statement (one round trip and one commit instead of two);
        else in its own commit before the claim. Either way it is written
        whatever becomes of the claim; an error raised means neither the
        claim nor, unless both were one statement, the answer was written."""
        unpaced = channel is not None and interval <= 0  # its state only read, in the claim's own UPDATE
        if answer is not None:
            if not (unpaced and self.engine.dialect.name == "postgresql" and answer.joins()):
                self.finish_sent(**answer.fields())
            else:
                return self._finish_then_claim(answer, delivery_id, worker=worker, payload=payload, now=now,
                                               approved_version=approved_version, channel=channel)
        if self.engine.dialect.name == "postgresql" and (channel is None or unpaced):  # one statement
            with reading(self.engine) as conn:
                attempt = conn.execute(bracket.claim_pg(approved=approved_version is not None, unpaced_channel=unpaced), {
                    "b_id": delivery_id, "b_now": now, "b_worker": worker, "b_approved_version": approved_version,
                    "b_channel": channel, "started_at": now, "payload": payload}).scalar()
                if attempt is None and unpaced and channel is not None:
                    self.reserve(conn, channel, now=now, interval=0)  # ChannelBusy, if that was why
            return None if attempt is None else int(attempt)
        with self.engine.begin() as conn:
            if channel is not None and interval > 0:  # the channel's row first, then the delivery's (one lock order)
                self.reserve(conn, channel, now=now, interval=interval)
            won = conn.execute(bracket.claim(approved=approved_version is not None, unpaced_channel=unpaced), {
                "b_id": delivery_id, "b_now": now, "b_worker": worker, "b_approved_version": approved_version,
                "b_channel": channel}).rowcount
            if not won:
                if unpaced and channel is not None:
                    self.reserve(conn, channel, now=now, interval=0)  # ChannelBusy, if that was why
                conn.rollback()  # nor the channel's slot
                return None
            return inserted_id(conn.execute(bracket.ATTEMPT, {
                "delivery_id": delivery_id, "started_at": now, "outcome": "started", "payload": payload}))

    def _finish_then_claim(self, answer: SentAnswer, delivery_id: int, *, worker: str, payload: str,
                           now: dt.datetime, approved_version: int | None, channel: str | None) -> int | None:
        """`claim` with its `answer`, as one statement (bracket.finish_then_claim_pg)."""
        with reading(self.engine) as conn:
            attempt = conn.execute(bracket.finish_then_claim_pg(approved=approved_version is not None), {
                "f_id": answer.delivery_id, "f_attempt": answer.attempt_id, "f_remote_id": answer.remote_id,
                "f_note": answer.note, "f_version": answer.article_version, "f_now": answer.now,
                "f_outcome": "sent", "f_error": None, "f_channel": answer.channel,
                "b_id": delivery_id, "b_now": now, "b_worker": worker, "b_approved_version": approved_version,
                "b_channel": channel, "b_started_at": now, "payload_1": payload}).scalar()
            if attempt is None and channel is not None:
                self.reserve(conn, channel, now=now, interval=0)  # ChannelBusy, if that was why
        return None if attempt is None else int(attempt)

    # The finish_* close a claim's bracket: each moves the delivery out of
    # `sending` only, never over what recovery settled meanwhile (this process
    # outlived its lease): the attempt still records the answer, as evidence for
    # the editor deciding on the held delivery. Each says whether it moved it.

    def finish_sent(self, delivery_id: int, attempt_id: int, *, remote_id: str | None,
                    article_version: int, now: dt.datetime, note: str | None = None,
                    channel: str | None = None, channel_not_before: dt.datetime | None = None) -> bool:
        """Record the success; with `channel`, in the same transaction, reset
        its failure count and set when it may post next (its pacing; a longer
        wait already set stays)."""
        if self.engine.dialect.name == "postgresql" and channel_not_before is None:  # one statement
            with reading(self.engine) as conn:
                moved = conn.execute(bracket.finish_sent_pg(reset=channel is not None), {
                    "b_id": delivery_id, "b_remote_id": remote_id, "b_note": note, "b_version": article_version,
                    "b_now": now, "b_attempt": attempt_id, "b_outcome": "sent", "b_error": None,
                    "b_channel": channel}).rowcount
            return bool(moved)
        with self.engine.begin() as conn:
            if channel is not None:  # the channel's row first (the claim's lock order)
                if channel_not_before is None:  # unpaced: written only to reset a failure count, so
                    # that workers finishing sends on one channel do not queue on its row
                    conn.execute(bracket.reset_failures(), {"b_channel": channel, "b_now": now})
                else:
                    self._wait(conn, channel, until=channel_not_before, now=now, consecutive_failures=0)
            moved = conn.execute(bracket.finish_sent(), {
                "b_id": delivery_id, "b_remote_id": remote_id, "b_note": note, "b_version": article_version,
                "b_now": now}).rowcount
            self._close_attempt(conn, attempt_id, "sent", now, remote_id=remote_id)
        return bool(moved)

    def finish_retry(self, delivery_id: int, attempt_id: int, *, outcome: str, error: str,
                     next_attempt_at: dt.datetime, count_failure: bool, now: dt.datetime) -> bool:
        """Back to pending, due again at next_attempt_at. A rate-limit wait does
        not count as a failed attempt."""
        with self.engine.begin() as conn:
            values: dict[str, Any] = dict(status=S.PENDING, last_error=error, next_attempt_at=next_attempt_at,
                                          claimed_by=None, updated_at=now)
            if count_failure:
                values["attempts"] = deliveries.c.attempts + 1
            moved = conn.execute(deliveries.update().where(
                deliveries.c.id == delivery_id, _is(*sources(S.PENDING, [S.SENDING]))).values(**values)).rowcount
            self._close_attempt(conn, attempt_id, outcome, now, error=error)
        return bool(moved)

    def finish_failed(self, delivery_id: int, attempt_id: int | None, *, outcome: str, error: str,
                      now: dt.datetime) -> bool:
        """Failed: after a claim (`attempt_id`), or, without one, a pending
        delivery that could not even be rendered."""
        start = S.SENDING if attempt_id is not None else S.PENDING
        with self.engine.begin() as conn:
            moved = conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, _is(*sources(S.FAILED, [start])))
                .values(status=S.FAILED, last_error=error, attempts=deliveries.c.attempts + 1,
                        claimed_by=None, next_attempt_at=None, updated_at=now)
            ).rowcount
            if attempt_id is not None:
                self._close_attempt(conn, attempt_id, outcome, now, error=error)
        return bool(moved)

    @staticmethod
    def _close_attempt(conn: sa.Connection, attempt_id: int, outcome: str, now: dt.datetime, *,
                       error: str | None = None, remote_id: str | None = None) -> None:
        conn.execute(bracket.close_attempt(), {"b_attempt": attempt_id, "b_outcome": outcome, "b_now": now,
                                               "b_error": error, "b_remote_id": remote_id})

    # ------------------------------------------------------------ crash recovery

    def sending(self) -> list[int]:
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(sa.select(deliveries.c.id).where(_is(S.SENDING)))]

    def resolve_unknown(self, delivery_id: int, *, claimed_by: str | None, status: str, reason: str,
                        remote_id: str | None, now: dt.datetime) -> bool:
        """Settle a `sending` row whose claimer is gone: `held` for an editor, or
        `sent` when the post was found. Conditional on the same claim, so a
        live worker finishing meanwhile wins."""
        to = DeliveryStatus(status)
        if to not in (S.HELD, S.SENT):
            raise ValueError(f"an unknown outcome settles as held or sent, not {to}")
        with self.engine.begin() as conn:
            done = conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, _is(*sources(to, [S.SENDING])),
                       deliveries.c.claimed_by == claimed_by)
                .values(status=to, reason=reason, remote_id=remote_id, claimed_by=None, updated_at=now)
            ).rowcount
            if done:
                conn.execute(
                    delivery_attempts.update()
                    .where(delivery_attempts.c.delivery_id == delivery_id, delivery_attempts.c.outcome == "started")
                    .values(outcome="found" if to == S.SENT else "unknown", finished_at=now,
                            remote_id=remote_id, error=None if to == S.SENT else reason)
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

    def set_status(self, delivery_id: int, *, from_states: Iterable[str], to: str, now: dt.datetime,
                   reason: str | None = None, reset_attempts: bool = False,
                   audit: AuditNote | None = None) -> DeliveryRow:
        """An editor's transition (hold, release, retry, skip, send now), or the
        dispatcher's hold of a delivery a surprise stopped before its claim:
        allowed from `from_states` (each one the table allows; staying in
        `to` when it is one of them only makes the delivery due now).
        Anything else is an InvalidTransition naming the current state. With
        `audit`, the editor's audit row is written in the same transaction.
        Returns the delivery as it is now."""
        target = DeliveryStatus(to)
        starts = tuple(DeliveryStatus(s) for s in from_states)
        with self.engine.begin() as conn:
            # Locked (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers):
            # a racing change waits, then reads what this one made.
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)
                               .with_for_update()).first()
            if row is None:
                raise DistributorError(f"no delivery with id {delivery_id}")
            check_transition(delivery_id, row.channel, row.status, target, only_from=starts)
            values: dict[str, Any] = dict(status=target, reason=reason, updated_at=now)
            if target == S.PENDING:
                values["next_attempt_at"] = now
            if reset_attempts:
                values["attempts"] = 0
            # Conditional on the state just read: of two racing changes, one wins.
            moved = conn.execute(deliveries.update().where(deliveries.c.id == delivery_id,
                                                           deliveries.c.status == row.status).values(**values))
            if not moved.rowcount:  # pragma: no cover - the lock above makes this the other's state
                raise DistributorError(f"delivery {delivery_id} ({row.channel}) changed meanwhile; try again")
            if audit is not None:
                Audit.insert(conn, audit, at=now)
        return self.get(delivery_id)

    def add_forced(self, article_id: int, *, channel: str, kind: str, article_version: int,
                   now: dt.datetime) -> int:
        """A new delivery to a channel already sent to (an editor's --force)."""
        with self.engine.begin() as conn:
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(deliveries.c.seq), -1)).where(
                    deliveries.c.article_id == article_id, deliveries.c.channel == channel
                )
            ).scalar_one() + 1
            return inserted_id(conn.execute(
                deliveries.insert().values(
                    article_id=article_id, channel=channel, kind=kind, seq=seq, status=_initial(S.PENDING),
                    reason="resent by an editor (--force)", article_version=article_version,
                    next_attempt_at=now, created_at=now, updated_at=now,
                    article_at=article_time(sa.literal(article_id)),
                )
            ))

    def ensure(self, article_id: int, *, channel: str, kind: str, article_version: int,
               now: dt.datetime) -> int:
        """The seq-0 delivery of (article, channel), created pending if missing."""
        with self.engine.begin() as conn:
            conn.execute(
                insert_ignore(conn, deliveries).values(
                    article_id=article_id, channel=channel, kind=kind, seq=0, status=_initial(S.PENDING),
                    article_version=article_version, created_at=now, updated_at=now,
                    article_at=article_time(sa.literal(article_id)),
                )
            )
            return int(conn.execute(
                sa.select(deliveries.c.id).where(deliveries.c.article_id == article_id,
                                                 deliveries.c.channel == channel, deliveries.c.seq == 0)
            ).scalar_one())


def _initial(status: DeliveryStatus) -> DeliveryStatus:
    """A state a delivery may be planned in (INITIAL), or a bug."""
    if status not in INITIAL:
        raise ValueError(f"a delivery is planned {' or '.join(sorted(INITIAL))}, not {status}")
    return status


# What the dispatcher reads before it renders and claims (Outbox.for_sending).
Sending = tuple[DeliveryRow, ChannelState, StoredArticle, Edit | None]


def _sending(m: Mapping[str, Any]) -> Sending:
    a, c, e = articles, channel_state, variant_edits
    delivery = DeliveryRow(**{k: m[k] for k in deliveries.c.keys()})
    state = (ChannelState(**{k: m[f"c_{k}"] for k in c.c.keys() if k != "updated_at"})
             if m["c_channel"] is not None else ChannelState(delivery.channel))
    edit = Edit(**{k: m[f"e_{k}"] for k in e.c.keys()}) if m["e_id"] is not None else None
    return delivery, state, stored_article(SimpleNamespace(**{k: m[f"a_{k}"] for k in a.c.keys()})), edit
