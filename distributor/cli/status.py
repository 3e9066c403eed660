"""`distributor status`: the health of the running system. Thin: the data
comes from `distributor.health.collect`; this module only prints it."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any
from zoneinfo import ZoneInfo

import click

from distributor.cli.common import cli, echo_json, handle_errors, settings_of


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _when(value: str | None, tz: str | None = None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM TZ': in the zone `tz`, else in UTC."""
    if value is None:
        return "-"
    t = dt.datetime.fromisoformat(value)
    t = t.astimezone(ZoneInfo(tz) if tz else dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M %Z").strip()


def _print(data: dict[str, Any]) -> None:
    from distributor.store.outbox import DeliveryStatus
    from distributor.store.states import IssueStatus

    echo = click.echo
    daemon = data["daemon"]
    if not daemon["ever_ran"]:
        echo("daemon: never ran (no jobs stored; start it with `distributor run`)")
    else:
        echo("daemon jobs:")
        for j in daemon["jobs"]:
            state = "paused" if j["paused"] else f"next at {_when(j['next_run'])}"
            echo(f"  {j['id']:20} {state}{'  OVERDUE' if j['overdue'] else ''}")

    leader = data["leader"]
    if leader is not None:
        echo(f"scheduler: led by {leader['host'] or '?'}, pid {leader['pid'] or '?'}"
             + "".join(f"; standing by: {s['host']}, pid {s['pid']}" for s in data["standby"]))
    elif data["standby"]:
        echo("scheduler: nobody leads right now; standing by: "
             + "; ".join(f"{s['host']}, pid {s['pid']}" for s in data["standby"]))

    workers = data["workers"]
    echo(f"workers: {len(workers)} alive" + ("" if workers else " (`distributor worker`, `distributor run`)"))
    now = dt.datetime.fromisoformat(data["now"])
    for w in workers:
        beat = int((now - dt.datetime.fromisoformat(w["last_heartbeat"])).total_seconds())
        echo(f"  {w['role']:6} {w['host']}:{w['pid']}  since {_when(w['started'])}, last heartbeat {_age(beat)}")

    echo("sources:")
    if not data["sources"]:
        echo("  none configured")
    for s in data["sources"]:
        gone = "" if s["configured"] else "  (no longer configured)"
        if s["polled_at"] is None:
            echo(f"  {s['name']:20} never polled{gone}")
            continue
        result = f"ok    {s['summary'] or ''}" if s["ok"] else f"ERROR {s['error'] or ''}"
        echo(f"  {s['name']:20} {_when(s['polled_at'])} ({_age(s['age_seconds'])})  {result.rstrip()}{gone}")

    dels = data["deliveries"]
    echo(f"deliveries: {dels['total']}" + (
        " (" + ", ".join(f"{n} {st}" for st, n in dels["by_state"].items()) + ")" if dels["total"] else ""))
    for ch, counts in dels["by_channel"].items():
        echo(f"  {ch:20} " + ", ".join(f"{n} {st}" for st, n in counts.items()))

    for c in data["channels"]:
        if c["paused"]:
            echo(f"PAUSED {c['channel']}: {c['paused_reason'] or 'no reason recorded'}  (`{c['resume']}`)")
        else:
            bits = []
            if c["not_before"]:
                bits.append(f"waiting until {_when(c['not_before'])}")
            if c["consecutive_failures"]:
                bits.append(f"{c['consecutive_failures']} consecutive failure(s)")
            echo(f"channel {c['channel']}: {', '.join(bits)}")

    if dels["attention"]:
        shown = len(dels["attention"])
        more = f", newest {shown} shown" if dels["attention_total"] > shown else ""
        echo(f"held or failed deliveries ({dels['attention_total']}{more}):")
        for d in dels["attention"]:
            why = d["last_error"] or d["reason"] or ""
            if d["status"] == DeliveryStatus.HELD and d["reason"]:
                why = d["reason"]
            title = (d["title"] or "")[:40]
            echo(f"  #{d['id']:<4} {d['status']:6} {d['channel']:16} a#{d['article_id']} {title}: {why}".rstrip())

    echo("digests:")
    for e in data["editions"]:
        if not e["newsletter"] and not e["open_issues"]:
            echo(f"  {e['edition']}: no newsletter")
            continue
        if e["newsletter"]:
            last = e["last_sent"]
            last_s = f"#{last['id']} sent {_when(last['sent_at'], e['timezone'])}" if last else "none yet"
            echo(f"  {e['edition']}: next {_when(e['next_digest'], e['timezone'])} ({e['timezone']}); last sent: {last_s}")
        else:
            echo(f"  {e['edition']}: no newsletter configured")
        for i in e["open_issues"]:
            label = "in progress" if i["status"] == IssueStatus.SENDING else i["status"].upper()
            reason = f": {i['reason']}" if i["reason"] else ""
            echo(f"    issue #{i['id']} for {_when(i['slot'], e['timezone'])} {label}{reason}")

    for n in data["notes"]:
        echo(f"note: {n}")
    if data["problems"]:
        echo(f"NEEDS AN EDITOR ({len(data['problems'])}):")
        for p in data["problems"]:
            echo(f"  - {p}")
    else:
        echo("healthy")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the same data as JSON (stable keys, ISO datetimes).")
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """Health of the running system: the last poll of each source, deliveries
    by state per channel, paused channels, held and failed deliveries with
    their errors, the next digest per edition and issues in progress, the
    daemon's scheduled jobs, which `distributor run` leads the schedule
    (its host and pid; the others stand by), and the delivery processes
    alive (`workers`: host, pid, started, last heartbeat; silent for 30 s:
    dropped).

    \b
    Exit codes:
      0  healthy
      1  something needs an editor: a failed or held delivery, a delivery
         in `sending` for longer than its lease, a paused channel, a
         source whose last poll failed, a held or failed issue
      2  a configuration or database error
    """
    from distributor.app import open_app
    from distributor.health import collect

    settings = settings_of(ctx)
    with open_app(settings) as app:
        data = collect(settings, app.store, app.clock())
    if as_json:
        echo_json(data)
    else:
        _print(data)
    if not data["healthy"]:
        sys.exit(1)
