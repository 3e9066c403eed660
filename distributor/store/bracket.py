"""The send bracket's statements, built once.

Every delivery runs the same few statements: the read before the render
(`FOR_SENDING`), the claim and its attempt row, and the finish. Building a
SQLAlchemy statement costs more CPU than executing it once it is built
(~90 µs for an UPDATE with a few conditions, ~0.5 ms for the read's select of
three tables' labelled columns, against ~0.2 µs for a built statement's
memoised cache key), and a worker sends hundreds a second. So these are built
here once, with bind parameters for what changes from one delivery to the
next, and store/outbox.py executes them. What they do is documented there.

The bind names are prefixed (`b_`) so that none collides with a column an
UPDATE sets; the attempt's INSERT binds by column name, so that its `payload`
is recognised as content by the store's scrub (store/db.py: CONTENT_COLUMNS).
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from distributor.store.schema import (UTCDateTime, articles, channel_state, deliveries, delivery_attempts,
                                      variant_edits)

__all__ = ["for_sending", "for_sending_many", "claim", "ATTEMPT", "finish_sent", "close_attempt", "reset_failures",
           "claim_pg", "finish_sent_pg", "finish_then_claim_pg"]

_d = deliveries.c
_now: sa.BindParameter[object] = sa.bindparam("b_now")


def _for_sending(where: sa.ColumnElement[bool]) -> sa.Select:
    a, c, e = articles, channel_state, variant_edits
    return (sa.select(deliveries, *[col.label(f"a_{col.name}") for col in a.c],
                      *[col.label(f"c_{col.name}") for col in c.c if col.name != "updated_at"],
                      *[col.label(f"e_{col.name}") for col in e.c])
            .join(a, a.c.id == _d.article_id).outerjoin(c, c.c.channel == _d.channel)
            .outerjoin(e, sa.and_(e.c.article_id == _d.article_id, e.c.kind == _d.kind))
            .where(where))


@functools.cache
def for_sending() -> sa.Select:
    """A delivery (b_id), its article's columns (a_*), its channel's state
    (c_*, but updated_at) and the edit of its variant (e_*), in one row."""
    return _for_sending(_d.id == sa.bindparam("b_id"))


@functools.cache
def for_sending_many() -> sa.Select:
    """`for_sending` of the deliveries b_ids (a list), a row each."""
    return _for_sending(_d.id.in_(sa.bindparam("b_ids", expanding=True)))


@functools.cache
def claim(*, approved: bool, unpaced_channel: bool) -> sa.Update:
    """pending (and due) -> sending, by b_worker at b_now. `approved`: only if
    b_approved_version is the approved one. `unpaced_channel`: only if the
    channel b_channel is neither paused nor waiting (read in this UPDATE)."""
    conditions = [_d.id == sa.bindparam("b_id"), _d.status == "pending",
                  sa.or_(_d.next_attempt_at.is_(None), _d.next_attempt_at <= _now)]
    if approved:
        conditions.append(_d.approved_version == sa.bindparam("b_approved_version"))
    if unpaced_channel:
        conditions.append(~sa.exists().where(
            channel_state.c.channel == sa.bindparam("b_channel"),
            sa.or_(channel_state.c.paused.is_(True), channel_state.c.not_before > _now)))
    return (deliveries.update().where(*conditions)
            .values(status="sending", claimed_by=sa.bindparam("b_worker"), claimed_at=_now, updated_at=_now,
                    leased_by=None, leased_until=None))


# The claim's attempt row: executed with the column values (delivery_id, started_at, outcome, payload).
ATTEMPT = delivery_attempts.insert()


@functools.cache
def finish_sent(p: str = "b_") -> sa.Update:
    """sending -> sent (b_id): b_remote_id, b_note, b_version at b_now. `p`:
    the binds' prefix, "f_" where the statement shares one with a claim."""
    now: sa.BindParameter[object] = sa.bindparam(f"{p}now")
    return (deliveries.update().where(_d.id == sa.bindparam(f"{p}id"), _d.status == "sending")
            .values(status="sent", remote_id=sa.bindparam(f"{p}remote_id"), last_error=None,
                    reason=sa.bindparam(f"{p}note"), claimed_by=None, article_version=sa.bindparam(f"{p}version"),
                    next_attempt_at=None, updated_at=now))


