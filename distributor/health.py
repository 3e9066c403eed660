"""The health of the running system, for `distributor status`.

`collect(settings, store, now)` reads (never writes) the store, the digest
issues and the daemon's persisted jobs, and returns plain data: JSON-ready
(datetimes as ISO strings, keys stable). `problems` lists what needs an
editor — a failed or held delivery, a send left in `sending` past its lease,
a paused channel, a source whose last poll failed, a held or failed digest
issue; `healthy` is true when it is empty. `workers` lists the delivery
processes alive now (store/workers.py).
`notes` are worth knowing but need nobody (the daemon never ran, a job is
overdue, a source was never polled), or are an editor's routine: deliveries
and corrections awaiting approval.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, overload
from zoneinfo import ZoneInfo

from distributor.store.outbox import DeliveryStatus
from distributor.store.states import IssueStatus

if TYPE_CHECKING:
    from distributor.config import Settings
    from distributor.store.issues import Issue
    from distributor.store import Store

__all__ = ["collect", "iso", "RECENT_LIMIT"]

# How many held/failed deliveries to list (newest first); all are counted.
RECENT_LIMIT = 10
# A job whose next run is this far in the past: the daemon is probably not running.
OVERDUE_AFTER = dt.timedelta(minutes=5)
# Delivery and issue states that need an editor.
PROBLEM_STATES = (DeliveryStatus.FAILED, DeliveryStatus.HELD)
ISSUE_PROBLEM_STATES = (IssueStatus.HELD, IssueStatus.FAILED)


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat()


@overload
def _utc(value: dt.datetime) -> dt.datetime: ...
@overload
def _utc(value: dt.datetime | None) -> dt.datetime | None: ...
def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def collect(settings: Settings, store: Store, now: dt.datetime) -> dict[str, Any]:
    now = _utc(now)
    problems: list[str] = []
    notes: list[str] = []
    data: dict[str, Any] = {"now": iso(now)}
    data["daemon"] = _daemon(settings, store, now, notes)
    data["leader"], data["standby"] = _scheduler(store, notes)
    data["sources"] = _sources(settings, store, now, problems, notes)
    data["deliveries"] = _deliveries(settings, store, now, problems)
    _approvals(settings, store, data["deliveries"], notes)
    data["channels"] = _channels(store, now, problems)
    data["editions"] = _editions(settings, store, now, problems)
    data["workers"] = _workers(store, now)
    data["problems"] = problems
    data["notes"] = notes
    data["healthy"] = not problems
    return data


# ------------------------------------------------------------------ parts


def _daemon(settings: Settings, store: Store, now: dt.datetime, notes: list[str]) -> dict[str, Any]:
    from distributor.jobstore import next_runs

    runs = next_runs(settings, store)
    jobs = []
    for job_id in sorted(runs):
        nxt = _utc(runs[job_id])
        overdue = nxt is not None and now - nxt > OVERDUE_AFTER
        jobs.append({"id": job_id, "next_run": iso(nxt), "paused": nxt is None, "overdue": overdue})
    if not runs:
        notes.append("the daemon has never run (start it with `distributor run`)")
    elif any(j["overdue"] for j in jobs):
        notes.append("daemon jobs are overdue: is `distributor run` running?")
    return {"ever_ran": bool(runs), "jobs": jobs}


def _scheduler(store: Store, notes: list[str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The `distributor run` that leads the schedule (its host and pid; None:
    none runs), and those standing by (distributor/leader.py)."""
    from distributor.leader import scheduler_of

    try:
        sched = scheduler_of(store.engine)
    except Exception as exc:  # noqa: BLE001 - a status report must not fail on this part
        notes.append(f"could not tell which `distributor run` leads: {exc}")
        return None, []
    return sched.leader, sched.standby


def _sources(settings: Settings, store: Store, now: dt.datetime, problems: list[str],
             notes: list[str]) -> list[dict[str, Any]]:
    polls = {p.source: p for p in store.last_polls()}
    configured = [s.name for s in settings.sources]
    out = []
    for name in configured + sorted(set(polls) - set(configured)):
        poll = polls.get(name)
        row: dict[str, Any] = {
            "name": name, "configured": name in configured, "polled_at": None, "age_seconds": None,
            "ok": None, "summary": None, "error": None,
        }
        if poll is None:
            notes.append(f"source {name} was never polled")
        else:
            polled_at = _utc(poll.polled_at)
            row.update(polled_at=iso(polled_at), age_seconds=int((now - polled_at).total_seconds()),
                       ok=bool(poll.ok), summary=poll.summary, error=poll.error)
            if not poll.ok and name in configured:
                problems.append(f"source {name}: last poll failed: {poll.error or 'unknown error'}")
        out.append(row)
    return out


