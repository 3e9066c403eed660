"""Prometheus metrics (prometheus-client), for GET /metrics (web/ops.py).

Two kinds, and why:

- **Per process** (counters and histograms, in PROCESS): what this process
  did since it started — each send's duration by channel and outcome, the
  429s it met and the waits they asked for. Prometheus sums them across the
  scraped processes (`run`, each `worker`, `serve` for the desk's sends).
- **Read from the database at scrape time** (gauges, DatabaseCollector):
  the state of the whole system, so every process reports the same, correct
  numbers whoever did the work — deliveries by state and channel, the queue
  of due deliveries and the age of its oldest, each channel's wait and
  pause, each edition's digest progress, and who leads the schedule.

    distributor_deliveries{channel,state}                    gauge
    distributor_queue_depth{channel}                         gauge   due now (pending, its time come)
    distributor_queue_oldest_due_age_seconds{channel}        gauge
    distributor_channel_wait_seconds{channel}                gauge   a provider's retry_after, still to wait
    distributor_channel_paused{channel}                      gauge
    distributor_digest_batches{edition,state}                gauge   of the edition's latest issue
    distributor_digest_batches_expected{edition}             gauge
    distributor_digest_recipients_sent{edition}              gauge
    distributor_digest_issue_info{edition,issue,status}      gauge   1
    distributor_leader{host,pid}                             gauge   1 for the process that leads
    distributor_leaders                                      gauge   0 or 1
    distributor_standby_schedulers                           gauge
    distributor_database_up                                  gauge   0: the gauges above are missing
    distributor_send_duration_seconds{channel,outcome}       histogram (this process)
    distributor_rate_limited_total{channel}                  counter (this process): 429s
    distributor_rate_limit_wait_seconds_total{channel}       counter (this process): the waits asked for
    distributor_this_process_leads                           gauge (this process; `run` only)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from distributor.errors import DeliveryError, OutcomeUnknown, RateLimited

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The kinds posted article by article (delivery.SOCIAL_KINDS; newsletter ones wait for the digest).
QUEUED_KINDS = ("telegram", "twitter")

PROCESS = CollectorRegistry(auto_describe=True)
SEND_SECONDS = Histogram(
    "distributor_send_duration_seconds", "One request to a provider (a post, a digest batch), by outcome.",
    ["channel", "outcome"], registry=PROCESS,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
RATE_LIMITED = Counter("distributor_rate_limited", "Requests a provider refused with 429 (rate limited).",
                       ["channel"], registry=PROCESS)
RATE_LIMIT_WAIT = Counter("distributor_rate_limit_wait_seconds",
                          "The waits (retry_after) the providers' 429s asked for.", ["channel"], registry=PROCESS)
LEADS = Gauge("distributor_this_process_leads", "1 while this `distributor run` leads the schedule.",
              registry=PROCESS)


async def timed(channel: str, call: Awaitable[T]) -> T:
    """Await one request to a provider, counted: its duration by outcome
    (sent, rate_limited, error, unknown), and a 429's wait."""
    with _Counting(channel) as counting:
        result = await call
        counting.outcome = "sent"
        return result


def counted(channel: str, call: Callable[[A], T], arg: A) -> T:
    """`call(arg)`, one blocking request to a provider (the digest's sender
    thread), counted as `timed` counts an awaited one."""
    with _Counting(channel) as counting:
        result = call(arg)
        counting.outcome = "sent"
        return result


class _Counting:
    def __init__(self, channel: str):
        self.channel, self.outcome = channel, "unknown"

    def __enter__(self) -> _Counting:
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, RateLimited):
            self.outcome = "rate_limited"
            RATE_LIMITED.labels(self.channel).inc()
            RATE_LIMIT_WAIT.labels(self.channel).inc(max(0.0, exc.retry_after))
        elif isinstance(exc, DeliveryError) and not isinstance(exc, OutcomeUnknown):
            self.outcome = "error"
        SEND_SECONDS.labels(self.channel, self.outcome).observe(time.perf_counter() - self.start)


