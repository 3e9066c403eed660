"""Several `distributor worker` processes on one PostgreSQL outbox (issue 15),
against a sandbox in its own process, checked against its request log:

- 4 workers, 2,000 queued deliveries (the sandbox's limits raised): each sent
  exactly once, with its own post; every worker took its share;
- SIGKILL one worker mid-run: nothing lost (no delivery left pending or
  sending), nothing duplicated (no text posted twice, every post some
  delivery's: sent, or held for an editor with the evidence);
- 4 workers on one Telegram channel at the sandbox's real limits: zero 429s,
  the channel's pacing kept between the workers' posts.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from distributor.config import load_settings
from distributor.health import collect
from distributor.ingest.pipeline import ingest
from distributor.store import Store

from support import free_port, subprocess_env as env

pytestmark = pytest.mark.postgres

DISTRIBUTOR = [sys.executable, "-m", "distributor"]
CHAT = "@novastan_de"

CONFIG = """
[database]
url = "{db}"

[sandbox]
port = {port}
autostart = false
{limits}

[[sources]]
name = "queued"
kind = "folder"
path = "{articles}"

[editions.de]
timezone = "UTC"
[editions.de.channels.telegram]
chat_id = "{chat}"
min_interval_seconds = {interval}
[editions.de.channels.twitter]
min_interval_seconds = {interval}
"""
NO_LIMITS = "telegram_per_chat_per_minute = 0\ntelegram_per_second = 0\nx_tweets_per_window = 0"


class World:
    def __init__(self, tmp: Path, db: str):
        self.tmp, self.db, self.port = tmp, db, free_port()
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", trust_env=False, timeout=30)

    def setup(self, n: int, channels: str, *, limits: str = NO_LIMITS, interval: float = 0.0):
        folder = self.tmp / "articles"
        folder.mkdir()
        for i in range(n):
            (folder / f"a-{i:04d}.md").write_text(
                f"---\ntitle: \"Bericht {i:04d} aus Zentralasien\"\nlanguage: de\n"
                f"url: https://novastan.org/de/workers/{i:04d}/\npublished: 2025-03-01T08:00:00+00:00\n"
                f"channels: [{channels}]\n---\n\nBericht {i:04d}: der Vorspann.\n\nEin zweiter Absatz.\n",
                encoding="utf-8")
        self.cfg = self.tmp / "workers.toml"
        self.cfg.write_text(CONFIG.format(db=self.db, port=self.port, limits=limits, articles=folder, chat=CHAT,
                                          interval=interval), encoding="utf-8")
        self.settings = load_settings(self.cfg)
        self.start_sandbox()
        with Store.open(self.settings) as store:
            (report,) = ingest(self.settings, store)
            assert len(report.new) == n, report.summary()
        self.planned = len(self.rows())

    def start_sandbox(self):
        log = open(self.tmp / "sandbox.log", "w")
        self.procs.append(subprocess.Popen([*DISTRIBUTOR, "--config", str(self.cfg), "sandbox", "--port",
                                            str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env()))
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.control.get("/_sandbox/ping").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.procs[0].poll() is None and time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)

    def start_workers(self, n: int):
        for _ in range(n):
            out = open(self.tmp / f"worker-{len(self.workers)}.log", "w")
            self.workers.append(subprocess.Popen([*DISTRIBUTOR, "--config", str(self.cfg), "worker",
                                                  "--poll-seconds", "0.3"],
                                                 stdout=out, stderr=subprocess.STDOUT, env=env()))
            out.close()

    def rows(self) -> list:
        engine = sa.create_engine(self.db)
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(
                    "SELECT d.id, d.channel, d.kind, d.status, d.remote_id, d.reason, d.last_error, "
                    "(SELECT a.payload FROM delivery_attempts a WHERE a.delivery_id = d.id ORDER BY a.id "
                    "LIMIT 1) AS payload, (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) "
                    "AS attempts FROM deliveries d WHERE d.kind IN ('telegram', 'twitter') ORDER BY d.id").fetchall()
        finally:
            engine.dispose()

    def settled(self, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows()
            if not any(r.status in ("pending", "sending") for r in rows):
                return rows
            logs = "\n".join((self.tmp / f"worker-{i}.log").read_text()[-2000:]
                             for i, w in enumerate(self.workers) if w.poll() not in (None, -9))
            assert not logs, logs
            assert time.monotonic() < deadline, Counter(r.status for r in rows)
            time.sleep(0.3)

    def log(self, everything: bool = False) -> list[dict]:
        params = {"all": "1"} if everything else {}
        return self.control.get("/_sandbox/requests", params=params).json()["requests"]

    def posts(self) -> list[dict]:
        """Every post the sandbox accepted: the remote id the channel records, and its text."""
        out = []
        for r in self.log():
            if r["service"] == "telegram" and r["path"].endswith(("/sendMessage", "/sendPhoto")):
                msg = r["result"]
                out.append({"service": "telegram", "id": f"{CHAT}/{msg['message_id']}",
                            "text": msg.get("text") or msg.get("caption"), "time": r["time"]})
            elif r["service"] == "x" and r["method"] == "POST /2/tweets":
                out.append({"service": "twitter", "id": str(r["result"]["data"]["id"]),
                            "text": r["result"]["data"]["text"], "time": r["time"]})
        return out

    def stop(self):
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.workers:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for p in self.procs:
            p.terminate()
            p.wait(timeout=10)
        self.control.close()


@pytest.fixture
def world(tmp_path, pg_url):
    w = World(tmp_path, pg_url)
    try:
        yield w
    finally:
        w.stop()


MARK = re.compile(r"Bericht (\d{4})")


def account_for(world: World, rows: list) -> dict:
    """Each delivery against the request log, by the article's number its
    text carries ("Bericht 0042"): sent ones without their own post, texts
    posted twice on a service, posts no delivery made, remote ids shared."""
    posts = world.posts()
    by_id = {p["id"]: p for p in posts}
    copies = Counter((p["service"], MARK.search(p["text"]).group(1)) for p in posts)
    ours = {(r.kind, MARK.search(json.loads(r.payload)["text"]).group(1)) for r in rows if r.payload}
    without_post = [r for r in rows if r.status == "sent" and (
        r.remote_id not in by_id or MARK.search(by_id[r.remote_id]["text"]).group(1)
        != MARK.search(json.loads(r.payload)["text"]).group(1))]
    return {"posts": posts, "duplicates": [k for k, n in copies.items() if n > 1], "without_post": without_post,
            "strangers": [k for k in copies if k not in ours],
            "shared_ids": [i for i, n in Counter(r.remote_id for r in rows if r.remote_id).items() if n > 1]}


def test_four_workers_send_2000_deliveries_exactly_once(world):
    world.setup(1000, "telegram, twitter")
    assert world.planned == 2000
    world.start_workers(4)
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    with Store.open(world.settings) as store:  # `status --json` lists every live worker while they run
        while len(seen) < 4 and time.monotonic() < deadline:
            live = collect(world.settings, store, _now())["workers"]
            seen |= {w["pid"] for w in live if w["role"] == "worker"}
            time.sleep(0.2)
    assert seen == {p.pid for p in world.workers}
    rows = world.settled(300)
    acc = account_for(world, rows)
    assert Counter(r.status for r in rows) == {"sent": 2000}
    assert acc["without_post"] == [] and acc["duplicates"] == [] and acc["strangers"] == []
    assert acc["shared_ids"] == [] and len(acc["posts"]) == 2000
    assert all(r.attempts == 1 for r in rows)  # each claimed once, by one worker
    assert world.log(everything=True) == world.log()  # nothing refused
    # Every worker sent its share.
    shares = worker_shares(world)
    assert set(shares) == {p.pid for p in world.workers} and min(shares.values()) > 0, shares


def worker_shares(world: World) -> Counter:
    """How many posts each worker made, from its log lines."""
    shares: Counter = Counter()
    for i, p in enumerate(world.workers):
        shares[p.pid] = (world.tmp / f"worker-{i}.log").read_text().count(": sent ")
    return shares


def _now():
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


def sending_by(world: World, pid: int, kind: str) -> bool:
    engine = sa.create_engine(world.db)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE status = 'sending' AND kind = :k "
                                        "AND claimed_by LIKE :who"), {"k": kind, "who": f"%:{pid}:%"}).scalar() > 0
    finally:
        engine.dispose()


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(world):
    world.setup(60, "telegram, twitter")
    # Telegram answers late, so the worker is killed with a Telegram send in flight.
    faults = [{"service": "telegram", "method": "send", "delay_ms": 250, "times": 100_000}]
    assert world.control.post("/_sandbox/faults", json=faults).status_code == 201
    world.start_workers(4)
    victim = world.workers[0]
    deadline = time.monotonic() + 60
    while not sending_by(world, victim.pid, "telegram"):
        assert time.monotonic() < deadline, "the worker never sent to Telegram"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    rows = world.settled(90)
    acc = account_for(world, rows)
    counts = Counter(r.status for r in rows)
    print(f"\nworkers: {len(rows)} deliveries {dict(counts)}; {len(acc['posts'])} posts")
    assert set(counts) <= {"sent", "held"} and sum(counts.values()) == world.planned == 120  # nothing lost
    assert acc["duplicates"] == [] and acc["strangers"] == [] and acc["without_post"] == []  # nothing doubled
    assert acc["shared_ids"] == []
    # The send it was killed in: its outcome unknown, held for an editor with the evidence, never resent.
    held = [r for r in rows if r.status == "held"]
    assert len(held) == 1 and held[0].kind == "telegram" and held[0].attempts == 1
    assert f":{victim.pid}:" in held[0].reason and "stopped while sending" in held[0].reason, held[0].reason
    posted = {(p["service"], MARK.search(p["text"]).group(1)) for p in acc["posts"]}
    mine = ("telegram", MARK.search(json.loads(held[0].payload)["text"]).group(1))
    assert len(acc["posts"]) == counts["sent"] + (mine in posted)


def test_four_workers_on_one_telegram_channel_keep_its_pacing_at_the_sandboxs_real_limits(world):
    interval = 3.0  # 20 posts a minute: the sandbox's (and Telegram's) per-chat limit
    world.setup(6, "telegram", limits="", interval=interval)
    world.start_workers(4)
    rows = world.settled(60)
    assert Counter(r.status for r in rows) == {"sent": 6}
    refused = [r for r in world.log(everything=True) if not r["accepted"]]
    assert refused == []  # zero 429s
    acc = account_for(world, rows)
    assert acc["duplicates"] == [] and acc["without_post"] == [] and len(acc["posts"]) == 6
    times = sorted(p["time"] for p in acc["posts"])
    gaps = [b - a for a, b in zip(times, times[1:])]
    # The claims are `interval` apart; what reaches the sandbox may jitter by a send's latency.
    assert min(gaps) >= interval - 0.5, gaps
    assert len({p.pid for p in world.workers}) == 4 and sum(worker_shares(world).values()) == 6


def test_a_worker_serves_healthz_readyz_and_metrics_on_its_metrics_port(world):
    """compose.yaml's health check of a worker asks its /readyz on the
    [metrics] port: `distributor worker` serves it, with /healthz and /metrics."""
    world.setup(5, "telegram")
    port = free_port()
    with world.cfg.open("a", encoding="utf-8") as f:
        f.write(f"\n[metrics]\nport = {port}\n")
    world.start_workers(1)
    ops = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    deadline = time.monotonic() + 60
    while True:
        try:
            ready = ops.get("/readyz")
            break
        except httpx.TransportError:
            assert world.workers[0].poll() is None, (world.tmp / "worker-0.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker served no /readyz"
            time.sleep(0.2)
    assert ready.status_code == 200 and ready.text.startswith("ready")
    assert ops.get("/healthz").status_code == 200
    rows = world.settled(60)
    assert Counter(r.status for r in rows) == {"sent": 5}
    metrics = ops.get("/metrics").text
    assert 'distributor_deliveries{channel="de.telegram",state="sent"} 5.0' in metrics, metrics[:3000]
    ops.close()
