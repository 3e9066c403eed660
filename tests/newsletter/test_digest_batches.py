"""BatchBook.step on the driver's cursor (the way of almost every batch) writes
the rows SQLAlchemy's way wrote: the same columns, the times as the store's
aware UTC datetimes, the provider's message id scrubbed as the engine scrubs
every string; a batch with a row already (failed before, or sending) and the
end of the snapshot go SQLAlchemy's way, as before: a failed row is begun
again, a sending one is taken. On SQLite and on PostgreSQL (where a failed
batch sent again used to go out with its row left `failed`: the rowcount of
an INSERT … ON CONFLICT DO NOTHING with RETURNING is -1 there)."""

from __future__ import annotations

import datetime as dt

from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.store.digest_batches import END, TAKEN, BatchBook, Begun
from distributor.store.issues import Issues
from support import add_subscribers, with_channel


def test_the_rows_a_step_writes(sb_settings, open_store, clock, monkeypatch):
    monkeypatch.setattr("distributor.redact.secret_values", lambda: ("a-long-provider-secret",))
    settings = with_channel(sb_settings, "de.newsletter", batch_size=10)
    with open_store() as store:
        ingest(settings, store, now=clock())
        add_subscribers(store, "de", [f"reader{i:03d}@example.org" for i in range(25)])
        issue = digest.assemble(settings, store, "de", clock().replace(microsecond=0), clock())
        book = BatchBook(store.engine, issue_id=issue.id, edition="de", max_id=issue.max_subscriber_id,
                         batch_size=10)
        issues = Issues(store.engine)
        t0 = dt.datetime(2026, 12, 2, 5, 0, 0, 123456, tzinfo=dt.timezone.utc)
        t1 = t0 + dt.timedelta(seconds=1)
        first = book.step(sent=None, batch_no=0, after=0, now=t0)
        assert isinstance(first, Begun) and len(first.page) == 10 and first.previous is None
        row = issues.batches(issue.id)[0]
        assert (row.status, row.recipients, row.after_id, row.last_id, row.attempts, row.started_at,
                row.finished_at, row.message_id) == ("sending", 10, 0, first.page[-1][0], 1, t0, None, None)
        second = book.step(sent=(0, "id-a-long-provider-secret", 10), batch_no=1, after=first.last_id, now=t1)
        assert isinstance(second, Begun) and second.after_id == first.last_id
        done = issues.batches(issue.id)
        assert (done[0].status, done[0].message_id, done[0].finished_at, done[0].error) == \
            ("sent", "id-[redacted]", t1, None)
        assert done[1].status == "sending" and done[1].started_at == t1
        # Batch 1 fails; sent again, its row is begun again (SQLAlchemy's way), its history kept to put back.
        book.settle(now=t1, failed=(1, "503"))
        again = book.step(sent=None, batch_no=1, after=first.last_id, now=t1)
        assert isinstance(again, Begun) and again.previous is not None and again.previous["status"] == "failed"
        assert (issues.batches(issue.id)[1].status, issues.batches(issue.id)[1].attempts) == ("sending", 2)
        # Its row sending, no other process (nor this one) begins it: the batch is taken.
        assert book.step(sent=None, batch_no=1, after=first.last_id, now=t1) == TAKEN
        third = book.step(sent=(1, "m1", 10), batch_no=2, after=again.last_id, now=t1)
        assert isinstance(third, Begun) and len(third.page) == 5
        assert book.step(sent=(2, "m2", 5), batch_no=3, after=third.last_id, now=t1) == END
        assert {n: b.status for n, b in issues.batches(issue.id).items()} == {0: "sent", 1: "sent", 2: "sent"}
