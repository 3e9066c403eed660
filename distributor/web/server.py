"""Serving the web app: in the foreground (`distributor serve`) or in a
background thread of the current process (`distributor run`, tests); and the
operator's routes alone (web/ops.py) for `run` and `worker` ([metrics] port)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterator

import uvicorn

from distributor.config import Settings

log = logging.getLogger(__name__)


def _config(settings: Settings, host: str, port: int, log_level: str, store=None) -> uvicorn.Config:  # noqa: ANN001
    from distributor.web.app import create_app

    # proxy_headers: behind the reverse proxy on 127.0.0.1, the client address
    # (the per-client signup limit) comes from X-Forwarded-For.
    return uvicorn.Config(create_app(settings, store), host=host, port=port, log_level=log_level,
                          access_log=False, lifespan="on", proxy_headers=True, timeout_keep_alive=5)


def run_web(settings: Settings, host: str | None = None, port: int | None = None, log_level: str = "info",
            store=None) -> None:  # noqa: ANN001
    """Serve until interrupted (over `store`, or one the app opens)."""
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    uvicorn.Server(_config(settings, host, port, log_level, store)).run()


@dataclass
class WebHandle:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_web(settings: Settings, *, host: str | None = None, port: int | None = None, store=None,  # noqa: ANN001
              log_level: str = "warning") -> WebHandle:
    """Start the web app in a daemon thread; port 0 picks a free port."""
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    return _start(uvicorn.Server(_config(settings, host, port, log_level, store)), host, port, "distributor-web")


def start_asgi(app: Any, *, host: str, port: int, name: str, log_level: str = "warning") -> WebHandle:
    """Any ASGI app (web/ops.py's) served in a daemon thread; port 0 picks a free port."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                            timeout_keep_alive=5)
    return _start(uvicorn.Server(config), host, port, name)


def _start(server: uvicorn.Server, host: str, port: int, name: str) -> WebHandle:
    # Not the main thread: uvicorn (>= 0.29, capture_signals) installs no signal handlers there.
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=name, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the web app could not start on {host}:{port}")
        thread.join(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return WebHandle(server, thread, f"http://{host}:{bound}")


@contextlib.contextmanager
def web_if_enabled(settings: Settings) -> Iterator[str | None]:
    """For the daemon: serve the web app alongside when `[web] enabled`, unless
    something already listens on its address (a `distributor serve`)."""
    from distributor.app import listening

    web = settings.web
    if not web.enabled or listening(web.host, web.port):
        if web.enabled:
            log.info("web: something already listens on %s:%s; not serving it here", web.host, web.port)
        yield None
        return
    handle = start_web(settings)
    log.info("web: reader pages and webhooks at %s (public address %s)", handle.url, web.public_url)
    try:
        yield handle.url
    finally:
        handle.stop()


@contextlib.contextmanager
def ops_if_enabled(settings: Settings, *, role: str) -> Iterator[str | None]:
    """For `run` and `worker`: /metrics, /healthz and /readyz (web/ops.py) on
    `[metrics] host:port` in a background thread, when `[metrics] port` is
    set (0: off). Yields the URL, or None."""
    from distributor.app import listening
    from distributor.web.ops import ops_app

    cfg = settings.metrics
    if not cfg.port:
        yield None
        return
    try:
        if listening(cfg.host, cfg.port):
            raise RuntimeError(f"something already listens on {cfg.host}:{cfg.port}")
        handle = start_asgi(ops_app(settings), host=cfg.host, port=cfg.port, name=f"distributor-{role}-metrics")
    except (RuntimeError, OSError) as exc:  # a second process on the machine with the same config
        log.warning("metrics: not served by this process: %s (give it its own [metrics] port)", exc)
        yield None
        return
    log.info("metrics: %s/metrics (and /healthz, /readyz)", handle.url)
    try:
        yield handle.url
    finally:
        handle.stop()