def _deliveries(settings: Settings, store: Store, now: dt.datetime, problems: list[str]) -> dict[str, Any]:
    rows = store.deliveries()
    by_channel: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for d in rows:
        ch = by_channel.setdefault(d.channel, {})
        ch[d.status] = ch.get(d.status, 0) + 1
        totals[d.status] = totals.get(d.status, 0) + 1
    stuck = sorted((d for d in rows if d.status in PROBLEM_STATES),
                   key=lambda d: (_utc(d.updated_at), d.id), reverse=True)
    titles: dict[int, str | None] = {}
    attention = []
    for d in stuck[:RECENT_LIMIT]:
        if d.article_id not in titles:
            try:
                titles[d.article_id] = store.get_article(d.article_id).article.label
            except Exception:  # noqa: BLE001 - a status report must not fail on one row
                titles[d.article_id] = None
        attention.append({
            "id": d.id, "article_id": d.article_id, "title": titles[d.article_id], "channel": d.channel,
            "status": d.status, "attempts": d.attempts, "last_error": d.last_error, "reason": d.reason,
            "updated_at": iso(d.updated_at),
        })
    for status in PROBLEM_STATES:
        if totals.get(status):
            problems.append(f"{totals[status]} {status} deliver{'y' if totals[status] == 1 else 'ies'}")
    # A send that outlived its lease: its process is gone or stuck, and only a
    # drain's recovery (or an editor) settles it.
    lease = dt.timedelta(seconds=settings.delivery.sending_lease_seconds)
    for d in rows:
        if d.status == DeliveryStatus.SENDING and (d.claimed_at is None or now - _utc(d.claimed_at) > lease):
            since = iso(_utc(d.claimed_at)) or "an unknown time"
            problems.append(f"delivery #{d.id} ({d.channel}) has been sending since {since}, longer than its "
                            f"lease ({lease.total_seconds():g}s): is a delivery process stuck?")
    return {
        "total": len(rows),
        "by_state": dict(sorted(totals.items())),
        "by_channel": {ch: dict(sorted(c.items())) for ch, c in sorted(by_channel.items())},
        "attention_total": len(stuck),
        "attention": attention,
    }


def _approvals(settings: Settings, store: Store, deliveries: dict[str, Any], notes: list[str]) -> None:
    """What awaits an editor's approval (channels in approval = "required"):
    deliveries by article, and corrections of sent posts by delivery."""
    from distributor.channels import correction_needs_approval
    from distributor.delivery import SOCIAL_KINDS
    from distributor.store.approval import Corrections

    by_article: dict[int, list[str]] = {}
    for d in store.deliveries(status=DeliveryStatus.AWAITING_APPROVAL):
        by_article.setdefault(d.article_id, []).append(d.channel)
    corrections = [(d, stored.version) for d, stored in Corrections(store.engine).outdated_sent(kinds=SOCIAL_KINDS)
                   if correction_needs_approval(settings, d.channel, d.approved_version, stored.version)]
    deliveries["awaiting_approval"] = sum(map(len, by_article.values()))
    deliveries["corrections_awaiting_approval"] = len(corrections)
    if by_article:
        listed = "; ".join(f"article {a} ({', '.join(chs)})" for a, chs in sorted(by_article.items()))
        notes.append(f"awaiting approval: {listed} (`distributor approve --article ID`)")
    for d, version in corrections:
        notes.append(f"the correction of delivery #{d.id} ({d.channel}, article {d.article_id}) to version "
                     f"{version} awaits approval (`distributor approve {d.id}`)")


def _channels(store: Store, now: dt.datetime, problems: list[str]) -> list[dict[str, Any]]:
    """Channels with anything to say: paused, told to wait, or failing."""
    out = []
    for c in store.outbox.channels():
        not_before = _utc(c.not_before)
        waiting = not_before is not None and not_before > now
        if not (c.paused or waiting or c.consecutive_failures):
            continue
        out.append({
            "channel": c.channel, "paused": bool(c.paused), "paused_reason": c.paused_reason,
            "consecutive_failures": c.consecutive_failures, "not_before": iso(not_before) if waiting else None,
            "resume": f"distributor resume {c.channel}" if c.paused else None,
        })
        if c.paused:
            problems.append(f"channel {c.channel} is paused: {c.paused_reason or 'no reason recorded'}")
    return out


def _workers(store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    """The delivery processes alive now (`worker`, and `run`): heartbeat
    younger than distributor.workers.STALE_AFTER_SECONDS, oldest first."""
    from distributor.store.workers import Workers
    from distributor.workers import STALE_AFTER_SECONDS

    return [{"id": w.id, "host": w.host, "pid": w.pid, "role": w.role, "started": iso(_utc(w.started_at)),
             "last_heartbeat": iso(_utc(w.heartbeat_at))}
            for w in Workers(store.engine).live(now=now, stale_after=STALE_AFTER_SECONDS)]


def _issue(issue: Issue) -> dict[str, Any]:
    return {"id": issue.id, "slot": iso(issue.slot), "status": issue.status, "subject": issue.subject,
            "reason": issue.reason, "recipients": issue.recipient_count, "sent_at": iso(issue.sent_at),
            "updated_at": iso(issue.updated_at)}


def _editions(settings: Settings, store: Store, now: dt.datetime, problems: list[str]) -> list[dict[str, Any]]:
    from distributor.newsletter.digest import next_slot
    from distributor.store.issues import Issues

    issues = Issues(store.engine)
    out = []
    for code, edition in settings.editions.items():
        row: dict[str, Any] = {"edition": code, "timezone": edition.timezone,
                               "newsletter": edition.channels.newsletter is not None,
                               "next_digest": None, "next_digest_local": None,
                               "last_sent": None, "open_issues": []}
        if edition.channels.newsletter is not None:
            nxt = next_slot(settings, code, now)
            row["next_digest"] = iso(nxt)
            row["next_digest_local"] = nxt.astimezone(ZoneInfo(edition.timezone)).isoformat()
            last = issues.last_sent(code)
            row["last_sent"] = _issue(last) if last else None
        # Issues in progress, held or failed, whatever the config says now.
        open_issues = issues.unfinished(code, statuses=(IssueStatus.SENDING, *ISSUE_PROBLEM_STATES))
        row["open_issues"] = [_issue(i) for i in open_issues]
        for i in open_issues:
            if i.status in ISSUE_PROBLEM_STATES:
                problems.append(f"digest issue #{i.id} ({code}) is {i.status}: {i.reason or 'no reason recorded'}")
        out.append(row)
    return out
