"""The Bot API's answers, one row each, mapped by the Telegram adapter into
the delivery errors the retry policy decides on: status codes through the
sandbox's faults, network failures through an injected httpx transport."""

from __future__ import annotations


import httpx
import pytest

from distributor.channels import build_channel
from distributor.channels.telegram import TelegramChannel
from distributor.errors import (
    ChannelUnusable,
    ChatMigrated,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage
from support import with_channel

from .conftest import fault, raised

MESSAGE = RenderedMessage(channel="telegram", text="<b>Hallo</b> Welt", length=10, limit=4096)


def attempt(channel) -> BaseException | None:
    return raised(channel, lambda c: c.send(MESSAGE))


@pytest.mark.parametrize("status, description, error", [
    (400, "Bad Request: can't parse entities: unsupported start tag", PermanentDeliveryError),
    (400, "Bad Request: chat not found", ChannelUnusable),  # the chat, not the message: pause
    (401, "Unauthorized", ChannelUnusable),
    (403, "Forbidden: bot was kicked from the channel chat", ChannelUnusable),
    (404, "Not Found", ChannelUnusable),  # Telegram's answer to a malformed token
    (409, "Conflict: terminated by other getUpdates request", PermanentDeliveryError),
    (413, "Request Entity Too Large", PermanentDeliveryError),
    (500, "Internal Server Error", TransientDeliveryError),
    (502, "Bad Gateway", TransientDeliveryError),
    (503, "Service Unavailable", TransientDeliveryError),
])
def test_each_status_code_maps_to_its_error(sb_settings, control, status, description, error):
    fault(control, service="telegram", status=status, description=description, method="sendMessage")
    exc = attempt(build_channel(sb_settings, "de.telegram"))
    assert type(exc) is error, exc
    assert str(exc).startswith("de.telegram: ") and description.split(": ")[-1].lower() in str(exc).lower()


@pytest.mark.parametrize("retry_after", [1, 7, 3600])
def test_a_flood_wait_is_rate_limited_with_exactly_its_retry_after(sb_settings, control, retry_after):
    fault(control, service="telegram", status=429, retry_after=retry_after, method="sendMessage")
    exc = attempt(build_channel(sb_settings, "de.telegram"))
    assert type(exc) is RateLimited and exc.retry_after == retry_after


def test_a_flood_wait_given_as_a_timedelta_waits_exactly_as_long(sb_settings, control, monkeypatch):
    """PTB_TIMEDELTA=1 makes PTB hand out retry_after as a timedelta, as all of
    PTB will: the adapter handles both of the types PTB declares."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    fault(control, service="telegram", status=429, retry_after=7, method="sendMessage")
    exc = attempt(build_channel(sb_settings, "de.telegram"))
    assert type(exc) is RateLimited and exc.retry_after == 7.0


def test_a_migrated_chat_names_the_chat_the_request_went_to_and_the_new_one(sb_settings, control):
    new_id = control.post("/_sandbox/telegram/migrate", json={"chat": "@novastan_de"}).json()["migrate_to_chat_id"]
    exc = attempt(build_channel(sb_settings, "de.telegram"))
    assert type(exc) is ChatMigrated and (exc.chat_id, exc.new_chat_id) == ("@novastan_de", new_id)
    assert not exc.same_chat


def test_a_timeout_after_the_request_left_is_an_unknown_outcome(sb_settings, control):
    fault(control, service="telegram", delay_ms=1500, method="sendMessage")  # posted, answered late
    exc = attempt(build_channel(with_channel(sb_settings, "de.telegram", timeout_seconds=0.5), "de.telegram"))
    assert type(exc) is OutcomeUnknown and "may have been posted" in str(exc)


class FailingTransport(httpx.AsyncBaseTransport):
    """getMe succeeds; every other call fails with the given httpx error."""

    def __init__(self, error: type[httpx.TransportError]):
        self.error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            return httpx.Response(200, json={"ok": True, "result": {
                "id": 100001, "is_bot": True, "first_name": "Novastan", "username": "novastan_bot"}})
        raise self.error(f"injected {self.error.__name__}", request=request)


@pytest.mark.parametrize("error, expected", [
    (httpx.ConnectTimeout, TransientDeliveryError),  # timed out before the request left
    (httpx.PoolTimeout, TransientDeliveryError),
    (httpx.ConnectError, TransientDeliveryError),  # refused: nothing was sent
    (httpx.ReadTimeout, OutcomeUnknown),  # the request left, no answer came
    (httpx.ReadError, OutcomeUnknown),  # connection reset while waiting for the answer
    (httpx.RemoteProtocolError, OutcomeUnknown),  # the server closed without answering
])
def test_network_failures_before_and_after_the_request_left(error, expected):
    channel = TelegramChannel("de.telegram", token="100001:SANDBOXabcdefabcdefabcdefabcdefab", chat_id="@novastan_de",
                              api_url="http://127.0.0.1:9/telegram", transport=FailingTransport(error))
    exc = attempt(channel)
    assert type(exc) is expected, exc
