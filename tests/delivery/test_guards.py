"""The guards of the send bracket, each pinned by a test (issue 9: mutations
today's suite let survive): the sending lease in recovery, the claim check of
`resolve_unknown`, and a success resetting the channel's failure count."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from distributor.delivery import Dispatcher
from distributor.ingest.pipeline import ingest

from support import drain

# A claimer on another machine: recovery cannot tell it is gone, only that its lease ran out.
ELSEWHERE = "another-host:4242:cafe0001"
PAYLOAD = '{"channel": "telegram", "text": "Hallo"}'


@pytest.fixture
def ingested(settings, store, clock):
    ingest(settings, store, now=clock())
    return store


def recover(settings, store, clock):
    async def go():
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep)
        try:
            return await d.recover()
        finally:
            await d.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("age, recovered", [(-1, False), (0, False), (1, True)],
                         ids=["inside the lease", "exactly the lease", "past the lease"])
def test_recovery_settles_a_live_claimers_send_only_once_its_lease_ran_out(settings, ingested, clock,
                                                                          age, recovered):
    store = ingested
    lease = settings.delivery.sending_lease_seconds
    row = next(d for d in store.deliveries(status="pending") if d.channel == "de.telegram")
    store.outbox.claim(row.id, worker=ELSEWHERE, payload=PAYLOAD, now=clock() - dt.timedelta(seconds=lease + age))
    outcomes = recover(settings, store, clock)
    after = store.outbox.get(row.id)
    if recovered:
        assert [(o.delivery_id, o.status) for o in outcomes] == [(row.id, "held")]
        assert after.status == "held" and ELSEWHERE in after.reason
    else:
        assert outcomes == []
        assert (after.status, after.claimed_by) == ("sending", ELSEWHERE)


def test_resolve_unknown_leaves_a_newer_claim_alone(ingested, clock):
    """Recovery read the row while A held it; meanwhile A gave it back and B
    claimed it again. Settling A's send must not touch B's."""
    store = ingested
    row = next(d for d in store.deliveries(status="pending") if d.channel == "de.telegram")
    now = clock()
    a = store.outbox.claim(row.id, worker="worker-a", payload="{}", now=now)
    store.outbox.finish_retry(row.id, a, outcome="transient", error="503", next_attempt_at=now,
                              count_failure=True, now=now)
    assert store.outbox.claim(row.id, worker="worker-b", payload="{}", now=now) is not None
    done = store.outbox.resolve_unknown(row.id, claimed_by="worker-a", status="held", reason="A's send",
                                        remote_id=None, now=now)
    assert done is False
    after = store.outbox.get(row.id)
    assert (after.status, after.claimed_by, after.reason) == ("sending", "worker-b", None)
    assert [x.outcome for x in store.outbox.attempts(row.id)] == ["transient", "started"]


def test_a_success_resets_the_channels_failure_count(sb_settings, store, clock, control):
    settings = dataclasses.replace(sb_settings, delivery=dataclasses.replace(sb_settings.delivery,
                                                                             pause_after_failures=3))
    ingest(settings, store, now=clock())
    # Two failures in a row on X, then it works again.
    assert control.post("/_sandbox/faults", json={"service": "x", "status": 503, "method": "tweets",
                                                  "times": 2}).status_code < 300
    drain(settings, store, clock, max_wait=10_000)
    x = [d for d in store.deliveries() if d.kind == "twitter" and d.status != "skipped"]
    assert {d.status for d in x} == {"sent"}
    assert sum(a.outcome == "transient" for d in x for a in store.outbox.attempts(d.id)) == 2
    for channel in {d.channel for d in x}:
        state = store.outbox.channel(channel)
        assert (state.consecutive_failures, state.paused) == (0, False)
