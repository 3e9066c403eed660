"""`distributor run`: one asyncio process with APScheduler 3.x.

Jobs are module-level coroutine functions with plain arguments (a source name,
an edition code), persisted in the same database (SQLAlchemyJobStore), so a
restart neither loses a run (a missed run within its grace time runs once,
coalesced) nor doubles one (the digest's issue is unique per slot). The jobs
find the wired objects in `RUNTIME`, set by `run_daemon`.

    poll:<source>   every source.poll_seconds     ingest; wakes the delivery job
    deliver         every 2 s                     drain due deliveries
    digest:<ed>     cron, in the edition's zone   send the weekly issue
    housekeeping    every 10 min, and at start    settle abandoned sends; resume interrupted issues

Several `run` processes (machines) elect one leader (distributor/leader.py):
only it runs the scheduler; the others stand by, drain due deliveries every
DELIVER_SECONDS and try for the lock every CHECK_SECONDS, so one of them takes
over within seconds of the leader's end. A new leader first settles what its
predecessor left (housekeeping) and sends a digest slot that came while no
scheduler ran; a leader whose lock is lost stops its schedule and stands by.

With [desk.telegram], the editors' bot (distributor/editorbot) runs in the
leader's event loop (one bot polls Telegram at a time): started when this
process leads, stopped when it stops leading or the daemon stops.

Shutdown on SIGTERM or SIGINT: no new work is taken, running jobs get a few
seconds to finish, and a send still in flight is left in `sending` for the
next start to settle (held, or found on X) — never resent blindly.

A job that meets a ConfigurationError (a channel's secret not exported, a
template broken since the start) stops the daemon the same way, and `daemon`
then raises the error: `distributor run` prints it as one line and exits 2,
instead of a job logging it every two seconds forever. Any other failure of
a job is logged and the scheduler goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from distributor.config import Settings
from distributor.delivery import Dispatcher
from distributor.errors import ConfigurationError
from distributor.jobstore import DELIVER_SECONDS, HOUSEKEEPING_MINUTES, JOB_TABLE, next_runs
from distributor.leader import CHECK_SECONDS, CHECK_TIMEOUT_SECONDS
from distributor.store import Store, utcnow
from distributor.workers import presence as registered

log = logging.getLogger("distributor.run")

SHUTDOWN_GRACE_SECONDS = 8.0


@dataclass
class Runtime:
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    digests_running: set[str] = field(default_factory=set)  # editions whose digest job is running now
    # The configuration error a job met: the daemon stops and raises it.
    fatal: ConfigurationError | None = None

    def stop_for(self, exc: ConfigurationError) -> None:
        if self.fatal is None:
            self.fatal = exc
        self.stopping.set()

    async def sleep(self, seconds: float) -> None:
        """A sleep that ends early when the process is stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=max(0.0, seconds))
        except asyncio.TimeoutError:
            pass


RUNTIME: Runtime | None = None


def _runtime() -> Runtime:
    if RUNTIME is None:
        raise RuntimeError("the scheduler's jobs run only inside `distributor run`")
    return RUNTIME


