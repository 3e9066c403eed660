"""The channel protocol: what the dispatcher needs from a service, nothing more.

A channel sends one rendered message and answers with the remote id, or raises
one of errors.py's delivery errors: transient (retry with backoff), RateLimited
(wait exactly that long), OutcomeUnknown (hold, never resend blindly),
ChannelUnusable (pause the channel) or PermanentDeliveryError (fail it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

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

    async def find_posts(self, message: RenderedMessage, since: dt.datetime) -> list[str]: ...


def is_local_url(url: str) -> bool:
    """An http(s) URL on this machine (127.0.0.1, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sealed_photo(photo: str | None, placeholder: str | None) -> str | None:
    """The photo a channel may send. In sandbox mode (a placeholder given) a
    remote image is swapped for the sandbox's placeholder: neither this
    process nor the sandbox reaches anything beyond 127.0.0.1. A local file
    or a loopback URL goes as it is."""
    if photo and placeholder and "://" in photo and not is_local_url(photo):
        return placeholder
    return photo


def wait_from_headers(headers, reset_header: str, *, default: float = 60.0,
                      now: dt.datetime | None = None) -> float:
    """Seconds to wait after a 429: `Retry-After` (seconds or an HTTP date)
    when the provider sends it, else its epoch reset header; never under 1 s."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    now = now or dt.datetime.now(dt.timezone.utc)
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            return max(1.0, float(retry_after))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(1.0, (parsedate_to_datetime(retry_after) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = headers.get(reset_header.lower())
    if reset:
        try:
            return max(1.0, float(reset) - now.timestamp())
        except ValueError:
            pass
    return default
