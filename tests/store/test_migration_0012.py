"""Migration 0012 (approval) on a database with deliveries, their attempts and
an issue's items: `status` takes `awaiting_approval` (17 characters) on both
backends, `approved_version` is added, and nothing of the outbox is lost (on
SQLite the table is not rebuilt, whose drop would delete every attempt and
issue item in cascade). Downgrading holds what awaited approval."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, migrate

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc).replace(tzinfo=None)


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0011")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO articles (source, source_key, version, title, language, data, content_hash, ingested_at, "
            "updated_at) VALUES ('s', 'k', 1, 't', 'de', '{}', 'h', :t, :t)"), {"t": NOW})
        for i, channel in enumerate(("de.telegram", "de.newsletter"), start=1):
            conn.execute(sa.text(
                "INSERT INTO deliveries (id, article_id, channel, kind, seq, status, attempts, article_version, "
                "created_at, updated_at) VALUES (:i, 1, :c, :k, 0, 'sent', 1, 1, :t, :t)"),
                {"i": i, "c": channel, "k": channel.split(".")[1], "t": NOW})
        conn.execute(sa.text("INSERT INTO delivery_attempts (delivery_id, started_at, outcome) "
                             "VALUES (1, :t, 'sent')"), {"t": NOW})
        conn.execute(sa.text(
            "INSERT INTO issues (edition, slot, status, subject, html, text, headers, batch_size, created_at, "
            "updated_at) VALUES ('de', :t, 'sent', 's', 'h', 't', '{}', 10, :t, :t)"), {"t": NOW})
        conn.execute(sa.text("INSERT INTO issue_items (issue_id, delivery_id, article_id, position) "
                             "VALUES (1, 2, 1, 0)"))
    migrate(engine)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_attempts")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM issue_items")).scalar() == 1
        conn.execute(sa.text("UPDATE deliveries SET status = 'awaiting_approval', approved_version = NULL "
                             "WHERE id = 1"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM deliveries WHERE id = 1")).scalar() == "awaiting_approval"
        if conn.dialect.name == "sqlite":
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0011")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, reason FROM deliveries WHERE id = 1")).one()
        assert row.status == "held" and "awaited approval" in row.reason
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_attempts")).scalar() == 1
    migrate(engine)  # and up again


def test_0012_widens_the_status_and_keeps_the_outbox(old_engine):  # on SQLite and on PostgreSQL (conftest.py)
    check(old_engine)
