"""Issues of the weekly digest in the database: creation, batch progress, state.

The recipient snapshot is a rule, not a list (a million addresses do not fit
in a row): an issue records the highest subscriber id of its edition when it
was made (max_subscriber_id), and its recipients are the subscribers with an
id up to that one who are active when their batch is read, in id order, a
batch of `batch_size` at a time (keyset paging). So: everyone active at the
start, minus whoever unsubscribed, bounced or complained since (their batch
leaves them out), plus an existing pending address confirmed during the send;
a signup made after the start waits for the next issue. Each address is in at
most one batch, because batches are consecutive id ranges (after_id, last_id].

Like the outbox, every batch request is bracketed by two committed writes:
`begin_batch` (status `sending`) before it and `finish_batch` after it. A batch
found in `sending` when an issue resumes had an unknown outcome: the issue is
held for an editor rather than mailing a thousand people twice.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.store.db import insert_ignore, inserted_id
from distributor.store.outbox import DeliveryStatus, sources
from distributor.store.schema import articles, deliveries, issue_batches, issue_items, issues, subscribers
from distributor.store.states import ISSUE_INITIAL, IssueStatus, check_issue_transition
from distributor.store.subscribers import Subscribers


@dataclass(frozen=True)
class Issue:
    id: int
    edition: str
    slot: dt.datetime
    status: IssueStatus
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    # The recipient snapshot (schema.issues): a rule, never a list of addresses.
    snapshot_at: dt.datetime | None
    max_subscriber_id: int
    recipient_count: int
    batch_size: int
    reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    editor_subject: str | None = None  # an editor's own subject and intro, as given
    intro: str | None = None

    @property
    def batch_count(self) -> int:
        """Batches at the start (fewer when readers leave during the send)."""
        return -(-self.recipient_count // self.batch_size)


@dataclass(frozen=True)
class Batch:
    issue_id: int
    batch_no: int
    status: str
    recipients: int
    after_id: int | None
    last_id: int | None
    message_id: str | None
    attempts: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


def _issue(row) -> Issue:
    m = dict(row._mapping)
    m["headers"] = json.loads(m["headers"])
    m["status"] = IssueStatus(m["status"])
    return Issue(**m)


class StaleItems(DistributorError):
    """An issue's articles changed while it was being made: make it again."""


def _check_items(conn: sa.Connection, items: list[tuple[int, int]], versions: dict[int, int]) -> None:
    """StaleItems unless every (delivery, article) is still pending, in no
    issue, at the article version rendered; the deliveries stay locked
    (PostgreSQL) until the issue holds them."""
    ids = [d for d, _ in items]
    rows = conn.execute(sa.select(deliveries.c.id, deliveries.c.status, articles.c.version)
                        .join(articles, articles.c.id == deliveries.c.article_id)
                        .where(deliveries.c.id.in_(ids)).with_for_update(of=deliveries)).all()
    current = {r.id: (r.status, r.version) for r in rows}
    taken = conn.execute(sa.select(issue_items.c.delivery_id).where(issue_items.c.delivery_id.in_(ids))).first()
    if taken is not None or any(current.get(d) != (DeliveryStatus.PENDING, versions.get(a)) for d, a in items):
        raise StaleItems("the issue's articles changed while it was being made")


