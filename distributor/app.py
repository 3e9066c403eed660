"""The composition root: settings in, the wired pipeline out.

`run_cycle` is one full cycle (ingest, plan, deliver what is due) and is what
`distributor run --once` and each scheduler tick call. `sandbox_if_needed`
starts the local emulators in this process when a channel uses them and
nothing answers at the configured address yet.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from typing import Iterator
from zoneinfo import ZoneInfo

from distributor.config import Settings
from distributor.delivery import Dispatcher, DrainReport
from distributor.ingest.pipeline import SourceReport, ingest
from distributor.newsletter.digest import DigestResult, next_slot, run_due_digest
from distributor.store import Store, utcnow


def uses_sandbox(settings: Settings) -> bool:
    return any(ch.mode == "sandbox" for ed in settings.editions.values() for ch in ed.channels.configured().values())


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


def where_it_went(store: Store, settings: Settings | None = None) -> list[str]:
    """A summary of the outbox, channel by channel, for people."""
    titles = {a.id: a.article.label for a in store.list_articles()}
    by_channel: dict[str, dict[str, list[str]]] = {}
    for d in store.deliveries():
        by_channel.setdefault(d.channel, {}).setdefault(d.status, []).append(titles.get(d.article_id, "?"))
    lines = []
    for channel in sorted(by_channel):
        states = by_channel[channel]
        for status in ("sent", "pending", "held", "failed", "skipped", "cancelled", "sending"):
            items = states.get(status)
            if not items:
                continue
            label = status
            if status == "pending" and channel.endswith(".newsletter") and settings is not None:
                edition = channel.split(".")[0]
                when = next_slot(settings, edition, utcnow()).astimezone(
                    ZoneInfo(settings.editions[edition].timezone))
                label = f"waiting for the weekly digest of {when:%a %Y-%m-%d %H:%M %Z}"
            lines.append(f"  {channel:15} {label}: {len(items)}" + (
                "" if status in ("skipped", "cancelled") else "  (" + "; ".join(map(_short, items)) + ")"))
    return lines


def _short(title: str) -> str:
    """A title for a one-line summary: at most 50 characters, cut at a word
    (on whole grapheme clusters) with an ellipsis."""
    from distributor.render.textlimits import fit

    return fit(title, lambda s: len(s) <= 50).text
