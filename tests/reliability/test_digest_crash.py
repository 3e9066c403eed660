"""The digest killed at random moments: `distributor digest --send` (and
`digest --release` of a held issue) SIGKILLed while batches are in flight,
then run to the end, against the sandbox's SendGrid. With two batches in the
pipeline (store/digest_batches.py), after every kill: the batches recorded sent
are a prefix and each has its request in the sandbox's log; at most two are
`sending`, right after them; no batch went out that is not recorded sending or
sent (or was released by the editor). At the end everyone has the issue, and
only the batches an editor released can have gone out twice.

    DISTRIBUTOR_CRASH_KILLS=20   kills (default 4)
    DISTRIBUTOR_CRASH_SEED=N     replay the kill moments of an earlier run
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from support import add_subscribers, sent

KILLS = int(os.environ.get("DISTRIBUTOR_CRASH_KILLS", "4"))
SEED = int(os.environ.get("DISTRIBUTOR_CRASH_SEED") or random.SystemRandom().randrange(10**6))
READERS = [f"reader{i:03d}@example.org" for i in range(240)]  # 24 batches of 10
LATENCY_MS = 60  # every Mail Send answers late: a kill often falls between a request and its record


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def state(db: Path) -> tuple[int | None, str | None, dict[int, str]]:
    """(issue id, its status, batch_no → status) of the one issue, as committed."""
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            issue = conn.exec_driver_sql("SELECT id, status FROM issues WHERE edition = 'de'").first()
            if issue is None:
                return None, None, {}
            batches = dict(conn.exec_driver_sql(
                "SELECT batch_no, status FROM issue_batches WHERE issue_id = ?", (issue.id,)).fetchall())
            return issue.id, issue.status, batches
    finally:
        engine.dispose()


def check(batches: dict[int, str], posted: Counter, released: Counter) -> None:
    done = sorted(b for b, s in batches.items() if s == "sent")
    assert done == list(range(len(done))), batches  # the sent batches: a prefix
    sending = sorted(b for b, s in batches.items() if s == "sending")
    assert len(sending) <= 2 and all(b in (len(done), len(done) + 1) for b in sending), batches
    for b in done:
        assert posted[b] >= 1, (b, batches)  # nothing recorded sent without its request
    for b, n in posted.items():
        assert n <= 1 + released[b], (b, n, released)  # a second copy only for a released batch
        assert batches.get(b) in ("sent", "sending") or released[b], (b, batches)  # no request unrecorded


def test_digest_killed_at_random_moments_doubles_only_what_an_editor_released(
        sandbox, control, make_config, articles_dir, tmp_path):
    rng = random.Random(SEED)
    print(f"\ndigest crash suite: {KILLS} kills, DISTRIBUTOR_CRASH_SEED={SEED}")
    port = int(sandbox.url.rsplit(":", 1)[1])
    cfg = make_config(f"\n[sandbox]\nport = {port}\nautostart = false\n", articles=articles_dir)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        'test_recipients = ["leserin@example.org"]', 'test_recipients = ["leserin@example.org"]\nbatch_size = 10', 1),
        encoding="utf-8")
    db = tmp_path / "distributor.db"
    from distributor.config import load_settings
    from distributor.ingest.pipeline import ingest
    from distributor.store import Store

    settings = load_settings(cfg)
    with Store.open(settings) as store:
        ingest(settings, store)
        add_subscribers(store, "de", READERS)
    assert control.post("/_sandbox/faults", json={"service": "sendgrid", "delay_ms": LATENCY_MS,
                                                  "times": 100_000}).status_code == 201
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}
    released: Counter = Counter()

    def start(n: int) -> subprocess.Popen:
        issue_id, status, batches = state(db)
        if status == "held":  # the editor's decision: the unknown batches go out again
            released.update(b for b, s in batches.items() if s == "sending")
            args = ["digest", "--release", str(issue_id)]
        else:
            args = ["digest", "--send", "--edition", "de"]
        out = open(tmp_path / f"run-{n:02d}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", str(cfg), *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        return proc

    def posted() -> Counter:
        return Counter(int(m["custom_args"]["batch"]) for m in mails(control))

    for n in range(KILLS):
        before = len(mails(control))
        proc = start(n)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(mails(control)) == before and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        check(state(db)[2], posted(), released)

    for n in range(KILLS, KILLS + 6):  # then to the end, releasing what a kill left unknown
        proc = start(n)
        assert proc.wait(timeout=120) in (0, 1), (tmp_path / f"run-{n:02d}.log").read_text()
        issue_id, status, batches = state(db)
        check(batches, posted(), released)
        if status == "sent":
            break
    assert status == "sent", (tmp_path / f"run-{n:02d}.log").read_text()
    assert batches == {b: "sent" for b in range(24)}
    copies = Counter(p["to"][0]["email"] for m in mails(control) for p in m["personalizations"])
    batch_of = {p["to"][0]["email"]: int(m["custom_args"]["batch"])
                for m in mails(control) for p in m["personalizations"]}
    assert set(copies) == set(READERS)  # everyone has the issue
    twice = {e for e, c in copies.items() if c > 1}
    assert all(released[batch_of[e]] for e in twice), (sorted(twice), released)
    print(f"digest crash suite: {len(mails(control))} requests for 24 batches; released {dict(released)}; "
          f"{len(twice)} readers got a released batch twice")
