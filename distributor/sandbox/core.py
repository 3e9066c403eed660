"""The sandbox's shared state: accounts, clock, request log, faults, limits.

Everything lives in memory in the sandbox process and is touched only from its
event loop (the emulators are an emulator, not product state).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from distributor.config import Settings
from distributor.sandbox.accounts import Accounts, accounts_from_settings
from distributor.sandbox.faults import Faults
from distributor.sandbox.ratelimit import Clock

# Enough for any benchmark run; the oldest entries go first.
MAX_LOGGED = 200_000


class RequestLog:
    """Every call in order: the accepted ones, and the refused ones flagged."""

    def __init__(self, maxlen: int = MAX_LOGGED):
        self.entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self.seq = 0

    def add(self, service: str, method: str, path: str, now: float, body: Any, *,
            account: str = "", status: int = 200, result: Any = None, error: str = "") -> dict[str, Any]:
        self.seq += 1
        entry = {"seq": self.seq, "service": service, "method": method, "path": path, "time": now,
                 "account": account, "status": status, "accepted": status < 300, "body": body}
        if result is not None:
            entry["result"] = result
        if error:
            entry["error"] = error
        self.entries.append(entry)
        return entry

    def select(self, service: str | None = None, *, accepted_only: bool = True) -> list[dict[str, Any]]:
        return [e for e in self.entries
                if (service is None or e["service"] == service) and (e["accepted"] or not accepted_only)]

    def clear(self) -> None:
        self.entries.clear()


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
