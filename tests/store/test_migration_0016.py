"""Migration 0016 (digest drafts) on a database with deliveries: the draft
tables come, a draft and its article choice are kept by their keys, deleting
a delivery deletes its choice (the foreign key), and downgrading drops the
tables and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, migrate

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc).replace(tzinfo=None)


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0015")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO articles (source, source_key, version, title, language, data, content_hash, ingested_at, "
            "updated_at) VALUES ('s', 'k', 1, 't', 'de', '{}', 'h', :t, :t)"), {"t": NOW})
        for i in (1, 2):
            conn.execute(sa.text(
                "INSERT INTO deliveries (id, article_id, channel, kind, seq, status, attempts, article_version, "
                "created_at, updated_at) VALUES (:i, 1, 'de.newsletter', 'newsletter', :s, 'pending', 0, 1, :t, :t)"),
                {"i": i, "s": i - 1, "t": NOW})
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO digest_drafts (edition, subject, intro, updated_at, updated_by) "
                             "VALUES ('de', 'S', NULL, :t, 'desk:anna')"), {"t": NOW})
        conn.execute(sa.text("INSERT INTO digest_draft_articles (edition, delivery_id, choice, at, by) "
                             "VALUES ('de', 1, 'removed', :t, 'desk:anna'), ('de', 2, 'removed', :t, 'desk:anna')"),
                     {"t": NOW})
        assert conn.execute(sa.text("SELECT version FROM digest_drafts")).scalar() == 1  # the server default
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO digest_drafts (edition, updated_at, updated_by) "
                             "VALUES ('de', :t, 'desk:bert')"), {"t": NOW})
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM deliveries WHERE id = 2"))
        assert conn.execute(sa.text("SELECT delivery_id FROM digest_draft_articles")).scalars().all() == [1]
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0015")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert "digest_drafts" not in tables and "digest_draft_articles" not in tables
        assert conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar() == 1
    migrate(engine)  # and up again


def test_0016_adds_the_draft_tables(old_engine):  # on SQLite and on PostgreSQL (conftest.py)
    check(old_engine)