class Issues:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def waiting_deliveries(self, edition: str, now: dt.datetime, *,
                           approved_only: bool = False) -> list[tuple[int, int]]:
        """(delivery id, article id) of pending newsletter deliveries not yet
        in an issue and not under embargo, oldest first; with `approved_only`
        (the channel's approval = "required"), only those approved at their
        article's current version (newsletter.digest.waiting)."""
        taken = sa.select(issue_items.c.delivery_id)
        q = (
            sa.select(deliveries.c.id, deliveries.c.article_id)
            .where(deliveries.c.channel == f"{edition}.newsletter", deliveries.c.status == DeliveryStatus.PENDING,
                   deliveries.c.id.not_in(taken),
                   sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now))
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
        if approved_only:
            q = q.where(deliveries.c.approved_version == sa.select(articles.c.version).where(
                articles.c.id == deliveries.c.article_id).scalar_subquery())
        with self.engine.connect() as conn:
            return [(r.id, r.article_id) for r in conn.execute(q)]

    def create(self, *, edition: str, slot: dt.datetime, subject: str, html: str, text: str,
               headers: dict[str, str], batch_size: int,
               items: list[tuple[int, int]], now: dt.datetime, editor_subject: str | None = None,
               intro: str | None = None, versions: dict[int, int] | None = None,
               within: Callable[[sa.Connection], None] | None = None) -> Issue | None:
        """Store a new issue with its articles and its recipient snapshot (the
        edition's subscribers active at `now`); None if (edition, slot) exists
        already (another process made it first). With `versions` (article id
        -> the version rendered into the issue), StaleItems if meanwhile an
        item's delivery left `pending`, went into another issue, or its
        article changed. `within` runs in the same transaction before the
        issue is stored (the draft it was made from is taken: digest_drafts)."""
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(issues.c.id).where(issues.c.edition == edition,
                                                               issues.c.slot == slot)).first()
            if exists:
                return None
            if versions is not None and items:
                _check_items(conn, items, versions)
            if within is not None:
                within(conn)
            # The snapshot's rule and the count of its readers, in one pass over the edition's rows.
            top, count = conn.execute(sa.select(
                sa.func.coalesce(sa.func.max(subscribers.c.id), 0),
                sa.func.count().filter(subscribers.c.status == "active"),
            ).where(subscribers.c.edition == edition)).one()
            at = now.astimezone(dt.timezone.utc)  # as the store gives its times back
            values = dict(edition=edition, slot=slot.astimezone(dt.timezone.utc), status=IssueStatus(ISSUE_INITIAL),
                          subject=subject, html=html, text=text, headers=dict(headers), snapshot_at=at,
                          max_subscriber_id=top, recipient_count=count, batch_size=batch_size, reason=None,
                          created_at=at, updated_at=at, sent_at=None, editor_subject=editor_subject or None,
                          intro=intro or None)
            issue_id = inserted_id(conn.execute(issues.insert().values({**values, "headers": json.dumps(headers)})))
            if items:
                conn.execute(issue_items.insert(), [
                    {"issue_id": issue_id, "delivery_id": d, "article_id": a, "position": i}
                    for i, (d, a) in enumerate(items)
                ])
        # What `get` would read back (tests/newsletter/test_digest_fast_paths.py), without the read.
        return Issue(id=issue_id, **values)

    def get(self, issue_id: int) -> Issue:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(issues).where(issues.c.id == issue_id)).first()
        if row is None:
            raise DistributorError(f"no issue with id {issue_id}")
        return _issue(row)

    def find(self, edition: str, slot: dt.datetime) -> Issue | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(issues).where(issues.c.edition == edition, issues.c.slot == slot)).first()
        return _issue(row) if row else None

    def list(self, edition: str | None = None) -> builtins.list[Issue]:
        q = sa.select(issues).order_by(issues.c.slot, issues.c.id)
        if edition:
            q = q.where(issues.c.edition == edition)
        with self.engine.connect() as conn:
            return [_issue(r) for r in conn.execute(q)]

    def recent(self, limit: int) -> builtins.list[Issue]:
        """The `limit` latest issues of every edition, newest first."""
        q = sa.select(issues).order_by(issues.c.slot.desc(), issues.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_issue(r) for r in conn.execute(q)]

    def unfinished(self, edition: str | None = None,
                   statuses: tuple[str, ...] = (IssueStatus.SENDING,)) -> builtins.list[Issue]:
        """The issues in one of `statuses`, oldest slot first (as `list` orders them)."""
        q = sa.select(issues).where(issues.c.status.in_([str(s) for s in statuses])).order_by(issues.c.slot,
                                                                                              issues.c.id)
        if edition:
            q = q.where(issues.c.edition == edition)
        with self.engine.connect() as conn:
            return [_issue(r) for r in conn.execute(q)]

    def last_sent(self, edition: str) -> Issue | None:
        sent = [i for i in self.list(edition) if i.status == IssueStatus.SENT]
        return sent[-1] if sent else None

    def carrying(self, delivery_id: int) -> int | None:
        """The id of the issue that carries this newsletter delivery, if one does."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(issue_items.c.issue_id)
                                .where(issue_items.c.delivery_id == delivery_id)).scalar()

    def article_ids(self, issue_id: int) -> builtins.list[int]:
        with self.engine.connect() as conn:
            return [r.article_id for r in conn.execute(
                sa.select(issue_items.c.article_id).where(issue_items.c.issue_id == issue_id)
                .order_by(issue_items.c.position))]

    def recipient_page(self, issue: Issue, after: int) -> builtins.list[tuple[int, str]]:
        """(id, email) of the issue's next batch of recipients after subscriber `after`."""
        return Subscribers(self.engine).snapshot_page(issue.edition, max_id=issue.max_subscriber_id,
                                                      after=after, limit=issue.batch_size)

    def recipients(self, issue: Issue) -> Iterator[builtins.list[tuple[int, str]]]:
        """The issue's recipients now, a batch at a time (never all at once)."""
        after = 0
        while page := self.recipient_page(issue, after):
            yield page
            after = page[-1][0]

    # ------------------------------------------------------------ batches

    def batches(self, issue_id: int) -> dict[int, Batch]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(issue_batches).where(issue_batches.c.issue_id == issue_id))
            return {r.batch_no: Batch(**{k: v for k, v in r._mapping.items() if k != "id"}) for r in rows}

    def begin_batch(self, issue_id: int, batch_no: int, *, recipients: int, now: dt.datetime,
                    after_id: int | None = None, last_id: int | None = None) -> bool:
        """Mark a batch `sending` (new, or failed before) with the id range
        (after_id, last_id] it covers; False if it is already sending or sent
        (another process, or a crash to resolve)."""
        with self.engine.begin() as conn:
            return self._begin(conn, issue_id, batch_no, recipients, now, after_id, last_id)

    @staticmethod
    def _begin(conn: sa.Connection, issue_id: int, batch_no: int, recipients: int, now: dt.datetime,
               after_id: int | None, last_id: int | None) -> bool:
        row = conn.execute(sa.select(issue_batches.c.status).where(issue_batches.c.issue_id == issue_id,
                                                                   issue_batches.c.batch_no == batch_no)).first()
        if row is None:
            return conn.execute(insert_ignore(conn, issue_batches).values(  # RETURNING: see digest_batches._begin
                issue_id=issue_id, batch_no=batch_no, status="sending", recipients=recipients,
                after_id=after_id, last_id=last_id, attempts=1, started_at=now
            ).returning(issue_batches.c.id)).first() is not None
        return bool(conn.execute(
            issue_batches.update()
            .where(issue_batches.c.issue_id == issue_id, issue_batches.c.batch_no == batch_no,
                   issue_batches.c.status == "failed")
            .values(status="sending", attempts=issue_batches.c.attempts + 1, started_at=now, error=None,
                    recipients=recipients, after_id=after_id, last_id=last_id)
        ).rowcount)

    def advance(self, issue: Issue, batch_no: int, *, message_id: str | None, now: dt.datetime,
                after: int, page: builtins.list[tuple[int, str, str]]
                ) -> tuple[builtins.list[tuple[int, str, str]], bool]:
        """One transaction between two requests: batch `batch_no` is sent, and
        the next one (`page`, read while that request was in flight, covering
        ids after `after`) loses whoever stopped being active since it was
        read and, unless empty, is marked `sending`. Returns (the page as it
        will be sent, whether it was begun)."""
        with self.engine.begin() as conn:
            conn.execute(issue_batches.update().where(issue_batches.c.issue_id == issue.id,
                                                      issue_batches.c.batch_no == batch_no)
                         .values(status="sent", message_id=message_id, error=None, finished_at=now))
            if not page:
                return page, False
            # By primary key: a range condition next to `edition = …` would let the
            # planner walk the (edition, status, id) index through the whole edition.
            left = {r.id for r in conn.execute(sa.select(subscribers.c.id).where(
                subscribers.c.id.in_([p[0] for p in page]), subscribers.c.status != "active"))}
            if left:
                page = [p for p in page if p[0] not in left]
            if not page:
                return page, False
            began = self._begin(conn, issue.id, batch_no + 1, len(page), now, after, page[-1][0])
        return page, began

    def finish_batch(self, issue_id: int, batch_no: int, *, status: str, now: dt.datetime,
                     message_id: str | None = None, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                issue_batches.update()
                .where(issue_batches.c.issue_id == issue_id, issue_batches.c.batch_no == batch_no)
                .values(status=status, message_id=message_id, error=error, finished_at=now)
            )

    # ------------------------------------------------------------ issue state

    def set_status(self, issue_id: int, status: str, *, now: dt.datetime, reason: str | None = None) -> None:
        """Move the issue to `status` as ISSUE_TRANSITIONS allows (else an
        InvalidTransition); once sent, its articles' newsletter deliveries are
        sent too, in the same transaction."""
        with self.engine.begin() as conn:
            self.set_status_in(conn, issue_id, status, now=now, reason=reason)

    @staticmethod
    def set_status_in(conn: sa.Connection, issue_id: int, status: str, *, now: dt.datetime,
                      reason: str | None = None) -> None:
        """`set_status` inside the caller's transaction (the last batch recorded sent with it)."""
        to = IssueStatus(status)
        values: dict[str, object] = dict(status=to, reason=reason, updated_at=now)
        if to == IssueStatus.SENT:
            values["sent_at"] = now
        current = conn.execute(sa.select(issues.c.status).where(issues.c.id == issue_id)).scalar()
        if current is None:
            raise DistributorError(f"no issue with id {issue_id}")
        check_issue_transition(issue_id, current, to)
        conn.execute(issues.update().where(issues.c.id == issue_id, issues.c.status == current).values(**values))
        if to == IssueStatus.SENT:
            ids = sa.select(issue_items.c.delivery_id).where(issue_items.c.issue_id == issue_id)
            conn.execute(
                deliveries.update().where(deliveries.c.id.in_(ids),
                                          deliveries.c.status.in_(sources(DeliveryStatus.SENT, _CARRIED)))
                .values(status=DeliveryStatus.SENT, **_carried_by(issue_id), updated_at=now)
            )

    @staticmethod
    def sent_on_driver(cur: Any, paramstyle: str, issue_id: int, when: Any) -> bool:
        """`set_status_in(…, "sent")` for an issue that is `sending`, on a
        driver cursor in its caller's transaction (the last batch's, recorded
        on the same cursor: BatchBook.finish), `when` already in the store's
        time format: no SQLAlchemy statement to compile once the last answer
        came. False, with nothing written, when the issue is not `sending`:
        the caller then goes `set_status_in`'s way, which says why."""
        check_issue_transition(issue_id, IssueStatus.SENDING, IssueStatus.SENT)
        ph = "?" if paramstyle == "qmark" else "%s"
        cur.execute(f"UPDATE issues SET status = {ph}, reason = NULL, updated_at = {ph}, sent_at = {ph} "
                    f"WHERE id = {ph} AND status = {ph}",
                    (str(IssueStatus.SENT), when, when, issue_id, str(IssueStatus.SENDING)))
        if cur.rowcount != 1:
            return False
        carried = [str(s) for s in sources(DeliveryStatus.SENT, _CARRIED)]
        by = _carried_by(issue_id)
        cur.execute(f"UPDATE deliveries SET status = {ph}, remote_id = {ph}, reason = {ph}, updated_at = {ph} "
                    f"WHERE id IN (SELECT delivery_id FROM issue_items WHERE issue_id = {ph}) "
                    f"AND status IN ({', '.join([ph] * len(carried))})",
                    (str(DeliveryStatus.SENT), by["remote_id"], by["reason"], when, issue_id, *carried))
        return True

    def resume(self, issue_id: int, *, now: dt.datetime) -> None:
        """A failed issue goes back to sending (its failed batches are sent again)."""
        self._reopen(issue_id, IssueStatus.FAILED, reason="resumed by an editor", now=now)

    def release(self, issue_id: int, *, now: dt.datetime) -> None:
        """An editor's decision on a held issue: batches of unknown outcome are
        sent again, and the issue resumes."""
        self._reopen(issue_id, IssueStatus.HELD, reason="released by an editor", now=now)

    def _reopen(self, issue_id: int, only_from: IssueStatus, *, reason: str, now: dt.datetime) -> None:
        verb = "released" if only_from == IssueStatus.HELD else "resumed"
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(issues.c.status).where(issues.c.id == issue_id)).scalar()
            if current is None:
                raise DistributorError(f"no issue with id {issue_id}")
            check_issue_transition(issue_id, current, IssueStatus.SENDING, only_from=(only_from,),
                                   message=f"issue {issue_id} is {current}; only a {only_from} issue can be {verb}")
            if only_from == IssueStatus.HELD:
                conn.execute(
                    issue_batches.update()
                    .where(issue_batches.c.issue_id == issue_id, issue_batches.c.status == "sending")
                    .values(status="failed", error="released by an editor: sent again", finished_at=now)
                )
            conn.execute(issues.update().where(issues.c.id == issue_id, issues.c.status == current).values(
                status=IssueStatus.SENDING, reason=reason, updated_at=now))


# The newsletter deliveries an issue carries are pending until it is sent.
_CARRIED = (DeliveryStatus.PENDING,)


def _carried_by(issue_id: int) -> dict[str, str]:
    """What a newsletter delivery records once the issue carrying it is sent."""
    return {"remote_id": f"issue:{issue_id}", "reason": f"in the digest issue #{issue_id}"}
