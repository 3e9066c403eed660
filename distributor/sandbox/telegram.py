"""The Telegram Bot API emulator: /telegram/bot<TOKEN>/<method>.

python-telegram-bot works against it with
`Bot(token, base_url="http://HOST:PORT/telegram/bot")`. Answers use the Bot
API envelope (`{"ok": true, "result": …}` or `{"ok": false, "error_code",
"description", "parameters"}`) with the real descriptions, so PTB raises the
same exceptions as in production (reference §A.2–A.3).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from distributor.sandbox.accounts import TelegramBot, TelegramChat, mask
from distributor.sandbox.core import SandboxCore
from distributor.sandbox.faults import Fault
from distributor.sandbox.http import BodyError, Upload, image_info, json_response, loggable, read_params
from distributor.sandbox.ratelimit import SlidingWindow
from distributor.telegram_html import EntityParseError, ParsedText, entities_from_json, parse_html, plain

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 2**20
MAX_LONG_POLL = 50  # seconds; Telegram caps long polling too
WEBHOOK_PORTS = (443, 80, 88, 8443)
TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
POSTING = frozenset({"sendmessage", "sendphoto", "editmessagetext", "editmessagecaption"})
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
FAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class TgError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def bad(description: str) -> TgError:
    return TgError(400, f"Bad Request: {description}")


def error_body(status: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def fault_response(fault: Fault) -> Response:
    status = fault.status or 500
    params = None
    if fault.retry_after is not None:
        params = {"retry_after": fault.retry_after}
    if status == 429:
        description = f"Too Many Requests: retry after {fault.retry_after}"
    else:
        description = FAULT_DESCRIPTIONS.get(status, "Internal Server Error")
    return json_response(error_body(status, fault.description or description, params), status)


@dataclass
class BotState:
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    confirmed: int = 0  # every update_id below this is gone
    webhook: dict[str, Any] | None = None
    allowed_updates: list[str] | None = None
    arrived: asyncio.Event | None = None
    poll_generation: int = 0


# ------------------------------------------------------------------ params


def _int(params: dict[str, Any], name: str, *, default: int | None = None) -> int | None:
    v = params.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise bad(f"{name} is invalid")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise bad(f"invalid {name} specified") from None


def _bool(params: dict[str, Any], name: str) -> bool:
    v = params.get(name)
    if isinstance(v, bool):
        return v
    return str(v).lower() in ("true", "1") if v is not None else False


def _obj(params: dict[str, Any], name: str, what: str) -> Any:
    v = params.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise bad(f"can't parse {what} JSON object") from None
    return v


def _reply_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = _obj(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is not None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad("BUTTON_DATA_INVALID")
                if not any(k in button for k in ("url", "callback_data", "switch_inline_query", "login_url",
                                                 "web_app", "pay", "copy_text", "callback_game",
                                                 "switch_inline_query_current_chat",
                                                 "switch_inline_query_chosen_chat")):
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    return markup


def parse_text(text: str, params: dict[str, Any], *, prefix: str = "") -> ParsedText:
    """Apply parse_mode / entities to a text or caption (prefix "caption_")."""
    mode = params.get("parse_mode") or ""
    explicit = _obj(params, f"{prefix}entities", "entities")
    try:
        if mode:
            if mode.lower() == "html":
                return parse_html(text)
            if mode.lower() in ("markdownv2", "markdown"):
                from distributor.sandbox.telegram_markdown import parse_markdown_v2

                return parse_markdown_v2(text) if mode.lower() == "markdownv2" else parse_markdown_v2(text, legacy=True)
            raise bad("unsupported parse_mode")
        if explicit is not None:
            return entities_from_json(explicit, text)
        return plain(text)
    except EntityParseError as exc:
        raise bad(f"can't parse entities: {exc}") from None


def message_text(params: dict[str, Any]) -> ParsedText:
    """The `text` of sendMessage / editMessageText, parsed and checked (1..4096)."""
    text = params.get("text")
    if not isinstance(text, str) or not text:
        raise bad("message text is empty")
    parsed = parse_text(text, params)
    if parsed.length == 0:
        raise bad("message text is empty")
    if parsed.length > MAX_TEXT:
        raise bad("message is too long")
    return parsed


def message_caption(params: dict[str, Any]) -> ParsedText:
    """The optional `caption` of sendPhoto / editMessageCaption, parsed and checked (..1024)."""
    caption = params.get("caption") or ""
    parsed = parse_text(caption, params, prefix="caption_") if caption else ParsedText("")
    if parsed.length > MAX_CAPTION:
        raise bad("message caption is too long")
    return parsed


# ------------------------------------------------------------------ service


class TelegramService:
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

    def state(self, bot: TelegramBot) -> BotState:
        st = self.states.get(bot.token)
        if st is None:
            st = self.states[bot.token] = BotState()
        return st

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
            # Telegram would download it; the sandbox reaches nothing outside 127.0.0.1.
            file_id = "AgAC" + base64.urlsafe_b64encode(hashlib.sha256(ref.encode()).digest()).decode().rstrip("=")
            return self._sizes(file_id, 1280, 720, 0, url=ref)
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

    async def m_answercallbackquery(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        qid = str(params.get("callback_query_id") or "")
        if self.callbacks.get(qid) != bot.id:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text") or ""
        if len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        del self.callbacks[qid]
        return True, ""

    async def m_setwebhook(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        url = str(params.get("url") or "")
        st = self.state(bot)
        if not url:
            st.webhook = None
            return True, "Webhook was deleted"
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad("secret token contains unallowed characters")
        max_conn = _int(params, "max_connections", default=40)
        if not 1 <= max_conn <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        allowed = _obj(params, "allowed_updates", "allowed updates")
        if _bool(params, "drop_pending_updates"):
            self._drop(st)
        was = st.webhook
        st.webhook = {"url": url, "has_custom_certificate": isinstance(params.get("certificate"), Upload),
                      "max_connections": max_conn, "secret_token": secret}
        if allowed is not None:
            st.webhook["allowed_updates"] = st.allowed_updates = list(allowed)
        if st.arrived is not None:  # a waiting getUpdates ends with 409
            st.poll_generation += 1
            st.arrived.set()
        return True, "Webhook is already set" if was and was["url"] == url else "Webhook was set"

    async def m_deletewebhook(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        st = self.state(bot)
        if _bool(params, "drop_pending_updates"):
            self._drop(st)
        was, st.webhook = st.webhook, None
        return True, "Webhook was deleted" if was else "Webhook is already deleted"

    async def m_getwebhookinfo(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        st = self.state(bot)
        pending = len(st.updates)
        if st.webhook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}, ""
        info = {k: v for k, v in st.webhook.items() if k != "secret_token"}
        return {**info, "pending_update_count": pending}, ""

    @staticmethod
    def _drop(st: BotState) -> None:
        if st.updates:
            st.confirmed = st.updates[-1]["update_id"] + 1
        st.updates.clear()

    async def m_getupdates(self, bot: TelegramBot, params: dict[str, Any]) -> tuple[Any, str]:
        st = self.state(bot)
        if st.webhook is not None:
            raise TgError(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        offset = _int(params, "offset", default=0)
        limit = min(max(_int(params, "limit", default=100), 1), 100)
        timeout = max(0, min(_int(params, "timeout", default=0), MAX_LONG_POLL))
        allowed = _obj(params, "allowed_updates", "allowed updates")
        if allowed is not None:
            st.allowed_updates = list(allowed) or None
        if offset > 0:
            st.updates = [u for u in st.updates if u["update_id"] >= offset]
        elif offset < 0:
            st.updates = st.updates[offset:]
        st.poll_generation += 1
        generation = st.poll_generation
        if st.arrived is not None:
            st.arrived.set()  # wakes an older poller, which then ends with 409
        if not st.updates and timeout:
            st.arrived = asyncio.Event()
            try:
                await asyncio.wait_for(st.arrived.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            if st.poll_generation != generation:
                if st.webhook is not None:
                    raise TgError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                       "use deleteWebhook to delete the webhook first")
                raise TgError(409, "Conflict: terminated by other getUpdates request; "
                                   "make sure that only one bot instance is running")
        return st.updates[:limit], ""

    # -------------------------------------------------------------- control

    def inject(self, data: dict[str, Any]) -> dict[str, Any]:
        """Deliver an incoming update to a bot (a user writes, a button is pressed).

        `{"bot": token | @username | id, "text": …, "from": {id, first_name, username}}`,
        `{"bot": …, "callback_data": …, "message_id": …, "chat_id": …}`,
        `{"bot": …, "blocked": true | false, "from": {…}}` (the user blocks / unblocks the bot), or
        `{"bot": …, "update": {…any Update fields…}}`. Returns the Update.
        """
        bot = self._bot_named(data.get("bot"))
        user = {"id": 424242, "is_bot": False, "first_name": "Sandbox", "username": "sandbox_user",
                "language_code": "en", **(data.get("from") or {})}
        now = int(self.core.clock.now())
        if "update" in data:
            update = dict(data["update"])
        elif "callback_data" in data:
            chat = self.core.accounts.chat(data.get("chat_id", user["id"]))
            msg = self.messages.get((chat.id, int(data["message_id"]))) if chat and "message_id" in data else None
            if msg is None:
                raise ValueError("callback_data needs chat_id and the message_id of a message the bot sent")
            qid = str(abs(hash((bot.id, now, msg["message_id"], len(self.callbacks)))))
            self.callbacks[qid] = bot.id
            update = {"callback_query": {"id": qid, "from": user, "message": msg,
                                         "chat_instance": str(chat.id), "data": str(data["callback_data"])}}
        elif "blocked" in data:
            chat = self._private_chat(user)
            key = (bot.id, chat.id)
            old, new = ("member", "kicked") if data["blocked"] else ("kicked", "member")
            if data["blocked"]:
                self.blocked.add(key)
            else:
                self.blocked.discard(key)
                self.started.add(key)
            update = {"my_chat_member": {"chat": chat.to_json(), "from": user, "date": now,
                                         "old_chat_member": {"status": old, "user": bot.to_user()},
                                         "new_chat_member": {"status": new, "user": bot.to_user(),
                                                             **({"until_date": 0} if data["blocked"] else {})}}}
        elif "text" in data:
            chat = self._private_chat(user)
            self.started.add((bot.id, chat.id))
            self.blocked.discard((bot.id, chat.id))
            mid = self.next_message_id.get(chat.id, 0) + 1
            self.next_message_id[chat.id] = mid
            message = {"message_id": mid, "date": now, "chat": chat.to_json(), "from": user, "text": data["text"]}
            if str(data["text"]).startswith("/"):
                cmd = str(data["text"]).split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
            self.messages[(chat.id, mid)] = message
            update = {"message": message}
        else:
            raise ValueError("give text, callback_data or update")
        st = self.state(bot)
        kind = next((k for k in update if k != "update_id"), "message")
        if st.allowed_updates and kind not in st.allowed_updates:
            return {"update_id": None, "dropped": f"{kind} is not in allowed_updates"}
        update = {"update_id": st.next_update_id, **{k: v for k, v in update.items() if k != "update_id"}}
        st.next_update_id += 1
        st.updates.append(update)
        if st.arrived is not None:
            st.arrived.set()
        return update

    def _private_chat(self, user: dict[str, Any]) -> TelegramChat:
        chat = self.core.accounts.add_chat(str(user["id"]))
        chat.type, chat.first_name, chat.title = "private", user["first_name"], ""
        chat.username = user.get("username", "")
        return chat

    def _bot_named(self, ref: Any) -> TelegramBot:
        bots = self.core.accounts.bots
        if ref is None and len(bots) == 1:
            return next(iter(bots.values()))
        for bot in bots.values():
            if str(ref) in (bot.token, str(bot.id), bot.username, "@" + bot.username):
                return bot
        raise ValueError(f"no sandbox bot {ref!r}: give its token, id or @username")
