"""The election's two locks in-process (distributor/leader.py): one holder at
a time, released on close, a lost lock noticed; who leads as `status` shows
it. The real processes, SIGKILL and takeover: tests/reliability/test_leader.py."""

from __future__ import annotations

import os
import socket

import pytest
import sqlalchemy as sa

from distributor.leader import FileElection, PgElection, scheduler_of

ME = {"host": socket.gethostname(), "pid": os.getpid()}


def test_one_lock_file_one_leader_until_it_lets_go(tmp_path):
    db = tmp_path / "distributor.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    first, second = FileElection(db), FileElection(db)
    try:
        assert scheduler_of(engine).leader is None
        assert first.try_acquire() and first.try_acquire()  # leading stays leading
        assert not second.try_acquire()
        sched = scheduler_of(engine)
        assert sched.leader == ME and sched.standby == [ME]  # the second stands by (same process here)
        first.close()
        assert second.try_acquire()
        assert scheduler_of(engine).standby == []  # a leader is no longer listed standing by
    finally:
        first.close()
        second.close()


def test_a_lock_file_deleted_under_the_leader_is_a_lost_lock(tmp_path):
    db = tmp_path / "distributor.db"
    leader, other = FileElection(db), FileElection(db)
    try:
        assert leader.try_acquire() and leader.still_leading()
        (tmp_path / "distributor.db.leader").unlink()
        assert other.try_acquire()  # a new file, a new lock: the first must stop leading
        assert not leader.still_leading()
    finally:
        leader.close()
        other.close()


@pytest.mark.postgres
def test_one_advisory_lock_one_leader_and_a_killed_connection_is_noticed(pg_url):
    engine = sa.create_engine(pg_url)
    first, second = PgElection(pg_url), PgElection(pg_url)
    try:
        assert first.try_acquire() and not second.try_acquire()
        sched = scheduler_of(engine)
        assert sched.backend == "postgresql" and sched.leader == ME and sched.standby == [ME]
        with engine.connect() as conn:  # the leader's own connection dies
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name LIKE 'distributor-run leader %%'")
        assert not first.still_leading()
        assert second.try_acquire() and scheduler_of(engine).leader == ME
        second.close()
        assert scheduler_of(engine).leader is None
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_status_names_the_leader(settings, store, tmp_path):
    from click.testing import CliRunner

    from distributor.cli import cli

    election = FileElection(tmp_path / "distributor.db")
    try:
        assert election.try_acquire()
        out = CliRunner().invoke(cli, ["--config", str(settings.path), "status"]).output
        assert f"scheduler: led by {ME['host']}, pid {ME['pid']}\n" in out
    finally:
        election.close()


def test_a_standby_that_found_nobody_leading_names_the_leader_once_one_holds_the_lock(
        settings, store, monkeypatch, caplog):
    """A process that stands by while a takeover is under way (the lock free
    for a moment: the old leader lost it, the new one has not taken it yet)
    first says "another process leads", and names the leader once one holds
    the lock, instead of never."""
    import asyncio
    import logging

    from distributor import schedule
    from distributor.delivery import Dispatcher

    monkeypatch.setattr(schedule, "CHECK_SECONDS", 0.05)
    db = settings.database.url.split("sqlite:///", 1)[1]
    standby, leader = FileElection(db), FileElection(db)
    rt = schedule.Runtime(settings, store, Dispatcher(settings, store))
    monkeypatch.setattr(schedule, "RUNTIME", rt)
    named = f"standby: {ME['host']}, pid {ME['pid']} leads the schedule"

    async def main() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(schedule._stand_by(rt, standby, ready, first_wait=0.5))
        await asyncio.wait_for(ready.wait(), 10)
        assert leader.try_acquire()  # the new leader takes the lock after this process stood by
        for _ in range(100):
            if any(named in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        rt.stopping.set()
        await asyncio.wait_for(task, 30)

    try:
        with caplog.at_level(logging.INFO, logger="distributor"):
            asyncio.run(main())
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("standby:")]
        assert lines[0].startswith("standby: another process leads the schedule"), lines
        assert sum(named in line for line in lines) == 1, lines
    finally:
        standby.close()
        leader.close()
