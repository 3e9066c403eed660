"""The editors' outbox commands end to end through the CLI, against the sandbox."""

from __future__ import annotations

import json

from click.testing import CliRunner

from distributor.cli import cli
from support import sent


def config(make_config, articles_dir, sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    return make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def outbox(cfg) -> dict[tuple[int, str, int], dict]:
    result = invoke(cfg, "outbox", "--json")
    assert result.exit_code == 0, result.output
    return {(d["article_id"], d["channel"], d["seq"]): d for d in json.loads(result.output)["deliveries"]}


def seed_id(cfg) -> int:
    arts = json.loads(invoke(cfg, "articles", "--json").output)
    return next(a["id"] for a in arts if a["key"] == "de-kasachstan-china-ukraine.txt")


def test_send_by_hand_then_refuse_a_second_send_unless_forced(make_config, articles_dir, sandbox, control):
    cfg = config(make_config, articles_dir, sandbox)
    invoke(cfg, "ingest")
    aid = seed_id(cfg)
    first = invoke(cfg, "send", str(aid), "--channel", "telegram")
    assert first.exit_code == 0, first.output
    assert "de.telegram: sent" in first.output
    again = invoke(cfg, "send", str(aid), "--channel", "telegram")
    assert again.exit_code == 2 and "already sent to de.telegram" in again.output and "--force" in again.output
    forced = invoke(cfg, "send", str(aid), "--channel", "telegram", "--force")
    assert forced.exit_code == 0, forced.output
    rows = outbox(cfg)
    assert rows[(aid, "de.telegram", 0)]["status"] == "sent"
    assert rows[(aid, "de.telegram", 1)]["status"] == "sent"
    posts = [r for r in sent(control, "telegram", "sendMessage") if r["body"]["chat_id"] == "@novastan_de"]
    assert len(posts) == 2
    # A deliver afterwards sends the rest, and not this one a third time.
    assert invoke(cfg, "deliver", "--once").exit_code == 0
    posts = [r for r in sent(control, "telegram") if r["body"].get("chat_id") == "@novastan_de"
             and r["path"].endswith(("sendMessage", "sendPhoto"))]
    assert len(posts) == 3  # the two above + the other German article


def test_send_refuses_what_cannot_be_sent(make_config, articles_dir, sandbox):
    cfg = config(make_config, articles_dir, sandbox)
    invoke(cfg, "ingest")
    arts = {a["key"]: a["id"] for a in json.loads(invoke(cfg, "articles", "--json").output)}
    fr = arts["fr-ouzbekistan-coton-travail-force.txt"]
    result = invoke(cfg, "send", str(fr), "--channel", "twitter")
    assert result.exit_code == 2 and "no twitter channel configured for fr" in result.output
    assert "no article with id 999" in invoke(cfg, "send", "999", "--channel", "telegram").output
    assert "stored article's id" in invoke(cfg, "send", "some/file.txt", "--channel", "telegram").output


def test_hold_release_cancel_retry_and_resume(make_config, articles_dir, sandbox, control):
    cfg = config(make_config, articles_dir, sandbox)
    invoke(cfg, "ingest")
    aid = seed_id(cfg)
    rows = outbox(cfg)
    tg, x = rows[(aid, "de.telegram", 0)]["id"], rows[(aid, "de.twitter", 0)]["id"]
    assert invoke(cfg, "hold", str(tg)).output.strip() == f"#{tg} de.telegram: held"
    assert invoke(cfg, "cancel", str(x)).output.strip() == f"#{x} de.twitter: cancelled"
    control.post("/_sandbox/faults", json={"service": "x", "status": 400, "times": 1, "method": "tweets"})
    invoke(cfg, "deliver", "--once")
    rows = outbox(cfg)
    assert rows[(aid, "de.telegram", 0)]["status"] == "held"
    assert rows[(aid, "de.twitter", 0)]["status"] == "cancelled"
    bad = invoke(cfg, "release", str(x))
    assert bad.exit_code == 2 and "is cancelled; only a delivery that is held can become pending" in bad.output
    assert invoke(cfg, "release", str(tg)).exit_code == 0
    invoke(cfg, "deliver", "--once")
    assert outbox(cfg)[(aid, "de.telegram", 0)]["status"] == "sent"

    # The delivery that met a 400 failed; it comes back with `retry`.
    (other,) = [k for k, d in outbox(cfg).items() if d["status"] == "failed"]
    row = outbox(cfg)[other]
    assert other[1].endswith(".twitter") and row["attempts"] == 1
    assert invoke(cfg, "retry", str(row["id"])).exit_code == 0
    invoke(cfg, "deliver", "--once")
    assert outbox(cfg)[other]["status"] == "sent"

    # A paused channel is shown and resumed by name.
    paused = invoke(cfg, "resume", "de.facebook")
    assert paused.exit_code == 2 and "no channel 'de.facebook'" in paused.output
    assert invoke(cfg, "resume", "de.telegram").output.strip() == "de.telegram: resumed"


def test_outbox_json_shows_every_state_and_the_attempt_log(make_config, articles_dir, sandbox):
    cfg = config(make_config, articles_dir, sandbox)
    invoke(cfg, "ingest")
    invoke(cfg, "deliver", "--once")
    data = json.loads(invoke(cfg, "outbox", "--json", "--attempts").output)
    states = {d["status"] for d in data["deliveries"]}
    assert {"sent", "pending", "skipped"} <= states
    sent_one = next(d for d in data["deliveries"] if d["status"] == "sent")
    assert sent_one["remote_id"] and sent_one["attempt_log"][0]["outcome"] == "sent"
    assert json.loads(sent_one["attempt_log"][0]["payload"])["text"]
    text = invoke(cfg, "outbox", "--status", "skipped").output
    assert "no facebook channel configured for de" in text


def test_send_to_a_paused_channel_is_refused_and_changes_nothing(make_config, articles_dir, sandbox):
    from distributor.config import load_settings
    from distributor.store import Store, utcnow

    cfg = config(make_config, articles_dir, sandbox)
    invoke(cfg, "ingest")
    aid = seed_id(cfg)
    tg = outbox(cfg)[(aid, "de.telegram", 0)]["id"]
    assert invoke(cfg, "hold", str(tg)).exit_code == 0
    with Store.open(load_settings(cfg)) as store:
        store.outbox.update_channel("de.telegram", paused=True, paused_reason="bad token", now=utcnow())
    result = invoke(cfg, "send", str(aid), "--channel", "telegram")
    assert result.exit_code == 2 and "de.telegram is paused (bad token)" in result.output
    assert outbox(cfg)[(aid, "de.telegram", 0)]["status"] == "held"
