"""A digest issue's batch bookkeeping while it is sent: one transaction per
batch, run while the previous batch's request is in flight.

The guarantee is the outbox's: a batch's row is `sending` (committed) before
its request starts, and `sent` only after its answer came. The send loop
(newsletter/digest.py) keeps one request in flight and prepares the next
batch meanwhile, so while batch n's request runs, one transaction (`step`)

    records batch n - 1 sent (its answer came before batch n's request started),
    reads batch n + 1's recipients (the keyset page after batch n's last id),
    and marks batch n + 1 `sending` with the id range (after_id, last_id] it covers;

and when batch n's answer comes, batch n + 1's request (its body built
meanwhile too, with the newsletter channel) starts after one quick read (who
of it left since it was read: `leavers`; with any, the body is built again).
So a crash leaves at most two batches `sending`, consecutive, after the batches
recorded sent: (n - 1, n) before that transaction committed, (n, n + 1) after
it. Either may have gone out; a resume holds the issue for an editor, exactly as
for one batch of unknown outcome. A batch begun but not sent (the send stopped,
or the batch before it failed) is put back as it was (`settle`), so a clean stop
or a failure leaves no batch `sending`.

Batch numbers are consecutive, a batch is begun only while the one before it
is in flight, and its request starts only after every earlier batch was
answered: the sent batches are always a prefix, and a resume continues after
the last one's last_id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar

import sqlalchemy as sa

from distributor.redact import scrub_parameters
from distributor.store.schema import issue_batches
from distributor.store.subscribers import Page, leaver_ids, snapshot_rows


@dataclass
class Begun:
    """A batch marked `sending`: the id range (after_id, last_id] it covers,
    and its recipients (those who left since it was read taken out of `page`;
    the range stays as recorded)."""

    batch_no: int
    after_id: int
    last_id: int
    page: Page
    # The failed row it replaced (restored if it is put back); None: a new row.
    previous: dict[str, Any] | None = field(default=None, repr=False)


END: Literal["end"] = "end"  # no recipient after the last batch: the issue is complete
TAKEN: Literal["taken"] = "taken"  # the batch's row is sending or sent already: another process has it
T = TypeVar("T")
Sent = tuple[int, str | None, int]  # (batch_no, message id, recipients) answered, not yet recorded


# The statements of every batch, built once: a statement built per call costs
# SQLAlchemy more than SQLite takes to run it.
_SENT = issue_batches.update().where(
    issue_batches.c.issue_id == sa.bindparam("b_issue"), issue_batches.c.batch_no == sa.bindparam("b_no"),
).values(status="sent", message_id=sa.bindparam("message_id"), error=None, recipients=sa.bindparam("recipients"),
         finished_at=sa.bindparam("finished_at"))


class BatchBook:
    def __init__(self, engine: sa.Engine, *, issue_id: int, edition: str, max_id: int, batch_size: int):
        self.engine = engine
        self.issue_id = issue_id
        self.edition = edition
        self.max_id = max_id
        self.batch_size = batch_size
        self._insert: sa.Insert | None = None  # the dialect's INSERT … ON CONFLICT DO NOTHING, built once
        # The common step on the driver's cursor (`_step_on_driver`): its SQL and the store's time format.
        dialect = engine.dialect
        ph = "?" if dialect.paramstyle == "qmark" else "%s"
        self._sqlite = dialect.name == "sqlite"
        self._sql_sent = (f"UPDATE issue_batches SET status = 'sent', message_id = {ph}, error = NULL, "
                          f"recipients = {ph}, finished_at = {ph} WHERE issue_id = {ph} AND batch_no = {ph}")
        self._sql_begin = (f"INSERT INTO issue_batches (issue_id, batch_no, attempts, status, recipients, after_id, "
                           f"last_id, started_at) VALUES ({ph}, {ph}, 1, 'sending', {ph}, {ph}, {ph}, {ph}) "
                           f"ON CONFLICT DO NOTHING")
        # The column type's whole bind processing for this dialect (on SQLite, its text format, which a
        # naive datetime handed to the driver would not keep: sqlite3 drops ".000000" on a whole second,
        # and times are compared as text there).
        time_type = issue_batches.c.started_at.type.dialect_impl(dialect)
        self._time = time_type.bind_processor(dialect) or (lambda value: value)

    def peek(self, after: int) -> Page:
        """The next page after `after`, nothing marked."""
        with self.engine.connect() as conn:
            return self._page(conn, after)

    def step(self, *, sent: Sent | None, batch_no: int, after: int,
             now: dt.datetime) -> Begun | Literal["end", "taken"]:
        """One transaction: `sent` recorded; the page after `after` read and,
        unless empty, begun as batch `batch_no`. With no page left, failed rows
        from `batch_no` on (batches an editor released whose recipients have all
        left, or moved into earlier batches) are removed: nobody is in them."""
        begun = self._step_on_driver(sent, batch_no, after, now)
        if begun is not None:
            return begun
        with self.engine.begin() as conn:
            if sent is not None:
                self._sent(conn, sent, now)
            page = self._page(conn, after)
            if not page:
                conn.execute(issue_batches.delete().where(
                    issue_batches.c.issue_id == self.issue_id, issue_batches.c.batch_no >= batch_no,
                    issue_batches.c.status == "failed"))
                return END
            begun = self._begin(conn, Begun(batch_no, after, page[-1][0], page), now)
        return begun if begun is not None else TAKEN

    def _step_on_driver(self, sent: Sent | None, batch_no: int, after: int, now: dt.datetime) -> Begun | None:
        """`step` as it goes for almost every batch (a page, a new row), in one
        transaction on the driver's cursor: SQLAlchemy's execution around the
        three statements cost more than SQLite takes to run them (~1 ms a
        batch). The one string from outside, the message id, is scrubbed as
        the engine scrubs every string it binds (store/db.py). None, with the
        transaction rolled back, when the page is empty or the batch has a row
        already (failed before, or another process's): `step` then goes
        SQLAlchemy's way, which deals with those."""
        when = self._time(now)

        def work(cur: Any) -> Begun | None:
            if sent is not None:
                no, message_id, recipients = sent
                cur.execute(self._sql_sent, (scrub_parameters(message_id), recipients, when, self.issue_id, no))
            page = snapshot_rows(cur, self.engine.dialect.paramstyle, self.edition, max_id=self.max_id,
                                 after=after, limit=self.batch_size)
            if page:
                cur.execute(self._sql_begin, (self.issue_id, batch_no, len(page), after, page[-1][0], when))
            if not page or cur.rowcount != 1:
                return None
            return Begun(batch_no, after, page[-1][0], page)

        return self._on_driver(work)

    def _on_driver(self, work: Callable[[Any], T | None]) -> T | None:
        """`work(cursor)` as one transaction on the driver's connection (on
        SQLite begun IMMEDIATE, as the engine's "begin" event does: store/db.py):
        committed when it returns something, rolled back when it returns None
        or raises."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                if self._sqlite:
                    cur.execute("BEGIN IMMEDIATE")
                out = work(cur)
                if out is None:
                    raw.rollback()
                else:
                    raw.commit()
                return out
            finally:
                cur.close()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def finish(self, *, sent: Sent, now: dt.datetime, then: Callable[[Any, str, Any], bool]) -> bool:
        """`settle(sent=…, within=…)` for the last batch, on the driver's
        cursor as `_step_on_driver` goes: the batch recorded sent, then
        `then(cursor, paramstyle, now in the store's format)` (the issue
        recorded sent: Issues.sent_on_driver), one transaction. False, rolled
        back, when `then` says so: the caller goes `settle`'s way."""
        when = self._time(now)
        no, message_id, recipients = sent

        def work(cur: Any) -> bool | None:
            cur.execute(self._sql_sent, (scrub_parameters(message_id), recipients, when, self.issue_id, no))
            return True if cur.rowcount == 1 and then(cur, self.engine.dialect.paramstyle, when) else None

        return self._on_driver(work) is not None

    def begin(self, batch: Begun, now: dt.datetime) -> Begun | None:
        """Batch `batch` (failed just now) sending again, with the same
        recipients; None if another process has it."""
        with self.engine.begin() as conn:
            return self._begin(conn, Begun(batch.batch_no, batch.after_id, batch.last_id, batch.page), now)

    def leavers(self, batch: Begun) -> set[int]:
        """Who of a begun batch is no longer active (unsubscribed, bounced,
        complained since it was read): the check between two requests, so on
        a driver cursor and by index seeks (subscribers.leaver_ids)."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            gone = leaver_ids(cur, self.engine.dialect.paramstyle, self.edition, after=batch.after_id,
                              last=batch.last_id)
            cur.close()
            if self.engine.dialect.name != "sqlite":
                raw.rollback()
        finally:
            raw.close()
        return gone & {sid for sid, _ in batch.page} if gone else gone

    def settle(self, *, now: dt.datetime, sent: Sent | None = None, failed: tuple[int, str] | None = None,
               put_back: Begun | Literal["end", "taken"] | None = None,
               within: Callable[[sa.Connection], None] | None = None) -> None:
        """One transaction: a batch answered recorded `sent`, one that failed
        recorded `failed` with its error, and one begun but not sent put back
        as it was before (a new row removed); `within`, the caller's own
        writes, last (the issue recorded sent with its last batch)."""
        with self.engine.begin() as conn:
            if sent is not None:
                self._sent(conn, sent, now)
            if failed is not None:
                conn.execute(self._row(failed[0]).values(status="failed", error=failed[1], finished_at=now))
            if isinstance(put_back, Begun):
                where = (issue_batches.c.issue_id == self.issue_id, issue_batches.c.batch_no == put_back.batch_no,
                         issue_batches.c.status == "sending")
                if put_back.previous is None:
                    conn.execute(issue_batches.delete().where(*where))
                else:
                    conn.execute(issue_batches.update().where(*where).values(**put_back.previous))
            if within is not None:
                within(conn)

    # ------------------------------------------------------------ in a transaction

    def _row(self, batch_no: int) -> sa.Update:
        return issue_batches.update().where(issue_batches.c.issue_id == self.issue_id,
                                            issue_batches.c.batch_no == batch_no)

    def _sent(self, conn: sa.Connection, sent: Sent, now: dt.datetime) -> None:
        batch_no, message_id, recipients = sent
        conn.execute(_SENT, {"b_issue": self.issue_id, "b_no": batch_no, "message_id": message_id,
                             "recipients": recipients, "finished_at": now})

    def _page(self, conn: sa.Connection, after: int) -> Page:
        """On the connection's own driver cursor (in its transaction, if any):
        no Result rows to build for a thousand addresses."""
        cur = conn.connection.cursor()
        try:
            return snapshot_rows(cur, conn.dialect.paramstyle, self.edition, max_id=self.max_id, after=after,
                                 limit=self.batch_size)
        finally:
            cur.close()

    def _begin(self, conn: sa.Connection, batch: Begun, now: dt.datetime) -> Begun | None:
        """Mark the batch `sending` (a new row, or a failed one again, its
        previous state kept in `batch.previous`); None if it is sending or
        sent already."""
        from distributor.store import _insert_ignore

        values = dict(status="sending", recipients=len(batch.page), after_id=batch.after_id,
                      last_id=batch.last_id, started_at=now)
        if self._insert is None:
            # RETURNING says whether a row was made: on PostgreSQL SQLAlchemy adds RETURNING for the
            # primary key, and the rowcount it then reports is -1 whether a row was made or not.
            self._insert = _insert_ignore(conn, issue_batches).values(
                {c: sa.bindparam(c) for c in ("issue_id", "batch_no", "attempts", *values)}
            ).returning(issue_batches.c.id)
        if conn.execute(self._insert, {"issue_id": self.issue_id, "batch_no": batch.batch_no, "attempts": 1,
                                       **values}).first() is not None:
            return batch
        row = conn.execute(sa.select(issue_batches).where(
            issue_batches.c.issue_id == self.issue_id, issue_batches.c.batch_no == batch.batch_no,
            issue_batches.c.status == "failed")).first()
        if row is None:
            return None
        conn.execute(self._row(batch.batch_no).where(issue_batches.c.status == "failed").values(
            attempts=row.attempts + 1, error=None, **values))
        keep = ("status", "recipients", "after_id", "last_id", "attempts", "error", "started_at", "finished_at")
        batch.previous = {k: getattr(row, k) for k in keep}
        return batch
