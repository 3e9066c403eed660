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
