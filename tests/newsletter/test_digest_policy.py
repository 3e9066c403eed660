"""Digest batches under the one retry policy (policy.py): a 502 is transient,
a rate limit is waited out exactly and is no failed attempt, attempts are
bounded, bad credentials pause the channel, and an interrupted issue is
resumed by the scheduled job at its next run, not a week later."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from distributor import schedule
from distributor.errors import RateLimited, TransientDeliveryError
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.store.issues import Issues
from support import add_subscribers, sent, with_channel

UTC = dt.timezone.utc


@pytest.fixture
def ingested(sb_settings, store, clock):
    add_subscribers(store, "de", ["leserin@example.org"])
    ingest(sb_settings, store, now=clock())
    return store


def with_delivery(settings, **changes):
    return dataclasses.replace(settings, delivery=dataclasses.replace(settings.delivery, **changes))


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def run(settings, store, clock, edition="de", **kw):
    return asyncio.run(digest.run_digest(settings, store, edition, clock=clock, sleep=clock.sleep, **kw))


class ScriptedChannel:
    """A newsletter channel answering each send_batch from a script: an
    exception to raise, or a message id. Past the script's end it refuses
    loudly, so a loop without its bound fails instead of hanging."""

    def __init__(self, *answers, limit: int = 50):
        self.answers = list(answers)
        self.calls = 0
        self.limit = limit

    async def send_batch(self, message, recipients, *, custom_args=None):
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(f"send_batch called {self.calls} times: the retry loop has no bound")
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def aclose(self):
        pass


def make_issue(settings, store, clock):
    slot = clock().replace(microsecond=0)
    return digest.assemble(settings, store, "de", slot, clock())


def send(settings, store, clock, channel):
    issue = make_issue(settings, store, clock)
    return asyncio.run(digest.send_issue(settings, store, issue, clock=clock, sleep=clock.sleep, channel=channel))


def transient():
    return TransientDeliveryError("503 service unavailable", channel="de.newsletter", status_code=503)


def limited(seconds: float):
    return RateLimited("rate limited: 429 too many requests", retry_after=seconds, channel="de.newsletter")


def test_a_502_is_retried_and_a_manual_send_finishes_the_issue(sb_settings, ingested, clock, control):
    # python_http_client has no 502 class: the answer used to fail the issue for good.
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 502, "times": 2})
    result = run(sb_settings, ingested, clock, resume_failed=True)
    assert result.status == "sent", result.detail
    batch = Issues(ingested.engine).batches(result.issue.id)[0]
    assert batch.status == "sent" and batch.attempts == 3
    assert len(mails(control)) == 1
    assert len(clock.slept) == 2  # two backoff waits, then the batch went out


@pytest.mark.parametrize("max_attempts", [1, 2, 3, 5])
def test_the_digest_gives_up_after_exactly_max_attempts(sb_settings, ingested, clock, max_attempts):
    settings = with_delivery(sb_settings, max_attempts=max_attempts)
    channel = ScriptedChannel(transient())
    result = send(settings, ingested, clock, channel)
    assert result.status == "failed"
    assert channel.calls == max_attempts
    assert f"gave up after {max_attempts} attempts" in result.detail
    assert Issues(ingested.engine).get(result.issue.id).status == "failed"
    # Between the attempts: the policy's backoff, within its jitter (half to all of base * 2^(n-1)).
    assert len(clock.slept) == max_attempts - 1
    for n, slept in enumerate(clock.slept, start=1):
        ceiling = settings.delivery.backoff_base_seconds * 2 ** (n - 1)
        assert ceiling / 2 <= slept <= ceiling


def test_one_attempt_short_of_the_bound_still_finishes(sb_settings, ingested, clock):
    settings = with_delivery(sb_settings, max_attempts=3)
    channel = ScriptedChannel(transient(), transient(), "msg-1")
    result = send(settings, ingested, clock, channel)
    assert result.status == "sent" and channel.calls == 3


def test_the_digest_sleeps_exactly_the_providers_retry_after(sb_settings, ingested, clock):
    channel = ScriptedChannel(limited(9), limited(2.5), "msg-1")
    result = send(sb_settings, ingested, clock, channel)
    assert result.status == "sent"
    assert clock.slept == [9, 2.5]


def test_a_rate_limit_is_not_a_failed_attempt(sb_settings, ingested, clock):
    # Two attempts allowed: a 429 then a 503 leave one attempt failed, and the third call goes out.
    settings = with_delivery(sb_settings, max_attempts=2)
    channel = ScriptedChannel(limited(7), transient(), "msg-1")
    result = send(settings, ingested, clock, channel)
    assert result.status == "sent", result.detail
    assert channel.calls == 3
    assert clock.slept[0] == 7


def test_rate_limits_in_a_row_are_bounded(sb_settings, ingested, clock):
    settings = with_delivery(sb_settings, max_attempts=4)
    channel = ScriptedChannel(limited(5))
    result = send(settings, ingested, clock, channel)
    assert result.status == "failed" and "rate limits in a row" in result.detail
    assert channel.calls == 4 and clock.slept == [5, 5, 5]


def test_a_stop_during_a_retry_wait_sends_nothing_more(sb_settings, ingested, clock):
    channel = ScriptedChannel(transient(), "msg-1")
    issue = make_issue(sb_settings, ingested, clock)
    result = asyncio.run(digest.send_issue(sb_settings, ingested, issue, clock=clock, sleep=clock.sleep,
                                           channel=channel, stop=lambda: channel.calls >= 1))
    assert result.status == "stopped" and channel.calls == 1
    assert Issues(ingested.engine).get(issue.id).status == "sending"  # resumed by the next run


def test_the_dispatcher_and_the_digest_share_one_policy():
    from distributor import delivery
    from distributor.newsletter import digest as digest_module
    from distributor.policy import RetryPolicy

    assert delivery.RetryPolicy is RetryPolicy and digest_module.RetryPolicy is RetryPolicy
    assert not hasattr(digest_module, "backoff_seconds")


def test_rejected_credentials_pause_the_newsletter_channel(sb_settings, ingested, clock, control):
    store = ingested
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 401, "times": 1})
    paused = run(sb_settings, store, clock)
    assert paused.status == "paused"
    state = store.outbox.channel("de.newsletter")
    assert state.paused and "401" in state.paused_reason
    issue = Issues(store.engine).get(paused.issue.id)
    assert issue.status == "sending"  # not failed: it waits for the channel
    assert run(sb_settings, store, clock).status == "paused"  # nothing is sent while paused
    assert mails(control) == []
    store.outbox.update_channel("de.newsletter", paused=False, paused_reason=None, now=clock())
    resumed = run(sb_settings, store, clock)
    assert resumed.status == "sent" and resumed.issue.id == issue.id
    assert len(mails(control)) == 1


def test_the_scheduled_job_resumes_an_interrupted_issue_at_its_next_run(sb_settings, store, control, clock):
    clock.now = dt.datetime(2025, 3, 14, 8, 0, 5, tzinfo=UTC)  # Friday 09:00:05 in Berlin: de's slot
    add_subscribers(store, "de", [f"r{i}@example.org" for i in range(15)])
    settings = with_channel(sb_settings, "de.newsletter", batch_size=10)
    ingest(settings, store, now=clock())

    async def go():
        from distributor.delivery import Dispatcher

        dispatcher = Dispatcher(settings, store, clock=clock, sleep=clock.sleep)
        schedule.RUNTIME = schedule.Runtime(settings, store, dispatcher)
        sched = schedule.make_scheduler(settings, store)
        sched.start(paused=True)
        schedule._SCHEDULER = sched
        try:
            schedule.sync_jobs(sched, settings)
            # The slot's run is cut off after its first batch (SIGTERM, a kill between batches).
            first = await digest.run_due_digest(settings, store, "de", clock=clock, sleep=clock.sleep,
                                                stop=lambda: len(mails(control)) >= 1)
            assert first.status == "stopped"
            sched.get_job("digest:de").modify(next_run_time=dt.datetime(2025, 3, 21, 8, 0, tzinfo=UTC))
            clock.now += dt.timedelta(minutes=3)
            # Not while that edition's digest job is itself running, nor while its channel is paused.
            assert schedule.wake_interrupted_digests(settings, store, clock(), busy={"de"}) == []
            store.outbox.update_channel("de.newsletter", paused=True, paused_reason="401", now=clock())
            assert schedule.wake_interrupted_digests(settings, store, clock()) == []
            store.outbox.update_channel("de.newsletter", paused=False, paused_reason=None, now=clock())
            # The daemon (re)starts: its housekeeping brings the digest job forward…
            await schedule.housekeeping()
            assert sched.get_job("digest:de").next_run_time <= clock()
            # …and that run finishes the issue where it stopped.
            await schedule.send_digest("de")
        finally:
            sched.shutdown(wait=False)
            schedule._SCHEDULER = None
            schedule.RUNTIME = None
            await dispatcher.aclose()

    asyncio.run(go())
    (issue,) = Issues(store.engine).list()
    assert issue.status == "sent"
    assert [len(m["personalizations"]) for m in mails(control)] == [10, 5]


def test_an_interrupted_issue_does_not_swallow_the_next_slot(sb_settings, store, control, clock, articles_dir):
    clock.now = dt.datetime(2025, 3, 14, 8, 0, 5, tzinfo=UTC)
    add_subscribers(store, "de", ["leserin@example.org"])
    ingest(sb_settings, store, now=clock())
    first = asyncio.run(digest.run_due_digest(sb_settings, store, "de", clock=clock, sleep=clock.sleep,
                                              stop=lambda: True))
    assert first.status == "stopped"
    # A week later a new article waits, and the slot comes: the old issue goes out, then the new one.
    seed = (articles_dir / "de-kasachstan-china-ukraine.txt").read_text(encoding="utf-8")
    (articles_dir / "de-neu.txt").write_text("Ein neuer Artikel über Bischkek im Frühling\n"
                                             + seed.split("\n", 1)[1].replace("Kasachstan", "Kirgistan"),
                                             encoding="utf-8")
    clock.now += dt.timedelta(days=7)
    ingest(sb_settings, store, now=clock())
    second = asyncio.run(digest.run_due_digest(sb_settings, store, "de", clock=clock, sleep=clock.sleep))
    issues = Issues(store.engine)
    assert issues.get(first.issue.id).status == "sent"
    assert second.status == "sent" and second.issue.id != first.issue.id
    assert second.issue.slot == dt.datetime(2025, 3, 21, 8, 0, tzinfo=UTC)
    assert len(mails(control)) == 2
