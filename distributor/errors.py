"""The whole error hierarchy, built around what the caller must decide.

A ConfigurationError is deliberately *not* a DistributorError: a broken config
must never be swallowed by a delivery loop or retried (django-anymail's rule).
"""

from __future__ import annotations


class ConfigurationError(Exception):
    """The config file, a template or the environment is wrong. Never retried."""


class DistributorError(Exception):
    """Base of every runtime error of the pipeline."""


class ParseError(DistributorError):
    """An article file or feed item could not be read at all."""


class SourceError(DistributorError):
    """A source (folder, feed) could not be read; names the source."""

    def __init__(self, source: str, message: str):
        super().__init__(f"source {source!r}: {message}")
        self.source = source


class RenderError(DistributorError):
    """A message could not be rendered within the platform's rules."""


class DeliveryError(DistributorError):
    """Sending failed. Subclasses tell the outbox what to do next."""

    def __init__(self, message: str, *, channel: str = "", status_code: int | None = None):
        super().__init__(f"{channel}: {message}" if channel else message)
        self.channel = channel
        self.status_code = status_code


class TransientDeliveryError(DeliveryError):
    """Worth retrying with backoff: timeouts, 5xx, network errors."""


class RateLimited(TransientDeliveryError):
    """The provider asked us to wait `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float, channel: str = "", status_code: int | None = 429):
        super().__init__(message, channel=channel, status_code=status_code)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: bad request, forbidden, invalid credentials."""


class OutcomeUnknown(DeliveryError):
    """The request may have reached the provider but no answer came back (a
    read timeout, a dropped connection). Resending could double-post: the
    outbox holds the delivery for a decision instead."""


class ChannelUnusable(PermanentDeliveryError):
    """The channel itself is broken (bad credentials, the bot removed from the
    chat, chat not found): no message can go out until an editor fixes it, so
    the channel pauses and its deliveries wait rather than fail one by one."""


class PhotoRefused(PermanentDeliveryError):
    """The service refused the message's photo (an unreachable URL, not an
    image) and posted nothing: the post may go out without it, at once."""


class DuplicateContent(PermanentDeliveryError):
    """The service refused the post as a duplicate of a recent one (X: of the
    last 24 hours). The post it duplicates may be this delivery's own, from an
    attempt whose answer was lost: look for it before calling this a failure."""


class ChatMigrated(TransientDeliveryError):
    """The chat moved to a new id (a Telegram group became a supergroup):
    retry at once in the new chat. `chat_id` is the chat the request went to."""

    def __init__(self, message: str, *, new_chat_id: int, chat_id: str | int | None = None, channel: str = ""):
        super().__init__(message, channel=channel, status_code=400)
        self.new_chat_id = new_chat_id
        self.chat_id = chat_id

    @property
    def same_chat(self) -> bool:
        """Told to move where the request already went: moving again would loop."""
        return self.chat_id is not None and str(self.new_chat_id) == str(self.chat_id)
