"""The sandbox's shared state: accounts, clock, request log, faults, limits.

Everything lives in memory in the sandbox process and is touched only from its
event loop (the emulators are an emulator, not product state).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from distributor.config import Settings
from distributor.sandbox.accounts import Accounts, accounts_from_settings
from distributor.sandbox.faults import Faults
from distributor.sandbox.ratelimit import Clock

# The log is bounded so that a digest to a million readers (a thousand 1,000-
# recipient requests of ~300 KB each) does not make the sandbox the bottleneck
# or the memory hog: every call is counted, the last MAX_LOGGED are listed, and
# only the last BODIES_KEPT keep their request body (older ones: body None,
# "body_dropped": true). Tests and the page look at recent calls only. A JSON
# body is kept as the bytes received and parsed again when the log is read:
# two hundred parsed Mail Send bodies are over a million containers, which every
# full collection of the sandbox walked (~0.3 s, every fifty requests or so, a
# pause that fell at random on the digest or on its baseline).
MAX_LOGGED = 10_000
BODIES_KEPT = 200


class RequestLog:
    """Every call in order: the accepted ones, and the refused ones flagged."""

    def __init__(self, maxlen: int = MAX_LOGGED, bodies: int = BODIES_KEPT):
        self.entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._with_body: deque[dict[str, Any]] = deque()
        self.bodies = bodies
        self.seq = 0
        # (service, accepted) -> calls since the last clear, however many were listed.
        self.counts: dict[tuple[str, bool], int] = {}

    def add(self, service: str, method: str, path: str, now: float, body: Any, *,
            account: str = "", status: int = 200, result: Any = None, error: str = "",
            raw: bytes | None = None) -> dict[str, Any]:
        """Log a call; with `raw` (the JSON `body` was parsed from), the bytes
        are kept instead of `body`."""
        self.seq += 1
        entry = {"seq": self.seq, "service": service, "method": method, "path": path, "time": now,
                 "account": account, "status": status, "accepted": status < 300, "body": body}
        if raw is not None and body is not None:
            entry["body"], entry[_RAW] = None, raw
        if result is not None:
            entry["result"] = result
        if error:
            entry["error"] = error
        self.entries.append(entry)
        key = (service, status < 300)
        self.counts[key] = self.counts.get(key, 0) + 1
        if body is not None:
            self._with_body.append(entry)
            if len(self._with_body) > self.bodies:
                old = self._with_body.popleft()
                old["body"] = None
                old.pop(_RAW, None)
                old["body_dropped"] = True
        return entry

    def select(self, service: str | None = None, *, accepted_only: bool = True) -> list[dict[str, Any]]:
        return [_shown(e) for e in self.entries
                if (service is None or e["service"] == service) and (e["accepted"] or not accepted_only)]

    def total(self, service: str | None = None, *, accepted_only: bool = True) -> int:
        """Calls counted since the last clear (listed or not)."""
        return sum(n for (s, ok), n in self.counts.items()
                   if (service is None or s == service) and (ok or not accepted_only))

    def clear(self) -> None:
        self.entries.clear()
        self._with_body.clear()
        self.counts.clear()


_RAW = "_raw"


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as read: a body kept as bytes, parsed."""
    raw = entry.get(_RAW)
    if raw is None:
        return entry
    shown = {k: v for k, v in entry.items() if k != _RAW}
    shown["body"] = json.loads(raw)
    return shown


class SandboxCore:
    def __init__(self, settings: Settings, clock: Clock | None = None, accounts: Accounts | None = None):
        self.settings = settings
        self.config = settings.sandbox
        self.clock = clock or Clock()
        self.accounts = accounts or accounts_from_settings(settings)
        self.log = RequestLog()
        self.faults = Faults()
        # Set by the app once it knows where it listens (for the HTML page).
        self.public_url = ""