def _tracked(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Register the running job's task, so shutdown can wait for it. A
    configuration error stops the daemon (never swallowed, never retried);
    any other failure is logged and the scheduler goes on."""

    async def wrapper(*args: Any) -> None:
        rt = _runtime()
        if rt.stopping.is_set():
            return None
        task = asyncio.current_task()
        if task is not None:
            rt.running.add(task)
        try:
            return await fn(rt, *args)
        except ConfigurationError as exc:
            log.error("job %s%s: %s; stopping (fix the configuration, then start again)", fn.__name__, args, exc)
            rt.stop_for(exc)
            return None
        except Exception:  # noqa: BLE001 - a failing job must never kill the scheduler
            log.exception("job %s%s failed", fn.__name__, args)
            return None
        finally:
            if task is not None:
                rt.running.discard(task)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    return wrapper


# ------------------------------------------------------------------ the jobs


@_tracked
async def poll_source(rt: Runtime, source_name: str) -> None:
    from distributor.ingest.pipeline import ingest_source

    source = rt.settings.source(source_name)
    report = await asyncio.to_thread(ingest_source, rt.settings, rt.store, source)
    if report.new or report.updated or report.removed or report.moved:
        log.info("source %s: %s", source_name, report.summary())
        _wake_delivery()
    for article, old_key in report.moved:
        log.info("source %s: article #%s moved from %s to %s", source_name, article.id, old_key, article.key)
    for warning in report.warnings:
        log.warning("source %s: %s", source_name, warning)
    if report.error or report.item_errors:
        log.warning("source %s: %s", source_name, report.error or "; ".join(report.item_errors))


@_tracked
async def deliver_due(rt: Runtime) -> None:
    report = await rt.dispatcher.drain(max_wait=DELIVER_SECONDS)
    for o in report.recovered + report.corrected + report.outcomes:
        log.info("delivery %s %s: %s %s", o.delivery_id, o.channel, o.status, o.detail)


@_tracked
async def send_digest(rt: Runtime, edition: str) -> None:
    from distributor.newsletter.digest import run_due_digest

    rt.digests_running.add(edition)
    try:
        result = await run_due_digest(rt.settings, rt.store, edition, clock=rt.dispatcher.clock, sleep=rt.sleep,
                                      stop=rt.stopping.is_set)
    finally:
        rt.digests_running.discard(edition)
    if result is None:
        log.info("digest %s: nothing due at %s", edition, rt.dispatcher.clock().isoformat(timespec="seconds"))
    else:
        log.info("digest %s: %s %s", edition, result.status, result.detail)


@_tracked
async def housekeeping(rt: Runtime) -> None:
    for o in await rt.dispatcher.recover():
        log.warning("delivery %s %s: %s %s", o.delivery_id, o.channel, o.status, o.detail)
    wake_interrupted_digests(rt.settings, rt.store, rt.dispatcher.clock(), busy=rt.digests_running)


def wake_interrupted_digests(settings: Settings, store: Store, now: dt.datetime, *,
                             busy: Set[str] = frozenset(), due: bool = False) -> list[str]:
    """Bring forward the digest job of each edition with an interrupted issue
    (the process stopped or was killed mid-issue, or its channel was paused
    and is resumed): its next run resumes the issue now, not at next week's
    slot. With `due` (a process that has just become the leader), also of
    each edition whose slot is due and has no issue yet (it came while no
    scheduler ran): it is sent now, once (an issue is unique per slot).
    Returns the editions woken."""
    from distributor.newsletter.digest import due_slot
    from distributor.store.issues import Issues

    scheduler = _SCHEDULER
    if scheduler is None:
        return []
    woken = []
    for code, edition in settings.editions.items():
        if (code in busy or edition.channels.newsletter is None
                or store.outbox.channel(f"{code}.newsletter").paused):
            continue  # being sent right now, or waiting for an editor to resume its channel
        interrupted = bool(Issues(store.engine).unfinished(code))
        if not (interrupted or (due and due_slot(settings, store, code, now) is not None)):
            continue
        job = scheduler.get_job(f"digest:{code}")
        if job is not None and (job.next_run_time is None or job.next_run_time > now):
            job.modify(next_run_time=now)
            log.info("digest %s: %s now", code, "an interrupted issue resumes" if interrupted else
                     "the slot that came while no scheduler ran is sent")
            woken.append(code)
    return woken


def _wake_delivery() -> None:
    scheduler = _SCHEDULER
    if scheduler is not None:
        job = scheduler.get_job("deliver")
        if job is not None:
            job.modify(next_run_time=dt.datetime.now(dt.timezone.utc))


_SCHEDULER: AsyncIOScheduler | None = None


class Stoppable(Protocol):
    async def stop(self) -> None: ...


# What starts a companion of the daemon in its loop (the editors' bot), or None.
Companion = Callable[[Settings, Store], Awaitable[Stoppable | None]]


# ------------------------------------------------------------------ wiring


def job_specs(settings: Settings) -> list[dict[str, Any]]:
    """Every job the daemon runs, as add_job keyword arguments."""
    specs = [
        dict(id=f"poll:{s.name}", func=poll_source, args=[s.name],
             trigger=IntervalTrigger(seconds=s.poll_seconds, timezone=dt.timezone.utc),
             misfire_grace_time=max(30, int(s.poll_seconds * 2)))
        for s in settings.sources
    ]
    specs.append(dict(id="deliver", func=deliver_due, args=[],
                      trigger=IntervalTrigger(seconds=DELIVER_SECONDS, timezone=dt.timezone.utc),
                      misfire_grace_time=60))
    for code, edition in settings.editions.items():
        nl = edition.channels.newsletter
        if nl is None:
            continue
        hour, minute = (int(x) for x in nl.digest_time.split(":"))
        specs.append(dict(id=f"digest:{code}", func=send_digest, args=[code],
                          trigger=CronTrigger(day_of_week=nl.digest_day, hour=hour, minute=minute,
                                              timezone=ZoneInfo(edition.timezone)),
                          misfire_grace_time=int(nl.digest_grace_hours * 3600)))
    specs.append(dict(id="housekeeping", func=housekeeping, args=[],
                      trigger=IntervalTrigger(minutes=HOUSEKEEPING_MINUTES, timezone=dt.timezone.utc),
                      misfire_grace_time=600))
    return specs


def make_scheduler(settings: Settings, store: Store) -> AsyncIOScheduler:
    """A scheduler on the database's job store, holding exactly the configured
    jobs. A job already stored keeps its next run time (so a run missed while
    the process was down is not lost); its trigger follows the config."""
    scheduler = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=dt.timezone.utc,
    )
    return scheduler


def sync_jobs(scheduler: AsyncIOScheduler, settings: Settings) -> None:
    wanted = {spec["id"]: spec for spec in job_specs(settings)}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
    for job_id, spec in wanted.items():
        job = scheduler.get_job(job_id)
        if job is None:
            scheduler.add_job(**spec)
        elif str(job.trigger) != str(spec["trigger"]) or job.misfire_grace_time != spec["misfire_grace_time"]:
            job.modify(misfire_grace_time=spec["misfire_grace_time"])
            job.reschedule(spec["trigger"])


async def daemon(settings: Settings, *, ready: asyncio.Event | None = None, serve_web: bool = True,
                 editor_bot: Companion | None = None) -> None:
    """The scheduler until SIGTERM or SIGINT, or until a job meets a
    configuration error, which is raised once the daemon has stopped. Only
    the elected leader (distributor/leader.py) runs the schedule; the others
    stand by, deliver, and take over when the leader is gone. `editor_bot`
    starts the editors' bot (editorbot.bot: start_in_daemon; None when not
    configured) while this process leads; it is stopped with the lead."""
    global RUNTIME
    from distributor.app import open_app_async
    from distributor.leader import election_for

    async with open_app_async(settings) as app:
        if app.sandbox_url:
            log.info("sandbox started at %s", app.sandbox_url)
        rt = Runtime(settings, app.store, app.dispatcher)
        app.sleep = app.dispatcher.sleep = rt.sleep
        RUNTIME = rt
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, rt.stopping.set)
        # The reader pages and webhooks ([web] enabled), and /metrics ([metrics] port), once a
        # SIGTERM is ours to handle.
        web = contextlib.ExitStack()
        election = election_for(settings.database_url)
        # Also a worker: registered (status lists it; recovery knows when it is gone).
        presence = contextlib.AsyncExitStack()
        await presence.enter_async_context(registered(app.store, app.dispatcher.worker, role="run",
                                                      clock=app.dispatcher.clock))
        try:
            from distributor.web.server import ops_if_enabled

            web.enter_context(ops_if_enabled(settings, role="run"))
            if serve_web:
                from distributor.web.server import web_if_enabled

                web.enter_context(web_if_enabled(settings))
            lost = False
            while not rt.stopping.is_set():
                # A leader that lost its lock stands by first: the others get it
                # rather than a process whose connection just broke.
                if not lost and await _elect(election.try_acquire):
                    lost = await _lead(rt, election, ready, editor_bot)
                else:
                    await _stand_by(rt, election, ready, first_wait=2 * CHECK_SECONDS if lost else 0.0)
                    lost = False
        finally:
            await asyncio.to_thread(election.close)
            await presence.aclose()
            web.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            RUNTIME = None
    log.info("stopped")
    if rt.fatal is not None:
        raise rt.fatal


async def _elect(step: Callable[[], bool]) -> bool:
    """One step of the election (in a thread: it talks to the database); a
    step that fails or does not answer in time is a no."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(step), CHECK_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        log.warning("leader election: the database did not answer within %gs", CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the election must go on (a lock file gone, a broken connection)
        log.warning("leader election: %s", exc)
    return False


