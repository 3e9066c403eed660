"""One active scheduler (issue 15 part 3), with real `distributor run`
processes: on the PostgreSQL on 127.0.0.1, two of them elect exactly one
leader (an advisory lock on its own connection); SIGKILL the leader and the
other leads within 10 s; the digest of the slot due goes out once whoever
leads (each batch's request counted in the sandbox's SendGrid log); a leader
whose election connection is killed stops leading. On SQLite, a second `run`
on the same file stands by (a lock file) and takes over the same way."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from distributor.leader import scheduler_of
from support import add_subscribers, sent

pytestmark = pytest.mark.postgres

TAKEOVER_SECONDS = 10
READERS = [f"reader{i:02d}@example.org" for i in range(60)]  # 6 batches of 10
LATENCY_MS = 400  # each Mail Send answers late: the leader is killed with the issue half sent

CONFIG = """
[database]
url = "{db}"

[sandbox]
port = {port}
autostart = false

[web]
enabled = false

[metrics]
port = {metrics}

[[sources]]
name = "articles"
kind = "folder"
path = "{articles}"
poll_seconds = 1

[editions.de]
timezone = "UTC"
[editions.de.channels.newsletter]
from_email = "newsletter@novastan.example"
batch_size = 10
digest_day = "{day}"
digest_time = "{time}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def the_slot() -> dt.datetime:
    """A weekly slot two minutes ago: due now, and no process ran when it came."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2)).replace(second=0, microsecond=0)


def write_config(path: Path, db: str, sandbox, articles: Path, slot: dt.datetime) -> Path:
    port = int(sandbox.url.rsplit(":", 1)[1])
    path.write_text(CONFIG.format(db=db, port=port, articles=articles, metrics=free_port(),
                                  day=slot.strftime("%a").lower(), time=slot.strftime("%H:%M")), encoding="utf-8")
    return path


class Run:
    """One `distributor run` subprocess, its log in a file."""

    def __init__(self, cfg: Path, log: Path):
        self.cfg, self.log = cfg, log
        out = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(cfg), "run"],
                                     stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
        out.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def metrics_url(self) -> str:
        text = self.cfg.read_text(encoding="utf-8")
        port = text.split("[metrics]\nport = ", 1)[1].split("\n", 1)[0]
        return f"http://127.0.0.1:{port}/metrics"



def stop(runs: list[Run]) -> None:
    """SIGTERM them all, then wait for each."""
    for r in runs:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
    for r in runs:
        try:
            r.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait()


def wait_for(predicate, timeout: float, what: str, *runs: Run):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for r in runs:
            assert r.proc.poll() is None, f"{r.pid} exited:\n{r.text()[-3000:]}"
        time.sleep(0.1)
    logs = "\n".join(f"--- {r.pid}:\n{r.text()[-2000:]}" for r in runs)
    raise AssertionError(f"not within {timeout}s: {what}\n{logs}")


def leader_pid(engine: sa.Engine) -> int | None:
    leader = scheduler_of(engine).leader
    return leader["pid"] if leader else None


def status_json(cfg: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "distributor", "--config", str(cfg), "status", "--json"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "NO_PROXY": "127.0.0.1"})
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


@pytest.fixture
def pg_world(pg_url, sandbox, control, articles_dir, tmp_path):
    """Two configs on one fresh PostgreSQL database (each `run` its own metrics
    port), the articles ingested, 60 active readers of the de edition."""
    from distributor.config import load_settings
    from distributor.ingest.pipeline import ingest
    from distributor.store import Store

    slot = the_slot()
    cfgs = [write_config(tmp_path / f"run{i}.toml", pg_url, sandbox, articles_dir, slot) for i in range(3)]
    settings = load_settings(cfgs[0])
    with Store.open(settings) as store:
        ingest(settings, store)
        add_subscribers(store, "de", READERS)
    assert control.post("/_sandbox/faults", json={"service": "sendgrid", "delay_ms": LATENCY_MS,
                                                  "times": 100_000}).status_code == 201
    engine = sa.create_engine(pg_url)
    runs: list[Run] = []
    try:
        yield cfgs, engine, slot, runs
    finally:
        stop(runs)
        engine.dispose()


def test_runs_elect_one_leader_take_over_within_10s_and_send_the_digest_of_the_slot_once(pg_world, control,
                                                                                         tmp_path):
    cfgs, engine, slot, runs = pg_world
    runs += [Run(cfg, tmp_path / f"run{i}.log") for i, cfg in enumerate(cfgs)]
    first = wait_for(lambda: leader_pid(engine), 30, "a leader", *runs)
    leader = next(r for r in runs if r.pid == first)
    others = [r for r in runs if r is not leader]
    wait_for(lambda: all("standby:" in r.text() for r in others), 30, "the others stand by", *runs)
    assert "leader: this process" in leader.text()
    for r in others:
        assert "leader: this process" not in r.text() and f"pid {leader.pid} leads the schedule; this" in r.text()
    # status --json names the leader and those standing by, from the database server itself.
    data = status_json(cfgs[0])
    host = socket.gethostname()
    assert data["leader"] == {"host": host, "pid": leader.pid}
    assert sorted(s["pid"] for s in data["standby"]) == sorted(r.pid for r in others)

    # The leader sends the slot that came while nobody ran; it is killed mid-issue.
    wait_for(lambda: mails(control), 30, "the digest's first batch", *runs)
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    leader.proc.wait(timeout=10)
    second = wait_for(lambda: leader_pid(engine) in [r.pid for r in others] and leader_pid(engine),
                      TAKEOVER_SECONDS, "a standby takes over", *others)
    took = time.monotonic() - killed
    assert took < TAKEOVER_SECONDS
    print(f"\ntakeover after SIGKILL: {took:.1f}s")
    new = next(r for r in others if r.pid == second)
    last = next(r for r in others if r is not new)

    # The new leader settles the interrupted issue: the rest sent, or held if a batch's outcome is unknown.
    def settled():
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, slot, status FROM issues WHERE edition = 'de'").all()
        return rows if rows and rows[0].status != "sending" else None

    (issue,) = wait_for(settled, 30, "the issue settled by the new leader", *others)
    assert issue.slot.replace(tzinfo=dt.timezone.utc) == slot and issue.status in ("sent", "held")
    with engine.connect() as conn:
        batches = dict(conn.exec_driver_sql(
            "SELECT batch_no, status FROM issue_batches WHERE issue_id = %s", (issue.id,)).all())
    posted = Counter(int(m["custom_args"]["batch"]) for m in mails(control))
    assert max(posted.values()) == 1, posted  # no batch twice
    assert all(batches.get(b) in ("sent", "sending") for b in posted), (posted, batches)
    copies = Counter(p["to"][0]["email"] for m in mails(control) for p in m["personalizations"])
    assert max(copies.values()) == 1
    if issue.status == "sent":
        assert sorted(posted) == list(range(6)) and set(copies) == set(READERS)

    # The second leader is killed too: the last one leads, and does not send
    # the slot's digest again (its issue exists).
    before = len(mails(control))
    new.proc.send_signal(signal.SIGKILL)
    new.proc.wait(timeout=10)
    wait_for(lambda: leader_pid(engine) == last.pid, TAKEOVER_SECONDS, "the last takes over", last)
    wait_for(lambda: "distributor running" in last.text(), 20, "its schedule running", last)
    time.sleep(1)
    assert "the slot that came while no scheduler ran is sent now" not in last.text()
    assert len(mails(control)) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM issues").scalar() == 1
    # The leader's /metrics names it.
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(httpx.get(last.metrics_url(), timeout=10).text)}
    assert [(s.labels["pid"], s.value) for s in families["distributor_leader"].samples] == [(str(last.pid), 1.0)]
    assert families["distributor_this_process_leads"].samples[0].value == 1.0


def test_a_leader_whose_lock_connection_dies_stops_leading_and_the_standby_takes_over(pg_world, tmp_path):
    cfgs, engine, _, runs = pg_world
    runs += [Run(cfgs[0], tmp_path / "a.log"), Run(cfgs[1], tmp_path / "b.log")]
    wait_for(lambda: leader_pid(engine), 30, "a leader", *runs)
    a, b = runs if leader_pid(engine) == runs[0].pid else runs[::-1]
    wait_for(lambda: "standby:" in b.text(), 30, "the other stands by", a, b)
    # The leader's election connection dies (an admin, a network cut): the server drops its lock.
    with engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"distributor-run leader {a.pid}@{socket.gethostname()}"[:63],)).scalar() is True
    killed = time.monotonic()
    wait_for(lambda: leader_pid(engine) == b.pid, TAKEOVER_SECONDS, "the standby takes over", a, b)
    assert time.monotonic() - killed < TAKEOVER_SECONDS
    wait_for(lambda: "lost the lock" in a.text(), TAKEOVER_SECONDS, "the old leader notices", a, b)
    # It stands by again, still alive, delivering only.
    wait_for(lambda: f"standby: {socket.gethostname()}, pid {b.pid} leads" in a.text(), 10, "a standing by", a, b)
    assert leader_pid(engine) == b.pid and a.proc.poll() is None


def test_a_second_run_on_the_same_sqlite_file_stands_by_and_takes_over(make_config, articles_dir, sandbox,
                                                                       tmp_path):
    port = int(sandbox.url.rsplit(":", 1)[1])
    cfg = make_config(f"\n[sandbox]\nport = {port}\nautostart = false\n", articles=articles_dir)
    db = tmp_path / "distributor.db"
    from distributor.config import load_settings
    from distributor.store import Store

    Store.open(load_settings(cfg)).close()  # migrated: the two start at once
    engine = sa.create_engine(f"sqlite:///{db}")
    runs = [Run(cfg, tmp_path / "a.log"), Run(cfg, tmp_path / "b.log")]
    try:
        wait_for(lambda: leader_pid(engine), 30, "a leader", *runs)
        a, b = runs if leader_pid(engine) == runs[0].pid else runs[::-1]
        wait_for(lambda: "standby:" in b.text(), 30, "the other stands by", a, b)
        assert f"pid {a.pid} leads the schedule; this process" in b.text()
        wait_for(lambda: "distributor running" in a.text(), 30, "the leader runs the schedule", a)
        assert "distributor running" not in b.text()  # no second scheduler
        data = status_json(cfg)
        assert data["leader"] == {"host": socket.gethostname(), "pid": a.pid}
        assert data["standby"] == [{"host": socket.gethostname(), "pid": b.pid}]
        a.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.proc.wait(timeout=10)
        wait_for(lambda: leader_pid(engine) == b.pid, TAKEOVER_SECONDS, "the second takes over", b)
        assert time.monotonic() - killed < TAKEOVER_SECONDS
        wait_for(lambda: "distributor running" in b.text(), 20, "its schedule running", b)
    finally:
        stop(runs)
        engine.dispose()
