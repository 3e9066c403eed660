"""GET /metrics, /healthz and /readyz (issue 15 part 4), over real HTTP on the
PostgreSQL on 127.0.0.1: the Prometheus text parsed with prometheus-client's
own parser, every figure compared with the database (or, for this process's
counters, with what it did); /readyz 503 with the reason when the schema is
behind the code or the database is down."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from support import add_subscribers

pytestmark = pytest.mark.postgres

READERS = [f"leser{i}@example.org" for i in range(3)]


def scrape(url: str) -> dict[str, list]:
    """Family name -> its samples (a counter's family is named without _total)."""
    response = httpx.get(f"{url}/metrics", timeout=10, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def values(samples, *labels: str, name: str | None = None) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[k] for k in labels): s.value for s in samples if name is None or s.name == name}


@pytest.fixture
def pg_settings(sb_settings, pg_url, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", pg_url)
    return sb_settings


@pytest.fixture
def web(pg_settings):
    from distributor.store import Store
    from distributor.web.server import start_web

    with Store.open(pg_settings) as store:
        handle = start_web(pg_settings, port=0, store=store)
        try:
            yield handle.url, store
        finally:
            handle.stop()


def test_metrics_show_the_database_and_this_process_as_they_are(pg_settings, web, control, pg_url):
    from distributor.delivery import Dispatcher
    from distributor.ingest.pipeline import ingest
    from distributor.leader import PgElection
    from distributor.newsletter.digest import run_digest

    url, store = web
    before = scrape(url)
    ingest(pg_settings, store)
    add_subscribers(store, "de", READERS)
    # de.telegram's first post is refused with a 429 (retry after 40 s); the rest go out.
    control.post("/_sandbox/faults", json={"service": "telegram", "status": 429, "retry_after": 40, "times": 1,
                                          "method": "sendMessage"})

    async def go():
        d = Dispatcher(pg_settings, store)
        try:
            report = await d.drain(max_wait=0)
            digest = await run_digest(pg_settings, store, "de", clock=d.clock)
            return report, digest
        finally:
            await d.aclose()

    report, digest = asyncio.run(go())
    assert digest.status == "sent"
    limited = [o.channel for o in report.outcomes if o.status == "rate_limited"]
    assert len(limited) == 1
    (channel,) = limited
    after = scrape(url)
    now = dt.datetime.now(dt.timezone.utc)

    # Deliveries by channel and state: exactly the table's counts.
    with store.engine.connect() as conn:
        counts = {(c, s): n for c, s, n in conn.exec_driver_sql(
            "SELECT channel, status, count(*) FROM deliveries GROUP BY channel, status")}
        due = conn.exec_driver_sql(
            "SELECT channel, count(*), min(coalesce(next_attempt_at, created_at)) FROM deliveries "
            "WHERE status = 'pending' AND kind IN ('telegram', 'twitter') "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= now()) GROUP BY channel").all()
        (not_before,) = conn.exec_driver_sql("SELECT not_before FROM channel_state WHERE channel = %s",
                                             (channel,)).one()
    assert values(after["distributor_deliveries"], "channel", "state") == {k: float(n) for k, n in counts.items()}
    assert counts[(channel, "pending")] >= 1  # the refused one waits, others of its channel behind it
    # The queue: pending posts whose time has come (the refused one waits 40 s: not due).
    assert values(after["distributor_queue_depth"], "channel") == {(c,): float(n) for c, n, _ in due}
    ages = values(after["distributor_queue_oldest_due_age_seconds"], "channel")
    for c, _, oldest in due:
        assert abs(ages[(c,)] - (now - oldest).total_seconds()) < 30
    # The channel's wait, from the 429, read from the database.
    wait = values(after["distributor_channel_wait_seconds"], "channel")[(channel,)]
    assert 0 < wait <= 40 and abs(wait - (not_before - now).total_seconds()) < 30
    assert values(after["distributor_channel_paused"], "channel")[(channel,)] == 0

    # This process's counters: one 429 on that channel, its 40 s wait; one send timed per request.
    def delta(name, *labels, sample=None):
        b = values(before.get(name, []), *labels, name=sample)
        return {k: v - b.get(k, 0.0) for k, v in values(after[name], *labels, name=sample).items()
                if v - b.get(k, 0.0)}

    assert delta("distributor_rate_limited", "channel", sample="distributor_rate_limited_total") == {(channel,): 1.0}
    assert delta("distributor_rate_limit_wait_seconds", "channel",
                 sample="distributor_rate_limit_wait_seconds_total") == {(channel,): 40.0}
    timed = delta("distributor_send_duration_seconds", "channel", "outcome",
                  sample="distributor_send_duration_seconds_count")
    sent = {}
    for o in report.outcomes:
        if o.status in ("sent", "rate_limited"):
            key = (o.channel, "sent" if o.status == "sent" else "rate_limited")
            sent[key] = sent.get(key, 0.0) + 1
    sent[("de.newsletter", "sent")] = 1.0  # the digest's one batch
    assert timed == sent

    # Digest progress of de's issue: its one batch sent, to its three readers.
    assert values(after["distributor_digest_batches"], "edition", "state")[("de", "sent")] == 1
    assert values(after["distributor_digest_batches_expected"], "edition") == {("de",): 1.0}
    assert values(after["distributor_digest_recipients_sent"], "edition") == {("de",): 3.0}
    assert values(after["distributor_digest_issue_info"], "edition", "issue", "status") == {
        ("de", str(digest.issue.id), "sent"): 1.0}
    assert values(after["distributor_database_up"]) == {(): 1.0}

    # The leader: nobody, then this process holding the lock.
    assert values(after["distributor_leaders"]) == {(): 0.0} and after["distributor_leader"] == []
    election = PgElection(os.environ["DISTRIBUTOR_DATABASE_URL"])
    try:
        assert election.try_acquire()
        led = scrape(url)
        assert values(led["distributor_leader"], "host", "pid") == {(socket.gethostname(), str(os.getpid())): 1.0}
        assert values(led["distributor_leaders"]) == {(): 1.0}
    finally:
        election.close()
    assert values(scrape(url)["distributor_leaders"]) == {(): 0.0}


def test_healthz_and_readyz(web):
    url, _ = web
    assert httpx.get(f"{url}/healthz", trust_env=False).text == "ok"
    ready = httpx.get(f"{url}/readyz", trust_env=False)
    assert ready.status_code == 200 and ready.text == "ready\n"


def test_readyz_is_503_while_the_schema_is_behind_the_code(web, pg_url):
    from alembic.script import ScriptDirectory

    from distributor.store.db import MIGRATIONS, head_revision

    url, _ = web
    previous = ScriptDirectory(str(MIGRATIONS)).get_revision(head_revision()).down_revision
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = %s", (previous,))
        response = httpx.get(f"{url}/readyz", trust_env=False)
        assert response.status_code == 503
        assert response.text.startswith(f"not ready: the database schema is at migration {previous}, "
                                        f"the code needs {head_revision()}")
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = %s", (head_revision(),))
        assert httpx.get(f"{url}/readyz", trust_env=False).status_code == 200
    finally:
        engine.dispose()


def test_readyz_is_503_and_metrics_say_so_while_the_database_is_down(sb_settings, monkeypatch):
    from distributor.web.server import start_web

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/distributor")
    handle = start_web(sb_settings, port=0)
    try:
        response = httpx.get(f"{handle.url}/readyz", trust_env=False, timeout=15)
        assert response.status_code == 503
        assert response.text.startswith("not ready: the database does not answer: ")
        assert str(port) in response.text  # which server, as psycopg says it
        assert httpx.get(f"{handle.url}/healthz", trust_env=False).text == "ok"  # alive all the same
        down = scrape(handle.url)
        assert values(down["distributor_database_up"]) == {(): 0.0}
        assert "distributor_deliveries" not in down  # no stale figure
    finally:
        handle.stop()
