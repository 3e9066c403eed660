"""The digest keeps one request in flight and prepares the next batch while it
runs (store/digest_batches.py). What that must not change: each batch is
committed `sending` before its request starts and `sent` only after its
answer; at most two batches are ever `sending`, right after the sent ones; a
batch begun but never sent (a failure or a stop before it) is put back as it
was. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from distributor.errors import PermanentDeliveryError
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.store.issues import Issues
from distributor.store import Store
from distributor.store.schema import issue_batches
from support import add_subscribers, sent, with_channel


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def rows(engine: sa.Engine, issue_id: int) -> dict[int, str]:
    """The batches as another process sees them: committed rows only."""
    with engine.connect() as conn:
        return {r.batch_no: r.status for r in conn.execute(
            sa.select(issue_batches.c.batch_no, issue_batches.c.status)
            .where(issue_batches.c.issue_id == issue_id))}


class Watching:
    """The real newsletter channel, with the committed batch rows looked at
    (on a connection of their own) as each request starts and as it ends."""

    def __init__(self, settings, engine: sa.Engine, issue_id: int, *, fail_at: int | None = None):
        from distributor.channels import build_channel

        self.real = build_channel(settings, "de.newsletter")
        self.engine, self.issue_id, self.fail_at = engine, issue_id, fail_at
        self.at_start: list[tuple[int, dict[int, str]]] = []
        self.at_end: list[tuple[int, dict[int, str]]] = []
        self.at_failure: dict[int, str] = {}

    async def send_batch(self, message, recipients, *, custom_args=None):
        n = int(custom_args["batch"])
        self.at_start.append((n, rows(self.engine, self.issue_id)))
        if n == self.fail_at:
            await asyncio.sleep(0.05)  # long enough for the next batch to be begun meanwhile
            self.at_failure = rows(self.engine, self.issue_id)
            raise PermanentDeliveryError("400 bad request", channel="de.newsletter", status_code=400)
        try:
            return await self.real.send_batch(message, recipients, custom_args=custom_args)
        finally:
            self.at_end.append((n, rows(self.engine, self.issue_id)))

    async def aclose(self):
        await self.real.aclose()


def issue_of(settings, store, clock):
    slot = clock().replace(microsecond=0)
    return digest.assemble(settings, store, "de", slot, clock())


def check_bracketing(watch: Watching) -> None:
    for n, seen in watch.at_start:
        assert seen.get(n) == "sending", (n, seen)  # committed before its request started
        assert all(seen[b] == "sent" for b in range(n - 1)), (n, seen)  # the sent batches: a prefix
        assert seen.get(n - 1, "sent") in ("sent", "sending"), (n, seen)  # the one before: answered, maybe not yet recorded
        assert max(seen) <= n + 1 and sum(s == "sending" for s in seen.values()) <= 2, (n, seen)
    for n, seen in watch.at_end:
        assert seen[n] == "sending", (n, seen)  # not recorded sent before its answer came


@pytest.fixture
def readers(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    add_subscribers(store, "de", [f"reader{i:03d}@example.org" for i in range(95)])
    return with_channel(sb_settings, "de.newsletter", batch_size=10)


def test_each_batch_is_sending_before_its_request_and_sent_only_after(readers, store, clock, control):
    issue = issue_of(readers, store, clock)
    watch = Watching(readers, store.engine, issue.id)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "sent" and "95 recipients in 10 batch(es)" in result.detail
    assert [n for n, _ in watch.at_start] == list(range(10))
    check_bracketing(watch)
    # The next batch is begun while a request runs: seen at the end of every request but the last.
    assert all(seen.get(n + 1) == "sending" for n, seen in watch.at_end[:-1])
    assert rows(store.engine, issue.id) == {n: "sent" for n in range(10)}
    assert sum(len(m["personalizations"]) for m in mails(control)) == 95


def test_a_failed_batch_puts_back_the_one_begun_after_it(readers, store, clock, control):
    issue = issue_of(readers, store, clock)
    watch = Watching(readers, store.engine, issue.id, fail_at=3)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "failed" and "400" in result.detail
    check_bracketing(watch)
    # Batch 4 was begun during batch 3's request; after the failure it is gone again.
    assert watch.at_failure == {0: "sent", 1: "sent", 2: "sent", 3: "sending", 4: "sending"}
    assert rows(store.engine, issue.id) == {0: "sent", 1: "sent", 2: "sent", 3: "failed"}
    assert len(mails(control)) == 3
    resumed = digest.run_digest(readers, store, "de", clock=clock, sleep=clock.sleep, resume_failed=True)
    done = asyncio.run(resumed)
    assert done.status == "sent" and done.issue.id == issue.id
    got = [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]]
    assert len(got) == 95 and len(set(got)) == 95  # batch 3 once, after the failure; nobody twice


def test_a_released_batch_begun_and_put_back_keeps_its_history(readers, store, clock, control):
    """A crash with batches 2 and 3 `sending` holds the issue; released, both
    are failed rows to send again. If batch 2 then fails, batch 3 (begun again
    meanwhile) goes back to exactly the row it was."""
    issue = issue_of(readers, store, clock)
    issues = Issues(store.engine)
    first = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep,
                                          stop=lambda: len(mails(control)) >= 2))
    assert first.status == "stopped" and rows(store.engine, issue.id) == {0: "sent", 1: "sent"}
    last = issues.batches(issue.id)[1].last_id
    # The process died with batch 2 in flight and batch 3 begun:
    assert issues.begin_batch(issue.id, 2, recipients=10, now=clock(), after_id=last, last_id=last + 10)
    assert issues.begin_batch(issue.id, 3, recipients=10, now=clock(), after_id=last + 10, last_id=last + 20)
    held = asyncio.run(digest.send_issue(readers, store, issues.get(issue.id), clock=clock, sleep=clock.sleep))
    assert held.status == "held" and "batches 3 and 4 of 10 were being sent" in held.detail
    assert "their outcome is unknown" in held.detail and f"digest --release {issue.id}" in held.detail
    issues.release(issue.id, now=clock())
    before = issues.batches(issue.id)[3]
    watch = Watching(readers, store.engine, issue.id, fail_at=2)
    failed = asyncio.run(digest.send_issue(readers, store, issues.get(issue.id), clock=clock, sleep=clock.sleep,
                                           channel=watch))
    assert failed.status == "failed"
    assert watch.at_failure[2] == "sending" and watch.at_failure[3] == "sending"  # begun during batch 3's request
    assert rows(store.engine, issue.id) == {0: "sent", 1: "sent", 2: "failed", 3: "failed"}
    assert issues.batches(issue.id)[3] == before  # status, attempts, error, times: as the release left it


def test_an_unsubscribe_while_the_next_batch_is_prepared_is_still_honoured(readers, store, clock, control):
    """The next batch is read during the previous request; whoever leaves
    after that, before its request starts, is left out of it."""
    from distributor.store.subscribers import Subscribers

    issue = issue_of(readers, store, clock)
    subs = Subscribers(store.engine)
    watch = Watching(readers, store.engine, issue.id)
    real_send = watch.real.send_batch

    async def send_then_leave(message, recipients, *, custom_args=None):
        out = await real_send(message, recipients, custom_args=custom_args)
        if custom_args["batch"] == "0":  # batch 1 is begun by now: two of it leave, one everyone
            subs.address_event("reader012@example.org", "unsubscribed", now=clock(), reason="one-click")
            subs.address_event("reader019@example.org", "bounced", now=clock(), reason="bounce")
        return out

    watch.real.send_batch = send_then_leave
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "sent"
    bodies = mails(control)
    second = [p["to"][0]["email"] for p in bodies[1]["personalizations"]]
    assert len(second) == 8 and "reader012@example.org" not in second and "reader019@example.org" not in second
    assert Issues(store.engine).batches(issue.id)[1].recipients == 8


@pytest.mark.postgres
def test_the_pipelined_digest_on_postgresql(sb_settings, pg_url, clock, control):
    settings = with_channel(sb_settings, "de.newsletter", batch_size=10)
    with Store.open_url(pg_url) as store:
        ingest(settings, store, now=clock())
        add_subscribers(store, "de", [f"reader{i:03d}@example.org" for i in range(95)])
        issue = issue_of(settings, store, clock)
        watch = Watching(settings, store.engine, issue.id)
        stopped = asyncio.run(digest.send_issue(settings, store, issue, clock=clock, sleep=clock.sleep,
                                                channel=watch, stop=lambda: len(mails(control)) >= 4))
        assert stopped.status == "stopped" and rows(store.engine, issue.id) == {n: "sent" for n in range(4)}
        result = asyncio.run(digest.run_digest(settings, store, "de", clock=clock, sleep=clock.sleep))
        assert result.status == "sent" and result.issue.id == issue.id
        check_bracketing(watch)
        got = [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]]
        assert got == [f"reader{i:03d}@example.org" for i in range(95)]
        assert rows(store.engine, issue.id) == {n: "sent" for n in range(10)}


def test_the_collector_is_quiet_only_while_issues_are_sent(readers, store, clock, control):
    """During a send the heap is frozen and young collections wait for 20,000
    objects; overlapping sends (two editions) count, and the last one to end
    puts the collector back as it was."""
    import gc

    before = gc.get_threshold()
    from distributor.newsletter.collector import quiet_collector as quiet
    quiet.start()
    quiet.start()
    assert gc.get_threshold()[0] >= 20_000 and gc.get_freeze_count() > 0
    quiet.stop()
    assert gc.get_threshold()[0] >= 20_000  # the other send still runs
    quiet.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    seen = []

    class Looking(Watching):
        async def send_batch(self, message, recipients, *, custom_args=None):
            seen.append(gc.get_threshold()[0])
            return await super().send_batch(message, recipients, custom_args=custom_args)

    issue = issue_of(readers, store, clock)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep,
                                           channel=Looking(readers, store.engine, issue.id)))
    assert result.status == "sent" and min(seen) >= 20_000
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


class WatchingBodies(Watching):
    """The real channel's own path: the send loop builds each batch's body with
    `build` (the next one while a request runs) and posts it with `post`; the
    committed rows are looked at as each post starts and ends."""

    def __init__(self, settings, engine: sa.Engine, issue_id: int, *, fail_at: int | None = None):
        super().__init__(settings, engine, issue_id, fail_at=fail_at)
        self.in_flight: int | None = None  # the batch whose post runs
        self.built: list[tuple[int, int | None]] = []  # (batch built, the batch in flight meanwhile)
        self.after_post = None  # called with the batch number once a post is answered

    def build(self, message, recipients, *, custom_args=None):
        self.built.append((int(custom_args["batch"]), self.in_flight))
        return self.real.build(message, recipients, custom_args=custom_args)

    async def post(self, body):
        n = int(body["custom_args"]["batch"])
        self.at_start.append((n, rows(self.engine, self.issue_id)))
        self.in_flight = n
        try:
            if n == self.fail_at:
                await asyncio.sleep(0.05)
                self.at_failure = rows(self.engine, self.issue_id)
                raise PermanentDeliveryError("400 bad request", channel="de.newsletter", status_code=400)
            out = await self.real.post(body)
            if self.after_post:
                self.after_post(n)
            return out
        finally:
            self.in_flight = None
            self.at_end.append((n, rows(self.engine, self.issue_id)))

    async def send_batch(self, message, recipients, *, custom_args=None):
        raise AssertionError("a channel with build and post is sent prebuilt bodies")


class WatchingNow(WatchingBodies):
    """The newsletter channel's own path: the same, with the blocking
    `post_now` that the sender's thread calls (the leaver and stop checks
    between two requests in that thread too)."""

    def __init__(self, settings, engine: sa.Engine, issue_id: int, *, fail_at: int | None = None):
        import collections
        import threading

        super().__init__(settings, engine, issue_id, fail_at=fail_at)
        self.was_built = collections.defaultdict(threading.Event)

    def build(self, message, recipients, *, custom_args=None):
        out = super().build(message, recipients, custom_args=custom_args)
        self.was_built[int(custom_args["batch"])].set()
        return out

    async def post(self, body):  # the newsletter channel's: its post_now in a thread of asyncio's
        return await asyncio.to_thread(self.post_now, body)

    def post_now(self, body):
        n = int(body["custom_args"]["batch"])
        self.at_start.append((n, rows(self.engine, self.issue_id)))
        self.in_flight = n
        try:
            if n == self.fail_at:
                assert self.was_built[n + 1].wait(10)  # the next batch begun meanwhile
                self.at_failure = rows(self.engine, self.issue_id)
                raise PermanentDeliveryError("400 bad request", channel="de.newsletter", status_code=400)
            out = self.real.post_now(body)
            if self.after_post:
                self.after_post(n)
            return out
        finally:
            self.in_flight = None
            self.at_end.append((n, rows(self.engine, self.issue_id)))


both = pytest.mark.parametrize("watching", [WatchingBodies, WatchingNow], ids=["post", "post_now"])


@both
def test_the_next_body_is_built_while_a_request_runs(readers, store, clock, control, watching):
    issue = issue_of(readers, store, clock)
    watch = watching(readers, store.engine, issue.id)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "sent" and "95 recipients in 10 batch(es)" in result.detail
    assert [n for n, _ in watch.at_start] == list(range(10))
    check_bracketing(watch)
    # Batch 0's body before any request; every later one during the request before it (handed to the
    # sender's thread, which may not have started it yet when the body is built).
    assert [n for n, _ in watch.built] == list(range(10)) and watch.built[0] == (0, None)
    if watching is WatchingBodies:
        assert watch.built == [(0, None)] + [(n, n - 1) for n in range(1, 10)]
    assert all(during in (n - 1, None) for n, during in watch.built)
    assert rows(store.engine, issue.id) == {n: "sent" for n in range(10)}
    got = [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]]
    assert got == [f"reader{i:03d}@example.org" for i in range(95)]
    assert [m["custom_args"] for m in mails(control)] == [{"issue_id": str(issue.id), "batch": str(n)}
                                                          for n in range(10)]


@both
def test_a_leaver_is_taken_out_of_a_prebuilt_body(readers, store, clock, control, watching):
    """Batch 1's body is built during batch 0's request; two of its readers
    leave before its request starts, and are not in the body posted. Then all
    of batch 2 leaves: it is put back, and batch 2 is the next page, built anew."""
    from distributor.store.subscribers import Subscribers

    issue = issue_of(readers, store, clock)
    subs = Subscribers(store.engine)
    watch = watching(readers, store.engine, issue.id)

    def leave(n):
        if n == 0:
            subs.address_event("reader012@example.org", "unsubscribed", now=clock(), reason="one-click")
            subs.address_event("reader019@example.org", "bounced", now=clock(), reason="bounce")
        if n == 1:
            for i in range(20, 30):
                subs.address_event(f"reader{i:03d}@example.org", "unsubscribed", now=clock(), reason="one-click")

    watch.after_post = leave
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "sent" and "83 recipients in 9 batch(es)" in result.detail
    check_bracketing(watch)
    bodies = mails(control)
    second = [p["to"][0]["email"] for p in bodies[1]["personalizations"]]
    assert len(second) == 8 and "reader012@example.org" not in second and "reader019@example.org" not in second
    third = [p["to"][0]["email"] for p in bodies[2]["personalizations"]]
    assert third == [f"reader{i:03d}@example.org" for i in range(30, 40)]
    got = [p["to"][0]["email"] for m in bodies for p in m["personalizations"]]
    assert len(got) == len(set(got)) == 83
    assert Issues(store.engine).batches(issue.id)[1].recipients == 8


@both
def test_a_failed_prebuilt_batch_puts_back_the_one_begun_after_it(readers, store, clock, control, watching):
    issue = issue_of(readers, store, clock)
    watch = watching(readers, store.engine, issue.id, fail_at=3)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "failed" and "400" in result.detail
    check_bracketing(watch)
    assert watch.at_failure == {0: "sent", 1: "sent", 2: "sent", 3: "sending", 4: "sending"}
    assert rows(store.engine, issue.id) == {0: "sent", 1: "sent", 2: "sent", 3: "failed"}
    assert len(mails(control)) == 3


@both
def test_a_prebuilt_body_is_posted_again_when_its_batch_is_retried(readers, store, clock, control, watching):
    from distributor.errors import TransientDeliveryError

    issue = issue_of(readers, store, clock)
    failed: list[int] = []

    def fail_batch_2_once(watch, body):
        if body["custom_args"]["batch"] == "2" and not failed:
            failed.append(2)
            watch.at_start.append((2, rows(watch.engine, watch.issue_id)))
            raise TransientDeliveryError("503 service unavailable", channel="de.newsletter", status_code=503)

    class Flaky(watching):  # fails on the path the channel posts through: post, or the sender's post_now
        if watching is WatchingNow:
            def post_now(self, body):
                fail_batch_2_once(self, body)
                return super().post_now(body)
        else:
            async def post(self, body):
                fail_batch_2_once(self, body)
                return await super().post(body)

    watch = Flaky(readers, store.engine, issue.id)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch))
    assert result.status == "sent" and "95 recipients in 10 batch(es)" in result.detail
    assert failed == [2]
    assert [n for n, _ in watch.at_start] == [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]
    check_bracketing(watch)
    got = [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]]
    assert got == [f"reader{i:03d}@example.org" for i in range(95)]
    assert rows(store.engine, issue.id) == {n: "sent" for n in range(10)}


def test_the_sender_posts_the_next_batch_without_the_event_loop(readers, store, clock, control):
    """Once batch 2 is handed over (built during batch 1's request), batch 1's
    answer is followed by batch 2's request from the sender's thread, while
    the event loop is held busy: the loop is no part of the way from one
    request to the next. (Were it needed, the hold would end only at its
    10 s bound, unanswered.)"""
    import threading

    issue = issue_of(readers, store, clock)
    built_2, holding, second_started = threading.Event(), threading.Event(), threading.Event()
    held: list[bool] = []
    threads: set[str] = set()

    class Holding(WatchingNow):
        def build(self, message, recipients, *, custom_args=None):
            out = super().build(message, recipients, custom_args=custom_args)
            if custom_args["batch"] == "2":
                built_2.set()
            return out

        def post_now(self, body):
            n = int(body["custom_args"]["batch"])
            threads.add(threading.current_thread().name)
            if n == 2:
                second_started.set()
            out = super().post_now(body)
            if n == 1:
                assert built_2.wait(10)
                loops[0].call_soon_threadsafe(hold)  # runs once the loop's step that handed batch 2 over is done
                assert holding.wait(10)
            return out

    def hold():
        holding.set()
        held.append(second_started.wait(10))

    async def main():
        loops.append(asyncio.get_running_loop())
        return await digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep,
                                       channel=Holding(readers, store.engine, issue.id))

    loops: list[asyncio.AbstractEventLoop] = []
    result = asyncio.run(main())
    assert result.status == "sent" and "95 recipients in 10 batch(es)" in result.detail
    assert held == [True]  # batch 2 started while the loop was held
    assert threads == {"de.newsletter sender"}
    got = [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]]
    assert got == [f"reader{i:03d}@example.org" for i in range(95)]


def test_a_stop_asked_during_a_request_is_seen_by_the_sender(readers, store, clock, control):
    """The sender asks `stop` before it posts the next batch: the batch handed
    over is not posted, and the loop puts it back."""
    issue = issue_of(readers, store, clock)
    watch = WatchingNow(readers, store.engine, issue.id)
    result = asyncio.run(digest.send_issue(readers, store, issue, clock=clock, sleep=clock.sleep, channel=watch,
                                           stop=lambda: len(watch.at_end) >= 3))
    assert result.status == "stopped" and "before batch 4" in result.detail
    check_bracketing(watch)
    assert rows(store.engine, issue.id) == {0: "sent", 1: "sent", 2: "sent"}
    assert len(mails(control)) == 3
