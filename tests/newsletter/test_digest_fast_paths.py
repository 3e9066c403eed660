"""What the digest's quicker ways must write and send exactly as the slower
ones did: the issue made is what the store reads back (no read after the
insert), the last batch and the issue recorded sent on the driver's cursor
as `set_status_in` records them (only for an issue still `sending`), batch
times in the store's own text format on SQLite (whole seconds too), and a
request body serialised ahead of its request (PreparedMail: on the loop's
thread, never the sender's) reaching the sandbox as the same mail, posted as
the client's own request without its debug lines of every reader's address
and of the API key. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import logging
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from distributor.channels import build_channel
from distributor.channels import newsletter as newsletter_channel
from distributor.channels.newsletter import NewsletterChannel
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.render import RenderedMessage
from distributor.store import Store
from distributor.store.digest_batches import BatchBook, Begun
from distributor.store.issues import Issues
from distributor.store.schema import deliveries, issue_items
from sendgrid import SendGridAPIClient
from support import add_subscribers, sent, with_channel

UTC = dt.timezone.utc


@pytest.fixture
def readers(sb_settings):
    return with_channel(sb_settings, "de.newsletter", batch_size=10)


def seeded(settings, store, clock, n: int = 25) -> None:
    ingest(settings, store, now=clock())
    add_subscribers(store, "de", [f"reader{i:03d}@example.org" for i in range(n)])


def carried(store: Store, issue_id: int) -> list[tuple[str, str | None, str | None, dt.datetime]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(deliveries.c.status, deliveries.c.remote_id, deliveries.c.reason, deliveries.c.updated_at)
            .where(deliveries.c.id.in_(sa.select(issue_items.c.delivery_id)
                                       .where(issue_items.c.issue_id == issue_id)))
            .order_by(deliveries.c.id))]


def test_an_issue_made_is_the_row_the_store_reads_back(readers, open_store, clock):
    with open_store() as store:
        seeded(readers, store, clock)
        made = digest.assemble(readers, store, "de", clock().replace(microsecond=0), clock(), subject="Sieben",
                               intro="Hallo")
        assert made is not None and made.recipient_count == 25 and made.max_subscriber_id > 0
        assert made == Issues(store.engine).get(made.id)
        assert made.slot.tzinfo == UTC and made.created_at.isoformat() == Issues(store.engine).get(
            made.id).created_at.isoformat()


def test_a_digest_sent_reports_its_issue_as_stored_and_its_articles_sent(readers, open_store, clock, control):
    with open_store() as store:
        seeded(readers, store, clock)
        result = asyncio.run(digest.run_digest(readers, store, "de", clock=clock, sleep=clock.sleep))
        assert result.status == "sent" and "25 recipients in 3 batch(es)" in result.detail
        stored = Issues(store.engine).get(result.issue.id)
        assert result.issue == stored and stored.status == "sent" and stored.sent_at is not None
        rows = carried(store, stored.id)
        assert rows and all(r[:3] == ("sent", f"issue:{stored.id}", f"in the digest issue #{stored.id}")
                            for r in rows)
        assert all(r[3] == stored.sent_at for r in rows)
        assert {b.status for b in Issues(store.engine).batches(stored.id).values()} == {"sent"}


def test_the_driver_path_records_an_issue_sent_only_while_it_is_sending(readers, open_store, clock):
    with open_store() as store:
        seeded(readers, store, clock, n=5)
        issue = digest.assemble(readers, store, "de", clock().replace(microsecond=0), clock())
        issues = Issues(store.engine)
        book = BatchBook(store.engine, issue_id=issue.id, edition="de", max_id=issue.max_subscriber_id,
                         batch_size=10)
        assert isinstance(book.step(sent=None, batch_no=0, after=0, now=clock()), Begun)
        issues.set_status(issue.id, "held", now=clock(), reason="an editor looks at it")

        def then(cur, style, when):
            return Issues.sent_on_driver(cur, style, issue.id, when)

        assert book.finish(sent=(0, "msg-1", 5), now=clock(), then=then) is False
        assert issues.get(issue.id).status == "held" and issues.batches(issue.id)[0].status == "sending"
        assert {r[0] for r in carried(store, issue.id)} == {"pending"}  # nothing written, the batch included


def test_batch_times_on_a_whole_second_are_stored_in_the_stores_text_format(readers, settings, clock):
    """sqlite3 writes a naive datetime on a whole second without its
    microseconds; SQLite compares times as text, so such a row sorted before
    every other of that second (the desk's "sent" list put an issue after the
    posts it went out with)."""
    with Store.open(settings) as store:
        seeded(readers, store, clock, n=5)
        issue = digest.assemble(readers, store, "de", clock().replace(microsecond=0), clock())
        book = BatchBook(store.engine, issue_id=issue.id, edition="de", max_id=issue.max_subscriber_id,
                         batch_size=10)
        whole = dt.datetime(2026, 12, 2, 5, 0, 0, tzinfo=UTC)
        path = store.engine.url.database

        def text(sql: str) -> tuple:
            raw = sqlite3.connect(path)
            try:
                return raw.execute(sql).fetchone()
            finally:
                raw.close()

        assert isinstance(book.step(sent=None, batch_no=0, after=0, now=whole), Begun)
        assert text("SELECT started_at FROM issue_batches") == ("2026-12-02 05:00:00.000000",)
        assert book.finish(sent=(0, "msg-1", 5), now=whole,
                           then=lambda cur, style, when: Issues.sent_on_driver(cur, style, issue.id, when))
        assert text("SELECT finished_at FROM issue_batches") == ("2026-12-02 05:00:00.000000",)
        assert text("SELECT sent_at, updated_at FROM issues") == ("2026-12-02 05:00:00.000000",) * 2


def test_a_prepared_body_reaches_the_sandbox_as_the_same_mail(readers, open_store, clock, control):
    with open_store() as store:
        seeded(readers, store, clock, n=3)
        issue = digest.assemble(readers, store, "de", clock().replace(microsecond=0), clock())
        channel = build_channel(readers, "de.newsletter")
        to = [("leserin@example.org", "tok-1"), ("zoe@example.org", "tok-2")]
        body = channel.build(digest.issue_message(issue), to, custom_args={"issue_id": str(issue.id),
                                                                         "batch": "0"})
        prepared = channel.prepare(body)
        assert prepared == body and json.loads(prepared.data) == body and "ä".encode() in prepared.data  # UTF-8
        assert channel.post_now(prepared)
        (got,) = sent(control, "sendgrid", "/mail/send")
        assert got["body"] == body


class Capture(http.server.BaseHTTPRequestHandler):
    """Answers every POST 202 with a message id, and keeps what came."""

    got: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.send_header("X-Message-Id", f"m{len(self.got)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def capture():
    Capture.got = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Capture.got
    server.shutdown()
    server.server_close()


def test_the_channels_request_is_the_clients_own_and_logs_no_reader_nor_key(capture, caplog):
    """The channel posts its JSON through the sendgrid client's own request
    (python_http_client's `_make_request`): the same method, path and
    headers as the client's documented `mail.send.post`, and a body that
    parses to the same mail; without the client's debug lines of the whole
    body (every reader's address) and of its headers (the API key)."""
    url, got = capture
    channel = NewsletterChannel("de.newsletter", api_key="SG.a-secret-key-for-the-test", api_url=url,
                                from_email="newsletter@novastan.example")
    message = RenderedMessage(channel="newsletter", text="Sieben neue Artikel", html="<p>Sieben – März</p>",
                              subject="Newsletter", headers={"List-Unsubscribe": "<https://x.example/u/{token}>"},
                              length=19, limit=0, language="de")
    body = channel.build(message, [("geheim.leserin@example.org", "tok-1")], custom_args={"batch": "0"})
    with caplog.at_level(logging.DEBUG):
        assert channel.post_now(channel.prepare(body)) == "m1"
        assert channel.post_now(body) == "m2"  # a plain body: serialised the same way
    ours = [r.getMessage() for r in caplog.records]
    client = SendGridAPIClient(api_key="SG.a-secret-key-for-the-test", host=url)
    assert client.client.mail.send.post(request_body=body).status_code == 202  # the client as documented
    (p1, h1, b1), (p2, h2, b2), (p3, h3, b3) = got
    assert p1 == p2 == p3 == "/v3/mail/send"
    assert h1 == h2 and {k: v for k, v in h1.items() if k != "content-length"} == \
        {k: v for k, v in h3.items() if k != "content-length"}
    assert h1["content-type"] == "application/json" and h1["authorization"] == "Bearer SG.a-secret-key-for-the-test"
    assert json.loads(b1) == json.loads(b2) == json.loads(b3) == body
    assert not any("geheim.leserin" in line or "a-secret-key" in line for line in ours), ours


def test_the_next_body_is_serialised_on_the_loops_thread_while_a_request_runs(readers, open_store, clock,
                                                                              control, monkeypatch):
    made: list[tuple[str, int]] = []  # (thread, batch) of each serialisation
    real = newsletter_channel.mail_json

    def watched(body):
        made.append((threading.current_thread().name, int(body["custom_args"]["batch"])))
        return real(body)

    monkeypatch.setattr(newsletter_channel, "mail_json", watched)
    with open_store() as store:
        seeded(readers, store, clock)
        result = asyncio.run(digest.run_digest(readers, store, "de", clock=clock, sleep=clock.sleep))
    assert result.status == "sent"
    assert made == [("MainThread", n) for n in range(3)]  # each body once, none by the sender's thread
    assert [int(m["body"]["custom_args"]["batch"]) for m in sent(control, "sendgrid", "/mail/send")] == [0, 1, 2]


def test_articles_are_read_at_once_in_the_order_asked_and_a_missing_one_is_named(readers, store, clock):
    from distributor.errors import DistributorError

    ingest(readers, store, now=clock())
    ids = [a.id for a in store.list_articles()]
    assert len(ids) >= 2
    assert [a.id for a in store.get_articles(ids[::-1])] == ids[::-1]
    assert store.get_articles(ids) == [store.get_article(i) for i in ids]
    with pytest.raises(DistributorError, match=f"no article with id {max(ids) + 7}"):
        store.get_articles([ids[0], max(ids) + 7])