async def _lead(rt: Runtime, election: Any, ready: asyncio.Event | None,
                editor_bot: Companion | None = None) -> bool:
    """Run the schedule (and the editors' bot) while this process holds the
    lock: until it stops, or the lock is lost (True; then it stands by again)."""
    global _SCHEDULER
    from distributor.leader import me
    from distributor.metrics import LEADS

    who = me()
    LEADS.set(1)
    log.info("leader: this process (%s, pid %s) runs the schedule", who["host"], who["pid"])
    scheduler = make_scheduler(rt.settings, rt.store)
    # Start paused, so jobs are reconciled before any runs.
    scheduler.start(paused=True)
    _SCHEDULER = scheduler
    lost = False
    bot = None
    try:
        # The editors' Telegram bot ([desk.telegram]), in this event loop.
        bot = await editor_bot(rt.settings, rt.store) if editor_bot is not None else None
        sync_jobs(scheduler, rt.settings)
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time)
        await housekeeping()
        # A slot that came while nobody led (or before the first start) is sent now, once.
        wake_interrupted_digests(rt.settings, rt.store, rt.dispatcher.clock(), busy=rt.digests_running, due=True)
        if not rt.stopping.is_set():
            scheduler.resume()
            log.info("distributor running; SIGTERM or Ctrl-C stops it")
        if ready is not None:
            ready.set()
        while not rt.stopping.is_set():
            await rt.sleep(CHECK_SECONDS)
            if not rt.stopping.is_set() and not await _elect(election.still_leading):
                lost = True
                log.warning("leader: lost the lock (its database connection is gone); "
                            "stopping the schedule and standing by")
                break
        if not lost:
            log.info("stopping: taking no new work")
        scheduler.pause()
        await _finish_running(rt)
    finally:
        scheduler.shutdown(wait=False)
        _SCHEDULER = None
        LEADS.set(0)
        if bot is not None:
            await bot.stop()
    return lost


