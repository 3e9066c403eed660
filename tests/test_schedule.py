"""The scheduler: its jobs, their persistence across restarts, the digest job's
idempotence on a fake clock, and the real daemon posting a dropped file and
stopping cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from distributor import schedule
from distributor.delivery import Dispatcher
from distributor.ingest.pipeline import ingest
from distributor.store.issues import Issues
from support import add_subscribers, sent, with_channel

UTC = dt.timezone.utc


def test_every_source_edition_and_chore_has_its_job(settings):
    specs = {s["id"]: s for s in schedule.job_specs(settings)}
    assert set(specs) == {"poll:articles", "deliver", "digest:de", "digest:fr", "digest:en", "housekeeping"}
    poll = specs["poll:articles"]["trigger"]
    assert isinstance(poll, IntervalTrigger) and poll.interval == dt.timedelta(seconds=300)
    de = specs["digest:de"]["trigger"]
    assert isinstance(de, CronTrigger) and str(de.timezone) == "Europe/Berlin"
    assert "day_of_week='fri'" in str(de) and "hour='9'" in str(de) and "minute='0'" in str(de)
    assert specs["digest:de"]["misfire_grace_time"] == 12 * 3600
    assert specs["digest:de"]["args"] == ["de"]


def stored_jobs(settings, store, *, then=None):
    async def go():
        sched = schedule.make_scheduler(settings, store)
        sched.start(paused=True)
        try:
            schedule.sync_jobs(sched, settings)
            if then:
                then(sched)
            return {j.id: j.next_run_time for j in sched.get_jobs()}
        finally:
            sched.shutdown(wait=False)

    return asyncio.run(go())


def test_jobs_persist_and_a_run_missed_while_down_is_kept(settings, store):
    first = stored_jobs(settings, store)
    fri = first["digest:de"]
    assert fri.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Fri 09:00"
    # The process went down before a slot it was due to run and comes back
    # after it: the stored next run is in the past.
    missed = dt.datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
    stored_jobs(settings, store, then=lambda sched: sched.get_job("digest:de").modify(next_run_time=missed))
    restarted = stored_jobs(settings, store)
    # A restart keeps it (APScheduler then runs it once, coalesced, if within grace)…
    assert restarted["digest:de"] == missed
    assert set(restarted) == set(first)
    # …and a changed config reschedules the job.
    changed = with_channel(settings, "de.newsletter", digest_day="mon", digest_time="07:30")
    moved = stored_jobs(changed, store)["digest:de"]
    assert moved.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Mon 07:30"


def test_the_digest_job_sends_once_per_slot(sb_settings, store, control, clock):
    clock.now = dt.datetime(2025, 3, 14, 8, 0, 5, tzinfo=UTC)  # Friday 09:00:05 in Berlin
    ingest(sb_settings, store, now=clock())
    add_subscribers(store, "de", ["leserin@example.org"])

    async def go():
        dispatcher = Dispatcher(sb_settings, store, clock=clock, sleep=clock.sleep)
        schedule.RUNTIME = schedule.Runtime(sb_settings, store, dispatcher)
        try:
            await schedule.send_digest("de")
            clock.now += dt.timedelta(minutes=5)  # a second run of the same slot (a restart, a misfire)
            await schedule.send_digest("de")
            await schedule.send_digest("fr")  # fr's slot is Monday: nothing due
        finally:
            schedule.RUNTIME = None
            await dispatcher.aclose()

    asyncio.run(go())
    issues = Issues(store.engine).list()
    assert [(i.edition, i.status, i.slot) for i in issues] == [
        ("de", "sent", dt.datetime(2025, 3, 14, 8, 0, tzinfo=UTC))]
    assert len(sent(control, "sendgrid", "/mail/send")) == 1


def daemon_config(make_config, articles_dir, sandbox) -> str:
    port = int(sandbox.url.rsplit(":", 1)[1])
    path = make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)
    path.write_text(path.read_text().replace('path = "', 'poll_seconds = 1\npath = "', 1))
    return str(path)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_daemon_posts_a_dropped_file_within_seconds_and_stops_on_sigterm(
        make_config, articles_dir, sandbox, control, tmp_path):
    cfg = daemon_config(make_config, articles_dir, sandbox)
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DISTRIBUTOR_LOG_FORMAT": "json"}
    proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def telegram_texts():
            return [r["body"].get("text") or r["body"].get("caption") or "" for r in sent(control, "telegram")
                    if r["path"].endswith(("sendMessage", "sendPhoto"))]

        assert wait_for(lambda: len(telegram_texts()) >= 4, 60), "the examples were not posted"
        before = len(telegram_texts())
        (articles_dir / "eilmeldung.md").write_text(
            "---\ntitle: Eilmeldung aus Almaty\nlanguage: de\nurl: https://novastan.org/de/eilmeldung/\n"
            "channels: [telegram]\n---\n\nIn Almaty ist heute etwas passiert.\n", encoding="utf-8")
        dropped = time.monotonic()
        assert wait_for(lambda: any("Eilmeldung aus Almaty" in t for t in telegram_texts()), 15)
        took = time.monotonic() - dropped
        assert took < 15
        assert len(telegram_texts()) == before + 1
        assert [(w["role"], w["pid"]) for w in live_workers(cfg)] == [("run", proc.pid)]  # also a worker
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=15)
        assert time.monotonic() - stopped < 10
        assert proc.returncode == 0, err[-2000:]
        assert '"message": "stopped"' in err
        assert live_workers(cfg) == []  # it said it stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Nothing was posted twice, and a restart posts nothing new.
    texts = telegram_texts()
    assert len(texts) == len(set(texts))


def live_workers(cfg: str) -> list:
    """What `status --json` lists under "workers"."""
    from distributor.config import load_settings
    from distributor.health import collect
    from distributor.store import Store

    settings = load_settings(Path(cfg))
    with Store.open(settings) as store:
        return collect(settings, store, dt.datetime.now(dt.timezone.utc))["workers"]


def patient_english_telegram(cfg: str) -> str:
    """The en Telegram channel waits 20 s for an answer (the tests' default is 2 s)."""
    path = Path(cfg)
    text = path.read_text()
    old = 'chat_id = "@novastan_en"\ntimeout_seconds = 2\n'
    assert old in text
    path.write_text(text.replace(old, 'chat_id = "@novastan_en"\ntimeout_seconds = 20\n'))
    return cfg


def start_daemon(cfg: str) -> subprocess.Popen:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DISTRIBUTOR_LOG_FORMAT": "json"}
    return subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def only_english_breaking_news(articles_dir) -> None:
    for f in articles_dir.iterdir():
        f.unlink()
    (articles_dir / "breaking.md").write_text(
        "---\ntitle: Breaking news from Bishkek\nlanguage: en\nurl: https://novastan.org/en/breaking/\n"
        "channels: [telegram]\n---\n\nSomething happened in Bishkek today.\n", encoding="utf-8")


def sigterm_once_posted(proc: subprocess.Popen, control) -> str:
    """SIGTERM the daemon as soon as its Telegram post reached the sandbox;
    it must exit cleanly within 10 s. Returns its log."""
    try:
        assert wait_for(lambda: en_posts(control), 30)
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _, err = proc.communicate(timeout=15)
        assert time.monotonic() - stopped < 10 and proc.returncode == 0, err[-2000:]
        return err
    finally:
        if proc.poll() is None:
            proc.kill()


def en_posts(control):
    return [r for r in sent(control, "telegram", "sendMessage") if r["body"]["chat_id"] == "@novastan_en"]


def test_sigterm_lets_an_in_flight_send_finish(make_config, articles_dir, sandbox, control, tmp_path):
    only_english_breaking_news(articles_dir)
    cfg = patient_english_telegram(daemon_config(make_config, articles_dir, sandbox))
    # Telegram takes the post at once but answers only after 4 s.
    control.post("/_sandbox/faults", json={"service": "telegram", "delay_ms": 4000, "method": "sendMessage"})
    sigterm_once_posted(start_daemon(cfg), control)
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'distributor.db'}")
    with engine.connect() as conn:
        (status,) = conn.exec_driver_sql("SELECT status FROM deliveries WHERE channel = 'en.telegram'").one()
    engine.dispose()
    assert status == "sent"  # finished, recorded, nothing lost
    assert len(en_posts(control)) == 1


