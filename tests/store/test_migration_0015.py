"""Migration 0015 (workers) on a database with deliveries and their attempts:
the lease columns and the `workers` table are added, nothing of the outbox is
lost or rebuilt, and downgrading removes them again, on both backends."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, migrate

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc).replace(tzinfo=None)


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0014")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO articles (source, source_key, version, title, language, data, content_hash, ingested_at, "
            "updated_at) VALUES ('s', 'k', 1, 't', 'de', '{}', 'h', :t, :t)"), {"t": NOW})
        conn.execute(sa.text(
            "INSERT INTO deliveries (id, article_id, channel, kind, seq, status, attempts, article_version, "
            "created_at, updated_at) VALUES (1, 1, 'de.telegram', 'telegram', 0, 'pending', 0, 1, :t, :t)"),
            {"t": NOW})
        conn.execute(sa.text("INSERT INTO delivery_attempts (delivery_id, started_at, outcome) VALUES (1, :t, 'x')"),
                     {"t": NOW})
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE deliveries SET leased_by = 'h:1:n', leased_until = :t WHERE id = 1"), {"t": NOW})
        conn.execute(sa.text("INSERT INTO workers (id, host, pid, role, started_at, heartbeat_at) "
                             "VALUES ('h:1:n', 'h', 1, 'worker', :t, :t)"), {"t": NOW})
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT leased_by FROM deliveries WHERE id = 1")).scalar() == "h:1:n"
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_attempts")).scalar() == 1
        if conn.dialect.name == "sqlite":
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0014")
    with engine.connect() as conn:
        assert "workers" not in sa.inspect(conn).get_table_names()
        assert "leased_by" not in {c["name"] for c in sa.inspect(conn).get_columns("deliveries")}
        assert conn.execute(sa.text("SELECT status FROM deliveries WHERE id = 1")).scalar() == "pending"
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_attempts")).scalar() == 1
    migrate(engine)  # and up again


def test_0015_adds_the_leases_and_the_registry(old_engine):  # on SQLite and on PostgreSQL (conftest.py)
    check(old_engine)
