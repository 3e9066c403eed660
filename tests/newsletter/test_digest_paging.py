"""The digest reads its recipients from the database in keyset pages of
batch_size: the issue row holds a rule (the highest subscriber id at its
start), never the addresses; an unsubscribe during the send leaves the reader
out of later batches; a new signup waits for the next issue; a crash after a
batch resumes at the next one."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.store.issues import Issues
from distributor.store.schema import issues as issues_table
from distributor.store.subscribers import Subscribers
from support import add_subscribers, sent, with_channel


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def to_of(body: dict) -> list[str]:
    return [p["to"][0]["email"] for p in body["personalizations"]]


def run(settings, store, clock, **kw):
    return asyncio.run(digest.run_digest(settings, store, "de", clock=clock, sleep=clock.sleep, **kw))


@pytest.fixture
def people(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    emails = [f"reader{i:04d}@example.org" for i in range(2500)]
    add_subscribers(store, "de", emails)
    return emails


def test_2500_readers_go_out_in_three_keyset_batches_each_once(sb_settings, store, clock, control, people):
    settings = with_channel(sb_settings, "de.newsletter", batch_size=1000)
    result = run(settings, store, clock)
    assert result.status == "sent" and "2500 recipients in 3 batch(es)" in result.detail
    bodies = mails(control)
    assert [len(b["personalizations"]) for b in bodies] == [1000, 1000, 500]
    got = [e for b in bodies for e in to_of(b)]
    assert got == people  # id order, each once
    batches = Issues(store.engine).batches(result.issue.id)
    ranges = [(batches[n].after_id, batches[n].last_id) for n in range(3)]
    assert ranges[0][0] == 0 and all(ranges[n][1] == ranges[n + 1][0] for n in range(2))
    # The issue row names no one: its snapshot is the highest subscriber id and a count.
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(issues_table).where(issues_table.c.id == result.issue.id)).one()
    stored = json.dumps({k: str(v) for k, v in row._mapping.items()})
    assert not any(e in stored for e in people)
    assert row.recipient_count == 2500 and row.max_subscriber_id == Subscribers(store.engine).find(
        "de", people[-1]).id


def test_an_unsubscribe_during_the_send_is_honoured_and_a_new_signup_waits(sb_settings, store, clock, control,
                                                                           people):
    settings = with_channel(sb_settings, "de.newsletter", batch_size=1000)
    subs = Subscribers(store.engine)
    done = []

    def between_batches():
        if len(mails(control)) == 1 and not done:  # after batch 1, before batch 2
            done.append(1)
            subs.address_event(people[1500], "unsubscribed", now=clock(), reason="one-click")
            subs.address_event(people[10], "unsubscribed", now=clock(), reason="one-click")  # already mailed
            add_subscribers(store, "de", ["late@example.org"])
        return False

    result = run(settings, store, clock, stop=between_batches)
    assert result.status == "sent"
    got = [e for b in mails(control) for e in to_of(b)]
    assert people[1500] not in got and "late@example.org" not in got
    assert got.count(people[10]) == 1 and len(got) == 2499 and len(set(got)) == 2499


def test_a_crash_after_batch_one_resumes_at_batch_two(sb_settings, store, clock, control, people):
    settings = with_channel(sb_settings, "de.newsletter", batch_size=1000)
    first = run(settings, store, clock, stop=lambda: len(mails(control)) >= 1)
    assert first.status == "stopped" and "before batch 2" in first.detail
    assert [to_of(b) for b in mails(control)] == [people[:1000]]
    second = run(settings, store, clock)
    assert second.status == "sent" and second.issue.id == first.issue.id
    bodies = mails(control)
    assert [len(b["personalizations"]) for b in bodies] == [1000, 1000, 500]
    got = [e for b in bodies for e in to_of(b)]
    assert got == people and len(set(got)) == 2500  # batch 1 was not sent again
    assert {b.status for b in Issues(store.engine).batches(first.issue.id).values()} == {"sent"}


def test_batch_tokens_are_the_unsubscribe_tokens(sb_settings):
    from distributor.newsletter import tokens

    ids = [1, 42, 10**12]
    assert tokens.unsubscribe_tokens(sb_settings, "de", ids) == [
        tokens.unsubscribe_token(sb_settings, "de", i) for i in ids]


@pytest.mark.parametrize("secret", ["s3cret", "", "k" * 64, "ключ-" * 30])  # short, empty, one block, hashed
def test_batch_tokens_are_hmac_sha256_for_any_secret(sb_settings, monkeypatch, secret):
    """The batch path computes the HMAC from copied SHA-256 states: the same
    MACs as hmac.digest, whatever the key's length (a key longer than SHA-256's
    64-byte block is hashed first), and every one verifies."""
    from distributor.newsletter import tokens

    monkeypatch.setenv("DISTRIBUTOR_WEB_SECRET", secret)
    settings = dataclasses.replace(sb_settings, web=dataclasses.replace(sb_settings.web,
                                                                        secret_env="DISTRIBUTOR_WEB_SECRET"))
    ids = [0, 1, 9, 10, 999, 1000, 123456789, 10**17]
    batch = tokens.unsubscribe_tokens(settings, "fr", ids)
    assert batch == [tokens.unsubscribe_token(settings, "fr", i) for i in ids]
    now = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert [tokens.verify(settings, t, tokens.UNSUBSCRIBE, now).subscriber_id for t in batch] == ids
