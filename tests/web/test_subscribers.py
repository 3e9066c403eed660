"""Subscribers in the store: normalised addresses, the transition table,
keyset pages, webhook events applied once; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.store import Store
from distributor.store.subscribers import TRANSITIONS, InvalidAddress, Subscribers, normalize_email
from distributor.web.webhook import apply_events

NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("raw, normal", [
    ("Leserin@Example.ORG", "leserin@example.org"),
    ("  reader@example.org ", "reader@example.org"),
    ("user@bücher.example", "user@bücher.example"),
])
def test_addresses_are_normalised(raw, normal):
    assert normalize_email(raw) == normal


@pytest.mark.parametrize("raw, why", [
    ("", "required"), ("no-at-sign", "not a valid email address"), ("a@b", "not a valid email address"),
    ("a@example.org\nBcc: b@example.org", "line break"), ("x" * 400 + "@example.org", "too long"),
])
def test_bad_addresses_are_refused_with_a_reason(raw, why):
    with pytest.raises(InvalidAddress, match=why):
        normalize_email(raw)


def exercise(engine: sa.Engine) -> None:
    subs = Subscribers(engine)
    sub, send = subs.signup("de", "a@example.org", now=NOW, source="web", consent_text="ja")
    assert (sub.status, send) == ("pending", True)
    assert subs.signup("de", "a@example.org", now=NOW, source="web", consent_text="ja")[1] is True
    assert subs.confirm(sub.id, now=NOW) and subs.get(sub.id).consent_at == NOW
    assert subs.signup("de", "a@example.org", now=NOW, source="web", consent_text="ja")[1] is False
    with pytest.raises(DistributorError, match="cannot become pending"):
        subs.transition(sub.id, "pending", now=NOW)
    assert subs.transition(sub.id, "unsubscribed", now=NOW) and not subs.transition(sub.id, "unsubscribed", now=NOW)
    subs.add_active("de", [f"r{i}@example.org" for i in range(25)], now=NOW, source="t", consent_text="c")
    pages = list(subs.active_pages("de", page=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [i for p in pages for i, _ in p]
    assert ids == sorted(ids)
    events = [{"event": "bounce", "email": "r0@example.org", "sg_event_id": "e1"},
              {"event": "spamreport", "email": "r1@example.org", "sg_event_id": "e2"}]
    assert apply_events(engine, events, now=NOW).applied == 2
    assert apply_events(engine, events, now=NOW).duplicates == 2
    assert subs.counts("de") == {"unsubscribed": 1, "active": 23, "bounced": 1, "complained": 1}


def test_subscribers_on_sqlite(store):
    exercise(store.engine)


def test_every_status_has_its_transitions():
    assert set(TRANSITIONS) == {"pending", "active", "unsubscribed", "bounced", "complained"}
    assert all(to in TRANSITIONS for targets in TRANSITIONS.values() for to in targets)


@pytest.mark.postgres
def test_subscribers_on_postgresql(pg_url):
    with Store.open_url(pg_url) as store:
        exercise(store.engine)
