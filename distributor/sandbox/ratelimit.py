"""The sandbox's clock and the rate limiters the emulators enforce.

All time in the sandbox comes from one `Clock` (wall time plus an offset that
tests advance), so the rate-limit windows and X's 24-hour duplicate window are
tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


class Clock:
    """Unix time, shifted by `advance()`. Safe to advance from another thread."""

    def __init__(self, start: float | None = None):
        self.offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.now()


class SlidingWindow:
    """At most `limit` events per `window` seconds per key (0 = unlimited).

    `hit` records the event and returns None, or refuses it (recording
    nothing) and returns the whole seconds to wait, as Telegram's retry_after.
    """

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._events: dict[object, deque[float]] = {}

    def hit(self, key: object, now: float) -> int | None:
        if self.limit <= 0:
            return None
        q = self._events.get(key)
        if q is None:
            q = self._events[key] = deque()
        edge = now - self.window
        while q and q[0] <= edge:
            q.popleft()
        if len(q) >= self.limit:
            return max(1, math.ceil(q[0] + self.window - now))
        q.append(now)
        return None

    def reset(self) -> None:
        self._events.clear()


@dataclass
class WindowState:
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends


class FixedWindow:
    """X's and SendGrid's model: a window starting at the first call, with
    limit / remaining / reset reported in headers on every response."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._windows: dict[object, list[float]] = {}  # key -> [start, used]

    def hit(self, key: object, now: float) -> tuple[bool, WindowState]:
        """(allowed, state after this call)."""
        w = self._windows.get(key)
        if w is None or now >= w[0] + self.window:
            w = self._windows[key] = [now, 0]
        reset = math.ceil(w[0] + self.window)
        if self.limit <= 0:
            return True, WindowState(0, 0, reset)
        if w[1] >= self.limit:
            return False, WindowState(self.limit, 0, reset)
        w[1] += 1
        return True, WindowState(self.limit, int(self.limit - w[1]), reset)

    def reset(self) -> None:
        self._windows.clear()
