"""Several delivery processes on one outbox (issue 15, parts 1 and 2), in
process: leases hand workers disjoint batches; a claim takes its channel's
slot in its own transaction, so a second worker waits out a send in flight
instead of racing it; a flood wait only grows; a registered worker whose
heartbeat stopped has its claims recovered at once; `status` lists the live
workers. On SQLite and on PostgreSQL. (The processes themselves, killed and
paced against the sandbox: tests/reliability/test_workers.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from distributor.delivery import Dispatcher
from distributor.health import collect
from distributor.ingest.pipeline import ingest
from distributor.store import Store
from distributor.store.workers import Workers

from support import on_engine, sent, with_channel


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sb_settings(request, sb_settings):
    return on_engine(request, sb_settings)


@pytest.fixture
def store(sb_settings, clock):
    with Store.open(sb_settings) as s:
        ingest(sb_settings, s, now=clock())
        yield s


def telegram_ids(store, channel="de.telegram"):
    return [d.id for d in store.deliveries(status="pending") if d.channel == channel]


def deliver(settings, store, clock, delivery_id, worker):
    async def go():
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep, worker=worker)
        try:
            return await d.deliver(delivery_id)
        finally:
            await d.aclose()
    return asyncio.run(go())


def test_workers_lease_disjoint_batches_and_a_silent_ones_leases_expire(store, clock):
    outbox, kinds = store.outbox, ("telegram", "twitter")
    a = outbox.lease_due(clock(), kinds=kinds, worker="a", limit=2)
    b = outbox.lease_due(clock(), kinds=kinds, worker="b", limit=2)
    assert len(a) == len(b) == 2 and not set(a) & set(b)
    assert outbox.lease_due(clock(), kinds=kinds, worker="a", limit=2) == a  # its own, renewed
    everything = set(outbox.due(clock(), kinds=kinds))
    rest = outbox.lease_due(clock(), kinds=kinds, worker="c", limit=100)
    assert set(rest) == everything - set(a) - set(b)
    later = clock() + dt.timedelta(seconds=6)  # a and b went silent: their leases ran out
    assert set(outbox.lease_due(later, kinds=kinds, worker="c", limit=100)) == everything
    assert outbox.release_leases("c") == len(everything)


def test_a_claim_takes_the_channel_slot_so_another_worker_waits_for_a_send_in_flight(sb_settings, store, clock,
                                                                                       control):
    settings = with_channel(sb_settings, "de.telegram", min_interval_seconds=3.5)
    first, second = telegram_ids(store)[:2]
    # Worker A has claimed its delivery and is sending it (not finished yet).
    assert store.outbox.claim(first, worker="a", payload="{}", now=clock(), channel="de.telegram",
                              interval=3.5) is not None
    outcome = deliver(settings, store, clock, second, "b")
    assert outcome.status == "waiting", outcome
    assert store.outbox.get(second).status == "pending" and store.outbox.attempts(second) == []
    assert sent(control, "telegram") == []
    clock.now += dt.timedelta(seconds=3.5)  # the channel's pacing later
    assert deliver(settings, store, clock, second, "b").status == "sent"
    assert len(sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")) == 1
    # and the next post waits for the pacing again, whoever asks
    assert store.outbox.channel("de.telegram").not_before == clock() + dt.timedelta(seconds=3.5)


def test_a_paused_channel_stops_a_claim_already_past_its_check(sb_settings, store, clock, control):
    delivery_id = telegram_ids(store)[0]
    store.outbox.update_channel("de.telegram", paused=True, paused_reason="bot removed", now=clock())
    from distributor.store.outbox import ChannelBusy
    with pytest.raises(ChannelBusy, match="bot removed"):
        store.outbox.claim(delivery_id, worker="a", payload="{}", now=clock(), channel="de.telegram")
    assert store.outbox.get(delivery_id).status == "pending"
    assert sent(control, "telegram") == []


def test_a_send_finishing_never_shortens_the_flood_wait_another_worker_was_told(store, clock):
    outbox = store.outbox
    first = telegram_ids(store)[0]
    attempt = outbox.claim(first, worker="a", payload="{}", now=clock(), channel="de.telegram", interval=3.5)
    # Meanwhile worker B got a 429 on the channel: wait 30 s.
    outbox.extend_wait("de.telegram", until=clock() + dt.timedelta(seconds=30), now=clock())
    outbox.finish_sent(first, attempt, remote_id="@novastan_de/1", article_version=1, now=clock(),
                       channel="de.telegram", channel_not_before=clock() + dt.timedelta(seconds=3.5))
    assert outbox.channel("de.telegram").not_before == clock() + dt.timedelta(seconds=30)
    # A shorter flood wait told later does not shorten it either; a longer one extends it.
    outbox.extend_wait("de.telegram", until=clock() + dt.timedelta(seconds=5), now=clock())
    assert outbox.channel("de.telegram").not_before == clock() + dt.timedelta(seconds=30)
    outbox.extend_wait("de.telegram", until=clock() + dt.timedelta(seconds=60), now=clock())
    assert outbox.channel("de.telegram").not_before == clock() + dt.timedelta(seconds=60)


def test_the_claim_of_a_worker_whose_heartbeat_stopped_is_recovered_at_once(sb_settings, store, clock, control):
    registry = Workers(store.engine)
    dead, alive = "elsewhere:4242:deadbeef", "elsewhere:4243:cafecafe"
    registry.register(dead, host="elsewhere", pid=4242, role="worker", now=clock() - dt.timedelta(seconds=60))
    registry.register(alive, host="elsewhere", pid=4243, role="worker", now=clock())
    one, two = telegram_ids(store)[:2]
    store.outbox.claim(one, worker=dead, payload='{"channel": "telegram", "text": "x"}', now=clock())
    store.outbox.claim(two, worker=alive, payload='{"channel": "telegram", "text": "y"}', now=clock())

    async def recover():
        d = Dispatcher(sb_settings, store, clock=clock, sleep=clock.sleep, worker="here:1:00000000")
        try:
            return await d.recover()
        finally:
            await d.aclose()

    outcomes = asyncio.run(recover())
    # On another machine, long before the 600 s lease: its heartbeat is 60 s old.
    assert [(o.delivery_id, o.status) for o in outcomes] == [(one, "held")]
    row = store.outbox.get(one)
    assert row.status == "held" and "elsewhere:4242:deadbeef stopped while sending" in row.reason
    assert store.outbox.get(two).status == "sending"  # the live worker's send is its own
    assert sent(control, "telegram") == []  # never resent


def test_status_lists_the_live_workers_only(sb_settings, store, clock):
    registry = Workers(store.engine)
    now = dt.datetime.now(dt.timezone.utc)
    registry.register("m1:10:aaaaaaaa", host="m1", pid=10, role="run", now=now - dt.timedelta(seconds=20))
    registry.beat("m1:10:aaaaaaaa", now=now - dt.timedelta(seconds=2))
    registry.register("m2:11:bbbbbbbb", host="m2", pid=11, role="worker", now=now)
    registry.register("m2:12:cccccccc", host="m2", pid=12, role="worker", now=now - dt.timedelta(seconds=31))
    registry.register("m2:13:dddddddd", host="m2", pid=13, role="worker", now=now)
    registry.stop("m2:13:dddddddd", now=now)
    workers = collect(sb_settings, store, now)["workers"]
    assert [(w["host"], w["pid"], w["role"]) for w in workers] == [("m1", 10, "run"), ("m2", 11, "worker")]
    assert set(workers[0]) == {"id", "host", "pid", "role", "started", "last_heartbeat"}
    assert dt.datetime.fromisoformat(workers[0]["last_heartbeat"]) == now - dt.timedelta(seconds=2)
    assert dt.datetime.fromisoformat(workers[0]["started"]) == now - dt.timedelta(seconds=20)


def test_a_sent_posts_correction_is_made_by_one_worker(sb_settings, store, clock, control):
    """Two workers draining at once both see the post outdated: one edits it."""
    from support import drain

    settings = with_channel(sb_settings, "de.telegram", edit_on_update=True)
    drain(settings, store, clock)
    row = next(d for d in store.deliveries(status="sent") if d.channel == "de.telegram")
    assert store.outbox.take_lease(row.id, worker="a", now=clock())  # worker A is correcting it
    assert not store.outbox.take_lease(row.id, worker="b", now=clock())
    with store.engine.begin() as conn:  # the article changed since the post
        conn.exec_driver_sql(f"UPDATE articles SET version = version + 1 WHERE id = {row.article_id}")

    async def correct(worker):
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep, worker=worker)
        try:
            return await d.correct()
        finally:
            await d.aclose()

    assert [o for o in asyncio.run(correct("b")) if o.delivery_id == row.id] == []  # A holds it: B leaves it
    assert sent(control, "telegram", "editMessageText") + sent(control, "telegram", "editMessageCaption") == []
    assert [o.status for o in asyncio.run(correct("a")) if o.delivery_id == row.id] == ["edited"]


def test_a_worker_whose_due_deliveries_are_all_leased_by_another_sleeps_until_the_lease_ends(sb_settings, store,
                                                                                                 clock, control):
    """Before: `next_due_at` ignored leases, so worker B, finding every due
    delivery leased by A, slept 0 s and asked again at once, for as long as
    A held them: a busy loop (reading every pending row each time) that took
    the cores A needed. Now B's wake is the end of A's lease."""
    outbox, kinds = store.outbox, ("telegram", "twitter")
    held = outbox.lease_due(clock(), kinds=kinds, worker="a", limit=1000)
    assert held and outbox.lease_due(clock(), kinds=kinds, worker="b") == []
    lease_end = clock() + dt.timedelta(seconds=5)
    assert outbox.next_due_at(clock(), kinds=kinds, worker="b") == lease_end
    assert outbox.next_due_at(clock(), kinds=kinds, worker="a") == clock()  # its own leases are due to it
    assert outbox.next_due_at(clock(), kinds=kinds) == clock()  # leases aside

    async def drain_b(max_wait):
        d = Dispatcher(sb_settings, store, clock=clock, sleep=clock.sleep, worker="b")
        try:
            return await d.drain(max_wait=max_wait)
        finally:
            await d.aclose()

    start = clock()
    report = asyncio.run(drain_b(2))
    # A's leases end after the 2 s B may wait: B stops at once, sends nothing, sleeps nothing.
    assert clock.slept == [] and clock() == start and report.outcomes == []
    assert report.waiting == len(held) and sent(control, "telegram") == []
    # With A silent past its lease, B sleeps exactly until it ends, then sends them.
    report = asyncio.run(drain_b(10))
    assert clock.slept[0] == 5.0
    assert {o.delivery_id for o in report.outcomes if o.status == "sent"} == set(held)


def test_a_drain_counts_what_is_left_pending_paused_and_awaiting_approval(sb_settings, store, clock):
    outbox, kinds = store.outbox, ("telegram", "twitter")
    pending = [d for d in store.deliveries(status="pending") if d.kind in kinds]
    on_telegram = [d for d in pending if d.channel == "de.telegram"]
    assert on_telegram and len(on_telegram) < len(pending)
    outbox.update_channel("de.telegram", paused=True, paused_reason="test", now=clock())
    assert outbox.waiting(kinds=kinds) == (len(pending), len(on_telegram), 0)
    outbox.set_status(pending[0].id, from_states=("pending",), to="awaiting_approval", now=clock(), reason="t")
    blocked = len(on_telegram) - (pending[0].channel == "de.telegram")
    assert outbox.waiting(kinds=kinds) == (len(pending) - 1, blocked, 1)
    letters = [d for d in store.deliveries(status="pending") if d.kind == "newsletter"]
    assert letters and outbox.waiting(kinds=("newsletter",)) == (len(letters), 0, 0)


def test_a_claim_and_a_finish_reset_the_failures_record_the_attempt_and_on_postgresql_are_one_statement_each(
        sb_settings, store, clock):
    import sqlalchemy as sa

    outbox = store.outbox
    first, second = telegram_ids(store)[:2]
    outbox.add_failure("de.telegram", now=clock())
    outbox.add_failure("de.telegram", now=clock())
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    attempt = outbox.claim(first, worker="a", payload='{"text": "x"}', now=clock(), channel="de.telegram")
    claim_statements = len(statements)
    assert attempt is not None and outbox.get(first).status == "sending"
    statements.clear()
    assert outbox.finish_sent(first, attempt, remote_id="@novastan_de/7", article_version=1, now=clock(),
                              channel="de.telegram")
    finish_statements = len(statements)
    row, (only,) = outbox.get(first), outbox.attempts(first)
    assert (row.status, row.remote_id, row.claimed_by) == ("sent", "@novastan_de/7", None)
    assert (only.id, only.outcome, only.remote_id, only.payload) == (attempt, "sent", "@novastan_de/7", '{"text": "x"}')
    assert only.finished_at == clock()
    assert outbox.channel("de.telegram").consecutive_failures == 0
    if store.engine.dialect.name == "postgresql":
        # (each on an autocommit connection: the statement commits, no BEGIN nor COMMIT round trip)
        assert (claim_statements, finish_statements) == (1, 1)
    # A claim that loses writes no attempt, and a finish that finds the delivery settled moves nothing.
    assert outbox.claim(first, worker="b", payload="{}", now=clock(), channel="de.telegram") is None
    assert len(outbox.attempts(first)) == 1
    attempt2 = outbox.claim(second, worker="a", payload="{}", now=clock(), channel="de.telegram")
    outbox.resolve_unknown(second, claimed_by="a", status="held", reason="recovery was first", remote_id=None,
                           now=clock())
    assert not outbox.finish_sent(second, attempt2, remote_id="@novastan_de/8", article_version=1, now=clock(),
                                  channel="de.telegram")
    assert outbox.get(second).status == "held" and outbox.attempts(second)[0].remote_id == "@novastan_de/8"
