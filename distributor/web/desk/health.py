"""What the desk's /desk/health shows: what `distributor status` says, for
people. The data is distributor.health.collect's, the very call `status`
makes, shaped for the page:

  - each channel (every configured one, and any other the outbox knows): its
    state (working, paused with its reason, waiting, failing) and its
    deliveries by state; a paused one gets a Resume button (resume.py);
  - the held and failed deliveries, newest first, with their evidence: why
    (the reason, the last error), each attempt's outcome and time, the request
    the last attempt recorded (article.py's last_sent), a link to the article;
  - each source's last poll and its error;
  - the daemon's next runs from its persisted jobs; when it never ran against
    this database (no jobs stored), what is knowable from the config instead:
    each edition's next digest slot, each source's poll interval, the
    delivery and housekeeping intervals — and the page says so;
  - the digest per edition: the next slot, the last issue sent, issues held,
    failed or in progress;
  - `status`'s own lines (what needs an editor, the notes), as it prints them.

Times are in UTC, but an edition's (its digest, its deliveries), which are in
the edition's zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from distributor.config import Settings
from distributor.health import collect
from distributor.jobstore import DELIVER_SECONDS, HOUSEKEEPING_MINUTES
from distributor.store import Store
from distributor.store.outbox import DeliveryStatus as S
from distributor.web.desk.article import Sent, last_sent
from distributor.web.desk.articles import DeliveryView, delivery_view, edition_zone, local_time

UTC = dt.timezone.utc
# Delivery states in the order of their life.
ORDER = {s.value: i for i, s in enumerate(S)}


@dataclass(frozen=True)
class ChannelView:
    channel: str
    kind: str
    configured: bool
    state: str  # "ok", "paused", "waiting", "failing"
    paused_reason: str | None
    consecutive_failures: int
    not_before: str | None
    counts: tuple[tuple[str, int], ...]  # (delivery state, how many)


@dataclass(frozen=True)
class AttemptView:
    outcome: str
    at: str
    at_iso: str
    error: str | None


@dataclass(frozen=True)
class HeldView:
    delivery: DeliveryView
    article_id: int
    title: str
    attempts: tuple[AttemptView, ...]
    evidence: Sent | None  # the last attempt: its recorded request and remote id


@dataclass(frozen=True)
class SourceView:
    name: str
    configured: bool
    polled_at: str | None
    polled_iso: str | None
    age_seconds: int | None
    ok: bool | None
    summary: str | None
    error: str | None
    poll_seconds: float | None


@dataclass(frozen=True)
class JobView:
    id: str
    next_run: str | None
    next_iso: str | None
    paused: bool
    overdue: bool


@dataclass(frozen=True)
class IssueView:
    id: int
    status: str
    slot: str
    at: str | None  # sent at
    reason: str | None
    recipients: int


@dataclass(frozen=True)
class EditionView:
    edition: str
    timezone: str
    newsletter: bool
    next_digest: str | None
    next_digest_iso: str | None
    last_sent: IssueView | None
    open_issues: tuple[IssueView, ...]


@dataclass(frozen=True)
class Health:
    now: str
    healthy: bool
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    channels: tuple[ChannelView, ...]
    unconfigured: tuple[ChannelView, ...]  # named by articles, not configured: their deliveries skipped
    held: tuple[HeldView, ...]
    held_total: int
    awaiting_approval: int
    sources: tuple[SourceView, ...]
    daemon_ran: bool
    jobs: tuple[JobView, ...]
    overdue: bool
    deliver_seconds: float
    housekeeping_minutes: int
    editions: tuple[EditionView, ...]


def health_page(settings: Settings, store: Store, now: dt.datetime) -> Health:
    data = collect(settings, store, now)
    dels = data["deliveries"]
    channels, unconfigured = channel_views(settings, data)
    jobs = tuple(JobView(j["id"], _when(j["next_run"], UTC), j["next_run"], j["paused"], j["overdue"])
                 for j in data["daemon"]["jobs"])
    return Health(
        now=_when(data["now"], UTC) or "", healthy=data["healthy"], problems=tuple(data["problems"]),
        notes=tuple(data["notes"]), channels=channels, unconfigured=unconfigured,
        held=tuple(held_view(settings, store, d) for d in dels["attention"]), held_total=dels["attention_total"],
        awaiting_approval=dels.get("awaiting_approval", 0), sources=source_views(settings, data["sources"]),
        daemon_ran=data["daemon"]["ever_ran"], jobs=jobs, overdue=any(j.overdue for j in jobs),
        deliver_seconds=DELIVER_SECONDS, housekeeping_minutes=HOUSEKEEPING_MINUTES,
        editions=tuple(edition_view(settings, e) for e in data["editions"]))


def _when(value: str | None, zone: dt.tzinfo) -> str | None:
    return local_time(dt.datetime.fromisoformat(value), zone) if value else None


def channel_views(settings: Settings, data: dict[str, Any]) -> tuple[tuple[ChannelView, ...], tuple[ChannelView, ...]]:
    """(the configured channels and any other with a state to tell, the
    channels only articles' footers named: skipped, nothing to tell)."""
    configured = [f"{code}.{kind}" for code, ed in settings.editions.items() for kind in ed.channels.configured()]
    told = {c["channel"]: c for c in data["channels"]}
    counts = data["deliveries"]["by_channel"]
    names = configured + sorted((set(told) | set(counts)) - set(configured))
    views = []
    for name in names:
        c = told.get(name, {})
        zone = edition_zone(settings, name.partition(".")[0])
        state = ("paused" if c.get("paused") else "waiting" if c.get("not_before")
                 else "failing" if c.get("consecutive_failures") else "ok")
        views.append(ChannelView(
            channel=name, kind=name.partition(".")[2], configured=name in configured, state=state,
            paused_reason=c.get("paused_reason"), consecutive_failures=c.get("consecutive_failures", 0),
            not_before=_when(c.get("not_before"), zone),
            counts=tuple(sorted(counts.get(name, {}).items(), key=lambda kv: ORDER.get(kv[0], len(ORDER))))))
    return (tuple(v for v in views if v.configured or v.channel in told),
            tuple(v for v in views if not v.configured and v.channel not in told))


def held_view(settings: Settings, store: Store, d: dict[str, Any]) -> HeldView:
    row = store.outbox.get(d["id"])
    view = delivery_view(settings, row)
    zone = edition_zone(settings, row.edition)
    attempts = tuple(AttemptView(a.outcome, local_time(a.finished_at or a.started_at, zone),
                                 (a.finished_at or a.started_at).isoformat(), a.error)
                     for a in store.outbox.attempts(row.id))
    return HeldView(view, row.article_id, d["title"] or f"#{row.article_id}", attempts,
                    last_sent(settings, store, row, view))


def source_views(settings: Settings, sources: list[dict[str, Any]]) -> tuple[SourceView, ...]:
    every = {s.name: s.poll_seconds for s in settings.sources}
    return tuple(SourceView(s["name"], s["configured"], _when(s["polled_at"], UTC), s["polled_at"],
                            s["age_seconds"], s["ok"], s["summary"], s["error"], every.get(s["name"]))
                 for s in sources)


def _issue(raw: dict[str, Any] | None, zone: dt.tzinfo) -> IssueView | None:
    if raw is None:
        return None
    return IssueView(raw["id"], raw["status"], _when(raw["slot"], zone) or "", _when(raw["sent_at"], zone),
                     raw["reason"], raw["recipients"])


def edition_view(settings: Settings, e: dict[str, Any]) -> EditionView:
    zone = edition_zone(settings, e["edition"])
    return EditionView(e["edition"], e["timezone"], e["newsletter"], _when(e["next_digest"], zone),
                       e["next_digest"], _issue(e["last_sent"], zone),
                       tuple(i for i in (_issue(r, zone) for r in e["open_issues"]) if i is not None))
