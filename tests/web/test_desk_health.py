"""The desk's /desk/health after real runs against the sandbox: a channel
paused by a real 401 from the sandbox's X, a Telegram delivery held after
an unknown outcome (the sandbox answered later than the client waited),
sources' polls and the daemon's next runs — what `distributor status` says;
and the Resume button: its permission, its CSRF lock, the action it calls
and the audit entry it leaves."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import re

import pytest

from desk_helpers import Clock, add_editor, client, logged_in
from distributor.health import collect
from distributor.ingest.pipeline import ingest
from distributor.store.audit import Audit
from support import drain

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def fault(control, **f):
    r = control.post("/_sandbox/faults", json=f)
    assert r.status_code < 300, r.text


@pytest.fixture
def troubled(sb_settings, store, clock, control):
    """The first tweet answered 401 (its channel pauses), the first Telegram
    message answered after the client gave up (held: outcome unknown)."""
    ingest(sb_settings, store, now=clock())
    fault(control, service="x", status=401, method="tweets", times=1)
    fault(control, service="telegram", delay_ms=3_000, method="sendMessage", times=1)
    drain(sb_settings, store, clock)
    add_editor(store)
    return sb_settings


def paused_channel(store) -> str:
    paused = [c for c in store.outbox.channels() if c.paused]
    assert len(paused) == 1, paused
    return paused[0].channel


def section(page: str, heading_id: str) -> str:
    found = re.search(rf'<section class="card" aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    assert found, heading_id
    return found[1]


async def test_no_session_is_sent_to_the_login(settings, store):
    async with client(settings, store, Clock()) as c:
        for path in ("/desk/health", "/desk/sent"):
            r = await c.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/desk/login?next=")
        r = await c.post("/desk/health/resume", data={"channel": "de.telegram", "csrf": "x"})
        assert r.status_code == 303 and r.headers["location"] == "/desk/login"


async def test_the_page_says_what_status_says(troubled, store, clock):
    settings = troubled
    channel = paused_channel(store)
    state = store.outbox.channel(channel)
    assert channel.endswith(".twitter") and "401" in state.paused_reason  # the sandbox's real answer
    held = store.deliveries(status="held")
    assert len(held) == 1 and held[0].kind == "telegram" and "outcome unknown" in held[0].reason
    data = collect(settings, store, clock())
    async with client(settings, store, clock) as c:
        await logged_in(c)
        r = await c.get("/desk/health")
    assert r.status_code == 200
    page = r.text
    assert f"Needs an editor: {len(data['problems'])} thing(s)" in page
    # Every channel of the config, each with its state; the paused one with its reason and a Resume button.
    channels = section(page, "h-channels")
    for code, ed in settings.editions.items():
        for kind in ed.channels.configured():
            assert f'data-channel="{code}.{kind}"' in channels
    item = re.search(rf'<li id="channel-{re.escape(channel)}"[^>]*data-state="paused">(.*?)</li>', channels, re.S)
    assert item, channels
    assert html.escape(state.paused_reason) in item[1]
    assert re.search(r'<button type="submit"[^>]*>Resume</button>', item[1])
    assert f'name="channel" value="{channel}"' in item[1]
    assert channels.count(">Resume</button>") == 1  # only the paused channel has one
    # The others as `status` sees them: told to wait (their pacing), or working.
    told = {c["channel"]: c for c in data["channels"]}
    configured = {f"{code}.{kind}" for code, ed in settings.editions.items() for kind in ed.channels.configured()}
    for name in data["deliveries"]["by_channel"]:
        expected = ("paused" if name == channel else "waiting" if told.get(name, {}).get("not_before")
                    else "ok" if name in configured else "unconfigured")
        assert f'data-channel="{name}" data-state="{expected}"' in channels, name
    assert any(c["not_before"] for c in told.values())
    # The channels the footers name without a config (de.facebook, …): listed apart, with their skipped count.
    unconfigured = re.search(r'<p class="counts" id="unconfigured">(.*?)</p>', channels, re.S)[1]
    skipped = data["deliveries"]["by_channel"]["de.facebook"]["skipped"]
    assert f'data-state="unconfigured">de.facebook ({skipped} skipped)</span>' in unconfigured
    # The held delivery with its evidence: why, what each attempt recorded, the request, the article.
    d = held[0]
    attempts = store.outbox.attempts(d.id)
    box = re.search(rf'<article class="held" id="delivery-{d.id}"[^>]*>(.*?)</article>', page, re.S)
    assert box, page
    assert html.escape(d.reason, quote=False) in box[1].replace("&#39;", "'")
    assert [a.outcome for a in attempts] == ["unknown"]
    assert re.search(r'<li data-outcome="unknown"><time datetime="[^"]+">[^<]+</time> · <strong>unknown</strong>',
                     box[1])
    recorded = json.loads(attempts[-1].payload)["request"]
    assert html.escape(json.dumps(recorded, ensure_ascii=False, indent=2), quote=False) in \
        box[1].replace("&#34;", '"').replace("&#39;", "'")
    assert f'href="/desk/articles/{d.article_id}#channel-telegram"' in box[1]
    # Each source's last poll.
    sources = section(page, "h-sources")
    for s in data["sources"]:
        assert f'data-source="{s["name"]}" data-ok="true"' in sources
        assert s["summary"] in sources
    # `status`'s own lines, every one of them.
    lines = section(page, "h-lines")
    for line in data["problems"] + data["notes"]:
        assert html.escape(line, quote=False) in lines.replace("&#39;", "'").replace("&#34;", '"')


async def test_a_failed_poll_shows_its_error(troubled, store, clock, articles_dir):
    settings = troubled
    broken = articles_dir.parent / "moved-away"
    articles_dir.rename(broken)
    ingest(settings, store, now=clock())
    poll = {p.source: p for p in store.last_polls()}["articles"]
    assert not poll.ok and poll.error
    async with client(settings, store, clock) as c:
        await logged_in(c)
        sources = section((await c.get("/desk/health")).text, "h-sources")
    assert 'data-source="articles" data-ok="false"' in sources
    assert html.escape(poll.error, quote=False) in sources.replace("&#39;", "'")


async def test_the_next_runs_when_the_daemon_never_ran(troubled, store, clock):
    settings = troubled
    data = collect(settings, store, clock())
    assert not data["daemon"]["ever_ran"]
    async with client(settings, store, clock) as c:
        await logged_in(c, )
        daemon = section((await c.get("/desk/health")).text, "h-daemon")
    assert "has never run against this database" in daemon
    for s in settings.sources:
        assert f'data-job="poll:{s.name}"' in daemon and f"every {round(s.poll_seconds)} s" in daemon
    for e in data["editions"]:
        if e["newsletter"]:
            local = dt.datetime.fromisoformat(e["next_digest"]).astimezone(
                __import__("zoneinfo").ZoneInfo(e["timezone"]))
            assert f'data-job="digest:{e["edition"]}"' in daemon
            assert f"next slot {local:%Y-%m-%d %H:%M %Z}" in daemon


async def test_the_next_runs_of_the_daemons_stored_jobs(settings, store, clock):
    from distributor.schedule import make_scheduler, sync_jobs

    add_editor(store)
    scheduler = make_scheduler(settings, store)
    sync_jobs(scheduler, settings)  # as `distributor run` does at its start, into the database's job store
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)
    data = collect(settings, store, clock())
    assert data["daemon"]["ever_ran"]
    async with client(settings, store, clock) as c:
        await logged_in(c)
        daemon = section((await c.get("/desk/health")).text, "h-daemon")
    assert "never run" not in daemon
    for j in data["daemon"]["jobs"]:
        assert f'<li data-job="{j["id"]}"><code>{j["id"]}</code>: <time datetime="{j["next_run"]}">' in daemon


async def test_resume_needs_the_csrf_token_and_the_channel_stays_paused(troubled, store, clock):
    settings = troubled
    channel = paused_channel(store)
    async with client(settings, store, clock) as c:
        token = await logged_in(c)
        for data in ({"channel": channel}, {"channel": channel, "csrf": "wrong"},
                     {"channel": channel, "csrf": token[:-1] + ("A" if token[-1] != "A" else "B")}):
            r = await c.post("/desk/health/resume", data=data)
            assert r.status_code == 403 and "Nothing was changed" in r.text
    assert store.outbox.channel(channel).paused
    assert Audit(store.engine).history(channel=channel) == []


async def test_resume_resumes_the_channel_audited_and_shows_the_result(troubled, store, clock, control):
    settings = troubled
    channel = paused_channel(store)
    reason = store.outbox.channel(channel).paused_reason
    async with client(settings, store, clock) as c:
        token = await logged_in(c)
        r = await c.post("/desk/health/resume", data={"channel": channel, "csrf": token})
        assert r.status_code == 303
        location = r.headers["location"]
        assert re.fullmatch(r"/desk/health\?done=\d+#flash", location), location
        state = store.outbox.channel(channel)
        assert not state.paused and state.consecutive_failures == 0
        [entry] = Audit(store.engine).history(channel=channel)
        assert (entry.actor, entry.action, entry.outcome) == ("desk:anna", "resume", "resumed")
        assert entry.detail == f"was paused: {reason}"
        assert location.split("done=")[1].split("#")[0] == str(entry.id)
        page = (await c.get(location.split("#")[0])).text
        flash = re.search(r'<p class="flash" role="status" id="flash"[^>]*>(.*?)</p>', page, re.S)
        assert flash and f"Resume ({channel}): resumed" in flash[1]
        assert re.search(rf'data-channel="{re.escape(channel)}" data-state="ok"', page)
        assert ">Resume</button>" not in page
    # Resumed for real: the channel's waiting tweets go out on the next run.
    await asyncio.to_thread(drain, settings, store, clock)
    assert {d.status for d in store.deliveries() if d.channel == channel} == {"sent"}


async def test_resume_of_an_unknown_or_malformed_channel(troubled, store, clock):
    settings = troubled
    channel = paused_channel(store)
    async with client(settings, store, clock) as c:
        token = await logged_in(c)
        r = await c.post("/desk/health/resume", data={"channel": "xx.telegram", "csrf": token}, params={"lang": "de"})
        assert r.status_code == 303 and r.headers["location"].startswith("/desk/health?lang=de&done=")
        page = html.unescape((await c.get(r.headers["location"].split("#")[0])).text)
        assert "Fortsetzen (xx.telegram) wurde abgelehnt: no channel 'xx.telegram'" in page
        [entry] = Audit(store.engine).history(channel="xx.telegram")
        assert (entry.actor, entry.outcome) == ("desk:anna", "refused")
        for bad in ("", "de", "de.telegram'; DROP TABLE deliveries; --", "x" * 70 + ".telegram", "DE.TELEGRAM",
                    "de.telegram\x00", "../../etc.passwd"):
            r = await c.post("/desk/health/resume", data={"channel": bad, "csrf": token})
            assert r.status_code == 400 and "is not a channel" in r.text, bad
        # A ?done= naming something else, or nothing, shows no result; never a 500.
        for done in ("999999", "abc", "-1", "9" * 40, str(entry.id) + "x"):
            r = await c.get("/desk/health", params={"done": done})
            assert r.status_code == 200 and 'id="flash"' not in r.text
    assert store.outbox.channel(channel).paused
    assert len(Audit(store.engine).history()) == 1


async def test_the_health_page_in_german_and_french(troubled, store, clock):
    settings = troubled
    async with client(settings, store, clock) as c:
        await logged_in(c)
        de = (await c.get("/desk/health", params={"lang": "de"})).text
        fr = (await c.get("/desk/health", headers={"accept-language": "fr"})).text
    assert "Kanäle und Zustand" in de and ">Fortsetzen</button>" in de and "Angehaltene und fehlgeschlagene" in de
    assert 'action="/desk/health/resume?lang=de"' in de
    assert "Canaux et état" in fr and ">Reprendre</button>" in fr and "Envois retenus et échoués" in fr
    assert 'aria-current="page">État<' in fr


async def test_a_healthy_system(settings, store, clock):
    add_editor(store)
    async with client(settings, store, clock) as c:
        await logged_in(c)
        page = (await c.get("/desk/health")).text
    assert "Healthy: nothing needs an editor." in page
    assert "None: nothing is held or failed." in page and ">Resume</button>" not in page
    assert 'data-source="articles" data-ok="none"' in page and "never polled" in page
