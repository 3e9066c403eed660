"""A post belongs to one delivery (issue 9, defect 2). When X refuses a tweet
as a duplicate, or a send's outcome is unknown, a post found on the account
counts as the delivery's only if its text is exactly what the delivery sent
and no other delivery owns it; the schema refuses two deliveries sharing
(channel, remote id)."""

from __future__ import annotations

import json
import socket

import pytest
import sqlalchemy as sa

from distributor.ingest.pipeline import ingest
from distributor.store.schema import deliveries

from support import drain, sent

DEAD = f"{socket.gethostname()}:999999999:deadbeef"


@pytest.fixture
def delivered(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    return store


def sent_tweet(store, channel="de.twitter", *, with_link=False):
    for row in store.deliveries(status="sent"):
        payload = store.outbox.attempts(row.id)[-1].payload
        if row.channel.endswith(channel) and (not with_link or "https://" in json.loads(payload)["text"]):
            return row, payload
    raise AssertionError("no such tweet was sent")


def second_delivery(store, row, clock):
    return store.outbox.add_forced(row.article_id, channel=row.channel, kind=row.kind,
                                   article_version=row.article_version, now=clock())


def test_a_duplicate_of_another_deliverys_post_fails_visibly(sb_settings, delivered, clock, control):
    store = delivered
    first, _ = sent_tweet(store)
    again = second_delivery(store, first, clock)  # the same text: X refuses it as a duplicate
    drain(sb_settings, store, clock)
    row = store.outbox.get(again)
    assert row.status == "failed" and row.remote_id is None
    assert row.last_error == (f"X refused it as a duplicate of post {first.remote_id}, already article "
                              f"{first.article_id}'s (delivery {first.id})")
    assert store.outbox.get(first.id).remote_id == first.remote_id


def test_a_duplicate_of_our_own_earlier_post_marks_it_sent(sb_settings, delivered, clock, control):
    """The post went out on an earlier attempt whose answer was lost: X's
    duplicate answer is then news that it is there, and it is this delivery's."""
    store = delivered
    first, payload = sent_tweet(store)
    with store.engine.begin() as conn:  # as if the answer with its id had never been recorded
        conn.execute(deliveries.update().where(deliveries.c.id == first.id)
                     .values(status="pending", remote_id=None, next_attempt_at=None))
    drain(sb_settings, store, clock)
    row = store.outbox.get(first.id)
    assert row.status == "sent" and row.remote_id == first.remote_id
    assert "duplicate" in row.reason and "found on the account" in row.reason


def test_recovery_does_not_take_another_deliverys_post(sb_settings, delivered, clock, control):
    store = delivered
    first, payload = sent_tweet(store)
    again = second_delivery(store, first, clock)
    # Killed mid-send with the same text as a post another delivery owns.
    assert store.outbox.claim(again, worker=DEAD, payload=payload, now=clock()) is not None
    report = drain(sb_settings, store, clock)
    assert [(o.delivery_id, o.status) for o in report.recovered] == [(again, "held")]
    row = store.outbox.get(again)
    assert row.status == "held" and row.remote_id is None
    assert f"post {first.remote_id}, already article {first.article_id}'s" in row.reason


def test_recovery_needs_the_exact_text_not_a_lookalike(sb_settings, delivered, clock, control):
    """Two posts that differ only in their link are two articles' posts."""
    store = delivered
    first, payload = sent_tweet(store, ".twitter", with_link=True)
    data = json.loads(payload)
    other = first.remote_id
    data["text"] = data["text"].replace("https://", "https://other.example/", 1)
    assert data["text"] != json.loads(payload)["text"]
    again = second_delivery(store, first, clock)
    store.outbox.claim(again, worker=DEAD, payload=json.dumps(data), now=clock())
    drain(sb_settings, store, clock)
    row = store.outbox.get(again)
    assert row.status == "held" and row.remote_id is None and other not in (row.reason or "")
    assert len(sent(control, "x", "/2/tweets")) == len([d for d in store.deliveries(status="sent")
                                                        if d.kind == "twitter"])


def test_the_schema_refuses_two_deliveries_sharing_a_post(delivered, clock):
    store = delivered
    first, _ = sent_tweet(store)
    again = second_delivery(store, first, clock)
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id == again).values(remote_id=first.remote_id))
    # Another channel may have the same id (ids are per service and account).
    other = next(d for d in store.deliveries() if d.channel == "de.telegram")
    with store.engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id == other.id).values(remote_id=first.remote_id))
    # Newsletter deliveries of one digest issue all record the issue.
    letters = [d for d in store.deliveries() if d.kind == "newsletter"][:2]
    assert len(letters) == 2
    with store.engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id.in_([d.id for d in letters]))
                     .values(remote_id="issue:1", channel=letters[0].channel))
