"""X API v2's answers, one row each, mapped by the X adapter (tweepy) into
the delivery errors the retry policy decides on: status codes through the
sandbox's faults, network failures through local sockets behind the
adapter's own redirecting transport."""

from __future__ import annotations


import pytest

from distributor.channels import build_channel
from distributor.channels.twitter import API_HOST, Redirect
from distributor.errors import (
    ChannelUnusable,
    DuplicateContent,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage
from support import with_channel

from .conftest import fault, raised

MESSAGE = RenderedMessage(channel="twitter", text="Kasachstan und China: eine Annäherung?", length=38, limit=280)


def attempt(channel) -> BaseException | None:
    return raised(channel, lambda c: c.send(MESSAGE))


@pytest.mark.parametrize("status, description, error", [
    (400, "One or more parameters to your request was invalid.", PermanentDeliveryError),
    (401, "Unauthorized", ChannelUnusable),
    (403, "You are not permitted to perform this action.", ChannelUnusable),
    (403, "You are not allowed to create a Tweet with duplicate content.", DuplicateContent),
    (404, "Not Found", PermanentDeliveryError),
    (409, "Conflict", PermanentDeliveryError),
    (413, "Payload Too Large", PermanentDeliveryError),
    (500, "Internal Server Error", TransientDeliveryError),
    (502, "Bad Gateway", TransientDeliveryError),
    (503, "Service Unavailable", TransientDeliveryError),
])
def test_each_status_code_maps_to_its_error(sb_settings, control, status, description, error):
    fault(control, service="x", status=status, description=description, method="tweets")
    exc = attempt(build_channel(sb_settings, "de.twitter"))
    assert type(exc) is error, exc
    assert exc.status_code == status and str(exc).startswith("de.twitter: ") and f"{status} " in str(exc)


@pytest.mark.parametrize("retry_after", [5, 900])
def test_a_429_waits_for_x_rate_limit_reset(sb_settings, control, retry_after):
    fault(control, service="x", status=429, retry_after=retry_after, method="tweets")
    exc = attempt(build_channel(sb_settings, "de.twitter"))
    assert type(exc) is RateLimited
    # x-rate-limit-reset is an epoch second: the wait is what is left of it.
    assert retry_after - 1 < exc.retry_after <= retry_after


def channel_at(settings, url: str | None = None, timeout: float = 0.5):
    channel = build_channel(with_channel(settings, "de.twitter", timeout_seconds=timeout), "de.twitter")
    if url:
        channel.client.session.mount(API_HOST, Redirect(url, timeout))
    return channel


def test_a_timeout_after_the_request_left_is_an_unknown_outcome(sb_settings, control):
    fault(control, service="x", delay_ms=1500, method="tweets")  # posted, answered late
    exc = attempt(channel_at(sb_settings))
    assert type(exc) is OutcomeUnknown and "may have gone out" in str(exc)


def test_a_connect_timeout_is_transient(sb_settings, blackhole_port):
    exc = attempt(channel_at(sb_settings, f"http://127.0.0.1:{blackhole_port}/x"))
    assert type(exc) is TransientDeliveryError, exc


def test_a_refused_connection_is_transient(sb_settings, closed_port):
    exc = attempt(channel_at(sb_settings, f"http://127.0.0.1:{closed_port}/x"))
    assert type(exc) is TransientDeliveryError and "cannot connect" in str(exc)


def test_a_connection_reset_after_the_request_is_an_unknown_outcome(sb_settings, resetting_port):
    exc = attempt(channel_at(sb_settings, f"http://127.0.0.1:{resetting_port}/x", timeout=5))
    assert type(exc) is OutcomeUnknown, exc