@functools.cache
def close_attempt(p: str = "b_") -> sa.Update:
    """The attempt b_attempt answered: b_outcome at b_now, with b_error and b_remote_id."""
    t = delivery_attempts
    return (t.update().where(t.c.id == sa.bindparam(f"{p}attempt"))
            .values(outcome=sa.bindparam(f"{p}outcome"), finished_at=sa.bindparam(f"{p}now"),
                    error=sa.bindparam(f"{p}error"), remote_id=sa.bindparam(f"{p}remote_id")))


@functools.cache
def reset_failures(p: str = "b_") -> sa.Update:
    """The channel b_channel's failure count back to 0, written only if it was not 0."""
    c = channel_state.c
    return (channel_state.update().where(c.channel == sa.bindparam(f"{p}channel"), c.consecutive_failures > 0)
            .values(consecutive_failures=0, updated_at=sa.bindparam(f"{p}now")))


# On PostgreSQL a claim and a finish are each one statement (data-modifying
# CTEs), run on an autocommit connection: one round trip that commits, instead
# of BEGIN, two or three statements and COMMIT (each a round trip). A single
# statement is atomic, and it is durable when it returns, as a COMMIT is.


@functools.cache
def claim_pg(*, approved: bool, unpaced_channel: bool, started: str = "started_at",
             payload: str = "payload") -> sa.Insert:
    """`claim` and the attempt row in one statement: the attempt's id, or no
    row when the claim lost (taken, not due, not approved, the channel busy).
    `started`, `payload`: the names its attempt's values are bound by."""
    claimed = claim(approved=approved, unpaced_channel=unpaced_channel).returning(_d.id).cte("claimed")
    row = sa.select(claimed.c.id, sa.bindparam(started, type_=UTCDateTime()), sa.literal("started"),
                    sa.bindparam(payload, type_=sa.Text()))
    return (delivery_attempts.insert()
            .from_select(["delivery_id", "started_at", "outcome", "payload"], row)
            .add_cte(claimed).returning(delivery_attempts.c.id))


@functools.cache
def finish_sent_pg(*, reset: bool, p: str = "b_") -> sa.Update:
    """`finish_sent` with `close_attempt` (and, with `reset`, `reset_failures`) in one statement."""
    ctes = [close_attempt(p).returning(delivery_attempts.c.id).cte(f"{p}closed")]
    if reset:
        ctes.append(reset_failures(p).returning(channel_state.c.channel).cte(f"{p}reset"))
    return finish_sent(p).add_cte(*ctes)


@functools.cache
def finish_then_claim_pg(*, approved: bool) -> sa.Select:
    """One delivery's `finish_sent_pg` on an unpaced channel (its binds f_*)
    and the next one's `claim_pg` on an unpaced channel (b_*, payload_1),
    in one statement: one round trip and one commit where a worker
    sending one delivery after another made two. Its one row: `attempt`, the
    claim's attempt id (None when the claim lost), and `finished`, whether the
    finish moved its delivery."""
    finished = finish_sent_pg(reset=True, p="f_").returning(_d.id).cte("f_finished")
    # Not `started_at` nor `payload`: a value bound by a column's name is added to the SET of an
    # UPDATE of its table (the finish's of delivery_attempts); `payload_1` is still content (store/db.py).
    attempt = claim_pg(approved=approved, unpaced_channel=True, started="b_started_at",
                       payload="payload_1").cte("attempt")
    return sa.select(sa.select(attempt.c.id).scalar_subquery().label("attempt"),
                     sa.exists().select_from(finished).label("finished")).add_cte(finished, attempt)
