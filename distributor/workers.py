"""Delivery processes: who they are, that they are alive, and whether the one
that claimed a delivery is gone.

Every process that sends (`distributor worker`, `distributor run`, an editor's
`send`) claims deliveries under its id, `worker_id()`: "host:pid:nonce".
A long-running one (`worker`, `run`) registers itself in the database
(store/workers.py) for as long as it runs: `presence()` registers it, beats its
heartbeat every HEARTBEAT_SECONDS, and on the way out marks it stopped and
gives back its leases. `status` lists the processes whose heartbeat is younger
than STALE_AFTER_SECONDS; older ones are dropped from the list.

`claimer_gone` is what recovery asks of a delivery left in `sending`: its
claimer is gone when it ran on this machine and its pid has exited, or when
it registered and stopped or its heartbeat went stale (another machine's
process killed or cut off). Then the delivery's outcome is unknown and it goes
the unknown-outcome way (held, or found on X), never resent blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from typing import AsyncIterator, Callable

from distributor.store import Store
from distributor.store.workers import Workers

__all__ = ["worker_id", "presence", "claimer_gone", "HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS"]

log = logging.getLogger("distributor.worker")

# A registered process beats its heartbeat this often; one silent for longer
# than STALE_AFTER_SECONDS is taken for dead (not listed, its claims recovered).
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 30.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def presence(store: Store, worker: str, *, role: str,
                   clock: Callable[[], dt.datetime]) -> AsyncIterator[None]:
    """The process registered as `worker` while the block runs, its
    heartbeat beaten in the background; stopped, its leases given back, after."""
    registry = Workers(store.engine)
    host, pid = worker.split(":")[0], os.getpid()
    registry.register(worker, host=host, pid=pid, role=role, now=clock())

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                if not await asyncio.to_thread(registry.beat, worker, now=clock()):
                    registry.register(worker, host=host, pid=pid, role=role, now=clock())
            except Exception as exc:  # noqa: BLE001 - a missed beat must not stop delivering
                log.warning("worker %s: heartbeat failed: %s", worker, exc)

    task = asyncio.create_task(beat(), name=f"heartbeat {worker}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        registry.stop(worker, now=clock())
        store.outbox.release_leases(worker)


def claimer_gone(store: Store, claimed_by: str | None, now: dt.datetime) -> bool:
    """True when the process that claimed a delivery is gone (see the module's docstring)."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return bool(Workers(store.engine).gone(claimed_by, now=now, stale_after=STALE_AFTER_SECONDS))
