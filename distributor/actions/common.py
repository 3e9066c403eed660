"""What every editor action shares: the actor, the result, the audit bracket."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace

from distributor.app import App
from distributor.errors import ConfigurationError, DistributorError
from distributor.store.audit import REFUSED, STARTED, Audit, AuditNote

__all__ = ["DeliveryResult", "ApprovalResult", "ArticleApproval", "ChannelResult", "cli_actor", "refusals",
           "started", "REFUSALS"]

# What an action refuses with: recorded as refused, then raised unchanged.
REFUSALS = (DistributorError, ConfigurationError)


def cli_actor() -> str:
    """The actor of a command-line action: "cli:<unix user>"."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


@dataclass(frozen=True)
class DeliveryResult:
    """What an action on one delivery did."""

    action: str
    actor: str
    delivery_id: int
    article_id: int
    channel: str
    status: str  # the delivery's state afterwards (a DeliveryStatus)
    # What it ended in: the new state, or a send's outcome (sent, failed, retry, deferred, paused, …).
    outcome: str
    detail: str = ""
    waited: float = 0.0  # seconds a send waited for the channel's pacing


@dataclass(frozen=True)
class ApprovalResult(DeliveryResult):
    """What an approval of one delivery did. `outcome`: "approved" (it goes
    out when due), "correction_approved" (its sent post is edited at the next
    delivery run) or "already_approved" (nothing changed: approved at this
    version before, by `approved_by` at `approved_at`)."""

    version: int = 0  # the article version approved
    approved_by: str = ""  # who approved it: the actor, or the earlier editor ("" if not recorded)
    approved_at: dt.datetime | None = None

    @property
    def already(self) -> bool:
        return self.outcome == "already_approved"


@dataclass(frozen=True)
class ArticleApproval:
    """"Approve all" for an article: one result per delivery approved (or
    found approved already), and the refusals of those a racing change took
    first: (delivery id, why)."""

    article_id: int
    actor: str
    results: tuple[ApprovalResult, ...]
    refused: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class ChannelResult:
    action: str
    actor: str
    channel: str
    detail: str = ""


@contextlib.contextmanager
def refusals(app: App, note: AuditNote) -> Iterator[None]:
    """Record a refusal of the action `note` describes, then let it go on up."""
    try:
        yield
    except REFUSALS as exc:
        Audit(app.store.engine).record(replace(note, outcome=REFUSED, detail=str(exc)), at=app.clock())
        raise


class Started:
    """The audit row of a long action, written before it acts."""

    def __init__(self, app: App, note: AuditNote):
        self.audit = Audit(app.store.engine)
        self.id = self.audit.record(replace(note, outcome=STARTED), at=app.clock())

    def conclude(self, outcome: str, detail: str | None, *, delivery_id: int | None = None,
                 issue_id: int | None = None) -> None:
        self.audit.conclude(self.id, outcome=outcome, detail=detail, delivery_id=delivery_id, issue_id=issue_id)


@contextlib.contextmanager
def started(app: App, note: AuditNote) -> Iterator[Started]:
    """A long action's audit row: "started" now; concluded by the action, or
    "refused" (a refusal) or "error" (anything else) when it raises."""
    entry = Started(app, note)
    try:
        yield entry
    except REFUSALS as exc:
        entry.conclude(REFUSED, str(exc))
        raise
    except Exception as exc:
        entry.conclude("error", f"{type(exc).__name__}: {exc}")
        raise
