"""Migration 0003 on a database where the old code let two deliveries record
the same post: the delivery whose own call returned it keeps it, the other is
held with the evidence, and then the schema refuses it from now on."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.store.db import _alembic_config, create_engine, migrate
from distributor.store.schema import articles, deliveries, delivery_attempts


NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc)


def shared_post_database(engine) -> dict[str, int]:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0002")
    with engine.begin() as conn:
        art = lambda key: conn.execute(articles.insert().values(  # noqa: E731
            source="s", source_key=key, content_hash=key, title=key, language="de", data="{}",
            ingested_at=NOW, updated_at=NOW)).inserted_primary_key[0]
        a, b, c = art("a"), art("b"), art("c")
        row = lambda article, channel, kind, remote: conn.execute(deliveries.insert().values(  # noqa: E731
            article_id=article, channel=channel, kind=kind, status="sent", remote_id=remote,
            created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
        ids = {"found": row(a, "de.twitter", "twitter", "777"), "own": row(b, "de.twitter", "twitter", "777"),
               "alone": row(c, "de.twitter", "twitter", "778"),
               "letter_a": row(a, "de.newsletter", "newsletter", "issue:1"),
               "letter_b": row(b, "de.newsletter", "newsletter", "issue:1")}
        conn.execute(delivery_attempts.insert().values(delivery_id=ids["own"], started_at=NOW, outcome="sent",
                                                       remote_id="777"))
        conn.execute(delivery_attempts.insert().values(delivery_id=ids["found"], started_at=NOW, outcome="found",
                                                       remote_id="777"))
    return ids


def check(engine) -> None:
    ids = shared_post_database(engine)
    migrate(engine)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(deliveries))}
    assert (rows[ids["own"]].status, rows[ids["own"]].remote_id) == ("sent", "777")
    held = rows[ids["found"]]
    assert (held.status, held.remote_id) == ("held", None)
    assert f"post 777 was recorded as this delivery's and as article {rows[ids['own']].article_id}'s" in held.reason
    assert f"distributor release {held.id}" in held.reason
    assert rows[ids["alone"]].status == "sent"
    assert {rows[ids[k]].remote_id for k in ("letter_a", "letter_b")} == {"issue:1"}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id == ids["alone"]).values(remote_id="777"))


def test_0003_settles_shared_posts_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        check(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_0003_settles_shared_posts_on_postgresql(pg_url):
    engine = create_engine(pg_url)
    try:
        check(engine)
    finally:
        engine.dispose()
