"""The one retry policy: what each delivery error means for the next attempt."""

from __future__ import annotations

import pytest

from distributor.config import DeliveryConfig
from distributor.errors import (
    ChannelUnusable,
    ChatMigrated,
    DuplicateContent,
    OutcomeUnknown,
    PermanentDeliveryError,
    PhotoRefused,
    RateLimited,
    TransientDeliveryError,
)
from distributor.policy import RetryPolicy, backoff_seconds

CFG = DeliveryConfig(max_attempts=4, backoff_base_seconds=10, backoff_max_seconds=35)


def policy(rand=lambda: 1.0) -> RetryPolicy:
    return RetryPolicy(CFG, rand)


@pytest.mark.parametrize("error, action", [
    (RateLimited("429", retry_after=7), "wait"),
    (TransientDeliveryError("503"), "retry"),
    (ChannelUnusable("401"), "pause"),
    (OutcomeUnknown("read timeout"), "hold"),
    (PermanentDeliveryError("400"), "fail"),
    (PhotoRefused("wrong file identifier"), "drop_photo"),
    (DuplicateContent("duplicate content"), "look_up"),
    (ChatMigrated("migrated", new_chat_id=-100200, chat_id="@novastan_de"), "move"),
])
def test_each_error_class_has_its_action(error, action):
    assert policy().decide(error, failures=0).action == action


def test_a_rate_limit_waits_exactly_and_is_not_a_failed_attempt():
    d = policy().decide(RateLimited("429", retry_after=7.25), failures=2)
    assert (d.action, d.delay, d.failures, d.counted) == ("wait", 7.25, 2, False)


def test_transient_errors_back_off_and_give_up_at_max_attempts():
    p = policy()
    decisions = [p.decide(TransientDeliveryError("503"), failures=n) for n in range(4)]
    assert [d.action for d in decisions] == ["retry", "retry", "retry", "give_up"]
    assert [d.failures for d in decisions] == [1, 2, 3, 4]
    assert [d.delay for d in decisions[:3]] == [10, 20, 35]  # doubling, capped at backoff_max_seconds
    assert "gave up after 4 attempts" in decisions[3].why


def test_jitter_stays_between_half_and_all_of_the_ceiling():
    assert backoff_seconds(CFG, 2, rand=lambda: 0.0) == 10
    assert backoff_seconds(CFG, 2, rand=lambda: 1.0) == 20
    assert 10 <= RetryPolicy(CFG).backoff(2) <= 20


def test_rate_limit_waits_in_a_row_are_bounded_for_a_caller_that_sleeps():
    p = policy()
    limited = RateLimited("429", retry_after=5)
    assert [p.decide(limited, failures=0, waits=w).action for w in range(4)] == ["wait", "wait", "wait", "give_up"]
    # The dispatcher reschedules instead of sleeping, and passes no count.
    assert p.decide(limited, failures=0).action == "wait"


@pytest.mark.parametrize("error", [
    PhotoRefused("wrong file identifier", channel="de.telegram", status_code=400),
    DuplicateContent("403 duplicate content", channel="de.twitter", status_code=403),
    ChatMigrated("migrated", new_chat_id=-100200, chat_id=-100100),
])
def test_the_channel_specific_outcomes_are_no_failed_attempt(error):
    """A photo sent again without it, a duplicate looked up, a chat moved:
    none of them spends one of the delivery's attempts."""
    d = policy().decide(error, failures=2)
    assert (d.failures, d.counted, d.delay) == (2, False, 0.0)


def test_a_chat_migrated_to_where_it_already_is_fails_instead_of_looping():
    d = policy().decide(ChatMigrated("chat migrated to -100100", new_chat_id=-100100, chat_id="-100100"), failures=0)
    assert (d.action, d.counted) == ("fail", True)
    assert d.why == "chat migrated to -100100 (the chat we already post to)"
