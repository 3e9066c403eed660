"""The Telegram Bot API emulator: /telegram/bot<TOKEN>/<method>.

The service core lives here: routing, the Bot API envelope and call log,
target-chat and flood checks, sending, editing and deleting messages,
photos and documents, group migration. python-telegram-bot works against it with
`Bot(token, base_url="http://HOST:PORT/telegram/bot")` and raises the same
exceptions as in production (reference §A.2–A.3). Parameter readers and
errors are in `telegram_params`, the incoming side (getUpdates, webhooks,
`inject`) in `telegram_updates`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from distributor.channels.base import is_local_url
from distributor.sandbox.accounts import TelegramBot, TelegramChat, mask
from distributor.sandbox.core import SandboxCore
from distributor.sandbox.http import BodyError, Upload, image_info, json_response, loggable, read_params
from distributor.sandbox.ratelimit import SlidingWindow
from distributor.sandbox.telegram_params import (
    BotState,
    TgError,
    _bool,
    _int,
    _obj,
    _reply_markup,
    bad,
    error_body,
    fault_response,
    message_caption,
    message_text,
)
from distributor.sandbox.telegram_updates import TelegramUpdates

MAX_PHOTO_BYTES = 10 * 2**20
MAX_DOCUMENT_BYTES = 50 * 2**20
TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")


class TelegramService(TelegramUpdates):
    name = "telegram"

    def __init__(self, core: SandboxCore):
        self.core = core
        self.reset()

    def reset(self) -> None:
        cfg = self.core.config
        self.per_chat = SlidingWindow(cfg.telegram_per_chat_per_minute, 60.0)
        self.per_bot = SlidingWindow(cfg.telegram_per_second, 1.0)
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat id, message id) -> Message
        self.authors: dict[tuple[int, int], int] = {}  # -> bot id
        self.next_message_id: dict[int, int] = {}
        self.states: dict[str, BotState] = {}
        self.started: set[tuple[int, int]] = set()  # (bot id, user id): users who wrote to the bot
        self.blocked: set[tuple[int, int]] = set()  # (bot id, user id): users who blocked it since
        self.callbacks: dict[str, int] = {}  # open callback query id -> bot id
        self.files: dict[str, Upload] = {}
        self.migrated: dict[int, int] = {}  # group chat id -> the supergroup it became

    def migrate(self, ref: Any) -> dict[str, Any]:
        """Upgrade a group to a supergroup, as Telegram does: the old id then
        answers 400 with parameters.migrate_to_chat_id (control route)."""
        chat = self.core.accounts.chat(ref)
        if chat is None:
            raise ValueError(f"no chat {ref!r}")
        accounts = self.core.accounts
        new_id = min(min(accounts.chats), -1000000000000) - 1  # a fresh supergroup id
        accounts.chats[new_id] = TelegramChat(id=new_id, type="supergroup", title=chat.title)
        for bot in accounts.bots.values():
            if chat.id in bot.admin_of:
                bot.admin_of.add(new_id)
        self.migrated[chat.id] = new_id
        return {"chat_id": chat.id, "migrate_to_chat_id": new_id}

    def history(self, ref: Any, last: Any) -> dict[str, Any]:
        """A chat whose last message id is `last`, as a channel with a past
        has (control route): its next message is `last` + 1. Never goes back
        (ids a chat has given out stay its own)."""
        chat = self.core.accounts.chat(ref)
        if chat is None:
            raise ValueError(f"no chat {ref!r}")
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            raise ValueError(f"last must be a whole number >= 0, not {last!r}")
        given = self.next_message_id.get(chat.id, 0)
        if last < given:
            raise ValueError(f"{ref} has already given out message ids up to {given}")
        self.next_message_id[chat.id] = last
        return {"chat_id": chat.id, "next_message_id": last + 1}

    # -------------------------------------------------------------- HTTP

    async def handle(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        bot = self.core.accounts.bots.get(token)
        if bot is None:
            if TOKEN_RE.match(token):
                return json_response(error_body(401, "Unauthorized"), 401)
            return json_response(error_body(404, "Not Found"), 404)
        handler = getattr(self, "m_" + method.lower(), None)
        if handler is None:
            return json_response(error_body(404, "Not Found"), 404)
        try:  # read first: a slow answer (delay_ms) is a call Telegram did receive and carry out
            params = await read_params(request, max_file_bytes=60 * 2**20)
        except BodyError:
            return json_response(error_body(400, "Bad Request: can't parse request body"), 400)
        fault = self.core.faults.take("telegram", method)
        if fault is not None and fault.status:
            await asyncio.sleep(fault.delay_ms / 1000)
            self._log(method, request, bot, params, fault.status, error="injected fault")
            return fault_response(fault)
        response = await self._serve(handler, method, request, bot, params)
        if fault is not None:  # latency only: the call is carried out, its answer comes late
            await asyncio.sleep(fault.delay_ms / 1000)
        return response

    async def _serve(self, handler: Any, method: str, request: Request, bot: TelegramBot,
                     params: dict[str, Any]) -> Response:
        try:
            result, description = await handler(bot, params)
        except TgError as exc:
            self._log(method, request, bot, params, exc.status, error=exc.description)
            return json_response(error_body(exc.status, exc.description, exc.parameters), exc.status)
        self._log(method, request, bot, params, 200, result=result)
        body: dict[str, Any] = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return json_response(body)

    def _log(self, method: str, request: Request, bot: TelegramBot, params: dict[str, Any], status: int,
             *, result: Any = None, error: str = "") -> None:
        path = f"/telegram/bot{mask(bot.token)}/{method}"
        self.core.log.add("telegram", method, path, self.core.clock.now(), loggable(params),
                          account=bot.username, status=status, result=result, error=error)

    # -------------------------------------------------------------- checks

    def target_chat(self, bot: TelegramBot, params: dict[str, Any]) -> TelegramChat:
        ref = params.get("chat_id")
        if ref is None or ref == "":
            raise bad("chat_id is empty")
        chat = self.core.accounts.chat(ref)
        if chat is None:
            raise bad("chat not found")
        if chat.id in self.migrated:
            raise TgError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                          {"migrate_to_chat_id": self.migrated[chat.id]})
        if chat.type == "private":
            if (bot.id, chat.id) in self.blocked:
                raise TgError(403, "Forbidden: bot was blocked by the user")
            if (bot.id, chat.id) not in self.started:
                raise TgError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.id not in bot.admin_of:
            raise TgError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def flood_check(self, bot: TelegramBot, chat: TelegramChat) -> None:
        now = self.core.clock.now()
        wait = self.per_bot.hit(bot.id, now)
        if wait is None and chat.type != "private":
            wait = self.per_chat.hit(chat.id, now)
        if wait is not None:
            raise TgError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def new_message(self, bot: TelegramBot, chat: TelegramChat, **content: Any) -> dict[str, Any]:
        mid = self.next_message_id.get(chat.id, 0) + 1
        self.next_message_id[chat.id] = mid
        msg: dict[str, Any] = {"message_id": mid, "date": int(self.core.clock.now()), "chat": chat.to_json()}
        if chat.type == "channel":
            msg["sender_chat"] = chat.to_json()
        else:
            msg["from"] = bot.to_user()
        msg.update({k: v for k, v in content.items() if v not in (None, [], "")})
        self.messages[(chat.id, mid)] = msg
        self.authors[(chat.id, mid)] = bot.id
        return msg

    def find_message(self, bot: TelegramBot, params: dict[str, Any], what: str) -> tuple[TelegramChat, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self.target_chat(bot, params)
        mid = _int(params, "message_id")
        if mid is None:
            raise bad("message identifier is not specified")
        msg = self.messages.get((chat.id, mid))
        if msg is None:
            raise bad(f"message to {what} not found")
        return chat, msg

    # -------------------------------------------------------------- methods

    async def m_getme(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        return {**bot.to_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}, ""

    async def m_sendmessage(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat = self.target_chat(bot, params)
        parsed = message_text(params)
        markup = _reply_markup(params)
        preview = _obj(params, "link_preview_options", "link preview options")
        reply_to = self._reply_to(chat, params)
        self.flood_check(bot, chat)
        msg = self.new_message(bot, chat, text=parsed.text, entities=parsed.entities, reply_markup=markup,
                               link_preview_options=preview, reply_to_message=reply_to)
        return msg, ""

    def _reply_to(self, chat: TelegramChat, params: dict[str, Any]) -> dict[str, Any] | None:
        rp = _obj(params, "reply_parameters", "reply parameters")
        if rp is None:
            return None
        if not isinstance(rp, dict) or not isinstance(rp.get("message_id"), int):
            raise bad("can't parse reply parameters JSON object")
        target = self.messages.get((chat.id, rp["message_id"]))
        if target is None:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad("message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    async def m_sendphoto(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat = self.target_chat(bot, params)
        photo = params.get("photo")
        if photo is None or photo == "":
            raise bad("there is no photo in the request")
        sizes = self._photo_sizes(photo)
        parsed = message_caption(params)
        markup = _reply_markup(params)
        reply_to = self._reply_to(chat, params)
        self.flood_check(bot, chat)
        msg = self.new_message(bot, chat, photo=sizes, caption=parsed.text, caption_entities=parsed.entities,
                               reply_markup=markup, reply_to_message=reply_to,
                               show_caption_above_media=_bool(params, "show_caption_above_media") or None)
        return msg, ""

    def _photo_sizes(self, photo: Any) -> list[dict[str, Any]]:
        if isinstance(photo, Upload):
            if len(photo.data) > MAX_PHOTO_BYTES:
                raise bad("file is too big")
            info = image_info(photo.data)
            if info is None:
                raise bad("IMAGE_PROCESS_FAILED")
            _, w, h = info
            if w <= 0 or h <= 0 or w + h > 10000 or max(w, h) > 20 * min(w, h):
                raise bad("PHOTO_INVALID_DIMENSIONS")
            digest = hashlib.sha256(photo.data).digest()
            file_id = "AgAC" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
            self.files[file_id] = photo
            return self._sizes(file_id, w, h, len(photo.data))
        ref = str(photo)
        if ref in self.files:
            f = self.files[ref]
            info = image_info(f.data) or ("", 1, 1)
            return self._sizes(ref, info[1], info[2], len(f.data))
        parts = urlsplit(ref)
        if parts.scheme in ("http", "https") and parts.netloc:
            # Telegram would download it; the sandbox reaches nothing outside 127.0.0.1,
            # and its page shows a remote picture as the placeholder, so that
            # the browser looking at the page does not fetch it either.
            file_id = "AgAC" + base64.urlsafe_b64encode(hashlib.sha256(ref.encode()).digest()).decode().rstrip("=")
            shown = ref if is_local_url(ref) else "/_sandbox/placeholder.png"
            return self._sizes(file_id, 1280, 720, 0, url=shown)
        raise bad("wrong file identifier/HTTP URL specified")

    @staticmethod
    def _sizes(file_id: str, w: int, h: int, size: int, url: str = "") -> list[dict[str, Any]]:
        scale = min(1.0, 90 / max(w, h))
        thumb = {"file_id": file_id + "_s", "file_unique_id": file_id[-16:] + "s",
                 "width": max(1, int(w * scale)), "height": max(1, int(h * scale))}
        full = {"file_id": file_id, "file_unique_id": file_id[-16:], "width": w, "height": h}
        if size:
            full["file_size"] = size
        if url:
            full["sandbox_url"] = url  # not a Bot API field: lets the sandbox page show the picture
        return [thumb, full]

    async def m_senddocument(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat = self.target_chat(bot, params)
        doc = params.get("document")
        if isinstance(doc, Upload):
            if len(doc.data) > MAX_DOCUMENT_BYTES:
                raise bad("file is too big")
            if not doc.data:
                raise bad("file must be non-empty")
            file_id = "BQAC" + base64.urlsafe_b64encode(hashlib.sha256(doc.data).digest()).decode().rstrip("=")
            self.files[file_id] = doc
        elif isinstance(doc, str) and doc in self.files:
            file_id, doc = doc, self.files[doc]
        else:
            raise bad("there is no document in the request" if not doc else "wrong file identifier/HTTP URL specified")
        parsed = message_caption(params)
        markup = _reply_markup(params)
        self.flood_check(bot, chat)
        document = {"file_id": file_id, "file_unique_id": file_id[-16:], "file_size": len(doc.data),
                    "file_name": doc.filename or "document", "mime_type": doc.content_type or "application/octet-stream"}
        msg = self.new_message(bot, chat, document=document, caption=parsed.text,
                               caption_entities=parsed.entities, reply_markup=markup)
        return msg, ""

    async def m_editmessagetext(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat, msg = self.find_message(bot, params, "edit")
        if self.authors.get((chat.id, msg["message_id"])) != bot.id:
            raise bad("message can't be edited")
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        parsed = message_text(params)
        markup = _reply_markup(params)
        if parsed.text == msg.get("text") and parsed.entities == msg.get("entities", []) \
                and markup == msg.get("reply_markup"):
            raise bad(NOT_MODIFIED[len("Bad Request: "):])
        self.flood_check(bot, chat)
        msg["text"] = parsed.text
        self._set(msg, "entities", parsed.entities)
        self._set(msg, "reply_markup", markup)
        msg["edit_date"] = int(self.core.clock.now())
        return msg, ""

    async def m_editmessagecaption(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat, msg = self.find_message(bot, params, "edit")
        if self.authors.get((chat.id, msg["message_id"])) != bot.id:
            raise bad("message can't be edited")
        if "photo" not in msg:
            raise bad("there is no caption in the message to edit")
        parsed = message_caption(params)
        markup = _reply_markup(params)
        if parsed.text == msg.get("caption", "") and parsed.entities == msg.get("caption_entities", []) \
                and markup == msg.get("reply_markup"):
            raise bad(NOT_MODIFIED[len("Bad Request: "):])
        self.flood_check(bot, chat)
        self._set(msg, "caption", parsed.text)
        self._set(msg, "caption_entities", parsed.entities)
        self._set(msg, "reply_markup", markup)
        msg["edit_date"] = int(self.core.clock.now())
        return msg, ""

    @staticmethod
    def _set(msg: dict[str, Any], key: str, value: Any) -> None:
        if value in (None, [], ""):
            msg.pop(key, None)
        else:
            msg[key] = value

    async def m_deletemessage(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        chat, msg = self.find_message(bot, params, "delete")
        key = (chat.id, msg["message_id"])
        if self.authors.get(key) != bot.id and chat.id not in bot.admin_of:
            raise bad("message can't be deleted")
        del self.messages[key]
        return True, ""
