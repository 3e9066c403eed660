"""Telegram, on python-telegram-bot's `Bot` with a configurable base URL.

Posts HTML (sendMessage), or a photo with the HTML as its caption (sendPhoto)
when the article has an image; corrections edit the text or the caption.

The payload builders (`build_post`, `build_edit`) are pure: they turn a
rendered message and the channel's chat into the exact Bot API call
(`TelegramPost`, `TelegramEdit`). `TelegramChannel` is the thin sender that
makes the call and maps PTB's errors into the delivery hierarchy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, TypeVar

import httpx
import telegram
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from distributor.channels.base import EditableChannel, SendResult, sealed_photo
from distributor.errors import (
    ChannelUnusable,
    ChatMigrated,
    OutcomeUnknown,
    PermanentDeliveryError,
    PhotoRefused,
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

# httpx errors raised before the request left: safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

T = TypeVar("T")


# ------------------------------------------------------------ payloads (pure)

@dataclass(frozen=True)
class TelegramPost:
    """A sendMessage call, or a sendPhoto with the text as its caption."""

    chat_id: str | int
    text: str
    parse_mode: str = "HTML"
    disable_notification: bool = False
    # A URL or file id (Telegram fetches it), or a local file (uploaded).
    photo: str | None = None
    # Bot API LinkPreviewOptions; text posts only.
    link_preview: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return "sendPhoto" if self.photo else "sendMessage"

    def params(self) -> dict[str, Any]:
        """The call's exact Bot API parameters (unset ones are not sent)."""
        out: dict[str, Any] = {"chat_id": self.chat_id}
        if self.photo:
            out.update(photo=self.photo, caption=self.text)
        else:
            out["text"] = self.text
        out.update(parse_mode=self.parse_mode, disable_notification=self.disable_notification)
        if self.link_preview is not None and not self.photo:
            out["link_preview_options"] = dict(self.link_preview)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params()}


@dataclass(frozen=True)
class TelegramEdit:
    """An editMessageText call, or editMessageCaption for a photo's caption."""

    chat_id: str | int
    message_id: int
    text: str
    parse_mode: str = "HTML"
    caption: bool = False
    link_preview: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return "editMessageCaption" if self.caption else "editMessageText"

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chat_id": self.chat_id, "message_id": self.message_id,
                               "caption" if self.caption else "text": self.text, "parse_mode": self.parse_mode}
        if self.link_preview is not None and not self.caption:
            out["link_preview_options"] = dict(self.link_preview)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params()}


def build_post(message: RenderedMessage, *, chat_id: str | int, silent: bool = False,
               placeholder: str | None = None) -> TelegramPost:
    """The call that posts `message` to `chat_id`. A remote photo is swapped
    for the sandbox's `placeholder` when one is given (sealed_photo)."""
    photo = sealed_photo(message.photo, placeholder)
    return TelegramPost(chat_id=chat_id, text=message.text, parse_mode=message.parse_mode or "HTML",
                        disable_notification=silent, photo=photo or None,
                        link_preview=None if photo else message.link_preview or None)


def build_edit(message: RenderedMessage, *, chat_id: str | int, message_id: int) -> TelegramEdit:
    """The call that corrects a post to `message`: its caption when it has a photo."""
    return TelegramEdit(chat_id=chat_id, message_id=message_id, text=message.text,
                        parse_mode=message.parse_mode or "HTML", caption=bool(message.photo),
                        link_preview=None if message.photo else message.link_preview or None)


# ------------------------------------------------------------ the sender

class TelegramChannel(EditableChannel[TelegramPost]):
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

    def build(self, message: RenderedMessage, *, silent: bool = False) -> TelegramPost:
        return build_post(message, chat_id=self.chat_id, silent=self.disable_notification or silent,
                          placeholder=self.placeholder_image)

    async def post(self, request: TelegramPost) -> SendResult:
        await self._ensure_ready()
        if request.photo:
            try:
                sent = await self._call(self.bot.send_photo(
                    chat_id=request.chat_id, photo=_photo(request.photo), caption=request.text,
                    parse_mode=request.parse_mode, disable_notification=request.disable_notification),
                    chat_id=request.chat_id)
            except PermanentDeliveryError as exc:
                if isinstance(exc, ChannelUnusable) or not _PHOTO_REFUSED.search(str(exc)):
                    raise
                raise PhotoRefused(str(exc).removeprefix(f"{self.name}: "), channel=self.name,
                                   status_code=400) from None
        else:
            sent = await self._call(self.bot.send_message(
                chat_id=request.chat_id, text=request.text, parse_mode=request.parse_mode,
                disable_notification=request.disable_notification,
                link_preview_options=_preview(request.link_preview)), chat_id=request.chat_id)
        return SendResult(remote_id(request.chat_id, sent.message_id))

    async def edit(self, remote_id: str, message: RenderedMessage) -> TelegramEdit:
        await self._ensure_ready()
        chat, message_id = split_remote_id(remote_id, self.chat_id)
        request = build_edit(message, chat_id=chat, message_id=message_id)
        try:
            if request.caption:
                await self._call(self.bot.edit_message_caption(
                    chat_id=chat, message_id=message_id, caption=request.text, parse_mode=request.parse_mode))
            else:
                await self._call(self.bot.edit_message_text(
                    request.text, chat_id=chat, message_id=message_id, parse_mode=request.parse_mode,
                    link_preview_options=_preview(request.link_preview)))
        except PermanentDeliveryError as exc:
            if "message is not modified" not in str(exc).lower():
                raise
        return request

    async def aclose(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self._call(self.bot.initialize())  # getMe: a bad token shows up here
            self._ready = True

    async def _call(self, call: Awaitable[T], *, chat_id: str | int | None = None) -> T:
        """Await a PTB call, mapping its errors into the delivery hierarchy."""
        try:
            return await call
        except tg_error.RetryAfter as exc:
            wait = exc.retry_after  # an int, or a timedelta with PTB_TIMEDELTA=1
            seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
            raise RateLimited(f"flood control: retry in {seconds:g}s", retry_after=seconds,
                              channel=self.name) from None
        except tg_error.ChatMigrated as exc:
            raise ChatMigrated(f"chat migrated to {exc.new_chat_id}", new_chat_id=exc.new_chat_id,
                               chat_id=chat_id, channel=self.name) from None
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


def _preview(options: dict[str, Any] | None) -> telegram.LinkPreviewOptions | None:
    return telegram.LinkPreviewOptions(**options) if options else None
