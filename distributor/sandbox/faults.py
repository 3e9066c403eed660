"""Injected faults: errors, latency and timeouts for the next calls of a service.

A fault is `{"service", "status", "times", "retry_after", "delay_ms",
"method", "description"}`. Each call of the service (whose method or path
contains `method`, when given) takes the first matching fault and spends one
of its `times`. With a `status`, it waits `delay_ms` and answers with that
service's own error envelope instead of doing the call (the envelopes are
built by each service module, so PTB raises RetryAfter, tweepy
TooManyRequests, and so on). Without one, the call is carried out at once and
its answer held back `delay_ms`: longer than the client's timeout, that is
the hard case of a timeout whose effect happened (a post that exists though
the client saw no answer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SERVICES = ("telegram", "x", "sendgrid")


class FaultError(ValueError):
    """A fault description that makes no sense (answered 400 by /_sandbox/faults)."""


@dataclass
class Fault:
    service: str
    status: int | None = None
    times: int = 1
    retry_after: int | None = None
    delay_ms: int = 0
    method: str = ""
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_json(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise FaultError("a fault is a JSON object")
    unknown = set(data) - {"service", "status", "times", "retry_after", "delay_ms", "method", "description"}
    if unknown:
        raise FaultError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    service = data.get("service")
    if service not in SERVICES:
        raise FaultError(f"service must be one of {', '.join(SERVICES)}")
    status = data.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultError("status must be an HTTP error status (400-599) or null")
    times = data.get("times", 1)
    if not isinstance(times, int) or times < 1:
        raise FaultError("times must be a positive integer")
    retry_after = data.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise FaultError("retry_after must be a non-negative integer (seconds)")
    delay_ms = data.get("delay_ms", 0) or 0
    if not isinstance(delay_ms, int) or delay_ms < 0:
        raise FaultError("delay_ms must be a non-negative integer")
    if status is None and not delay_ms:
        raise FaultError("a fault needs a status, a delay_ms, or both")
    if status == 429 and retry_after is None:
        retry_after = 5
    return Fault(service=service, status=status, times=times, retry_after=retry_after, delay_ms=delay_ms,
                 method=str(data.get("method") or ""), description=str(data.get("description") or ""))


class Faults:
    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def take(self, service: str, method: str) -> Fault | None:
        """The fault this call suffers, if any (spends one of its times)."""
        if not self.pending:
            return None
        m = method.lower()
        for i, f in enumerate(self.pending):
            if f.service == service and (not f.method or f.method.lower() in m):
                f.times -= 1
                if f.times <= 0:
                    del self.pending[i]
                return Fault(**{**asdict(f), "times": 1})
        return None

    def clear(self) -> None:
        self.pending.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [f.to_json() for f in self.pending]