async def _stand_by(rt: Runtime, election: Any, ready: asyncio.Event | None, *, first_wait: float = 0.0) -> None:
    """Deliver (and nothing else) until this process gets the lock or stops
    (trying for it every CHECK_SECONDS, the first time after `first_wait`)."""
    from distributor.leader import me, scheduler_of

    who = me()

    def leader_now() -> dict[str, Any] | None:
        try:
            return scheduler_of(rt.store.engine).leader
        except Exception:  # noqa: BLE001 - only for the log line
            return None

    def say(leader: dict[str, Any] | None) -> None:
        named = f"{leader['host']}, pid {leader['pid']}" if leader else "another process"
        log.info("standby: %s leads the schedule; this process (%s, pid %s) delivers only, and takes over "
                 "when the leader is gone", named, who["host"], who["pid"])

    leader = leader_now()
    say(leader)
    if ready is not None:
        ready.set()
    acquired = asyncio.Event()

    async def deliveries() -> None:
        while not (rt.stopping.is_set() or acquired.is_set()):
            await deliver_due()
            await _first(rt.stopping, acquired, timeout=DELIVER_SECONDS)

    task = asyncio.create_task(deliveries())
    try:
        await rt.sleep(first_wait)
        while not rt.stopping.is_set():
            await rt.sleep(CHECK_SECONDS)
            if not rt.stopping.is_set() and await _elect(election.try_acquire):
                acquired.set()
                break
            if leader is None and (leader := leader_now()) is not None:
                say(leader)  # nobody held the lock yet when this process stood by (a takeover under way)
    finally:
        if rt.stopping.is_set():
            log.info("stopping: taking no new work")
        await _finish_running(rt, also=[task])


async def _first(*events: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _finish_running(rt: Runtime, also: Sequence[asyncio.Task[Any]] = ()) -> None:
    """No new work: running jobs get a few seconds to finish, then are cut
    off (a send cut off is settled at the next start, never resent blindly)."""
    rt.dispatcher.stopping = True
    pending = [t for t in [*rt.running, *also] if not t.done()]
    if pending:
        done, still = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_SECONDS)
        for t in still:
            t.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)
            log.warning("stopped %d job(s) mid-way; an interrupted send is settled at the next start",
                        len(still))
    rt.dispatcher.stopping = rt.stopping.is_set()


def run_daemon(settings: Settings, *, editor_bot: Companion | None = None) -> None:
    asyncio.run(daemon(settings, editor_bot=editor_bot))



__all__ = ["daemon", "run_daemon", "job_specs", "make_scheduler", "sync_jobs", "next_runs", "utcnow"]
