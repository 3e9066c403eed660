"""The editors' bot inside `distributor run` and alone as `distributor
editor-bot` (issue 14 item 1): real processes, the sandbox over HTTP. In
the daemon an article in approval = "required" goes out only after the
press in the chat; SIGTERM stops the bot with the daemon, cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bot_helpers import ANNA, DESK_TOML, GROUP
from distributor.config import load_settings
from distributor.ingest.pipeline import ingest
from distributor.store import Store

SEED = "de-kasachstan-china-ukraine.txt"


def wait(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def config(make_config, articles_dir, desk_sandbox) -> str:
    port = desk_sandbox.url.rsplit(":", 1)[1]
    path = make_config(DESK_TOML + f"\n[sandbox]\nport = {port}\n", articles=articles_dir)
    text = path.read_text().replace("[web]\n", "[web]\nenabled = false\n", 1)
    text = text.replace("[editions.de.channels.telegram]\n", '[editions.de.channels.telegram]\napproval = "required"\n')
    path.write_text(text)
    return str(path)


def start(cfg: str, *command: str) -> subprocess.Popen:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DISTRIBUTOR_LOG_FORMAT": "json"}
    return subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, *command], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def test_inside_run_an_article_goes_out_only_after_the_press_in_the_chat(make_config, articles_dir, desk_sandbox,
                                                                          harness, clock):
    cfg = config(make_config, articles_dir, desk_sandbox)
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        ingest(settings, store, now=clock())
        aid = next(a.id for a in store.list_articles() if a.key == SEED)
    proc = start(cfg, "run")
    try:
        post = wait(lambda: next((r["result"] for r in harness.approval_posts()
                                  if f"article {aid} (de)" in r["body"]["text"]), None))
        time.sleep(3)  # the deliver job runs every 2 s: nothing goes out unapproved
        assert harness.channel_posts() == []
        harness.press(post["message_id"], f"ap:{aid}:1:telegram:0", ANNA)
        (sent,) = wait(lambda: harness.channel_posts())
        assert sent["body"]["chat_id"] == "@novastan_de"
        wait(lambda: [r for r in harness.calls("editMessageText") if "approved by telegram:4711" in r["body"]["text"]])
    finally:
        code, out, err = stop(proc)
    assert code == 0, err[-3000:]
    assert "editors' bot: stopped" in err and '"message": "stopped"' in err


def test_editor_bot_alone_answers_an_editor_and_stops_on_sigterm(make_config, articles_dir, desk_sandbox, harness):
    cfg = config(make_config, articles_dir, desk_sandbox)
    proc = start(cfg, "editor-bot")
    try:
        wait(lambda: harness.calls("getUpdates"))
        harness.say("/status", ANNA, in_group=True)
        (reply,) = wait(lambda: [r["body"]["text"] for r in harness.calls("sendMessage", chat=GROUP)
                                 if "deliveries:" in r["body"]["text"]])
    finally:
        code, out, err = stop(proc)
    assert code == 0, err[-3000:]
    assert "editors' bot @sandbox_editors_bot running" in out


def test_editor_bot_without_its_section_is_a_config_error(make_config, articles_dir):
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.run([sys.executable, "-m", "distributor", "--config", str(make_config(articles=articles_dir)),
                           "editor-bot"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no [desk.telegram] section" in proc.stdout + proc.stderr
