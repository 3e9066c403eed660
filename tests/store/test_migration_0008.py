"""Migration 0008 on a database with an issue in flight under the old JSON
list: the issue gets its snapshot rule and each batch the id range its slice
of the list covered, so the resume continues with the next unsent batch."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.store.issues import Issues
from distributor.store.db import _alembic_config, create_engine, migrate


NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc)


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007")
    emails = [f"r{i:02d}@example.org" for i in range(25)]
    with engine.begin() as conn:
        for e in emails:
            conn.execute(sa.text("INSERT INTO subscribers (edition, email, status, status_changed_at, created_at) "
                                 "VALUES ('de', :e, 'active', :t, :t)"), {"e": e, "t": NOW.replace(tzinfo=None)})
        conn.execute(sa.text(
            "INSERT INTO issues (edition, slot, status, subject, html, text, headers, recipients, batch_size, "
            "created_at, updated_at) VALUES ('de', :t, 'sending', 's', 'h', 't', '{}', :r, 10, :t, :t)"),
            {"t": NOW.replace(tzinfo=None), "r": json.dumps(emails)})
        conn.execute(sa.text("INSERT INTO issue_batches (issue_id, batch_no, status, recipients, attempts, "
                             "started_at) VALUES (1, 0, 'sent', 10, 1, :t)"), {"t": NOW.replace(tzinfo=None)})
    migrate(engine)
    repo = Issues(engine)
    issue = repo.get(1)
    assert (issue.recipient_count, issue.batch_count, issue.snapshot_at) == (25, 3, NOW)
    batch = repo.batches(1)[0]
    with engine.connect() as conn:
        ids = {r.email: r.id for r in conn.execute(sa.text("SELECT id, email FROM subscribers"))}
    assert (batch.after_id, batch.last_id) == (0, ids[emails[9]])
    nxt = repo.recipient_page(issue, batch.last_id)
    assert [e for _, e in nxt] == emails[10:20]


def test_0008_keeps_an_issue_in_flight_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        check(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_0008_keeps_an_issue_in_flight_on_postgresql(pg_url):
    engine = create_engine(pg_url)
    try:
        check(engine)
    finally:
        engine.dispose()