class DatabaseCollector(Collector):
    """The gauges, read from the database at each scrape. The database down:
    distributor_database_up 0 and no gauge (never a stale number)."""

    def __init__(self, engine: Callable[[], sa.Engine], clock: Callable[[], dt.datetime]):
        self.engine, self.clock = engine, clock

    def describe(self) -> list[Metric]:
        return []  # collected only at scrape time: nothing is read at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("distributor_database_up", "1 when the database answered this scrape.")
        try:
            families = list(self._read(self.engine(), self.clock()))
        except Exception as exc:  # noqa: BLE001 - a scrape must answer, saying the database is down
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self, engine: sa.Engine, now: dt.datetime) -> Iterator[Metric]:
        from distributor.leader import scheduler_of
        from distributor.store import gauges

        g = GaugeMetricFamily("distributor_deliveries", "Deliveries by channel and state.", labels=["channel", "state"])
        for (channel, state), n in sorted(gauges.deliveries_by_state(engine).items()):
            g.add_metric([channel, state], n)
        yield g
        depth = GaugeMetricFamily("distributor_queue_depth", "Deliveries due now (pending, their time come).",
                                  labels=["channel"])
        age = GaugeMetricFamily("distributor_queue_oldest_due_age_seconds",
                                "How long the oldest due delivery has been due.", labels=["channel"])
        for q in gauges.queues(engine, now, kinds=QUEUED_KINDS):
            depth.add_metric([q.channel], q.depth)
            age.add_metric([q.channel], max(0.0, (now - q.oldest_due).total_seconds()))
        yield depth
        yield age
        wait = GaugeMetricFamily("distributor_channel_wait_seconds",
                                 "Seconds a channel is still told to wait (a provider's retry_after, pacing).",
                                 labels=["channel"])
        paused = GaugeMetricFamily("distributor_channel_paused", "1 when a channel is paused.", labels=["channel"])
        for channel, (is_paused, seconds) in sorted(gauges.channel_waits(engine, now).items()):
            wait.add_metric([channel], seconds)
            paused.add_metric([channel], 1 if is_paused else 0)
        yield wait
        yield paused
        yield from _digest(gauges.digest_progress(engine))
        sched = scheduler_of(engine)
        leader = GaugeMetricFamily("distributor_leader", "1 for the process that leads the schedule.",
                                   labels=["host", "pid"])
        if sched.leader is not None:
            leader.add_metric([str(sched.leader.get("host") or ""), str(sched.leader.get("pid") or "")], 1)
        yield leader
        yield GaugeMetricFamily("distributor_leaders", "Processes leading the schedule (0 or 1).",
                                value=0 if sched.leader is None else 1)
        yield GaugeMetricFamily("distributor_standby_schedulers", "`distributor run` processes standing by.",
                                value=len(sched.standby))


def _digest(progress: list) -> Iterator[Metric]:  # noqa: ANN001 - list[gauges.DigestProgress]
    batches = GaugeMetricFamily("distributor_digest_batches", "Batches of the edition's latest issue, by state.",
                                labels=["edition", "state"])
    expected = GaugeMetricFamily("distributor_digest_batches_expected",
                                 "Batches of the edition's latest issue at its start.", labels=["edition"])
    sent = GaugeMetricFamily("distributor_digest_recipients_sent",
                             "Recipients of the edition's latest issue whose batch was sent.", labels=["edition"])
    info = GaugeMetricFamily("distributor_digest_issue_info", "The edition's latest issue and its status.",
                             labels=["edition", "issue", "status"])
    for p in progress:
        for state, n in sorted(p.batches.items()):
            batches.add_metric([p.edition, state], n)
        expected.add_metric([p.edition], p.batches_expected)
        sent.add_metric([p.edition], p.recipients_sent)
        info.add_metric([p.edition, str(p.issue_id), p.status], 1)
    yield from (batches, expected, sent, info)


def registry(engine: Callable[[], sa.Engine], clock: Callable[[], dt.datetime]) -> CollectorRegistry:
    """What one /metrics serves: the database's gauges and this process's metrics."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(engine, clock))
    reg.register(_Process())
    return reg


class _Process(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from PROCESS.collect()


def render(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
