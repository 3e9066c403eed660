"""The store on SQLite, and the same schema and migrations on PostgreSQL."""

import datetime as dt

import pytest
import sqlalchemy as sa

from distributor.model import Article, ChannelRef
from distributor.routing import route
from distributor.store import Store
from distributor.store.db import head_revision

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc)


def seed_like(kinds=("twitter", "facebook", "telegram", "newsletter"), title="Kasachstan"):
    return Article(title=title, lede="Lede", language="de", channels=tuple(ChannelRef(k) for k in kinds))


def exercise(store: Store, settings) -> None:
    a = seed_like()
    s1, status = store.upsert_article(source="s", key="a.txt", content_hash="h1", article=a, now=NOW)
    assert (status, s1.version) == ("new", 1)
    same, status = store.upsert_article(source="s", key="a.txt", content_hash="h1", article=a, now=NOW)
    assert (status, same.id, same.version) == ("unchanged", s1.id, 1)
    # Same key in another source is another article (guids repeat across sub-sites).
    other, status = store.upsert_article(source="t", key="a.txt", content_hash="h1", article=a, now=NOW)
    assert status == "new" and other.id != s1.id

    rows = store.apply_routing(s1, route(a, settings), now=NOW)
    assert {(d.channel, d.status) for d in rows} == {
        ("de.twitter", "pending"), ("de.telegram", "pending"), ("de.newsletter", "pending"),
        ("de.facebook", "skipped"),
    }
    assert [d.reason for d in rows if d.status == "skipped"] == ["no facebook channel configured for de"]
    # Planning twice adds nothing.
    again = store.apply_routing(s1, route(a, settings), now=NOW)
    assert [(d.id, d.status) for d in again] == [(d.id, d.status) for d in rows]

    # An edit: a new version; the footer now names only Telegram.
    edited = seed_like(kinds=("telegram",), title="Kasachstan (korrigiert)")
    s2, status = store.upsert_article(source="s", key="a.txt", content_hash="h2", article=edited, now=NOW)
    assert (status, s2.id, s2.version) == ("updated", s1.id, 2)
    assert store.get_article(s1.id).article.title == "Kasachstan (korrigiert)"
    rows = {d.channel: d for d in store.apply_routing(s2, route(edited, settings), now=NOW)}
    assert rows["de.telegram"].status == "pending"
    assert rows["de.twitter"].status == "cancelled"
    assert rows["de.twitter"].reason == "no longer named by the article (version 2)"
    assert rows["de.newsletter"].status == "cancelled"

    assert [x.id for x in store.list_articles(kind="telegram")] == [s1.id]
    assert store.list_articles(kind="newsletter") == []
    assert [x.id for x in store.list_articles(language="de")] == [s1.id, other.id]
    assert store.list_articles(language="fr") == []

    store.record_poll("s", ok=True, summary="1 new", etag='"abc"', now=NOW)
    store.record_poll("s", ok=False, error="boom", now=NOW)
    poll = store.last_poll("s")
    assert (poll.ok, poll.error, poll.polled_at) == (False, "boom", NOW)


def test_store_on_sqlite(store, settings):
    exercise(store, settings)


def test_get_missing_article_is_a_clear_error(store):
    from distributor.errors import DistributorError

    with pytest.raises(DistributorError, match="no article with id 999"):
        store.get_article(999)


def test_naive_datetimes_are_refused(store):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.record_poll("s", ok=True, now=dt.datetime(2025, 1, 1))


def test_migrations_reach_head_and_are_idempotent(settings):
    with Store.open(settings) as s1:
        with s1.engine.connect() as conn:
            rev = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert rev == head_revision()
    with Store.open(settings):  # a second start migrates nothing and fails nothing
        pass


@pytest.mark.postgres
def test_same_schema_and_migrations_on_postgresql(pg_url, settings):
    with Store.open_url(pg_url) as store:
        exercise(store, settings)
        insp = sa.inspect(store.engine)
        assert {"articles", "deliveries", "delivery_attempts", "source_polls", "alembic_version"} <= set(
            insp.get_table_names()
        )
