"""The signup limits are counted in the database (store/signup_limits.py):
two processes answering /subscribe (`serve` and `run` with [web] enabled, or
two behind one address) share them; the table holds keyed hashes, never an IP
address or an email address; hits older than the hour are deleted; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from distributor.store import Store
from distributor.store.schema import signup_hits
from distributor.store.signup_limits import SignupLimits
from distributor.web.app import create_app
from web_helpers import mails

BASE = "https://novastan.example"


def test_two_processes_answering_signups_share_the_limits(sb_settings, store, control):
    # Two apps on one database, as two processes would be (each its own store, its own memory).
    with Store.open(sb_settings) as other, \
            TestClient(create_app(sb_settings, store), base_url=BASE) as a, \
            TestClient(create_app(sb_settings, other), base_url=BASE) as b:
        for client in (a, b, a, b):
            assert client.post("/subscribe", data={"email": "me@example.org", "edition": "de"}).status_code == 200
        assert len(mails(control, "me@example.org")) == 3  # signups_per_address_per_hour, across both
        for i in range(6):
            client = (a, b)[i % 2]
            assert client.post("/subscribe", data={"email": f"o{i}@example.org", "edition": "de"}).status_code == 200
        for client in (a, b):  # ten from this client, over both: the eleventh is refused by either
            limited = client.post("/subscribe", data={"email": "late@example.org", "edition": "de"})
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(signup_hits)).all()
    assert len(stored) == 10 + 3 + 6  # the client's ten; me@ three times, o0…o5 once each
    text = repr(stored)
    assert "example.org" not in text and "testclient" not in text  # keyed hashes only


def exercise(engine: sa.Engine) -> None:
    limits = SignupLimits(engine, b"secret", window=3600)
    assert limits.hit(2, "client", "192.0.2.1", now=1000.0) is None
    assert limits.hit(2, "client", "192.0.2.1", now=1010.0) is None
    assert limits.hit(2, "client", "192.0.2.1", now=1020.0) == 3580  # the first expires at 4600
    assert limits.hit(2, "client", "192.0.2.2", now=1020.0) is None  # another key
    assert limits.hit(0, "client", "192.0.2.1", now=1020.0) is None  # 0: no limit
    assert limits.hit(2, "client", "192.0.2.1", now=4601.0) is None  # the first is out of the window
    with engine.connect() as conn:
        ats = sorted(conn.execute(sa.select(signup_hits.c.at)).scalars())
    assert ats == [1010.0, 1020.0, 4601.0]  # the expired hit was deleted
    assert SignupLimits(engine, b"rotated").key("client", "192.0.2.1") != limits.key("client", "192.0.2.1")


def test_the_limits_on_sqlite(store):
    exercise(store.engine)


@pytest.mark.postgres
def test_the_limits_on_postgresql(pg_url):
    with Store.open_url(pg_url) as store:
        exercise(store.engine)
