"""The newsletter, on the official `sendgrid` client (v3 Mail Send).

One request carries up to 1000 recipients, each in their own personalization
with their own unsubscribe token: substituted into the body's {token} slot and
filled into the List-Unsubscribe header (RFC 8058 one-click).

`build_mail` is the pure payload builder (the exact Mail Send body of one
batch); `NewsletterChannel` is the thin sender that posts it and maps
SendGrid's answers into the delivery hierarchy.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from typing import Any, Sequence

import orjson
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from distributor.channels.base import BatchChannel, wait_from_headers
from distributor.errors import (
    ChannelUnusable,
    DeliveryError,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage
from distributor.render.message import TOKEN_SLOT

MAX_PERSONALIZATIONS = 1000


def mail_json(body: dict[str, Any]) -> bytes:
    """A Mail Send body's JSON, as the channel posts it: orjson's (a tenth of
    json.dumps's CPU for a 1,000-reader body; compact, UTF-8)."""
    return orjson.dumps(body)


class PreparedMail(dict):
    """A Mail Send body with its JSON (`data`) made ahead of its request (the
    digest serialises the next batch while one runs, so the sender's thread
    only posts). Read it as the body it is; never change it (`data` would no
    longer be its JSON)."""

    data: bytes

    def __init__(self, body: dict[str, Any]):
        super().__init__(body)
        self.data = mail_json(body)


def build_mail(message: RenderedMessage, recipients: Sequence[tuple[str, str]], *, from_email: str,
               from_name: str = "", categories: Sequence[str] = (), custom_args: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """The Mail Send body for one batch: pure, so it is tested byte for byte."""
    if not 1 <= len(recipients) <= MAX_PERSONALIZATIONS:
        raise ValueError(f"a batch holds 1 to {MAX_PERSONALIZATIONS} recipients, not {len(recipients)}")
    # Each header split at its {token} slots once, joined around each reader's
    # token (the same string as .replace, at half the cost of a batch's loop).
    slotted = [(k, v.split(TOKEN_SLOT)) for k, v in message.headers.items()]
    personalizations = [{"to": [{"email": email}], "substitutions": {TOKEN_SLOT: token},
                         "headers": {k: token.join(parts) for k, parts in slotted}}
                        for email, token in recipients]
    sender: dict[str, str] = {"email": from_email}
    if from_name:
        sender["name"] = from_name
    body: dict[str, Any] = {
        "from": sender,
        "subject": message.subject,
        "personalizations": personalizations,
        # text/plain first, then text/html: SendGrid refuses any other order.
        "content": [{"type": "text/plain", "value": message.text},
                    {"type": "text/html", "value": message.html or ""}],
    }
    if categories:
        body["categories"] = list(categories)[:10]
    if custom_args:
        body["custom_args"] = custom_args
    return body


class NewsletterChannel(BatchChannel):
    kind = "newsletter"

    def __init__(self, name: str, *, api_key: str, api_url: str, from_email: str, from_name: str = "",
                 categories: Sequence[str] = (), timeout: float = 30.0):
        self.name = name
        self.from_email = from_email
        self.from_name = from_name
        self.categories = tuple(categories)
        self.client = SendGridAPIClient(api_key=api_key, host=api_url.rstrip("/"))
        self.client.client.timeout = timeout

    def build(self, message: RenderedMessage, recipients: Sequence[tuple[str, str]], *,
              custom_args: dict[str, str] | None = None) -> dict[str, Any]:
        """The Mail Send body of one batch, from this channel's sender settings (pure)."""
        return build_mail(message, recipients, from_email=self.from_email, from_name=self.from_name,
                          categories=self.categories, custom_args=custom_args)

    @staticmethod
    def prepare(body: dict[str, Any]) -> PreparedMail:
        """`body` serialised now, so that posting it later is only the request."""
        return body if isinstance(body, PreparedMail) else PreparedMail(body)

    async def post(self, body: dict[str, Any]) -> str:
        """Post a body `build` made; returns SendGrid's X-Message-Id."""
        return await asyncio.to_thread(self.post_now, body)

    async def send_batch(self, message: RenderedMessage, recipients: Sequence[tuple[str, str]], *,
                         custom_args: dict[str, str] | None = None) -> str:
        """Send one batch; returns SendGrid's X-Message-Id."""
        return await self.post(self.build(message, recipients, custom_args=custom_args))

    def post_now(self, body: dict[str, Any]) -> str:
        """`post`, blocking the calling thread (the digest's sender thread)."""
        # urllib wraps any OSError while connecting and writing the request in
        # URLError; the answer is read outside that wrapper. So a URLError is a
        # request that never fully left (safe to send again), and a bare
        # timeout or broken connection came while waiting for the answer.
        try:
            message_id = self._send(body.data if isinstance(body, PreparedMail) else mail_json(body))
        except http_errors.HTTPError as exc:
            raise classify(exc, self.name) from None
        except urllib.error.URLError as exc:
            raise TransientDeliveryError(f"cannot send the request: {exc.reason}", channel=self.name) from None
        except (OSError, http.client.HTTPException) as exc:
            raise OutcomeUnknown(f"no answer, the batch may have gone out: {type(exc).__name__}: {exc}",
                                 channel=self.name) from None
        return message_id

    def _send(self, data: bytes) -> str:
        """POST /v3/mail/send with `data` as the body: the client's own request
        (its URL, its headers with Content-Type application/json, its opener,
        timeout and errors: python_http_client's `_make_request`), without the
        two things its `post` adds: a json.dumps of a body that is JSON already,
        and debug lines formatted on every request whether or not anything
        logs them, one of them the whole body (every reader's address; ~1.8 ms
        for 1,000 of them) and one the API key."""
        send = self.client.client.mail.send  # the client of /v3/mail/send
        request = urllib.request.Request(send._build_url(None), data=data, method="POST",
                                         headers={**send.request_headers, "Content-Type": "application/json"})
        with send._make_request(urllib.request.build_opener(), request) as resp:
            resp.read()
            return str(resp.headers.get("X-Message-Id", ""))

    async def aclose(self) -> None:
        pass


def classify(exc: http_errors.HTTPError, channel: str) -> DeliveryError:
    """SendGrid's answer, by its status code (python_http_client has classes
    for a few codes only, none for 502): 429 waits for X-RateLimit-Reset,
    401/403 make the channel unusable, any 5xx is transient, the rest of 4xx
    is permanent (a request that will be refused again)."""
    status = int(exc.status_code or 0)
    if status == 429:
        wait = wait_from_headers(exc.headers, "X-RateLimit-Reset")
        return RateLimited(f"rate limited: {_describe(exc)}", retry_after=wait, channel=channel)
    if status in (401, 403):
        return ChannelUnusable(_describe(exc), channel=channel, status_code=status)
    if status >= 500:
        return TransientDeliveryError(_describe(exc), channel=channel, status_code=status)
    return PermanentDeliveryError(_describe(exc), channel=channel, status_code=status)


def _describe(exc: http_errors.HTTPError) -> str:
    try:
        errors = exc.to_dict.get("errors", [])
        detail = "; ".join(e.get("message", "") for e in errors)
    except Exception:  # noqa: BLE001 - a non-JSON error body
        detail = (exc.body or b"")[:200].decode("utf-8", "replace")
    return f"{exc.status_code} {detail}".strip()
