"""Telegram, on python-telegram-bot's `Bot` with a configurable base URL.

Posts HTML (sendMessage), or a photo with the HTML as its caption (sendPhoto)
when the article has an image; corrections edit the text or the caption.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import telegram
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from distributor.channels.base import SendResult, sealed_photo
from distributor.errors import (
    ChannelUnusable,
    ChatMigrated,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage

# Errors about the chat or the bot, not about one message: the channel pauses.
_CHANNEL_WIDE = ("chat not found", "bot was kicked", "bot is not a member", "not enough rights",
                 "need administrator rights", "have no rights")
# Telegram could not use the photo (it fetches URLs itself): nothing was posted.
_PHOTO_REFUSED = re.compile(r"wrong file identifier|http url|failed to get|web page content|photo_invalid"
                            r"|image_process_failed|wrong type of the web page", re.I)


class PhotoRefused(PermanentDeliveryError):
    """Telegram refused the article's photo (unreachable URL, not an image):
    the post may go out as text instead."""


# httpx errors raised before the request left: safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TelegramChannel:
    kind = "telegram"

    def __init__(self, name: str, *, token: str, chat_id: str, api_url: str,
                 disable_notification: bool = False, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None, placeholder_image: str | None = None):
        self.name = name
        # Sandbox mode: sent instead of a remote image (channels.base.sealed_photo).
        self.placeholder_image = placeholder_image
        self.chat_id: str | int = _chat(chat_id)
        self.disable_notification = disable_notification
        kwargs: dict[str, Any] = {"transport": transport} if transport else {}
        request = HTTPXRequest(connect_timeout=5.0, read_timeout=timeout, write_timeout=timeout,
                               httpx_kwargs=kwargs)
        self.bot = telegram.Bot(token, base_url=f"{api_url.rstrip('/')}/bot",
                                base_file_url=f"{api_url.rstrip('/')}/file/bot", request=request)
        self._ready = False

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self._call(self.bot.initialize())  # getMe: a bad token shows up here
            self._ready = True

    async def send(self, message: RenderedMessage, *, silent: bool = False) -> SendResult:
        await self._ensure_ready()
        common = dict(chat_id=self.chat_id, parse_mode=message.parse_mode or "HTML",
                      disable_notification=self.disable_notification or silent)
        photo = sealed_photo(message.photo, self.placeholder_image)
        if photo:
            try:
                sent = await self._call(self.bot.send_photo(photo=_photo(photo), caption=message.text,
                                                            **common))
            except PermanentDeliveryError as exc:
                if isinstance(exc, ChannelUnusable) or not _PHOTO_REFUSED.search(str(exc)):
                    raise
                raise PhotoRefused(str(exc).removeprefix(f"{self.name}: "), channel=self.name,
                                   status_code=400) from None
        else:
            sent = await self._call(self.bot.send_message(text=message.text, **common,
                                                          link_preview_options=_preview(message)))
        return SendResult(remote_id(self.chat_id, sent.message_id))

    async def edit(self, remote_id: str, message: RenderedMessage) -> None:
        await self._ensure_ready()
        chat, message_id = split_remote_id(remote_id, self.chat_id)
        common = dict(chat_id=chat, message_id=message_id, parse_mode=message.parse_mode or "HTML")
        try:
            if message.photo:
                await self._call(self.bot.edit_message_caption(caption=message.text, **common))
            else:
                await self._call(self.bot.edit_message_text(text=message.text, **common,
                                                            link_preview_options=_preview(message)))
        except PermanentDeliveryError as exc:
            if "message is not modified" not in str(exc).lower():
                raise

    async def aclose(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False

    async def _call(self, coro):
        """Await a PTB call, mapping its errors into the delivery hierarchy."""
        try:
            return await coro
        except tg_error.RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            raise RateLimited(f"flood control: retry in {seconds:g}s", retry_after=seconds,
                              channel=self.name) from None
        except tg_error.ChatMigrated as exc:
            raise ChatMigrated(f"chat migrated to {exc.new_chat_id}", new_chat_id=exc.new_chat_id,
                               channel=self.name) from None
        except tg_error.InvalidToken as exc:
            raise ChannelUnusable(f"the bot token was rejected: {exc.message}", channel=self.name,
                                  status_code=401) from None
        except tg_error.Forbidden as exc:
            raise ChannelUnusable(exc.message, channel=self.name, status_code=403) from None
        except tg_error.BadRequest as exc:
            text = exc.message
            if any(marker in text.lower() for marker in _CHANNEL_WIDE):
                raise ChannelUnusable(text, channel=self.name, status_code=400) from None
            raise PermanentDeliveryError(text, channel=self.name, status_code=400) from None
        except tg_error.Conflict as exc:
            # 409: another getUpdates or webhook holds the bot; this call will not succeed as it is.
            raise PermanentDeliveryError(exc.message, channel=self.name, status_code=409) from None
        except tg_error.TimedOut as exc:
            if isinstance(exc.__cause__, _NOT_SENT) or "pool timeout" in exc.message.lower():
                raise TransientDeliveryError(f"timed out before sending: {exc.message}",
                                             channel=self.name) from None
            raise OutcomeUnknown(f"no answer in time, the message may have been posted: {exc.message}",
                                 channel=self.name) from None
        except tg_error.NetworkError as exc:
            cause = exc.__cause__
            if cause is None and "too large" in exc.message.lower():
                # 413 (PTB keeps only the description): the same request is refused again.
                raise PermanentDeliveryError(exc.message, channel=self.name, status_code=413) from None
            if cause is None or isinstance(cause, _NOT_SENT):
                # A server answer (5xx) or a connection never made: nothing was posted.
                raise TransientDeliveryError(exc.message, channel=self.name) from None
            raise OutcomeUnknown(f"connection lost during the request: {exc.message}",
                                 channel=self.name) from None


def remote_id(chat_id: str | int, message_id: int) -> str:
    """A post's remote id: "<chat>/<message id>". Telegram numbers messages per
    chat, so a bare message id is not unique on a channel whose chat changed
    (a new chat_id in the config, a group migrated to a supergroup), and the
    outbox allows one delivery per (channel, remote id)."""
    return f"{chat_id}/{message_id}"


def split_remote_id(remote: str, default_chat: str | int) -> tuple[str | int, int]:
    """(chat, message id) of a stored remote id; a bare message id (stored
    before the chat was part of it) is in the channel's current chat."""
    chat, _, message_id = remote.rpartition("/")
    return (_chat(chat) if chat else default_chat), int(message_id)


def _chat(chat_id: str) -> str | int:
    text = str(chat_id).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _photo(photo: str) -> str | Path:
    """A URL or file id goes as a string; an existing local file is uploaded."""
    if "://" not in photo and Path(photo).is_file():
        return Path(photo)
    return photo


def _preview(message: RenderedMessage) -> telegram.LinkPreviewOptions | None:
    return telegram.LinkPreviewOptions(**message.link_preview) if message.link_preview else None
