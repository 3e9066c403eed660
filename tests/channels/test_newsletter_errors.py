"""SendGrid's answers, one row each, mapped by the newsletter adapter into
the delivery errors the retry policy decides on: driven through the sandbox's
faults, or a local socket that misbehaves."""

from __future__ import annotations


import pytest

from distributor.channels import build_channel
from distributor.channels.newsletter import NewsletterChannel
from distributor.sandbox.credentials import sandbox_secret
from distributor.errors import (
    ChannelUnusable,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage

from .conftest import fault, raised

MESSAGE = RenderedMessage(channel="newsletter", text="Hallo {token}", html="<p>Hallo {token}</p>", subject="Digest",
                          headers={}, length=12, limit=0)


def attempt(channel) -> BaseException | None:
    return raised(channel, lambda c: c.send_batch(MESSAGE, [("leserin@example.org", "tok")]))


@pytest.mark.parametrize("status, error", [
    (400, PermanentDeliveryError),
    (401, ChannelUnusable),
    (403, ChannelUnusable),
    (404, PermanentDeliveryError),
    (409, PermanentDeliveryError),
    (413, PermanentDeliveryError),
    (500, TransientDeliveryError),
    (502, TransientDeliveryError),  # python_http_client has no class for it
    (503, TransientDeliveryError),
    (504, TransientDeliveryError),
])
def test_each_status_code_maps_to_its_error(sb_settings, control, status, error):
    fault(control, service="sendgrid", status=status, method="mail/send")
    exc = attempt(build_channel(sb_settings, "de.newsletter"))
    assert type(exc) is error, exc
    assert exc.status_code == status and str(status) in str(exc)
    assert str(exc).startswith("de.newsletter: ")


@pytest.mark.parametrize("retry_after", [3, 42])
def test_a_429_waits_for_the_rate_limit_reset(sb_settings, control, retry_after):
    fault(control, service="sendgrid", status=429, retry_after=retry_after, method="mail/send")
    exc = attempt(build_channel(sb_settings, "de.newsletter"))
    assert type(exc) is RateLimited
    # X-RateLimit-Reset is an epoch second: the wait is what is left of it.
    assert retry_after - 1 < exc.retry_after <= retry_after


def channel_at(url: str, timeout: float = 0.5) -> NewsletterChannel:
    return NewsletterChannel("de.newsletter", api_key=sandbox_secret("de", "newsletter", "api_key"), api_url=url,
                             from_email="newsletter@novastan.example", timeout=timeout)


def test_a_timeout_after_the_request_left_is_an_unknown_outcome(sb_settings, control, sandbox):
    fault(control, service="sendgrid", delay_ms=1500, method="mail/send")  # carried out, answered late
    exc = attempt(channel_at(f"{sandbox.url}/sendgrid"))
    assert type(exc) is OutcomeUnknown and "may have gone out" in str(exc)


def test_a_connect_timeout_is_transient(blackhole_port):
    exc = attempt(channel_at(f"http://127.0.0.1:{blackhole_port}"))
    assert type(exc) is TransientDeliveryError, exc


def test_a_refused_connection_is_transient(closed_port):
    exc = attempt(channel_at(f"http://127.0.0.1:{closed_port}"))
    assert type(exc) is TransientDeliveryError and "cannot send" in str(exc)


def test_a_connection_reset_after_the_request_is_an_unknown_outcome(resetting_port):
    exc = attempt(channel_at(f"http://127.0.0.1:{resetting_port}", timeout=5))
    assert type(exc) is OutcomeUnknown, exc


def test_an_accepted_batch_answers_its_message_id(sb_settings, control):
    assert attempt(build_channel(sb_settings, "de.newsletter")) is None
