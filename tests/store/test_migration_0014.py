"""Migration 0014 (variant_edits) on a database with an article: the table is
made on both backends, an edit's id is never given again after its row is
deleted (SQLite's AUTOINCREMENT; an approval names the text it saw by it), a
deleted article takes its edits with it, and downgrading drops the table."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, migrate

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc).replace(tzinfo=None)


def add_edit(conn, text: str) -> int:
    conn.execute(sa.text(
        "INSERT INTO variant_edits (article_id, kind, article_version, text, actor, created_at) "
        "VALUES (1, 'twitter', 1, :x, 'desk:anna', :t)"), {"x": text, "t": NOW})
    return int(conn.execute(sa.text("SELECT id FROM variant_edits WHERE text = :x"), {"x": text}).scalar_one())


def check(engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0013")
        conn.execute(sa.text(
            "INSERT INTO articles (source, source_key, version, title, language, data, content_hash, ingested_at, "
            "updated_at) VALUES ('s', 'k', 1, 't', 'de', '{}', 'h', :t, :t)"), {"t": NOW})
    migrate(engine)
    with engine.begin() as conn:
        first = add_edit(conn, "one")
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                add_edit(conn, "a second edit of the same variant")
        conn.execute(sa.text("DELETE FROM variant_edits"))
        assert add_edit(conn, "two") > first
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM articles"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM variant_edits")).scalar() == 0
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0013")
    assert "variant_edits" not in sa.inspect(engine).get_table_names()
    migrate(engine)  # and up again
    assert "variant_edits" in sa.inspect(engine).get_table_names()


def test_0014_makes_variant_edits(old_engine):  # on SQLite and on PostgreSQL (conftest.py)
    check(old_engine)
