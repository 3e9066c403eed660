"""Serving the sandbox: in the foreground (`distributor sandbox`) or in a
background thread of the current process (tests, `distributor run`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import uvicorn

from distributor.config import Settings
from distributor.sandbox.app import Sandbox
from distributor.sandbox.ratelimit import Clock

T = TypeVar("T")


def _config(sandbox: Sandbox, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        sandbox.app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off",
        # HTTP/1.1 keep-alive as the real clients use it; long polls need no special timeout.
        timeout_keep_alive=30, backlog=2048,
    )


def run_sandbox(settings: Settings, host: str | None = None, port: int | None = None,
                log_level: str = "info") -> None:
    """Serve until interrupted."""
    sandbox = Sandbox(settings)
    host = host or settings.sandbox.host
    port = settings.sandbox.port if port is None else port
    sandbox.core.public_url = f"http://{host}:{port}"
    config = _config(sandbox, host, port, log_level)
    # The emulator's start-up heap (modules, routes, the app) is frozen out of the
    # collector: a full collection walked all of it every few dozen requests, a pause
    # of tens of ms on whichever client was posting then (bench/README.md, the digest).
    config.load()
    gc.freeze()
    uvicorn.Server(config).run()


@dataclass
class SandboxHandle:
    sandbox: Sandbox
    server: uvicorn.Server
    thread: threading.Thread
    url: str
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def clock(self) -> Clock:
        return self.sandbox.clock

    def reset(self) -> None:
        """Forget all state (between tests); runs in the server's loop."""
        self.call(self.sandbox.reset)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) in the sandbox's event loop and return its result."""
        if self.loop is None:
            return fn(*args)
        done = threading.Event()
        box: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:  # handed back to the caller
                box.append((False, exc))
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(10)
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(settings: Settings, *, host: str = "127.0.0.1", port: int = 0,
                  clock: Clock | None = None, log_level: str = "warning") -> SandboxHandle:
    """Start the sandbox in a daemon thread; port 0 picks a free port."""
    sandbox = Sandbox(settings, clock)
    server = uvicorn.Server(_config(sandbox, host, port, log_level))
    # Not the main thread: uvicorn (>= 0.29, pyproject.toml) installs no signal handlers here.
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loop_box.append(asyncio.get_running_loop())
        await server.serve()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="distributor-sandbox", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the sandbox could not start on {host}:{port}")
        thread.join(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://{host}:{bound}"
    sandbox.core.public_url = url
    logging.getLogger(__name__).debug("sandbox listening on %s", url)
    return SandboxHandle(sandbox, server, thread, url, loop_box[0] if loop_box else None)
