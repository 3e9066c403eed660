"""What every part of the editors' bot works with: the settings of
[desk.telegram], the store, the clock, and who may act.

An editor action taken from the chat runs on an App over the bot's store
(`app()` for the actions that only change the database, `sending()` for a
send, with its own dispatcher closed after it, as the desk does), so that the
bot running inside `distributor run` never shares the daemon's dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from distributor.app import App, app_over
from distributor.config import DeskTelegramConfig, Settings
from distributor.delivery import Clock
from distributor.store import Store, utcnow
from distributor.store.audit import REFUSED, Audit, AuditNote
from distributor.store.editorbot import BotRecords

__all__ = ["BotContext", "actor_of", "chat_ref"]


def actor_of(user_id: int) -> str:
    """The audit actor of a Telegram user: "telegram:<user id>"."""
    return f"telegram:{user_id}"


def chat_ref(chat_id: str) -> str | int:
    """A configured chat as the Bot API takes it: a number, or "@name"."""
    text = chat_id.strip()
    return int(text) if text.lstrip("-").isdigit() else text


@dataclass
class BotContext:
    settings: Settings
    store: Store
    clock: Clock = utcnow
    # One decision at a time per article in this process (approvals.py): two presses in one
    # batch, Approve all and Skip, make one decision, not a mix of both across its channels.
    deciding: dict[int, asyncio.Lock] = field(default_factory=dict, repr=False)

    @property
    def config(self) -> DeskTelegramConfig:
        cfg = self.settings.desk.telegram
        assert cfg is not None, "the editors' bot runs only with [desk.telegram]"
        return cfg

    @property
    def chat_key(self) -> str:
        """The editors' group as the database records it."""
        return self.config.chat_id.strip()

    @property
    def chat(self) -> str | int:
        return chat_ref(self.config.chat_id)

    @property
    def records(self) -> BotRecords:
        return BotRecords(self.store.engine)

    def is_editor(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.editors

    def email_of(self, user_id: int) -> str | None:
        return self.config.editor_emails.get(str(user_id))

    def app(self) -> App:
        return App(self.settings, self.store, clock=self.clock)

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[App]:
        async with app_over(self.settings, self.store, clock=self.clock) as app:
            yield app

    def refuse(self, user_id: int, action: str, detail: str, **about: Any) -> None:
        """Record what a stranger (or a bad request) asked for, refused."""
        Audit(self.store.engine).record(AuditNote(actor_of(user_id), action[:32], outcome=REFUSED, detail=detail,
                                                  **about), at=self.clock())
