"""The composition root: settings in, the wired pipeline out.

`open_app(settings)` opens what a command needs — the store, and the local
sandbox when a channel uses it and `sandbox=True` — and `open_app_async` adds
the channels' dispatcher (closed on the way out). Every command and the daemon
open their App here, and the editor actions (distributor/actions/) take it.

`run_cycle` is one full cycle (ingest, plan, deliver what is due) and is what
`distributor run --once` and each scheduler tick call. `sandbox_if_needed`
starts the local emulators in this process when a channel uses them and
nothing answers at the configured address yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Iterator
from zoneinfo import ZoneInfo

from distributor.config import Settings
from distributor.delivery import Clock, Dispatcher, DrainReport, Sleep
from distributor.ingest.pipeline import SourceReport, ingest
from distributor.newsletter.digest import DigestResult, next_slot, run_due_digest
from distributor.store import Store, utcnow
from distributor.store.outbox import DeliveryStatus


@dataclass
class App:
    """What a command, the daemon or an editor action works with."""

    settings: Settings
    store: Store
    # The sandbox started in this process for this App, if one was.
    sandbox_url: str | None = None
    clock: Clock = utcnow
    sleep: Sleep = asyncio.sleep
    _dispatcher: Dispatcher | None = field(default=None, repr=False)

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("this App has no dispatcher: open it with open_app_async to send")
        return self._dispatcher


@contextlib.contextmanager
def open_app(settings: Settings, *, sandbox: bool = False, clock: Clock = utcnow) -> Iterator[App]:
    """The store (and with `sandbox`, the local sandbox when a channel needs
    it and none is running), for commands that send nothing or send through
    their own channels from synchronous code."""
    with sandbox_if_needed(settings if sandbox else None) as url, Store.open(settings) as store:
        yield App(settings, store, url, clock=clock)


@contextlib.asynccontextmanager
async def open_app_async(settings: Settings, *, sandbox: bool = True, clock: Clock = utcnow,
                         sleep: Sleep = asyncio.sleep, worker: str | None = None) -> AsyncIterator[App]:
    """open_app and the dispatcher over the configured channels (built on
    first use, closed on the way out), inside a running event loop."""
    with open_app(settings, sandbox=sandbox, clock=clock) as app:
        app.sleep = sleep
        app._dispatcher = Dispatcher(settings, app.store, clock=clock, sleep=sleep, worker=worker)
        try:
            yield app
        finally:
            await app._dispatcher.aclose()


def uses_sandbox(settings: Settings) -> bool:
    """Whether a channel, or the editors' bot, talks to the sandbox."""
    bot = settings.desk.telegram
    return (bot is not None and bot.mode == "sandbox") or any(
        ch.mode == "sandbox" for ed in settings.editions.values() for ch in ed.channels.configured().values())


def listening(host: str, port: int, timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


@contextlib.contextmanager
def sandbox_if_needed(settings: Settings | None) -> Iterator[str | None]:
    """Yield the URL of a sandbox started here, or None when none was needed
    (no settings given, no sandbox channel, autostart off, or one already
    listening)."""
    if settings is None:
        yield None
        return
    cfg = settings.sandbox
    if not uses_sandbox(settings) or not cfg.autostart or listening(cfg.host, cfg.port):
        yield None
        return
    from distributor.sandbox.server import start_sandbox

    handle = start_sandbox(settings, host=cfg.host, port=cfg.port)
    try:
        yield handle.url
    finally:
        handle.stop()


@dataclass
class CycleReport:
    sources: list[SourceReport] = field(default_factory=list)
    delivery: DrainReport | None = None
    digests: list[DigestResult] = field(default_factory=list)


async def run_cycle(settings: Settings, store: Store, dispatcher: Dispatcher, *,
                    max_wait: float | None = None) -> CycleReport:
    """Ingest, plan, deliver what is due, and send each edition's digest that
    is due (or resume one that was interrupted)."""
    report = CycleReport()
    report.sources = ingest(settings, store, now=dispatcher.clock())
    report.delivery = await dispatcher.drain(max_wait=max_wait)
    for edition, cfg in settings.editions.items():
        if cfg.channels.newsletter is None:
            continue
        result = await run_due_digest(settings, store, edition, clock=dispatcher.clock, sleep=dispatcher.sleep)
        if result is not None:
            report.digests.append(result)
    return report


S = DeliveryStatus
# The order of a channel's summary lines.
_SUMMARY_ORDER = (S.SENT, S.PENDING, S.AWAITING_APPROVAL, S.HELD, S.FAILED, S.SKIPPED, S.CANCELLED, S.SENDING)


async def drain_until_stopped(app: App, *, poll_seconds: float, on_report: Callable[[DrainReport], object],
                              max_wait: float = 0.0) -> None:
    """`deliver` without --once, and `worker`: drain what is due every
    `poll_seconds` (each drain also sitting out waits up to `max_wait`: a
    channel's pacing) until SIGINT or SIGTERM (a send in flight finishes; an
    interrupted one is left for recovery to settle, never resent blindly)."""
    dispatcher = app.dispatcher
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(dispatcher, "stopping", True))
    while not dispatcher.stopping:
        on_report(await dispatcher.drain(max_wait=max_wait))
        waited = 0.0
        while waited < poll_seconds and not dispatcher.stopping:
            await asyncio.sleep(0.2)
            waited += 0.2


def where_it_went(store: Store, settings: Settings | None = None) -> list[str]:
    """A summary of the outbox, channel by channel, for people."""
    titles = {a.id: a.article.label for a in store.list_articles()}
    by_channel: dict[str, dict[str, list[str]]] = {}
    for d in store.deliveries():
        by_channel.setdefault(d.channel, {}).setdefault(d.status, []).append(titles.get(d.article_id, "?"))
    lines = []
    for channel in sorted(by_channel):
        states = by_channel[channel]
        for status in _SUMMARY_ORDER:
            items = states.get(status)
            if not items:
                continue
            label: str = status
            if status == S.PENDING and channel.endswith(".newsletter") and settings is not None:
                edition = channel.split(".")[0]
                when = next_slot(settings, edition, utcnow()).astimezone(
                    ZoneInfo(settings.editions[edition].timezone))
                label = f"waiting for the weekly digest of {when:%a %Y-%m-%d %H:%M %Z}"
            elif status == S.AWAITING_APPROVAL:
                label = "awaiting approval (`distributor approve --article ID`)"
            lines.append(f"  {channel:15} {label}: {len(items)}" + (
                "" if status in (S.SKIPPED, S.CANCELLED) else "  (" + "; ".join(map(_short, items)) + ")"))
    return lines


def _short(title: str) -> str:
    """A title for a one-line summary: at most 50 characters, cut at a word
    (on whole grapheme clusters) with an ellipsis."""
    from distributor.render.textlimits import fit

    return fit(title, lambda s: len(s) <= 50).text


@contextlib.asynccontextmanager
async def app_over(settings: Settings, store: Store, *, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep,
                   worker: str | None = None) -> AsyncIterator[App]:
    """An App over a store that is already open (the web process's), with
    the channels' dispatcher, closed on the way out: what an editor action
    taken on the desk works with."""
    app = App(settings, store, clock=clock, sleep=sleep)
    app._dispatcher = Dispatcher(settings, store, clock=clock, sleep=sleep, worker=worker)
    try:
        yield app
    finally:
        await app._dispatcher.aclose()