def test_sigterm_parks_a_send_that_does_not_finish_in_time(make_config, articles_dir, sandbox, control, tmp_path):
    only_english_breaking_news(articles_dir)
    cfg = patient_english_telegram(daemon_config(make_config, articles_dir, sandbox))
    control.post("/_sandbox/faults", json={"service": "telegram", "delay_ms": 15000, "method": "sendMessage"})
    err = sigterm_once_posted(start_daemon(cfg), control)
    assert "stopped 1 job(s) mid-way" in err
    # The next start settles it: held for an editor, not posted again.
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    again = subprocess.run([sys.executable, "-m", "distributor", "--config", cfg, "deliver", "--once"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert "held" in again.stdout, again.stdout + again.stderr
    assert len(en_posts(control)) == 1


# ------------------------------------------------------------------ configuration errors stop the daemon


def run_until_it_exits(cfg: str, env: dict[str, str], then=None) -> tuple[int, str]:
    """`distributor run` until it exits by itself (killed after 60 s: a
    daemon that swallows the error runs on); `then()` while it runs."""
    proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if then is not None:
            then()
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the daemon did not stop on a configuration error:\n{err[-3000:]}") from None
    return proc.returncode, err


def test_a_job_meeting_a_configuration_error_stops_the_daemon_with_it(make_config, articles_dir, sandbox,
                                                                     control):
    """en.telegram is live, but its token is not exported: only the deliver job
    finds out, when it builds the channel. It must not log that every two
    seconds forever: the daemon stops, prints the one line, exits 2."""
    only_english_breaking_news(articles_dir)
    cfg = Path(daemon_config(make_config, articles_dir, sandbox))
    old = 'chat_id = "@novastan_en"\ntimeout_seconds = 2\n'
    assert old in cfg.read_text()
    cfg.write_text(cfg.read_text().replace(old, old + 'mode = "live"\ntoken_env = "EN_TG_TOKEN_NOT_EXPORTED"\n'
                                           f'api_url = "{sandbox.url}/telegram"\n'))
    env = {k: v for k, v in os.environ.items() if k != "EN_TG_TOKEN_NOT_EXPORTED"}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "DISTRIBUTOR_LOG_FORMAT": "json"}
    code, err = run_until_it_exits(str(cfg), env)
    problem = "en.telegram: the secret 'token' is not set; export EN_TG_TOKEN_NOT_EXPORTED"
    assert code == 2, err[-3000:]
    assert err.rstrip().splitlines()[-1] == f"error: {problem}"
    assert err.count(problem) == 2  # logged once by the job that met it, printed once on the way out
    assert "job deliver_due" in err and '"message": "stopped"' in err
    assert en_posts(control) == []


def test_a_configuration_broken_while_the_daemon_runs_stops_it(make_config, articles_dir, sandbox, control,
                                                               tmp_path):
    """The outlet's templates folder disappears while the daemon runs; the next
    job that renders (the correction of a post whose article changed) meets
    the broken configuration and the daemon stops with it."""
    only_english_breaking_news(articles_dir)
    templates = tmp_path / "outlet-templates"
    templates.mkdir()
    cfg = daemon_config(make_config, articles_dir, sandbox)
    Path(cfg).write_text(Path(cfg).read_text() + f'\n[render]\ntemplates_dir = "{templates}"\n')
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DISTRIBUTOR_LOG_FORMAT": "json"}

    def break_it() -> None:
        assert wait_for(lambda: len(en_posts(control)) == 1, 30), "the article was not posted"
        templates.rmdir()
        article = articles_dir / "breaking.md"
        article.write_text(article.read_text() + "\nAn update from the scene.\n", encoding="utf-8")

    code, err = run_until_it_exits(cfg, env, then=break_it)
    problem = f"[render] templates_dir '{templates}' is not a directory"
    assert code == 2, err[-3000:]
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith(problem)
    assert err.count(problem) == 2
    assert len(en_posts(control)) == 1
