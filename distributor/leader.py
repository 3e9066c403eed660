"""One active scheduler: the election between `distributor run` processes.

On PostgreSQL the leader holds a session-level advisory lock
(`pg_try_advisory_lock(LEADER_LOCK)`) on a connection of its own, opened
only for that. The server releases the lock when that session ends: the
process exits or is killed (its socket closes at once), or its connection
dies (the session asks the server for TCP keepalives and a user timeout, so
a vanished machine is noticed within about ten seconds). The leader checks
its connection every CHECK_SECONDS; a check that fails or does not answer in
time means it no longer leads, and it stops its scheduler. A process that
does not get the lock stands by and tries again every CHECK_SECONDS, so it
takes over within a few seconds of the leader's end. Every process names
itself in its election connection's `application_name`
("distributor-run leader PID@HOST" or "... standby ..."), so `status` reads
who leads from the server itself (pg_locks and pg_stat_activity): never a
stale row.

On SQLite (one machine by nature) the lock is an exclusive flock on a file
beside the database, `<database>.leader`, which the kernel releases when the
process dies however it dies; the file holds the leader's host and pid. A
lease row would need heartbeats and make a takeover wait for the lease to
run out; the lock file needs neither. Each standby holds a lock on its own
file `<database>.standby.<HOST>.<PID>`, so `status` can list them too. An
in-memory database has one process by definition: it always leads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

# The advisory lock's key (store/db.py's migration lock is 7262001).
LEADER_LOCK = 7262002
# How often a leader checks its lock and a standby tries to get it.
CHECK_SECONDS = 2.0
# A check that has not answered after this long means the lock is lost.
CHECK_TIMEOUT_SECONDS = 5.0
_NAME = re.compile(r"^distributor-run (leader|standby) (\d+)@(.*)$")


def me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


class Election(Protocol):
    backend: str

    def try_acquire(self) -> bool:
        """True when this process leads now (it did already, or got the lock)."""

    def still_leading(self) -> bool:
        """False when the lock is lost (the connection died, the file went)."""

    def close(self) -> None:
        """Give up the lock (if held) and everything the election holds."""


def election_for(url: str) -> Election:
    if url.startswith("postgresql"):
        return PgElection(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            return FileElection(Path(path))
    return SoleElection()


class SoleElection:
    """A database only this process can see: it leads."""

    backend = "memory"

    def try_acquire(self) -> bool:
        return True

    def still_leading(self) -> bool:
        return True

    def close(self) -> None:
        pass


class PgElection:
    """The advisory lock on a dedicated connection (autocommit, no pool)."""

    backend = "postgresql"

    def __init__(self, url: str):
        ident = me()
        self.name = f"{ident['pid']}@{ident['host']}"
        self.engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={
            "connect_timeout": 5, "application_name": self._app_name("standby"),
            "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2})
        self.conn: sa.Connection | None = None
        self.leading = False

    def _app_name(self, role: str) -> str:
        return f"distributor-run {role} {self.name}"[:63]

    def _connection(self) -> sa.Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = self.engine.connect()
            # The server notices a vanished client within ~10 s and ends its session (and lock).
            for setting, value in (("tcp_keepalives_idle", "5"), ("tcp_keepalives_interval", "2"),
                                   ("tcp_keepalives_count", "2"), ("tcp_user_timeout", "10000"),
                                   ("statement_timeout", "5000")):
                self.conn.exec_driver_sql(f"SET {setting} = {value}")
        return self.conn

    def try_acquire(self) -> bool:
        if self.leading:
            return self.still_leading()
        try:
            conn = self._connection()
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar())
            if got:
                conn.execute(sa.text("SELECT set_config('application_name', :n, false)"),
                             {"n": self._app_name("leader")})
        except sa.exc.DBAPIError:
            self._drop()
            return False
        self.leading = got
        return got

    def still_leading(self) -> bool:
        if not self.leading or self.conn is None:
            return False
        try:
            self.conn.exec_driver_sql("SELECT 1").scalar()
        except sa.exc.DBAPIError:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        """The connection is gone, and with it the lock."""
        self.leading = False
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.invalidate()
                self.conn.close()
        self.conn = None

    def close(self) -> None:
        if self.conn is not None and self.leading:
            with contextlib.suppress(sa.exc.DBAPIError):
                self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK})
        self.leading = False
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None
        self.engine.dispose()


class FileElection:
    """An exclusive flock on `<database>.leader` (SQLite)."""

    backend = "sqlite"

    def __init__(self, db: Path):
        self.path = Path(f"{db}.leader")
        ident = me()
        self.member = Path(f"{db}.standby.{ident['host']}.{ident['pid']}")
        self.fd: int | None = None
        self.member_fd: int | None = None

    def try_acquire(self) -> bool:
        if self.fd is not None:
            return self.still_leading()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._stand_by()
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me()).encode())
        self.fd = fd
        self._leave_standby()
        return True

    def still_leading(self) -> bool:
        """Still the file at its path (one deleted and made anew is another lock)."""
        if self.fd is None:
            return False
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                return True
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None
        return False

    def _stand_by(self) -> None:
        if self.member_fd is None:
            fd = os.open(self.member, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # our own pid's file: nobody else's
            self.member_fd = fd

    def _leave_standby(self) -> None:
        if self.member_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.member.unlink()
            os.close(self.member_fd)
            self.member_fd = None

    def close(self) -> None:
        self._leave_standby()
        if self.fd is not None:
            os.close(self.fd)  # the lock goes with it; the file stays, for the next leader
            self.fd = None


# ------------------------------------------------------------------ who leads (status, metrics)


@dataclass(frozen=True)
class Scheduler:
    """Who runs the schedule: the leader (None: nobody) and who stands by."""

    backend: str
    leader: dict[str, Any] | None
    standby: list[dict[str, Any]]


def scheduler_of(engine: sa.Engine) -> Scheduler:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return _pg_scheduler(engine)
    db = url.database
    if url.get_backend_name() == "sqlite" and db and db != ":memory:":
        return _file_scheduler(Path(db))
    return Scheduler("memory", None, [])


def _pg_scheduler(engine: sa.Engine) -> Scheduler:
    key = LEADER_LOCK
    with engine.connect() as conn:
        holder = conn.execute(sa.text(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
            "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar()
        names = conn.execute(sa.text(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'distributor-run %' ORDER BY backend_start")).all()
    leader, standby = None, []
    for backend_pid, name in names:
        m = _NAME.match(name or "")
        if m is None:
            continue
        who = {"host": m.group(3), "pid": int(m.group(2))}
        if backend_pid == holder:
            leader = who
        elif m.group(1) == "standby":
            standby.append(who)
    if holder is not None and leader is None:  # the lock is held by something that did not name itself
        leader = {"host": None, "pid": None}
    return Scheduler("postgresql", leader, standby)


def _held(path: Path) -> bool:
    """True when some process holds a lock on the file (we try a shared one)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _file_scheduler(db: Path) -> Scheduler:
    lock = Path(f"{db}.leader")
    leader = None
    if _held(lock):
        try:
            leader = json.loads(lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            leader = {"host": None, "pid": None}
    standby = []
    for f in sorted(db.parent.glob(f"{db.name}.standby.*")):
        host, _, pid = f.name[len(db.name) + len(".standby."):].rpartition(".")
        if _held(f):
            standby.append({"host": host, "pid": int(pid) if pid.isdigit() else None})
    return Scheduler("sqlite", leader, standby)
