"""The operator's routes: GET /metrics, /healthz, /readyz.

`serve` mounts them in the web app (web/app.py); `run` (and `worker`) serve
them alone on `[metrics] port` when it is set (web/server.py's
`ops_if_enabled`), so every process can be scraped and health-checked.

    GET /metrics   Prometheus text format (distributor/metrics.py)
    GET /healthz   200 "ok": the process is alive and answering
    GET /readyz    200 "ready" when the database answers and its schema is at
                   the code's migration head; 503 with the reason otherwise

They read the database through an engine of their own (no migration on
open, a short connect timeout), so a database that is down or behind is
reported, not waited for or changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from typing import AsyncIterator, Callable

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from distributor.config import Settings

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ops:
    """The three handlers over one lazily made engine."""

    def __init__(self, settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow):
        from distributor import metrics

        self.settings, self.clock = settings, clock
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()
        self.registry = metrics.registry(self.engine, clock)

    def engine(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                from distributor.store.db import create_engine

                # A database that is down answers a probe within seconds, not a TCP timeout.
                self._engine = create_engine(self.settings.database_url, connect_timeout=3)
            return self._engine

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.metrics, methods=["GET"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/readyz", self.readyz, methods=["GET"])]

    async def metrics(self, request: Request) -> Response:
        import asyncio

        from distributor import metrics

        body = await asyncio.to_thread(metrics.render, self.registry)
        return Response(body, media_type=metrics.CONTENT_TYPE.split(";")[0],
                        headers={"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"})

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, request: Request) -> Response:
        import asyncio

        problem = await asyncio.to_thread(self.not_ready)
        if problem:
            return PlainTextResponse(f"not ready: {problem}\n", status_code=503, headers={"Cache-Control": "no-store"})
        return PlainTextResponse("ready\n", headers={"Cache-Control": "no-store"})

    def not_ready(self) -> str | None:
        """Why this process cannot serve (None: it can)."""
        from distributor.redact import scrub
        from distributor.store.db import current_revision, head_revision

        try:
            with self.engine().connect() as conn:
                at = current_revision(conn)
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the answer
            reason = str(getattr(exc, "orig", None) or exc).strip()
            return scrub(f"the database does not answer: {reason.splitlines()[0] if reason else type(exc).__name__}")
        head = head_revision()
        if at != head:
            return (f"the database schema is at migration {at or 'none'}, the code needs {head}: "
                    "start `distributor run` (it migrates on start) or run the migrations")
        return None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def ops_app(settings: Settings) -> Starlette:
    """The three routes alone, for `run` and `worker`."""
    ops = Ops(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            ops.close()

    return Starlette(routes=ops.routes(), lifespan=lifespan)
