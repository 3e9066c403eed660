"""The store's side of article identity: a move keeps the article and its
deliveries, a retraction keeps the content hash (to recognise the file under
another name) and marks the article removed instead."""

import datetime as dt

import pytest

from distributor.errors import DistributorError
from distributor.model import Article, ChannelRef
from distributor.routing import route

NOW = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc)


def article(guid: str, lede: str = "Lede") -> Article:
    return Article(title="Kasachstan", lede=lede, language="de", guid=guid,
                   channels=(ChannelRef("telegram"), ChannelRef("newsletter")))


def test_a_move_keeps_the_article_and_its_plan(store, settings):
    a = article("a.txt")
    s1, _ = store.upsert_article(source="s", key="a.txt", content_hash="h1", article=a, now=NOW,
                                 routing=route(a, settings))
    plan = [(d.id, d.status) for d in store.deliveries(article_id=s1.id)]
    b = article("sub/b.txt")
    moved, status = store.upsert_article(source="s", key="sub/b.txt", content_hash="h1", article=b, now=NOW,
                                         routing=route(b, settings), same_as=s1.id)
    assert (status, moved.id, moved.key, moved.version) == ("moved", s1.id, "sub/b.txt", 1)
    assert [(d.id, d.status) for d in store.deliveries(article_id=s1.id)] == plan
    assert store.content_hashes("s") == {"sub/b.txt": "h1"}
    edited = article("c.txt", lede="Korrigiert")
    again, status = store.upsert_article(source="s", key="c.txt", content_hash="h2", article=edited, now=NOW,
                                         same_as=s1.id)
    assert (status, again.id, again.key, again.version) == ("updated", s1.id, "c.txt", 2)
    with pytest.raises(DistributorError, match="no article #999"):
        store.upsert_article(source="s", key="d.txt", content_hash="h3", article=edited, same_as=999)


def test_a_retraction_keeps_the_hash_and_the_article_comes_back_planned_again(store, settings):
    a = article("a.txt")
    s1, _ = store.upsert_article(source="s", key="a.txt", content_hash="h1", article=a, now=NOW,
                                 routing=route(a, settings))
    assert store.retract("s", "a.txt", now=NOW, reason="gone") == 2
    assert store.retract("s", "a.txt", now=NOW, reason="gone") == 0
    (row,) = store.identities("s")
    assert (row.id, row.key, row.content_hash, row.removed) == (s1.id, "a.txt", "h1", True)
    assert store.content_hashes("s") == {"a.txt": ""}  # read again when the file is back
    back, status = store.upsert_article(source="s", key="a.txt", content_hash="h1", article=a, now=NOW,
                                        routing=route(a, settings))
    assert (status, back.id, back.version) == ("updated", s1.id, 1)
    assert {d.status for d in store.deliveries(article_id=s1.id)} == {"pending"}
    assert store.identities("s")[0].removed is False


def test_the_front_matter_id_is_the_stored_identity(store):
    store.upsert_article(source="s", key="a.md", content_hash="h1", article=article("dorf"), now=NOW)
    store.upsert_article(source="s", key="b.md", content_hash="h2", article=article("b.md"), now=NOW)
    assert [(r.key, r.identity) for r in store.identities("s")] == [("a.md", "dorf"), ("b.md", None)]
