"""What the editors' bot keeps in the database (store/editorbot.py), on
SQLite and PostgreSQL: a message or an alert is claimed by one process only,
a dead claim is taken over after its lease, a failed post gives its claim
back; and since when a source fails (source_polls.failing_since)."""

from __future__ import annotations

import datetime as dt

import pytest

from distributor.store import Store
from distributor.store.editorbot import CLAIM_LEASE, BotRecords

T = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Store.open_url(url) as s:
        yield s


def test_a_message_is_claimed_once_and_a_dead_claim_is_taken_over(store):
    records = BotRecords(store.engine)
    assert records.claim_message(1, "-100", now=T)
    assert not records.claim_message(1, "-100", now=T + dt.timedelta(seconds=5))  # being posted by the first
    assert records.claim_message(1, "-100", now=T + CLAIM_LEASE + dt.timedelta(seconds=1))  # its process died
    records.posted(1, "-100", 42, "h1", now=T)
    assert not records.claim_message(1, "-100", now=T + 10 * CLAIM_LEASE)  # posted: never again
    assert records.claim_message(1, "-200", now=T)  # another chat is another message
    records.unclaim_message(1, "-200")
    assert [m.message_id for m in records.messages("-200")] == []
    (m,) = records.messages("-100")
    assert (m.message_id, m.shown) == (42, "h1")
    assert records.reshow(1, "-100", was="h1", shown="h2", now=T)
    assert not records.reshow(1, "-100", was="h1", shown="h3", now=T)  # someone else changed it first


def test_an_alert_is_claimed_once_per_episode(store):
    records = BotRecords(store.engine)
    assert records.claim_alert("paused:de.telegram", "paused", now=T)
    assert not records.claim_alert("paused:de.telegram", "paused", now=T)
    assert records.claim_alert("source:x", "2025-03-14T08:00", now=T)
    assert records.claim_alert("source:x", "2025-03-14T09:00", now=T)  # a new episode
    assert records.alerted() == {"paused:de.telegram": "paused", "source:x": "2025-03-14T09:00"}
    records.forget_alerts(["paused:de.telegram"])
    assert records.claim_alert("paused:de.telegram", "paused", now=T)


def test_failing_since_is_the_first_failure_in_a_row(store):
    store.record_poll("feed", ok=False, error="503", now=T)
    store.record_poll("feed", ok=False, error="503", now=T + dt.timedelta(minutes=5))
    assert store.last_poll("feed").failing_since == T
    store.record_poll("feed", ok=True, now=T + dt.timedelta(minutes=10))
    assert store.last_poll("feed").failing_since is None
    store.record_poll("feed", ok=False, error="timeout", now=T + dt.timedelta(minutes=15))
    assert store.last_poll("feed").failing_since == T + dt.timedelta(minutes=15)
