"""Helpers shared by the tests that drive the sandbox (imported, not fixtures)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import socket
import struct
import zlib
from pathlib import Path

from distributor.config import Settings, load_settings

# The embedded default config: the channels every sandbox test relies on.
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "distributor.toml"

START = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


class FakeClock:
    """A clock the code under test reads and whose sleep only moves time."""

    def __init__(self, now: dt.datetime = START):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def default_settings() -> Settings:
    """The embedded default config. Its Event Webhook posts nowhere (a test
    that wants events sets `handle.sandbox.sendgrid.emitter.url`)."""
    settings = load_settings(DEFAULT_CONFIG)
    return dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, event_webhook_url=""))


def sent(control, service: str, method: str | None = None) -> list[dict]:
    """Accepted calls of a sandbox service (optionally only paths ending in `method`)."""
    reqs = control.get("/_sandbox/requests", params={"service": service}).json()
    reqs = reqs if isinstance(reqs, list) else reqs["requests"]
    return [r for r in reqs if method is None or r["path"].endswith(method)]


def png(width: int = 2, height: int = 1) -> bytes:
    """A valid PNG of the given size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def drain(settings, store, clock, **kw):
    """One Dispatcher.drain on the fake clock (full backoff: rand = 1.0)."""
    from distributor.delivery import Dispatcher

    async def go():
        d = Dispatcher(settings, store, clock=clock, sleep=clock.sleep, rand=lambda: 1.0)
        try:
            return await d.drain(**kw)
        finally:
            await d.aclose()

    return asyncio.run(go())


def with_channel(settings, channel: str, **changes):
    """The settings with one channel's config changed ("de.telegram", …)."""
    edition, kind = channel.split(".")
    ed = settings.editions[edition]
    ch = dataclasses.replace(getattr(ed.channels, kind), **changes)
    return dataclasses.replace(settings, editions={
        **settings.editions, edition: dataclasses.replace(ed, channels=dataclasses.replace(ed.channels, **{kind: ch}))})


def add_subscribers(store_or_engine, edition: str, emails, *, now: dt.datetime = START) -> None:
    """Active subscribers of an edition, with a recorded consent (a store or an engine)."""
    from distributor.store.subscribers import Subscribers

    engine = getattr(store_or_engine, "engine", store_or_engine)
    Subscribers(engine).add_active(edition, emails, now=now, source="test", consent_text="test consent")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env() -> dict[str, str]:
    """The environment for a `distributor` subprocess: loopback never proxied, output unbuffered."""
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


def on_engine(request, settings):
    """`settings` as they are (SQLite) or on a fresh PostgreSQL database, by
    the fixture's param ("sqlite" or "postgresql"): the body of the fixtures
    that run a test on both engines."""
    if request.param == "sqlite":
        return settings
    url = request.getfixturevalue("pg_url")
    return dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=url))
