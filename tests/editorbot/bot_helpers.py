"""Helpers of the editors' bot tests (a unique module name: tests/ has no
packages): the [desk.telegram] section, and `Harness`, which writes to the
bot and presses its buttons through the sandbox's injected updates and reads
what the bot called, all over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from distributor.editorbot.bot import EditorBot
from distributor.store import Store

GROUP = -1001000000001
ANNA, BERT, STRANGER = 4711, 4712, 9999
BOT = "@sandbox_editors_bot"
SEED = "de-kasachstan-china-ukraine.txt"  # an article awaiting approval on de.telegram and de.twitter

DESK_TOML = f"""
[desk.telegram]
mode = "sandbox"
chat_id = "{GROUP}"
editors = [{ANNA}, {BERT}]
editor_emails = {{ "{ANNA}" = "anna@novastan.example" }}
watch_seconds = 0.1
poll_timeout_seconds = 1
timeout_seconds = 5
alert_source_failing_minutes = 30
"""


def user(uid: int) -> dict[str, Any]:
    names = {ANNA: "Anna", BERT: "Bert", STRANGER: "Mallory"}
    return {"id": uid, "first_name": names.get(uid, "User"), "username": names.get(uid, "user").lower()}


class Harness:
    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, trust_env=False, timeout=10)

    # ------------------------------------------------------------ writing, pressing

    def say(self, text: str, uid: int = ANNA, *, in_group: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"bot": BOT, "text": text, "from": user(uid)}
        if in_group:
            body["chat_id"] = GROUP
        r = self.http.post("/_sandbox/telegram/updates", json=body)
        assert r.status_code == 201, r.text
        return r.json()["update"]

    def press(self, message_id: int, data: str, uid: int = ANNA) -> dict[str, Any]:
        r = self.http.post("/_sandbox/telegram/updates", json={
            "bot": BOT, "callback_data": data, "message_id": message_id, "chat_id": GROUP, "from": user(uid)})
        assert r.status_code == 201, r.text
        return r.json()["update"]

    # ------------------------------------------------------------ reading

    def calls(self, method: str | None = None, *, chat: Any = None) -> list[dict[str, Any]]:
        """The bot's accepted calls (optionally of one method, into one chat)."""
        reqs = self.http.get("/_sandbox/requests", params={"service": "telegram"}).json()["requests"]
        out = []
        for r in reqs:
            if r["account"] != BOT.lstrip("@") or (method and not r["path"].endswith("/" + method)):
                continue
            if chat is not None and str(r["body"].get("chat_id")) != str(chat):
                continue
            out.append(r)
        return out

    def replies(self, uid: int = ANNA) -> list[str]:
        return [r["body"]["text"] for r in self.calls("sendMessage", chat=uid)]

    def group_posts(self) -> list[dict[str, Any]]:
        return self.calls("sendMessage", chat=GROUP)

    def approval_posts(self) -> list[dict[str, Any]]:
        return [r for r in self.group_posts() if "reply_markup" in r["body"]]

    def channel_posts(self, chat: str = "@novastan_de") -> list[dict[str, Any]]:
        reqs = self.http.get("/_sandbox/requests", params={"service": "telegram"}).json()["requests"]
        return [r for r in reqs if r["body"] and r["body"].get("chat_id") == chat
                and r["path"].endswith(("/sendMessage", "/sendPhoto"))]

    def message(self, message_id: int) -> dict[str, Any]:
        """The group message as the sandbox holds it now (after the bot's edits)."""
        edits = [r for r in self.calls("editMessageText", chat=GROUP) if int(r["body"]["message_id"]) == message_id]
        return edits[-1]["result"] if edits else next(
            r["result"] for r in self.group_posts() if r["result"]["message_id"] == message_id)


def seed_id(store: Store) -> int:
    return next(a.id for a in store.list_articles() if a.key == SEED)


def states(store: Store, article_id: int) -> dict[str, str]:
    return {d.channel: d.status for d in store.deliveries(article_id=article_id)}


def buttons(result: dict[str, Any]) -> list[str]:
    """The callback data of a message's buttons."""
    return [b["callback_data"] for row in result.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def posted_for(harness: Harness, article_id: int) -> dict[str, Any]:
    """The article's approval message, once posted."""
    post = await wait_for(lambda: next((r for r in harness.approval_posts()
                                        if f"article {article_id} (de)" in r["body"]["text"]), None),
                          message=f"the approval message of article {article_id}")
    return post["result"]


async def wait_for(what: Callable[[], Any], *, timeout: float = 20.0, message: str = "") -> Any:
    """Poll `what()` until it is truthy (a deadline, never a timed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(what)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or what}")
        await asyncio.sleep(0.05)


async def looks(bot: EditorBot, n: int = 3) -> None:
    """Wait until the bot's watcher looked in the database `n` more times."""
    start = bot.looked
    await wait_for(lambda: bot.looked >= start + n, message=f"{n} looks")


@contextlib.asynccontextmanager
async def running(settings, store: Store) -> AsyncIterator[EditorBot]:
    bot = EditorBot(settings, store)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def drain(settings, store: Store):
    """One delivery run, on the real clock (the bot's)."""
    from distributor.delivery import Dispatcher

    d = Dispatcher(settings, store)
    try:
        return await d.drain(max_wait=0)
    finally:
        await d.aclose()
