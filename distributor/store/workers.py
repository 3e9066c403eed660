"""The registry of delivery processes: one row per `distributor worker` (and
per `distributor run`, also a worker), keyed by the id its claims carry
("host:pid:nonce", workers.worker_id).

A process registers when it starts, beats its heartbeat every few seconds and
marks itself stopped on its way out (distributor/workers.py does that). A row
whose heartbeat is older than the stale timeout is a process that died
without saying so (SIGKILL, a lost machine): `live` leaves it out, and
recovery treats its claims as abandoned (`gone`). Rows stopped or stale for a
day are deleted as new processes register.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.store.db import insert_ignore
from distributor.store.schema import workers

__all__ = ["WorkerRow", "Workers", "FORGET_AFTER"]

# Stopped or stale rows older than this are deleted.
FORGET_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    role: str  # "worker" or "run"
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None = None


class Workers:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def register(self, worker: str, *, host: str, pid: int, role: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(workers.delete().where(sa.or_(
                workers.c.heartbeat_at < now - FORGET_AFTER,
                sa.and_(workers.c.stopped_at.is_not(None), workers.c.stopped_at < now - FORGET_AFTER))))
            conn.execute(insert_ignore(conn, workers).values(id=worker, host=host, pid=pid, role=role,
                                                             started_at=now, heartbeat_at=now))

    def beat(self, worker: str, *, now: dt.datetime) -> bool:
        """The heartbeat; False if the row is gone (deleted by hand): register again."""
        with self.engine.begin() as conn:
            return bool(conn.execute(workers.update().where(workers.c.id == worker, workers.c.stopped_at.is_(None))
                                     .values(heartbeat_at=now)).rowcount)

    def stop(self, worker: str, *, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(workers.update().where(workers.c.id == worker).values(stopped_at=now, heartbeat_at=now))

    def live(self, *, now: dt.datetime, stale_after: float) -> list[WorkerRow]:
        """The running ones: not stopped, heartbeat within `stale_after` seconds; oldest first."""
        q = (sa.select(workers).where(workers.c.stopped_at.is_(None),
                                      workers.c.heartbeat_at >= now - dt.timedelta(seconds=stale_after))
             .order_by(workers.c.started_at, workers.c.id))
        with self.engine.connect() as conn:
            return [WorkerRow(**r._mapping) for r in conn.execute(q)]

    def gone(self, worker: str, *, now: dt.datetime, stale_after: float) -> bool | None:
        """Whether the registered process `worker` is gone (stopped, or its
        heartbeat stale); None when it never registered (an editor's `send`)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(workers.c.stopped_at, workers.c.heartbeat_at)
                               .where(workers.c.id == worker)).first()
        if row is None:
            return None
        return row.stopped_at is not None or row.heartbeat_at < now - dt.timedelta(seconds=stale_after)
