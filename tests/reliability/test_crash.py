"""The crash suite (issue 9): `distributor run` killed with SIGKILL at random
moments, restarted each time, then run to the end, against a sandbox in its
own process. Every planned delivery is accounted for against the sandbox's
request log: sent exactly once with its own post, or held or failed with the
evidence. No duplicates, no losses, nothing marked sent without its post.

    DISTRIBUTOR_CRASH_KILLS=20   kills (default 5, the CI run)
    DISTRIBUTOR_CRASH_SEED=N     replay the kill moments of an earlier run
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from support import free_port, subprocess_env as env

KILLS = int(os.environ.get("DISTRIBUTOR_CRASH_KILLS", "5"))
SEED = int(os.environ.get("DISTRIBUTOR_CRASH_SEED") or random.SystemRandom().randrange(10**6))
DISTRIBUTOR = [sys.executable, "-m", "distributor"]
ARTICLES = {"de": 20, "en": 10}  # 30 articles, each due on the edition's Telegram and X
CHATS = {"de": "@novastan_de", "en": "@novastan_en"}
# Every post answers a little late, so that a kill often falls between the
# call and the record of its result (the hard case).
LATENCY_MS = 120

FOOTERS = {
    "de": "Noch mehr Zentralasien findet ihr auf unseren Social Media Kanälen, schaut mal vorbei bei Twitter "
          "und Telegram.",
    "en": "Find more Central Asia on our social media channels: follow us on Twitter and Telegram.",
}

CONFIG = """
[database]
url = "sqlite:///{db}"

[sandbox]
port = {port}
autostart = false
# The emulators' limits out of the way: 30 articles finish fast.
telegram_per_chat_per_minute = 0
telegram_per_second = 0
x_tweets_per_window = 0

