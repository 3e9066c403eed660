"""What the sandbox accepts: bots and their chats, X apps and users, SendGrid keys.

Derived from the loaded Settings, so the sandbox and the channel adapters agree
without any secret in the repo: every edition channel in "sandbox" mode gets
the well-known credentials of `credentials.sandbox_secret` (so does the
editors' bot of [desk.telegram], with its group), and `[sandbox]` may add
more accounts (`telegram_bots`, `x_accounts`, `sendgrid_keys`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from distributor.config import Settings
from distributor.sandbox.credentials import DESK_EDITION, sandbox_secret


def mask(secret: str) -> str:
    """Enough of a credential to tell accounts apart in logs, never all of it."""
    return secret[:10] + "…" if len(secret) > 12 else "…"


def channel_chat_id(username: str) -> int:
    """A stable supergroup/channel id (-100…) for a chat known by @name."""
    n = int(hashlib.sha256(username.lower().encode()).hexdigest()[:12], 16) % 10**10
    return -(10**12 + max(n, 10**9))


def user_id_for(name: str) -> int:
    return 10**9 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10**9


@dataclass
class TelegramChat:
    id: int
    type: str  # "channel", "supergroup", "private"
    username: str = ""  # without "@"
    title: str = ""
    first_name: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            d["title"] = self.title
        if self.username:
            d["username"] = self.username
        if self.first_name:
            d["first_name"] = self.first_name
        return d


@dataclass
class TelegramBot:
    token: str
    id: int
    username: str
    first_name: str
    # Chat ids this bot administers (may post in).
    admin_of: set[int] = field(default_factory=set)

    def to_user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}


@dataclass
class XAccount:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    user_id: str
    username: str
    name: str
    # App-only bearer token of the same app: valid, but refused for posting.
    bearer_token: str = ""


@dataclass
class SendGridKey:
    api_key: str
    senders: set[str]
    label: str = ""


@dataclass
class Accounts:
    bots: dict[str, TelegramBot] = field(default_factory=dict)  # by token
    chats: dict[int, TelegramChat] = field(default_factory=dict)  # by id
    chat_names: dict[str, int] = field(default_factory=dict)  # lowercased username -> id
    x_by_token: dict[str, XAccount] = field(default_factory=dict)  # by access_token
    x_by_bearer: dict[str, XAccount] = field(default_factory=dict)
    x_consumers: dict[str, str] = field(default_factory=dict)  # consumer_key -> secret
    sendgrid: dict[str, SendGridKey] = field(default_factory=dict)  # by api key

    # ---------------------------------------------------------- building

    def add_chat(self, ref: str, *, title: str = "") -> TelegramChat:
        """A channel known by "@name" (or a numeric id): created once."""
        ref = ref.strip()
        if ref.lstrip("-").isdigit():
            cid = int(ref)
            chat = self.chats.get(cid) or TelegramChat(id=cid, type="channel" if cid < 0 else "private",
                                                       title=title or f"Chat {cid}")
        else:
            name = ref.lstrip("@")
            cid = self.chat_names.get(name.lower()) or channel_chat_id(name)
            chat = self.chats.get(cid) or TelegramChat(id=cid, type="channel", username=name, title=title or name)
            self.chat_names[name.lower()] = cid
        self.chats[cid] = chat
        return chat

    def add_bot(self, token: str, *, username: str = "", chats: tuple[str, ...] = ()) -> TelegramBot:
        bot_id = int(token.split(":", 1)[0])
        bot = self.bots.get(token) or TelegramBot(token=token, id=bot_id,
                                                  username=username or f"sandbox_{bot_id}_bot",
                                                  first_name="Sandbox bot")
        for ref in chats:
            bot.admin_of.add(self.add_chat(ref).id)
        self.bots[token] = bot
        return bot

    def add_x(self, account: XAccount) -> None:
        self.x_by_token[account.access_token] = account
        self.x_consumers[account.consumer_key] = account.consumer_secret
        if account.bearer_token:
            self.x_by_bearer[account.bearer_token] = account

    def add_sendgrid(self, api_key: str, senders: tuple[str, ...] | set[str], label: str = "") -> None:
        key = self.sendgrid.get(api_key) or SendGridKey(api_key=api_key, senders=set(), label=label)
        key.senders.update(s.lower() for s in senders)
        self.sendgrid[api_key] = key

    # ---------------------------------------------------------- lookups

    def chat(self, ref: Any) -> TelegramChat | None:
        """The chat named by a chat_id parameter: an int, "-100…" or "@name"."""
        if isinstance(ref, int):
            return self.chats.get(ref)
        ref = str(ref).strip()
        if ref.startswith("@"):
            cid = self.chat_names.get(ref[1:].lower())
            return self.chats.get(cid) if cid is not None else None
        try:
            return self.chats.get(int(ref))
        except ValueError:
            return None

    def to_json(self, reveal: bool = False) -> dict[str, Any]:
        show = (lambda s: s) if reveal else mask
        return {
            "telegram": [
                {"token": show(b.token), "bot_id": b.id, "username": b.username,
                 "admin_of": [self.chats[c].to_json() for c in sorted(b.admin_of)]}
                for b in self.bots.values()
            ],
            "telegram_chats": [c.to_json() for c in self.chats.values()],
            "x": [
                {"consumer_key": show(a.consumer_key), "consumer_secret": show(a.consumer_secret),
                 "access_token": show(a.access_token), "access_token_secret": show(a.access_token_secret),
                 "bearer_token": show(a.bearer_token), "user_id": a.user_id, "username": a.username}
                for a in self.x_by_token.values()
            ],
            "sendgrid": [
                {"api_key": show(k.api_key), "verified_senders": sorted(k.senders), "label": k.label}
                for k in self.sendgrid.values()
            ],
        }


def accounts_from_settings(settings: Settings) -> Accounts:
    acc = Accounts()
    sb = settings.sandbox
    for code, edition in settings.editions.items():
        ch = edition.channels
        if ch.telegram is not None and ch.telegram.mode == "sandbox":
            acc.add_chat(ch.telegram.chat_id, title=edition.name or code)
            acc.add_bot(sandbox_secret(code, "telegram", "token"),
                        username=f"sandbox_{code}_bot", chats=(ch.telegram.chat_id,))
        if ch.twitter is not None and ch.twitter.mode == "sandbox":
            keys = {f: sandbox_secret(code, "twitter", f)
                    for f in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")}
            acc.add_x(XAccount(**keys, user_id=str(user_id_for(f"x/{code}")), username=f"sandbox_{code}",
                               name=edition.name or code,
                               bearer_token=sandbox_secret(code, "twitter", "bearer_token")))
        if ch.newsletter is not None and ch.newsletter.mode == "sandbox":
            acc.add_sendgrid(sandbox_secret(code, "newsletter", "api_key"), (ch.newsletter.from_email,), label=code)
    desk = settings.desk.telegram
    if desk is not None and desk.mode == "sandbox" and desk.chat_id:
        # The editors' bot and their group (a supergroup, where editors write and press buttons).
        group = acc.add_chat(desk.chat_id, title="Editors")
        group.type = "supergroup"
        acc.add_bot(sandbox_secret(DESK_EDITION, "telegram", "token"), username="sandbox_editors_bot",
                    chats=(desk.chat_id,))
    for bot in sb.telegram_bots:
        acc.add_bot(bot.token, username=bot.username, chats=bot.chats)
    for x in sb.x_accounts:
        acc.add_x(XAccount(consumer_key=x.consumer_key, consumer_secret=x.consumer_secret,
                           access_token=x.access_token, access_token_secret=x.access_token_secret,
                           user_id=str(user_id_for(f"x/{x.access_token}")),
                           username=x.username or "sandbox_user", name=x.username or "Sandbox user"))
    for k in sb.sendgrid_keys:
        acc.add_sendgrid(k.api_key, k.senders)
    for ref in sb.foreign_chats:
        acc.add_chat(ref)
    return acc
