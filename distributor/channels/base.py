"""The channel contract: what the dispatcher and the digest need from a
service, as protocols the adapters declare (they subclass the ones they
implement, so mypy checks each adapter against its contract).

Each adapter is a pure payload builder beside a thin sender (django-anymail's
Payload / post_to_esp split): `build` turns a rendered message into the exact
request, without I/O, so the outbox records it before it is made; `post`
makes it. A send answers with the remote id, or raises one of errors.py's
delivery errors, generic ones whatever the service: transient (retry with
backoff), RateLimited (wait exactly that long), OutcomeUnknown (hold, never
resend blindly), ChannelUnusable (pause the channel), PhotoRefused (send it
again without the photo), DuplicateContent (look for the post it duplicates)
or PermanentDeliveryError (fail it). policy.py decides what each one means.

A capability beyond sending (editing a post, searching the account's posts)
is declared by subclassing EditableChannel or SearchableChannel, and asked
for with `as_editable()` / `as_searchable()`: typed answers, never probed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

from distributor.render import RenderedMessage


@dataclass(frozen=True)
class SendResult:
    remote_id: str
    # Something an editor should know although the send succeeded
    # ("posted without the image: it could not be fetched").
    note: str | None = None


class Request(Protocol):
    """What a payload builder makes: data only, built without I/O."""

    def to_json(self) -> dict[str, Any]:
        """The exact request(s) the sender makes, as JSON: what the outbox
        records as the attempt's payload."""
        ...


R = TypeVar("R", bound=Request)


class Channel(Protocol[R]):
    """A service the dispatcher posts to, one message at a time."""

    name: str  # "<edition>.<kind>", e.g. "de.telegram"
    kind: str

    def build(self, message: RenderedMessage, *, silent: bool = False) -> R:
        """The request for `message` (pure); `silent`: without notifying
        followers, where the service can."""
        ...

    async def post(self, request: R) -> SendResult:
        """Make a request `build` made: the thin sender."""
        ...

    async def send(self, message: RenderedMessage, *, silent: bool = False) -> SendResult:
        return await self.post(self.build(message, silent=silent))

    async def aclose(self) -> None: ...

    def as_editable(self) -> EditableChannel[R] | None:
        """This channel, if its posts can be corrected in place."""
        return None

    def as_searchable(self) -> SearchableChannel[R] | None:
        """This channel, if it can tell whether a post went out."""
        return None


class EditableChannel(Channel[R], Protocol[R]):
    """A channel whose posts can be corrected in place (Telegram)."""

    async def edit(self, remote_id: str, message: RenderedMessage) -> Request:
        """Correct the post to `message`; returns the request it made."""
        ...

    def as_editable(self) -> EditableChannel[R]:
        return self


class SearchableChannel(Channel[R], Protocol[R]):
    """A channel that can tell whether a post went out (X: the account's
    recent posts), for deliveries whose outcome is unknown."""

    async def find_posts(self, message: RenderedMessage, since: dt.datetime) -> list[str]:
        """Ids of the account's posts since `since` whose text is this message's."""
        ...

    def as_searchable(self) -> SearchableChannel[R]:
        return self


class BatchChannel(Protocol):
    """A service that sends one message to many recipients per request, each
    with their own token (the newsletter: the digest sends through it)."""

    name: str
    kind: str

    async def send_batch(self, message: RenderedMessage, recipients: Sequence[tuple[str, str]], *,
                         custom_args: dict[str, str] | None = None) -> str:
        """Send one batch of (address, token); returns the service's message id."""
        ...

    async def aclose(self) -> None: ...


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


def wait_from_headers(headers: Mapping[str, str] | None, reset_header: str, *, default: float = 60.0,
                      now: dt.datetime | None = None) -> float:
    """Seconds to wait after a 429: `Retry-After` (seconds or an HTTP date)
    when the provider sends it, else its epoch reset header; never under 1 s."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    now = now or dt.datetime.now(dt.timezone.utc)
    retry_after = lowered.get("retry-after")
    if retry_after:
        try:
            return max(1.0, float(retry_after))
        except ValueError:
            try:
                return max(1.0, (parsedate_to_datetime(retry_after) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = lowered.get(reset_header.lower())
    if reset:
        try:
            return max(1.0, float(reset) - now.timestamp())
        except ValueError:
            pass
    return default
