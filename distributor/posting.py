"""Posting windows: when a channel may notify its followers.

A window is "HH:MM-HH:MM" in the edition's time zone; it may wrap midnight
("22:00-06:00"). Pure functions of an instant, so tests need no clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

Window = tuple[dt.time, dt.time]


def parse_window(text: str) -> Window | None:
    """None for "" (always open); ValueError for anything malformed."""
    if not text.strip():
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"posting window {text!r} is not like 07:00-22:00")
    try:
        a, b = (dt.time.fromisoformat(x.strip()) for x in (start, end))
    except ValueError:
        raise ValueError(f"posting window {text!r} is not like 07:00-22:00") from None
    if a == b:
        raise ValueError(f"posting window {text!r} is empty (start equals end)")
    return a, b


def in_window(now: dt.datetime, window: Window, tz: ZoneInfo) -> bool:
    t = now.astimezone(tz).time()
    start, end = window
    return start <= t < end if start < end else (t >= start or t < end)


def next_opening(now: dt.datetime, window: Window, tz: ZoneInfo) -> dt.datetime:
    """The next instant (UTC) at which the window opens, after `now`."""
    local = now.astimezone(tz)
    for days in range(3):
        d = local.date() + dt.timedelta(days=days)
        opening = dt.datetime.combine(d, window[0], tz)
        if opening > local:
            return opening.astimezone(dt.timezone.utc)
    raise AssertionError("a daily window opens within two days")  # pragma: no cover