[[sources]]
name = "crash"
kind = "folder"
path = "{articles}"
poll_seconds = 1
""" + "".join(f"""
[editions.{ed}]
timezone = "UTC"
[editions.{ed}.channels.telegram]
chat_id = "{chat}"
min_interval_seconds = 0
[editions.{ed}.channels.twitter]
min_interval_seconds = 0
""" for ed, chat in CHATS.items())


def write_articles(folder: Path) -> None:
    folder.mkdir()
    for ed, n in ARTICLES.items():
        for i in range(1, n + 1):
            title = (f"Bericht {i:02d} aus Zentralasien" if ed == "de" else f"Report {i:02d} from Central Asia")
            (folder / f"{ed}-{i:02d}.md").write_text(
                f"---\ntitle: \"{title}\"\nlanguage: {ed}\nurl: https://novastan.org/{ed}/crash/{i:02d}/\n---\n\n"
                f"{title}: the lede of article number {i} of the {ed} edition.\n\n"
                f"A second paragraph of article {i}.\n\n{FOOTERS[ed]}\n", encoding="utf-8")


@pytest.fixture
def world(tmp_path):
    port = free_port()
    write_articles(tmp_path / "articles")
    cfg = tmp_path / "crash.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "crash.db", port=port, articles=tmp_path / "articles"),
                   encoding="utf-8")
    log = open(tmp_path / "sandbox.log", "w")
    sandbox = subprocess.Popen([*DISTRIBUTOR, "--config", str(cfg), "sandbox", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=env())
    control = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if control.get("/_sandbox/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert sandbox.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)
        faults = [{"service": "telegram", "method": "send", "delay_ms": LATENCY_MS, "times": 100_000},
                  {"service": "x", "method": "POST /2/tweets", "delay_ms": LATENCY_MS, "times": 100_000}]
        assert control.post("/_sandbox/faults", json=faults).status_code == 201
        yield cfg, tmp_path / "crash.db", control
    finally:
        control.close()
        sandbox.terminate()
        sandbox.wait(timeout=10)
        log.close()


def posts(control) -> list[dict]:
    """Every post the sandbox accepted: (where, id, text)."""
    out = []
    for r in control.get("/_sandbox/requests").json()["requests"]:
        if r["service"] == "telegram" and r["path"].endswith(("/sendMessage", "/sendPhoto")):
            msg = r["result"]
            chat = str(r["body"]["chat_id"])  # a Telegram remote id is "<chat>/<message id>"
            out.append({"where": chat, "id": f"{chat}/{msg['message_id']}",
                        "text": r["body"].get("text") or r["body"].get("caption")})
        elif r["service"] == "x" and r["method"] == "POST /2/tweets":
            out.append({"where": r["account"], "id": str(r["result"]["data"]["id"]),
                        "text": r["result"]["data"]["text"]})
    return out


def social(db: Path) -> list:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT d.id, d.article_id, d.channel, d.kind, d.status, d.remote_id, d.reason, d.last_error, "
                "(SELECT a.payload FROM delivery_attempts a WHERE a.delivery_id = d.id ORDER BY a.id LIMIT 1) "
                "AS payload FROM deliveries d WHERE d.kind IN ('telegram', 'twitter') AND d.status != 'skipped' "
                "ORDER BY d.id").fetchall()
    except sa.exc.OperationalError:  # no tables yet: killed before its first migration
        rows = []
    finally:
        engine.dispose()
    return rows


def start(cfg: Path, tmp: Path, n: int) -> subprocess.Popen:
    out = open(tmp / f"run-{n:02d}.log", "w")
    proc = subprocess.Popen([*DISTRIBUTOR, "--config", str(cfg), "run"], stdout=out, stderr=subprocess.STDOUT,
                            env=env())
    out.close()
    return proc


def test_run_killed_at_random_moments_loses_nothing_and_doubles_nothing(world, tmp_path):
    cfg, db, control = world
    rng = random.Random(SEED)
    print(f"\ncrash suite: {KILLS} kills, DISTRIBUTOR_CRASH_SEED={SEED}")
    for n in range(KILLS):
        before = len(control.get("/_sandbox/requests").json()["requests"])
        proc = start(cfg, tmp_path, n)
        # A random moment once it is at work (or, with nothing left to post, anyway).
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(control.get("/_sandbox/requests").json()["requests"]) == before:
            assert proc.poll() is None, (tmp_path / f"run-{n:02d}.log").read_text()
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    # Then to the end: until nothing is due any more (held ones stay held).
    proc = start(cfg, tmp_path, KILLS)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            rows = social(db)
            if len(rows) == 2 * sum(ARTICLES.values()) and not any(r.status in ("pending", "sending") for r in rows):
                break
            assert proc.poll() is None, (tmp_path / f"run-{KILLS:02d}.log").read_text()
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

    rows = social(db)
    made = posts(control)
    where = {f"{ed}.telegram": chat for ed, chat in CHATS.items()}
    accounts = {p["where"] for p in made if not p["where"].startswith("@")}
    by_id = {(p["where"], p["id"]): p for p in made}
    copies = Counter((p["where"], p["text"]) for p in made)
    duplicates = sum(n - 1 for n in copies.values() if n > 1)

    def x_account(row) -> str | None:
        return next((a for a in accounts if (a, row.remote_id) in by_id), None)

    counts = Counter(r.status for r in rows)
    lost, without_post, no_evidence = [], [], []
    for r in rows:
        if r.status == "sent":
            text = json.loads(r.payload)["text"] if r.payload else None
            post = by_id.get((where[r.channel] if r.kind == "telegram" else x_account(r), r.remote_id))
            if post is None or post["text"] != text:
                without_post.append(r)
        elif r.status in ("held", "failed"):
            if not (r.reason or r.last_error):
                no_evidence.append(r)
        else:
            lost.append(r)
    planned = 2 * sum(ARTICLES.values())
    losses = len(lost) + max(0, planned - len(rows))
    shared = sum(n - 1 for n in Counter((r.channel, r.remote_id) for r in rows if r.remote_id).values() if n > 1)
    print(f"crash suite: {len(rows)} deliveries: {counts['sent']} sent, {counts['held']} held, "
          f"{counts['failed']} failed; {len(made)} posts; duplicates {duplicates}, losses {losses}, "
          f"sent without their own post {len(without_post)}")
    assert duplicates == 0, [k for k, n in copies.items() if n > 1]
    assert losses == 0, lost
    assert without_post == [] and shared == 0
    assert no_evidence == []
    # Every post the sandbox made is some delivery's (sent, or held for an editor to check).
    assert counts["sent"] + counts["held"] + counts["failed"] == planned
    texts = {json.loads(r.payload)["text"] for r in rows if r.payload}
    assert [p for p in made if p["text"] not in texts] == [] and len(made) <= planned
