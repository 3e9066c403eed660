"""The incoming side of the Telegram emulator, as a mixin of `TelegramService`.

Updates a bot receives: getUpdates long polling, setWebhook / deleteWebhook /
getWebhookInfo, answerCallbackQuery, and `inject`, the control route that
delivers an update (a user writes, presses a button, blocks the bot).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from distributor.sandbox.accounts import TelegramBot, TelegramChat
from distributor.sandbox.http import Upload
from distributor.sandbox.telegram_params import BotState, TgError, _bool, _int, _obj, bad

if TYPE_CHECKING:
    from distributor.sandbox.core import SandboxCore

MAX_LONG_POLL = 50  # seconds; Telegram caps long polling too
WEBHOOK_PORTS = (443, 80, 88, 8443)


class TelegramUpdates:
    """getUpdates, webhooks, callback answers and `inject`; the state lives on `TelegramService`."""

    core: SandboxCore
    messages: dict[tuple[int, int], dict[str, Any]]
    next_message_id: dict[int, int]
    states: dict[str, BotState]
    started: set[tuple[int, int]]
    blocked: set[tuple[int, int]]
    callbacks: dict[str, int]

    def state(self, bot: TelegramBot) -> BotState:
        st = self.states.get(bot.token)
        if st is None:
            st = self.states[bot.token] = BotState()
        return st

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

        `{"bot": token | @username | id, "text": …, "from": {id, first_name, username}}` (in the
        user's private chat with the bot, or with `"chat_id"` in a group the bot is in),
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
            if chat is None or msg is None:
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
            if "chat_id" in data:  # written in a group the bot is in (the editors' group)
                found = self.core.accounts.chat(data["chat_id"])
                if found is None or found.type == "private" or found.id not in bot.admin_of:
                    raise ValueError(f"the bot is in no group {data['chat_id']!r}")
                chat = found
            else:
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
