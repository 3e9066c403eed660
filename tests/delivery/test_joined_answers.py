"""A sent delivery's answer written with the next claim (distributor/answers.py,
Outbox.claim(answer=…)): on PostgreSQL one statement where there were two; on
both engines each answer in the database before the next request goes out,
none left unwritten when drain returns, stops or raises, and a failed write
neither loses an answer nor holds a delivery that was not sent. And a leased
batch read in one query, used only while its channel's state cannot have
changed unseen."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import pytest
import sqlalchemy as sa

from distributor import delivery as delivery_module
from distributor.channels import build_channel
from distributor.delivery import Dispatcher
from distributor.errors import ConfigurationError
from distributor.ingest.pipeline import ingest
from distributor.store import Store
from distributor.store.outbox import ChannelBusy, SentAnswer

from support import on_engine, sent, with_channel

SOCIAL = ("de.telegram", "fr.telegram", "en.telegram", "de.twitter", "en.twitter")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unpaced(request, sb_settings):
    """The sandbox settings with every social channel unpaced (no interval, no spacing)."""
    settings = sb_settings
    for name in SOCIAL:
        settings = with_channel(settings, name, min_interval_seconds=0, spacing_minutes=0)
    return on_engine(request, settings)


@pytest.fixture
def store(unpaced, clock):
    with Store.open(unpaced) as s:
        ingest(unpaced, s, now=clock())
        yield s


def social_ids(store):
    return [d.id for d in store.deliveries(status="pending") if d.kind in ("telegram", "twitter")]


def run_drain(settings, store, clock, factory=build_channel, setup=None):
    async def go():
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep, channel_factory=factory,
                       rand=lambda: 1.0)
        if setup:
            setup(d)
        try:
            return await d.drain(max_wait=0)
        finally:
            await d.aclose()
    return asyncio.run(go())


def watching(store, seen: list[dict[int, str]], before_post=None):
    """A channel factory whose every post first reads, from its own connection,
    the status of every social delivery: what the world could see then."""
    def factory(settings, name, *, chat_id=None):
        channel = build_channel(settings, name, chat_id=chat_id)
        post = channel.post

        async def watched(request):
            with store.engine.connect() as conn:
                seen.append(dict(conn.execute(sa.text(
                    "SELECT id, status FROM deliveries WHERE kind IN ('telegram', 'twitter')")).all()))
            if before_post:
                before_post(len(seen))
            return await post(request)

        channel.post = watched  # type: ignore[method-assign]
        return channel
    return factory


def test_a_claim_with_the_previous_answer_writes_both_and_on_postgresql_is_one_statement(unpaced, store, clock):
    outbox = store.outbox
    first, second, third = social_ids(store)[:3]
    channel = outbox.get(first).channel
    outbox.add_failure(channel, now=clock())
    a1 = outbox.claim(first, worker="w", payload='{"text": "first"}', now=clock(), channel=channel)
    second_channel = outbox.get(second).channel
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    answer = SentAnswer(first, a1, remote_id="@novastan_de/41", article_version=1, now=clock(), channel=channel)
    a2 = outbox.claim(second, worker="w", payload='{"text": "second"}', now=clock(),
                      channel=second_channel, answer=answer)
    if store.engine.dialect.name == "postgresql":
        assert len(statements) == 1  # an autocommit statement: no BEGIN nor COMMIT either
    row, (attempt,) = outbox.get(first), outbox.attempts(first)
    assert (row.status, row.remote_id, row.claimed_by) == ("sent", "@novastan_de/41", None)
    # The answer closed its own attempt, and nothing of the next claim's leaked into it.
    assert (attempt.id, attempt.outcome, attempt.remote_id, attempt.payload) == (
        a1, "sent", "@novastan_de/41", '{"text": "first"}')
    assert attempt.finished_at == clock()
    assert outbox.channel(channel).consecutive_failures == 0
    assert a2 is not None and outbox.get(second).status == "sending"
    (next_attempt,) = outbox.attempts(second)
    assert (next_attempt.id, next_attempt.outcome, next_attempt.payload) == (a2, "started", '{"text": "second"}')

    # A claim that loses still writes the answer it carries.
    answer2 = dataclasses.replace(answer, delivery_id=second, attempt_id=a2, remote_id="@novastan_de/42")
    assert outbox.claim(first, worker="w", payload="{}", now=clock(), channel=channel, answer=answer2) is None
    assert outbox.get(second).status == "sent" and outbox.attempts(second)[0].remote_id == "@novastan_de/42"
    assert len(outbox.attempts(first)) == 1

    # So does one refused by a paused channel.
    a3 = outbox.claim(third, worker="w", payload="{}", now=clock(), channel=outbox.get(third).channel)
    fourth = social_ids(store)[0]
    fourth_channel = outbox.get(fourth).channel
    outbox.update_channel(fourth_channel, paused=True, paused_reason="an editor's pause", now=clock())
    answer3 = dataclasses.replace(answer, delivery_id=third, attempt_id=a3, remote_id="@novastan_de/43",
                                  channel=outbox.get(third).channel)
    with pytest.raises(ChannelBusy):
        outbox.claim(fourth, worker="w", payload="{}", now=clock(), channel=fourth_channel, answer=answer3)
    assert outbox.get(third).status == "sent" and outbox.get(fourth).status == "pending"


def test_drain_writes_each_answer_before_the_next_request_and_none_is_left(unpaced, store, clock, control):
    ids = social_ids(store)
    assert len(ids) >= 4
    seen: list[dict[int, str]] = []
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    report = run_drain(unpaced, store, clock, factory=watching(store, seen))
    assert report.count("sent") == len(ids) == len(seen)
    # When each request went out, every delivery but the one being sent was pending or sent:
    # the one before had its answer in the database.
    for view in seen:
        assert sorted(view.values()).count("sending") == 1, view
    rows = [store.outbox.get(i) for i in ids]
    assert {r.status for r in rows} == {"sent"}
    assert all(a.outcome == "sent" and a.finished_at for i in ids for a in store.outbox.attempts(i))
    posts = len(sent(control, "telegram", "sendMessage")) + len(sent(control, "telegram", "sendPhoto")) + \
        len(sent(control, "x", "/2/tweets"))
    assert posts == len(ids)
    # One read for the leased batch (at most ten), not one per delivery.
    reads = [s for s in statements if "AS a_id" in s]
    assert len(reads) == -(-len(ids) // 10), reads
    writes = [s for s in statements if "deliveries SET status" in s]
    if store.engine.dialect.name == "postgresql":
        # one statement writes an answer and the next claim: N + 1 for N deliveries, not 2 N
        assert len(writes) == len(ids) + 1, writes
    else:
        assert len(writes) == 2 * len(ids)


@pytest.mark.postgres
@pytest.mark.parametrize("unpaced", ["postgresql"], indirect=True)
def test_a_joined_write_that_fails_is_made_one_by_one(unpaced, store, clock, monkeypatch, caplog):
    ids = social_ids(store)
    calls: list[int] = []

    def broken(answer, delivery_id, **kw):
        calls.append(delivery_id)
        raise sa.exc.OperationalError("WITH f_closed …", {}, Exception("server closed the connection"))

    monkeypatch.setattr(store.outbox, "_finish_then_claim", broken)
    with caplog.at_level(logging.WARNING, logger="distributor.delivery"):
        report = run_drain(unpaced, store, clock)
    assert calls and report.count("sent") == len(ids)
    assert {store.outbox.get(i).status for i in ids} == {"sent"}
    assert "writing them one by one" in caplog.text


def test_an_answer_that_cannot_be_written_holds_its_delivery_and_the_next_one_is_still_sent(
        unpaced, store, clock, monkeypatch):
    ids = social_ids(store)
    outbox = store.outbox
    doomed = ids[0]
    finish, joined = outbox.finish_sent, outbox._finish_then_claim

    def finish_sent(delivery_id, *a, **kw):
        if delivery_id == doomed:
            raise sa.exc.OperationalError("UPDATE deliveries …", {}, Exception("disk full"))
        return finish(delivery_id, *a, **kw)

    def finish_then_claim(answer, *a, **kw):
        if answer.delivery_id == doomed:
            raise sa.exc.OperationalError("WITH f_closed …", {}, Exception("disk full"))
        return joined(answer, *a, **kw)

    monkeypatch.setattr(outbox, "finish_sent", finish_sent)
    monkeypatch.setattr(outbox, "_finish_then_claim", finish_then_claim)
    report = run_drain(unpaced, store, clock)
    held = outbox.get(doomed)
    assert held.status == "held" and "writing its answer" in held.reason and "posted as" in held.reason
    (outcome,) = [o for o in report.outcomes if o.delivery_id == doomed]
    assert outcome.status == "held"
    assert {outbox.get(i).status for i in ids[1:]} == {"sent"}
    assert report.count("sent") == len(ids) - 1


def test_a_drain_told_to_stop_writes_the_answer_it_kept(unpaced, store, clock):
    ids = social_ids(store)
    seen: list[dict[int, str]] = []
    holder: dict[str, Dispatcher] = {}

    def stop_at_second(n: int) -> None:
        if n == 2:
            holder["d"].stopping = True  # SIGTERM while the second request is in flight

    report = run_drain(unpaced, store, clock, factory=watching(store, seen, stop_at_second),
                       setup=lambda d: holder.setdefault("d", d))
    assert report.count("sent") == 2
    statuses = [store.outbox.get(i).status for i in ids]
    assert statuses.count("sent") == 2 and "sending" not in statuses


def test_a_drain_stopped_by_a_broken_config_writes_the_answer_it_kept(unpaced, store, clock):
    holder: dict[str, Dispatcher] = {}

    def break_after_first(n: int) -> None:
        def refuse(name):
            raise ConfigurationError(f"{name}: the token is missing")
        holder["d"]._channel = refuse  # type: ignore[method-assign]  # the next delivery stops the loop

    with pytest.raises(ConfigurationError):
        run_drain(unpaced, store, clock, factory=watching(store, [], break_after_first),
                  setup=lambda d: holder.setdefault("d", d))
    statuses = [d.status for d in store.deliveries() if d.kind in ("telegram", "twitter")]
    assert statuses.count("sent") == 1 and "sending" not in statuses


def test_a_batch_read_is_not_trusted_after_a_flood_wait_nor_on_a_paced_channel(unpaced, store, clock, control,
                                                                             monkeypatch):
    de = [d.id for d in store.deliveries(status="pending") if d.channel == "de.telegram"]
    assert len(de) >= 2
    others = [d.id for d in store.deliveries(status="pending") if d.kind in ("telegram", "twitter")
              and d.channel != "de.telegram"]
    for i in others:
        store.outbox.set_status(i, from_states=("pending",), to="cancelled", now=clock(), reason="not this test's")
    control.post("/_sandbox/faults", json={"service": "telegram", "status": 429, "retry_after": 30, "times": 1})
    report = run_drain(unpaced, store, clock)
    # The first was told to wait; the others were read afresh and left waiting: no claim, no request.
    assert report.count("rate_limited") == 1 and report.count("sent") == 0
    assert len(sent(control, "telegram")) == 0
    assert sum(len(store.outbox.attempts(i)) for i in de) == 1  # the 429's only

    # On a paced channel the batch's read is dropped once one is sent: the second is seen waiting
    # before it is rendered.
    paced = with_channel(unpaced, "de.telegram", min_interval_seconds=60)
    clock.now += dt.timedelta(seconds=31)
    renders: list[int] = []
    real_render = delivery_module.render_sent
    monkeypatch.setattr(delivery_module, "render_sent", lambda *a, **kw: renders.append(1) or real_render(*a, **kw))
    report = run_drain(paced, store, clock)
    assert report.count("sent") == 1 and len(renders) == 1
    assert sum(len(store.outbox.attempts(i)) for i in de) == 2  # the 429's and the one sent
