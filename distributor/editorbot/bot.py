"""The editors' bot: python-telegram-bot's Application, long polling, in the
event loop of whoever runs it (`distributor run`, or `distributor editor-bot`
alone), and its watcher.

`EditorBot(settings, store)` builds the Application against the real Bot API
(live) or the sandbox (sandbox mode: the sandbox knows this bot and the
editors' group), with the token from the environment (config/secrets.py).
`start()` starts polling and the watcher; `stop()` stops both cleanly (the
long poll in flight is cancelled, the updates handled are confirmed).

Updates: a command (commands.py) from an editor of [desk.telegram] runs and
is answered; from anyone else it gets one short refusal, is recorded in the
audit as refused, and nothing happens. A button press is approvals.py's.
Updates are handled concurrently (two presses in one getUpdates batch race
as two editors would); the actions' conditional transitions make one act.

The watcher looks in the database every watch_seconds: articles awaiting
approval to post, approval messages to bring up to date (decisions taken on
the desk, the CLI or here), and alerts to send (alerts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import telegram
from telegram import error as tg_error
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.ext import MessageHandler, filters
from telegram.request import HTTPXRequest

from distributor.config import Settings, desk_bot_token
from distributor.delivery import Clock
from distributor.editorbot.alerts import send_alerts
from distributor.editorbot.approvals import on_press, post_new, refresh
from distributor.editorbot.commands import COMMANDS, Reply, run_command
from distributor.editorbot.context import BotContext
from distributor.editorbot.texts import HELP, REFUSAL, esc
from distributor.redact import scrub
from distributor.store import Store, utcnow

log = logging.getLogger("distributor.editorbot")

__all__ = ["EditorBot", "api_base", "start_bot", "start_in_daemon"]


def api_base(settings: Settings) -> str:
    """Where the bot's Bot API is: the sandbox's emulator, or api_url."""
    cfg = settings.desk.telegram
    assert cfg is not None
    if cfg.mode == "sandbox":
        return f"{settings.sandbox.base_url}/telegram"
    return cfg.api_url.rstrip("/")


class EditorBot:
    def __init__(self, settings: Settings, store: Store, *, clock: Clock = utcnow):
        self.ctx = BotContext(settings, store, clock)
        cfg = self.ctx.config
        base = api_base(settings)
        timeout = cfg.timeout_seconds
        self.application: Application = (
            ApplicationBuilder().token(desk_bot_token(settings))
            .base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
            .request(HTTPXRequest(connect_timeout=5.0, read_timeout=timeout, write_timeout=timeout,
                                  connection_pool_size=8))
            .get_updates_request(HTTPXRequest(connect_timeout=5.0, read_timeout=cfg.poll_timeout_seconds + 10.0))
            .concurrent_updates(True).job_queue(None)
        ).build()
        app = self.application
        app.add_handler(CallbackQueryHandler(self._on_press))
        app.add_handler(CommandHandler([*COMMANDS, "start", "help"], self._on_command))
        app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        app.add_error_handler(self._on_error)
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.looked = 0  # watcher looks done (tests wait on it)

    @property
    def bot(self) -> telegram.Bot:
        return self.application.bot

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = self.application
        await app.initialize()  # getMe: a bad token shows up here
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=self.ctx.config.poll_timeout_seconds,
                                        allowed_updates=["message", "callback_query"],
                                        error_callback=self._on_poll_error)
        self._stopping.clear()
        self._watcher = asyncio.create_task(self._watch(), name="editorbot-watcher")
        log.info("editors' bot @%s: polling; group %s", app.bot.username, self.ctx.config.chat_id)

    async def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._watcher), timeout=5.0)
            if not self._watcher.done():
                self._watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watcher
            self._watcher = None
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("editors' bot: stopped")

    async def __aenter__(self) -> EditorBot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ the watcher

    async def look(self) -> None:
        """One look in the database: post, refresh, alert."""
        await post_new(self.ctx, self.bot)
        await refresh(self.ctx, self.bot)
        await send_alerts(self.ctx, self.bot)
        self.looked += 1

    async def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.look()
            except Exception:  # noqa: BLE001 - one bad look must not stop the bot
                log.exception("editors' bot: a look in the database failed; trying again")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.ctx.config.watch_seconds)

    # ------------------------------------------------------------ updates

    async def _on_press(self, update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await on_press(self.ctx, self.bot, update.callback_query)

    async def _on_command(self, update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user = update.effective_message, update.effective_user
        if msg is None or user is None or not msg.text:
            return
        name, _, addressee = msg.text.split()[0][1:].partition("@")
        if addressee and addressee.lower() != (self.bot.username or "").lower():
            return  # "/status@another_bot" in the group: not ours
        name, args = name.lower(), msg.text.split()[1:]
        if not self.ctx.is_editor(user.id):
            await asyncio.to_thread(self.ctx.refuse, user.id, name or "command",
                                    f"not one of the editors of [desk.telegram]: /{name[:40]}")
            await msg.reply_text(REFUSAL)
            return
        if name not in COMMANDS:
            reply = Reply(esc(HELP if name in ("start", "help") else f"No command /{name}.\n{HELP}"))
        else:
            try:
                reply = await run_command(self.ctx, name, user.id, args)
            except Exception as exc:  # noqa: BLE001 - the editor hears of it; the log has the rest
                log.exception("editors' bot: /%s by %s failed", name, user.id)
                reply = Reply(esc(f"/{name} failed: {type(exc).__name__}: {exc}"))
        await self._send(msg, reply)

    async def _send(self, msg: telegram.Message, reply: Reply) -> None:
        no_preview = telegram.LinkPreviewOptions(is_disabled=True)
        await msg.reply_text(scrub(reply.text), parse_mode="HTML", link_preview_options=no_preview)
        try:
            for text, mode in reply.messages:
                await self.bot.send_message(msg.chat_id, text, parse_mode=mode)
            for name, content, caption in reply.documents:
                await self.bot.send_document(msg.chat_id, telegram.InputFile(content, filename=name),
                                             caption=caption[:1024])
        except tg_error.TelegramError as exc:
            await msg.reply_text(scrub(f"Telegram refused it: {exc}"))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("editors' bot: an update failed: %s", context.error)

    def _on_poll_error(self, exc: tg_error.TelegramError) -> None:
        log.warning("editors' bot: getUpdates: %s", exc)


async def start_bot(settings: Settings, store: Store) -> EditorBot:
    """The bot, started. A token the Bot API rejects is a configuration error."""
    from distributor.errors import ConfigurationError

    bot = EditorBot(settings, store)
    try:
        await bot.start()
    except tg_error.InvalidToken as exc:
        with contextlib.suppress(Exception):
            await bot.application.shutdown()
        raise ConfigurationError(f"[desk.telegram]: the editors' bot token was rejected: {exc.message}") from None
    return bot


async def start_in_daemon(settings: Settings, store: Store) -> EditorBot | None:
    """The bot for `distributor run`: started when [desk.telegram] is
    configured; None without it, or when the Bot API cannot be reached now
    (logged: the daemon goes on without it). A rejected token stops the
    daemon (a configuration error)."""
    if settings.desk.telegram is None:
        return None
    try:
        return await start_bot(settings, store)
    except tg_error.TelegramError as exc:
        log.error("the editors' bot did not start: %s; running without it", exc)
        return None
