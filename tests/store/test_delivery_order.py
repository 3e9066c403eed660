"""The order workers lease deliveries in (store/leases.py): their article's
time, published else ingested, copied onto each delivery (`article_at`)
whenever the article is stored, and read from the partial index of pending
deliveries, so that a lease reads the few it takes instead of sorting every
pending delivery with its article (26 ms a lease at 10,000 queued before)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from distributor.ingest.pipeline import ingest
from distributor.store import Store
from distributor.store.db import _alembic_config, create_engine, migrate

KINDS = ("telegram", "twitter")

from support import on_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_settings(request, settings):
    return on_engine(request, settings)


def article_times(store):
    from distributor.store.schema import articles

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(articles.c.id, articles.c.published_at, articles.c.ingested_at)).all()
    return {r.id: r.published_at or r.ingested_at for r in rows}


def test_every_delivery_carries_its_articles_time_and_follows_a_new_publication_date(any_settings, articles_dir,
                                                                                   clock):
    with Store.open(any_settings) as store:
        ingest(any_settings, store, now=clock())
        times = article_times(store)
        rows = store.deliveries()
        assert rows and all(r.article_at == times[r.article_id] for r in rows)

        # The glacier article is republished a week later: its deliveries move with it.
        path = articles_dir / "en-kyrgyzstan-glaciers.md"
        path.write_text(path.read_text().replace("published: 2025-03-10T08:00:00+00:00",
                                                 "published: 2025-03-17T08:00:00+00:00"))
        ingest(any_settings, store, now=clock())
        glacier = next(a for a in store.list_articles() if "glaciers" in (a.article.url or ""))
        moved = [r for r in store.deliveries() if r.article_id == glacier.id]
        assert moved and {r.article_at for r in moved} == {dt.datetime(2025, 3, 17, 8, tzinfo=dt.timezone.utc)}

        # A delivery an editor adds (--force, or one made for a channel by hand) has it too.
        forced = store.outbox.add_forced(glacier.id, channel="en.telegram", kind="telegram", article_version=1,
                                         now=clock())
        assert store.outbox.get(forced).article_at == dt.datetime(2025, 3, 17, 8, tzinfo=dt.timezone.utc)

        # And the lease takes them oldest article first.
        leased = store.outbox.lease_due(clock(), kinds=KINDS, worker="w", limit=100)
        order = [store.outbox.get(i).article_at for i in leased]
        assert leased and order == sorted(order)


def test_the_migration_fills_the_time_of_deliveries_made_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0016")
        now = "2025-03-14 09:00:00.000000"
        conn.exec_driver_sql(
            "INSERT INTO articles (id, source, source_key, identity, version, content_hash, title, language, url, "
            "published_at, data, ingested_at, updated_at) VALUES "
            f"(1, 's', 'a', 'a', 1, 'h', 't', 'de', 'https://x/a', '2025-03-01 08:00:00.000000', '{{}}', '{now}', "
            f"'{now}'), (2, 's', 'b', 'b', 1, 'h', 't', 'de', 'https://x/b', NULL, '{{}}', '{now}', '{now}')")
        conn.exec_driver_sql(
            "INSERT INTO deliveries (article_id, channel, kind, seq, status, article_version, created_at, updated_at) "
            f"VALUES (1, 'de.telegram', 'telegram', 0, 'pending', 1, '{now}', '{now}'), "
            f"(2, 'de.telegram', 'telegram', 0, 'pending', 1, '{now}', '{now}')")
    migrate(engine)
    with engine.connect() as conn:
        got = dict(conn.exec_driver_sql("SELECT article_id, article_at FROM deliveries").all())
    assert got == {1: "2025-03-01 08:00:00.000000", 2: now}  # published, else ingested
    engine.dispose()


@pytest.mark.postgres
def test_a_lease_walks_the_pending_index_in_order_instead_of_sorting_every_pending_delivery(pg_url, settings, clock,
                                                                                         articles_dir):
    for i in range(400):
        (articles_dir / f"more-{i:03d}.md").write_text(
            f"---\ntitle: Folge {i}\nurl: https://novastan.org/de/folge-{i}/\nlanguage: de\n"
            f"published: 2025-02-{1 + i % 28:02d}T08:00:00+00:00\nchannels: [telegram]\n---\n\nText {i}.\n")
    pg = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=pg_url))
    with Store.open(pg) as store:
        ingest(pg, store, now=clock())
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        statements: list[tuple[str, object]] = []
        sa.event.listen(store.engine, "before_cursor_execute",
                        lambda conn, cur, stmt, params, ctx, many: statements.append((stmt, params)))
        assert len(store.outbox.lease_due(clock(), kinds=KINDS, worker="w")) == 10
        stmt, params = next((s, p) for s, p in statements if "FOR UPDATE" in s)
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("EXPLAIN " + stmt, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
        finally:
            raw.rollback()
            raw.close()
    assert "ix_deliveries_pending_order" in plan and "Sort" not in plan and "articles" not in plan, plan
