"""The channel protocol: what the dispatcher needs from a service, nothing more.

A channel sends one rendered message and answers with the remote id, or raises
one of errors.py's delivery errors: transient (retry with backoff), RateLimited
(wait exactly that long), OutcomeUnknown (hold, never resend blindly),
ChannelUnusable (pause the channel) or PermanentDeliveryError (fail it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from distributor.render import RenderedMessage


@dataclass(frozen=True)
class SendResult:
    remote_id: str
    # Something an editor should know although the send succeeded
    # ("posted without the image: it could not be fetched").
    note: str | None = None


@runtime_checkable
class Channel(Protocol):
    name: str  # "<edition>.<kind>", e.g. "de.telegram"
    kind: str

    async def send(self, message: RenderedMessage, *, silent: bool = False) -> SendResult:
        """Post the message; `silent`: without notifying followers, where the service can."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EditableChannel(Channel, Protocol):
    """A channel whose posts can be corrected in place (Telegram)."""

    async def edit(self, remote_id: str, message: RenderedMessage) -> None: ...


@runtime_checkable
class SearchableChannel(Channel, Protocol):
    """A channel that can tell whether a post went out (X: the account's
    recent posts), for deliveries whose outcome is unknown."""

    async def find_post(self, message: RenderedMessage, since: dt.datetime) -> str | None: ...
