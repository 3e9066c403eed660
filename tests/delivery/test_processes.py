"""Real processes: two `deliver` processes on one SQLite file send each delivery
once, and a process killed between the API call and recording its result
leaves a held delivery, not a second post."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import sqlalchemy as sa

from support import sent

DISTRIBUTOR = [sys.executable, "-m", "distributor"]


def config_for(make_config, articles_dir, sandbox) -> str:
    port = int(sandbox.url.rsplit(":", 1)[1])
    # Fast pacing so the test is quick; the policy is the same.
    extra = (f"\n[sandbox]\nport = {port}\n"
             "\n[delivery]\nonce_max_wait_seconds = 20\n")
    path = make_config(extra, articles=articles_dir)
    text = path.read_text()
    text = text.replace('chat_id = "@novastan_de"\n', 'chat_id = "@novastan_de"\nmin_interval_seconds = 0.2\n')
    path.write_text(text)
    return str(path)


def run(cfg: str, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run([*DISTRIBUTOR, "--config", cfg, *args], capture_output=True, text=True,
                          timeout=120, env=env, **kw)


def telegram_posts(control) -> list[dict]:
    return sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")


def social_deliveries(db_url: str) -> list[tuple]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, channel, status, remote_id FROM deliveries WHERE kind IN ('telegram','twitter') "
            "AND status != 'skipped' ORDER BY id").fetchall()
    engine.dispose()
    return rows


def test_two_concurrent_deliver_processes_send_each_delivery_once(make_config, articles_dir, sandbox, control,
                                                                   tmp_path):
    cfg = config_for(make_config, articles_dir, sandbox)
    assert run(cfg, "ingest").returncode == 0
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    procs = [subprocess.Popen([*DISTRIBUTOR, "--config", cfg, "deliver", "--once"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    rows = social_deliveries(f"sqlite:///{tmp_path / 'distributor.db'}")
    assert rows and {r.status for r in rows} == {"sent"}
    posts = telegram_posts(control)
    tweets = sent(control, "x", "/2/tweets")
    assert len(posts) + len(tweets) == len(rows)
    texts = Counter((p["body"]["chat_id"], p["body"].get("text") or p["body"].get("caption")) for p in posts)
    assert max(texts.values()) == 1
    # Both processes took part (each printed at least its summary line).
    assert all("deliver:" in out for out, _ in outs)


def test_a_process_killed_mid_send_leaves_a_held_delivery_not_a_second_post(make_config, articles_dir, sandbox,
                                                                            control, tmp_path):
    cfg = config_for(make_config, articles_dir, sandbox)
    db = f"sqlite:///{tmp_path / 'distributor.db'}"
    assert run(cfg, "ingest").returncode == 0
    # Telegram accepts the post but answers only after 1.5 s: the process is
    # killed in between, after the call left and before its result is recorded.
    control.post("/_sandbox/faults", json={"service": "telegram", "delay_ms": 1500, "method": "send",
                                           "times": 1})
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.Popen([*DISTRIBUTOR, "--config", cfg, "deliver", "--once"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    victim = None
    while time.monotonic() < deadline and victim is None:
        victim = next((r for r in social_deliveries(db)
                       if r.status == "sending" and r.channel.endswith(".telegram")), None)
        if victim is None:
            time.sleep(0.02)
    assert victim is not None, "no delivery was ever in `sending`"
    # Kill once the call has reached Telegram (it answers only after 1.5 s).
    while time.monotonic() < deadline and not telegram_posts(control):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert len(telegram_posts(control)) == 1
    assert {r.id: r for r in social_deliveries(db)}[victim.id].status == "sending"

    result = run(cfg, "deliver", "--once")
    assert result.returncode == 1, result.stderr  # the held delivery needs an editor
    rows = {r.id: r for r in social_deliveries(db)}
    assert rows[victim.id].status == "held"
    assert "recovered" in result.stdout and "held" in result.stdout
    # Everything else went out; the killed one was not posted a second time.
    assert {r.status for i, r in rows.items() if i != victim.id} == {"sent"}
    texts = Counter((p["body"]["chat_id"], p["body"].get("text") or p["body"].get("caption"))
                    for p in telegram_posts(control))
    assert max(texts.values()) == 1
    assert len(telegram_posts(control)) == sum(1 for r in rows.values() if r.channel.endswith(".telegram"))

    held = run(cfg, "outbox", "--json", "--status", "held")
    assert f"distributor release {victim.id}" in held.stdout
