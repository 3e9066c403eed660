"""Migration 0013 (the editors' bot): its two tables, and
source_polls.failing_since, set for a source whose last poll failed (it
counts from the upgrade) and NULL for one that was ok; down and up again."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, migrate

NOW = dt.datetime(2025, 3, 3, 8, 0)


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0012")
    with engine.begin() as conn:
        for name, ok in (("good", True), ("broken", False)):
            conn.execute(sa.text("INSERT INTO source_polls (source, polled_at, ok, error) VALUES (:s, :t, :ok, :e)"),
                         {"s": name, "t": NOW, "ok": ok, "e": None if ok else "503"})
    migrate(engine)
    with engine.begin() as conn:
        rows = dict(conn.execute(sa.text("SELECT source, failing_since FROM source_polls")).all())
        assert rows["good"] is None and rows["broken"] is not None
        conn.execute(sa.text("INSERT INTO editorbot_messages (article_id, chat_id, message_id, claimed_at, "
                             "updated_at) VALUES (1, '-100', 7, :t, :t)"), {"t": NOW})
        conn.execute(sa.text("INSERT INTO editorbot_alerts (key, fingerprint, alerted_at) VALUES ('paused:de', "
                             "'paused', :t)"), {"t": NOW})
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():  # one message per (article, chat)
            conn.execute(sa.text("INSERT INTO editorbot_messages (article_id, chat_id, claimed_at, updated_at) "
                                 "VALUES (1, '-100', :t, :t)"), {"t": NOW})
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0012")
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        assert "editorbot_messages" not in tables and "editorbot_alerts" not in tables
        assert "failing_since" not in {c["name"] for c in sa.inspect(conn).get_columns("source_polls")}
        assert conn.execute(sa.text("SELECT count(*) FROM source_polls")).scalar() == 2
    migrate(engine)  # and up again


def test_0013_migrates_up_and_down(old_engine):  # on SQLite and on PostgreSQL (conftest.py)
    check(old_engine)
